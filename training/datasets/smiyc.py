"""SegmentMeIfYouCan validation sets: RoadAnomaly21 (anomaly track) and RoadObstacle21 (obstacle track)."""

from __future__ import annotations

from pathlib import Path

from anomaly_seg.datasets import SmiycLayout
from anomaly_seg.datasets.smiyc import IMAGE_EXTENSIONS, TRACK_FOLDERS
from training.datasets.base import AnomalyDataset, Transform

__all__ = ["IMAGE_EXTENSIONS", "TRACK_FOLDERS", "SegmentMeIfYouCan"]


class SegmentMeIfYouCan(AnomalyDataset):
    """``<track folder>/images/<name>.{jpg,webp,png}`` + ``labels_masks/<name>_labels_semantic.png`` (0/1/255).

    ``root`` is the track folder itself or its parent. Only images with a label file are used.
    """

    def __init__(self, root: str | Path, track: str = "anomaly", transform: Transform | None = None) -> None:
        layout = SmiycLayout(root, track)
        super().__init__(layout, transform)
        self.track = track
        self.name = layout.name
