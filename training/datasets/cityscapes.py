"""Cityscapes (``leftImg8bit`` + ``gtFine``): inlier training and mIoU evaluation (files: anomaly_seg.datasets)."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from anomaly_seg.datasets import CityscapesLayout, LabelledImage
from training.datasets.base import Sample, Transform


class Cityscapes(Dataset[Sample]):
    """``root/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` with ``gtFine/.../<stem>_gtFine_labelTrainIds.png``.

    When a ``labelTrainIds`` file is absent, ``<stem>_gtFine_labelIds.png`` is read and mapped to trainIds.
    """

    name = "cityscapes"

    def __init__(self, root: str | Path, split: str = "train", transform: Transform | None = None) -> None:
        self.layout = CityscapesLayout(root, split)
        self.root = self.layout.root
        self.split = split
        self.transform = transform
        self.items: list[LabelledImage] = self.layout.items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        frame = self.layout.load(index)
        sample = Sample(image=frame.image, name=frame.name, train_ids=frame.train_ids)
        return self.transform(sample) if self.transform else sample

    def __repr__(self) -> str:
        return f"Cityscapes(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"
