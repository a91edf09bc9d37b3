"""Road Anomaly (``frames/<name>.jpg`` + ``frames/<name>.labels/labels_semantic.png``, 2 = anomaly)."""

from __future__ import annotations

from pathlib import Path

from anomaly_seg.datasets import RoadAnomalyLayout
from training.datasets.base import AnomalyDataset, Transform


class RoadAnomaly(AnomalyDataset):
    """Road Anomaly (Lis et al.): every pixel labelled, 2 = anomaly, anything else inlier; no void."""

    name = "road_anomaly"

    def __init__(self, root: str | Path, transform: Transform | None = None) -> None:
        super().__init__(RoadAnomalyLayout(root), transform)
