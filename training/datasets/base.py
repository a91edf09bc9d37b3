"""Sample type, image/label readers and the base class of the labelled anomaly datasets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch.utils.data import Dataset

from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import VOID


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


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a DatasetError naming it and what it should hold."""
    if not path.is_dir():
        raise DatasetError(f"{what}: folder {path} does not exist")
    return path


def read_rgb(path: Path) -> np.ndarray:
    """Image file as HxWx3 uint8 RGB."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError(f"cannot read image {path} (missing, unreadable or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_label(path: Path) -> np.ndarray:
    """Single-channel 8-bit label image as HxW uint8 (a grey image saved with 3 equal channels is accepted)."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise DatasetError(f"cannot read label image {path} (missing, unreadable or not an image)")
    if label.ndim == 3:
        if not (label == label[..., :1]).all():
            raise DatasetError(f"label image {path} has {label.shape[2]} different channels, expected one")
        label = label[..., 0]
    if label.dtype != np.uint8:
        raise DatasetError(f"label image {path} has dtype {label.dtype}, expected 8-bit")
    return np.ascontiguousarray(label)


def check_values(label: np.ndarray, allowed: Sequence[int], path: Path) -> None:
    """DatasetError naming ``path`` if ``label`` holds values outside ``allowed``."""
    bad = np.setdiff1d(np.unique(label), np.asarray(allowed))
    if bad.size:
        raise DatasetError(f"label image {path} holds values {bad.tolist()}, expected only {list(allowed)}")


@dataclass(frozen=True)
class LabelledImage:
    """Where one image and its label file are."""

    name: str
    image: Path
    label: Path


class AnomalyDataset(Dataset[Sample]):
    """Images with a per-pixel anomaly target; subclasses find the files and map their label values."""

    #: short name used by the registry and in reports
    name = "anomaly"

    def __init__(self, items: Sequence[LabelledImage], root: Path, transform: Transform | None = None) -> None:
        if not items:
            raise DatasetError(f"{type(self).__name__}: no labelled images found under {root}")
        self.items = list(items)
        self.root = root
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        image = read_rgb(item.image)
        label = read_label(item.label)
        if label.shape != image.shape[:2]:
            raise DatasetError(
                f"label {item.label} is {label.shape[::-1]} (WxH) but image {item.image} is {image.shape[1::-1]}"
            )
        train_ids, anomaly = self.targets(label, item.label)
        sample = Sample(image=image, name=item.name, train_ids=train_ids, anomaly=anomaly)
        return self.transform(sample) if self.transform else sample

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray]:
        """(trainIds or None, anomaly 0/1/255) from the dataset's raw label image."""
        raise NotImplementedError

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
