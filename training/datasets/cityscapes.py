"""Cityscapes (``leftImg8bit`` + ``gtFine``): inlier training and mIoU evaluation."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import label_ids_to_train_ids
from training.datasets.base import LabelledImage, Sample, Transform, read_label, read_rgb, require_dir

IMAGE_SUFFIX = "_leftImg8bit.png"


class Cityscapes(Dataset[Sample]):
    """``root/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` with ``gtFine/.../<stem>_gtFine_labelTrainIds.png``.

    When a ``labelTrainIds`` file is absent, ``<stem>_gtFine_labelIds.png`` is read and mapped to trainIds.
    """

    name = "cityscapes"

    def __init__(self, root: str | Path, split: str = "train", transform: Transform | None = None) -> None:
        self.root = Path(root)
        self.split = split
        self.transform = transform
        image_dir = require_dir(self.root / "leftImg8bit" / split, f"Cityscapes images of split {split!r}")
        label_dir = require_dir(self.root / "gtFine" / split, f"Cityscapes gtFine labels of split {split!r}")
        self.items: list[LabelledImage] = []
        self.needs_mapping: list[bool] = []
        for image in sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}")):
            stem = image.name[: -len(IMAGE_SUFFIX)]
            train_ids = label_dir / image.parent.name / f"{stem}_gtFine_labelTrainIds.png"
            label_ids = train_ids.with_name(f"{stem}_gtFine_labelIds.png")
            if train_ids.is_file():
                self.items.append(LabelledImage(stem, image, train_ids))
                self.needs_mapping.append(False)
            elif label_ids.is_file():
                self.items.append(LabelledImage(stem, image, label_ids))
                self.needs_mapping.append(True)
            else:
                raise DatasetError(f"Cityscapes: no label for {image}: neither {train_ids} nor {label_ids} exists")
        if not self.items:
            raise DatasetError(f"Cityscapes: no *{IMAGE_SUFFIX} files in {image_dir}/<city>/")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        image = read_rgb(item.image)
        label = read_label(item.label)
        if label.shape != image.shape[:2]:
            raise DatasetError(
                f"Cityscapes: label {item.label} shape {label.shape} != image {item.image} shape {image.shape[:2]}"
            )
        train_ids = label_ids_to_train_ids(label) if self.needs_mapping[index] else label
        sample = Sample(image=image, name=item.name, train_ids=train_ids)
        return self.transform(sample) if self.transform else sample

    def __repr__(self) -> str:
        return f"Cityscapes(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"
