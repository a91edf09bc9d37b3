"""Road Anomaly (``frames/<name>.jpg`` + ``frames/<name>.labels/labels_semantic.png``, 2 = anomaly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.errors import DatasetError
from training.datasets.base import AnomalyDataset, LabelledImage, Transform, require_dir

ANOMALY_VALUE = 2


class RoadAnomaly(AnomalyDataset):
    """Road Anomaly (Lis et al.): every pixel labelled, 2 = anomaly, anything else inlier; no void."""

    name = "road_anomaly"

    def __init__(self, root: str | Path, transform: Transform | None = None) -> None:
        root = Path(root)
        frames = require_dir(root / "frames", "Road Anomaly frames")
        items = []
        for image in sorted(frames.glob("*.jpg")):
            label = frames / f"{image.stem}.labels" / "labels_semantic.png"
            if not label.is_file():
                raise DatasetError(f"Road Anomaly: label file {label} for image {image} does not exist")
            items.append(LabelledImage(image.stem, image, label))
        super().__init__(items, root, transform)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray]:
        return None, (label == ANOMALY_VALUE).astype(np.uint8)
