"""Road Anomaly: ``frames/<name>.jpg`` + ``frames/<name>.labels/labels_semantic.png`` (2 = anomaly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.datasets.base import DatasetLayout, LabelledImage, require_dir
from anomaly_seg.errors import DatasetError

ANOMALY_VALUE = 2


class RoadAnomalyLayout(DatasetLayout):
    """Road Anomaly (Lis et al.): every pixel labelled, 2 = anomaly, anything else inlier; no void."""

    name = "road_anomaly"

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        frames = require_dir(root / "frames", "Road Anomaly frames")
        items = []
        for image in sorted(frames.glob("*.jpg")):
            label = frames / f"{image.stem}.labels" / "labels_semantic.png"
            if not label.is_file():
                raise DatasetError(f"Road Anomaly: label file {label} for image {image} does not exist")
            items.append(LabelledImage(image.stem, image, label))
        super().__init__(items, root)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, (label == ANOMALY_VALUE).astype(np.uint8)
