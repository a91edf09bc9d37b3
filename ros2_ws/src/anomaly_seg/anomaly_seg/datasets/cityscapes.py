"""Cityscapes (``leftImg8bit`` + ``gtFine``): inlier trainIds; as anomaly ground truth only inlier or void."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomaly_seg.datasets.base import DatasetLayout, LabelledImage, require_dir
from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import VOID, label_ids_to_train_ids

IMAGE_SUFFIX = "_leftImg8bit.png"
TRAIN_IDS_SUFFIX = "_gtFine_labelTrainIds.png"
LABEL_IDS_SUFFIX = "_gtFine_labelIds.png"


class CityscapesLayout(DatasetLayout):
    """``root/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` with ``gtFine/.../<stem>_gtFine_labelTrainIds.png``.

    When a ``labelTrainIds`` file is absent, ``<stem>_gtFine_labelIds.png`` is read and mapped to trainIds.
    Cityscapes has no anomalies: the anomaly target is 0 on every labelled pixel and 255 on void.
    """

    name = "cityscapes"
    has_anomaly = False

    def __init__(self, root: str | Path, split: str = "train") -> None:
        root = Path(root)
        image_dir = require_dir(root / "leftImg8bit" / split, f"Cityscapes images of split {split!r}")
        label_dir = require_dir(root / "gtFine" / split, f"Cityscapes gtFine labels of split {split!r}")
        items: list[LabelledImage] = []
        for image in sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}")):
            stem = image.name[: -len(IMAGE_SUFFIX)]
            train_ids = label_dir / image.parent.name / f"{stem}{TRAIN_IDS_SUFFIX}"
            label_ids = train_ids.with_name(f"{stem}{LABEL_IDS_SUFFIX}")
            if train_ids.is_file():
                items.append(LabelledImage(stem, image, train_ids))
            elif label_ids.is_file():
                items.append(LabelledImage(stem, image, label_ids))
            else:
                raise DatasetError(f"Cityscapes: no label for {image}: neither {train_ids} nor {label_ids} exists")
        if not items:
            raise DatasetError(f"Cityscapes: no *{IMAGE_SUFFIX} files in {image_dir}/<city>/")
        self.split = split
        super().__init__(items, root)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        train_ids = label_ids_to_train_ids(label) if path.name.endswith(LABEL_IDS_SUFFIX) else label
        return train_ids, inlier_or_void(train_ids)


def inlier_or_void(train_ids: np.ndarray) -> np.ndarray:
    """Anomaly target of an inlier-only dataset: 0 where a class is labelled, 255 on void."""
    return np.where(train_ids == VOID, np.uint8(VOID), np.uint8(0))
