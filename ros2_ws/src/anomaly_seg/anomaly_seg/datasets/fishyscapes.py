"""Fishyscapes Lost and Found: ``images/<name>.png`` + ``labels_masks/<name>.png`` (0 inlier, 1 anomaly, 255 void)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.datasets.base import DatasetLayout, LabelledImage, check_values, require_dir
from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import VOID


class FishyscapesLayout(DatasetLayout):
    """Fishyscapes L&F validation set: label 0 inlier, 1 anomaly, 255 void."""

    name = "fishyscapes_laf"

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        image_dir = require_dir(root / "images", "Fishyscapes L&F images")
        label_dir = require_dir(root / "labels_masks", "Fishyscapes L&F labels")
        items = []
        for image in sorted(image_dir.glob("*.png")):
            label = label_dir / image.name
            if not label.is_file():
                raise DatasetError(f"Fishyscapes L&F: label file {label} for image {image} does not exist")
            items.append(LabelledImage(image.stem, image, label))
        super().__init__(items, root)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        check_values(label, (0, 1, VOID), path)
        return None, label
