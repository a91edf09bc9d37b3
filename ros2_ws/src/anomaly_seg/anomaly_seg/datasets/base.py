"""File indexing and label reading shared by every dataset layout (numpy + OpenCV only, usable at run time).

A layout (one module per published dataset format) finds its image/label files and maps its raw label values
to the two targets used everywhere: Cityscapes trainIds (255 void) and the anomaly mask (0 inlier, 1 anomaly,
255 void). Training wraps these layouts in torch datasets; the bag converters read them directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from anomaly_seg.errors import DatasetError

#: image file suffixes read by the layouts that accept "any image"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass(frozen=True)
class LabelledImage:
    """Where one image, its label file and its optional per-frame metadata files are."""

    name: str
    image: Path
    label: Path | None = None
    #: a text file holding one integer: the capture time in nanoseconds (Lost and Found)
    timestamp: Path | None = None
    #: a Cityscapes camera JSON (``{"extrinsic": {...}, "intrinsic": {"fx", "fy", "u0", "v0"}}``)
    camera: Path | None = None
    #: a Cityscapes 16-bit disparity PNG (Lost and Found: ``disparity/<split>/<seq>/<stem>_disparity.png``)
    disparity: Path | None = None


@dataclass
class LoadedFrame:
    """One image of a layout with its targets: RGB uint8, trainIds (255 void) and anomaly (0/1/255) where known."""

    name: str
    image: np.ndarray
    train_ids: np.ndarray | None = None
    anomaly: np.ndarray | None = None


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


class DatasetLayout:
    """A dataset folder in one published layout: ``items`` in a fixed order, ``targets`` maps raw labels.

    Subclasses fill ``items`` in ``__init__`` and override :meth:`targets`. ``has_anomaly`` says whether the
    layout's labels carry the anomaly target (Cityscapes: only inlier/void; folder: no labels at all).
    """

    #: short name used in reports and on the command line
    name = "dataset"
    has_anomaly = True

    def __init__(self, items: Sequence[LabelledImage], root: Path) -> None:
        if not items:
            raise DatasetError(f"{type(self).__name__}: no images found under {root}")
        self.items = list(items)
        self.root = root

    def __len__(self) -> int:
        return len(self.items)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(trainIds or None, anomaly 0/1/255 or None) from the dataset's raw label image."""
        raise NotImplementedError

    def load(self, index: int) -> LoadedFrame:
        """Read image ``index`` and its targets; DatasetError naming the file on any problem."""
        item = self.items[index]
        image = read_rgb(item.image)
        if item.label is None:
            return LoadedFrame(item.name, image)
        label = read_label(item.label)
        if label.shape != image.shape[:2]:
            raise DatasetError(
                f"label {item.label} is {label.shape[::-1]} (WxH) but image {item.image} is {image.shape[1::-1]}"
            )
        train_ids, anomaly = self.targets(label, item.label)
        return LoadedFrame(item.name, image, train_ids, anomaly)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, n={len(self)})"
