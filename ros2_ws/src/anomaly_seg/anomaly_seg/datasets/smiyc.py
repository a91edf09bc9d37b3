"""SegmentMeIfYouCan validation sets: RoadAnomaly21 (anomaly track) and RoadObstacle21 (obstacle track)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.datasets.base import DatasetLayout, LabelledImage, check_values, require_dir
from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import VOID

TRACK_FOLDERS = {"anomaly": "dataset_AnomalyTrack", "obstacle": "dataset_ObstacleTrack"}
IMAGE_EXTENSIONS = (".jpg", ".webp", ".png")


class SmiycLayout(DatasetLayout):
    """``<track folder>/images/<name>.{jpg,webp,png}`` + ``labels_masks/<name>_labels_semantic.png`` (0/1/255).

    ``root`` is the track folder itself or its parent. Only images with a label file are used (the public
    labels cover the validation images; the test images have none).
    """

    def __init__(self, root: str | Path, track: str = "anomaly") -> None:
        if track not in TRACK_FOLDERS:
            raise DatasetError(f"SegmentMeIfYouCan: track must be one of {sorted(TRACK_FOLDERS)}, got {track!r}")
        root = Path(root)
        if (root / TRACK_FOLDERS[track]).is_dir():
            root = root / TRACK_FOLDERS[track]
        image_dir = require_dir(root / "images", f"SegmentMeIfYouCan {track} track images")
        label_dir = require_dir(root / "labels_masks", f"SegmentMeIfYouCan {track} track labels")
        items = []
        for image in sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
            label = label_dir / f"{image.stem}_labels_semantic.png"
            if label.is_file():
                items.append(LabelledImage(image.stem, image, label))
        if not items:
            raise DatasetError(
                f"SegmentMeIfYouCan: no image in {image_dir} has a label <name>_labels_semantic.png in {label_dir}"
            )
        self.track = track
        self.name = f"smiyc_{track}"
        super().__init__(items, root)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        check_values(label, (0, 1, VOID), path)
        return None, label
