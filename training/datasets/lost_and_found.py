"""Lost and Found, original layout (``leftImg8bit`` + ``gtCoarse``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import VOID
from training.datasets.base import AnomalyDataset, LabelledImage, Transform, require_dir

IMAGE_SUFFIX = "_leftImg8bit.png"
#: gtCoarse labelIds: 0 unlabeled (void), 1 free space (drivable road, inlier), >= 2 obstacle classes (anomaly)
FREE_SPACE = 1
ROAD_TRAIN_ID = 0


class LostAndFound(AnomalyDataset):
    """``leftImg8bit/<split>/<seq>/<stem>_leftImg8bit.png`` + ``gtCoarse/<split>/<seq>/<stem>_gtCoarse_labelIds.png``.

    anomaly = 1 on obstacles (ids >= 2), 0 on free space, 255 elsewhere; trainIds = road on free space, void elsewhere.
    """

    name = "lost_and_found"

    def __init__(self, root: str | Path, split: str = "test", transform: Transform | None = None) -> None:
        root = Path(root)
        if split not in ("train", "test"):
            raise DatasetError(f"Lost and Found: split must be 'train' or 'test', got {split!r}")
        image_dir = require_dir(root / "leftImg8bit" / split, f"Lost and Found images of split {split!r}")
        label_dir = require_dir(root / "gtCoarse" / split, f"Lost and Found gtCoarse labels of split {split!r}")
        items = []
        for image in sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}")):
            stem = image.name[: -len(IMAGE_SUFFIX)]
            label = label_dir / image.parent.name / f"{stem}_gtCoarse_labelIds.png"
            if not label.is_file():
                raise DatasetError(f"Lost and Found: label file {label} for image {image} does not exist")
            items.append(LabelledImage(stem, image, label))
        self.split = split
        super().__init__(items, root, transform)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray]:
        anomaly = np.where(label >= 2, np.uint8(1), np.uint8(VOID))
        anomaly[label == FREE_SPACE] = 0
        train_ids = np.where(label == FREE_SPACE, np.uint8(ROAD_TRAIN_ID), np.uint8(VOID))
        return train_ids, anomaly
