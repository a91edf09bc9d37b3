"""Sample type and the torch base class of the labelled anomaly datasets (files and labels: anomaly_seg.datasets)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from torch.utils.data import Dataset

from anomaly_seg.datasets import DatasetLayout, LabelledImage, check_values, read_label, read_rgb, require_dir
from anomaly_seg.labels import VOID

__all__ = [
    "AnomalyDataset",
    "LabelledImage",
    "Sample",
    "Transform",
    "check_values",
    "collate_samples",
    "read_label",
    "read_rgb",
    "require_dir",
]


@dataclass
class Sample:
    """One training or evaluation image with its targets.

    ``image`` is HxWx3 uint8 RGB; ``train_ids`` HxW uint8 Cityscapes trainIds (255 void) where known;
    ``anomaly`` HxW uint8 (0 inlier, 1 anomaly, 255 void) where known.
    """

    image: np.ndarray
    name: str
    train_ids: np.ndarray | None = None
    anomaly: np.ndarray | None = None


Transform = Callable[[Sample], Sample]


class AnomalyDataset(Dataset[Sample]):
    """Images with a per-pixel anomaly target, read by a runtime :class:`~anomaly_seg.datasets.DatasetLayout`."""

    #: short name used by the registry and in reports
    name = "anomaly"

    def __init__(self, layout: DatasetLayout, transform: Transform | None = None) -> None:
        self.layout = layout
        self.items: list[LabelledImage] = layout.items
        self.root = layout.root
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        frame = self.layout.load(index)
        sample = Sample(image=frame.image, name=frame.name, train_ids=frame.train_ids, anomaly=frame.anomaly)
        return self.transform(sample) if self.transform else sample

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, n={len(self)})"


def collate_samples(samples: Sequence[Sample]) -> dict[str, Any]:
    """Stack equally sized samples into uint8 tensors: image [B,H,W,3], train_ids / anomaly [B,H,W], name list.

    A target missing from some samples is filled with void (255) there; it is left out when no sample has it.
    """
    import torch

    batch: dict[str, Any] = {
        "image": torch.from_numpy(np.stack([s.image for s in samples])),
        "name": [s.name for s in samples],
    }
    for key in ("train_ids", "anomaly"):
        targets = [getattr(s, key) for s in samples]
        if any(t is not None for t in targets):
            filled = [
                t if t is not None else np.full(s.image.shape[:2], VOID, np.uint8) for t, s in zip(targets, samples)
            ]
            batch[key] = torch.from_numpy(np.stack(filled))
    return batch


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB image resized to ``size = (height, width)`` (area-averaged when shrinking)."""
    if image.shape[:2] == tuple(size):
        return image
    shrink = image.shape[0] > size[0] or image.shape[1] > size[1]
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
