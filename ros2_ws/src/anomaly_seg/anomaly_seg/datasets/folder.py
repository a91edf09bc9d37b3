"""Any folder of images (searched recursively), without ground truth: for converting raw camera recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.datasets.base import IMAGE_EXTENSIONS, DatasetLayout, LabelledImage, require_dir


class FolderLayout(DatasetLayout):
    """Every image file under ``root`` in sorted path order; names are the paths relative to ``root``."""

    name = "folder"
    has_anomaly = False

    def __init__(self, root: str | Path) -> None:
        root = require_dir(Path(root), "image folder")
        images = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        items = [LabelledImage(p.relative_to(root).with_suffix("").as_posix(), p) for p in images]
        super().__init__(items, root)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, None
