"""Fishyscapes Lost and Found (``images/<name>.png`` + ``labels_masks/<name>.png``, 0/1/255)."""

from __future__ import annotations

from pathlib import Path

from anomaly_seg.datasets import FishyscapesLayout
from training.datasets.base import AnomalyDataset, Transform


class FishyscapesLaF(AnomalyDataset):
    """Fishyscapes L&F validation set: label 0 inlier, 1 anomaly, 255 void."""

    name = "fishyscapes_laf"

    def __init__(self, root: str | Path, transform: Transform | None = None) -> None:
        super().__init__(FishyscapesLayout(root), transform)
