"""Lost and Found, original layout: ``leftImg8bit`` + ``gtCoarse`` (+ ``timestamp`` and ``camera`` when present)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anomaly_seg.datasets.base import DatasetLayout, LabelledImage, require_dir
from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import VOID

IMAGE_SUFFIX = "_leftImg8bit.png"
SPLITS = ("train", "test")
#: gtCoarse labelIds: 0 unlabeled (void), 1 free space (drivable road, inlier), >= 2 obstacle classes (anomaly)
FREE_SPACE = 1
ROAD_TRAIN_ID = 0


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of a rectified Cityscapes-style camera (pixels)."""

    fx: float
    fy: float
    u0: float
    v0: float


class LostAndFoundLayout(DatasetLayout):
    """``leftImg8bit/<split>/<seq>/<stem>_leftImg8bit.png`` + ``gtCoarse/<split>/<seq>/<stem>_gtCoarse_labelIds.png``.

    anomaly = 1 on obstacles (ids >= 2), 0 on free space, 255 elsewhere; trainIds = road on free space, void
    elsewhere. ``timestamp/<split>/<seq>/<stem>_timestamp.txt`` and ``camera/<split>/<seq>/<stem>_camera.json``
    are attached to an item when they exist.
    """

    name = "lost_and_found"

    def __init__(self, root: str | Path, split: str = "test") -> None:
        root = Path(root)
        if split not in SPLITS:
            raise DatasetError(f"Lost and Found: split must be 'train' or 'test', got {split!r}")
        image_dir = require_dir(root / "leftImg8bit" / split, f"Lost and Found images of split {split!r}")
        label_dir = require_dir(root / "gtCoarse" / split, f"Lost and Found gtCoarse labels of split {split!r}")
        items = []
        for image in sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}")):
            stem = image.name[: -len(IMAGE_SUFFIX)]
            seq = image.parent.name
            label = label_dir / seq / f"{stem}_gtCoarse_labelIds.png"
            if not label.is_file():
                raise DatasetError(f"Lost and Found: label file {label} for image {image} does not exist")
            timestamp = root / "timestamp" / split / seq / f"{stem}_timestamp.txt"
            camera = root / "camera" / split / seq / f"{stem}_camera.json"
            items.append(
                LabelledImage(
                    stem,
                    image,
                    label,
                    timestamp if timestamp.is_file() else None,
                    camera if camera.is_file() else None,
                )
            )
        self.split = split
        super().__init__(items, root)

    def targets(self, label: np.ndarray, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
        anomaly = np.where(label >= 2, np.uint8(1), np.uint8(VOID))
        anomaly[label == FREE_SPACE] = 0
        train_ids = np.where(label == FREE_SPACE, np.uint8(ROAD_TRAIN_ID), np.uint8(VOID))
        return train_ids, anomaly


def read_timestamp_ns(path: Path) -> int:
    """The integer nanosecond timestamp in a Lost and Found ``*_timestamp.txt``."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DatasetError(f"cannot read timestamp file {path}: {exc}") from exc
    try:
        value = int(text)
    except ValueError:
        raise DatasetError(f"timestamp file {path} holds {text[:40]!r}, expected one integer (nanoseconds)") from None
    if value < 0:
        raise DatasetError(f"timestamp file {path} holds a negative time {value}")
    return value


def read_intrinsics(path: Path) -> Intrinsics:
    """``intrinsic`` of a Cityscapes camera JSON; DatasetError naming the file and the missing key."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read camera file {path}: {exc}") from exc
    intrinsic = doc.get("intrinsic") if isinstance(doc, dict) else None
    if not isinstance(intrinsic, dict):
        raise DatasetError(f"camera file {path} has no 'intrinsic' object")
    values = {}
    for key in ("fx", "fy", "u0", "v0"):
        value = intrinsic.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise DatasetError(f"camera file {path}: 'intrinsic.{key}' must be a finite number, got {value!r}")
        values[key] = float(value)
    if values["fx"] <= 0 or values["fy"] <= 0:
        raise DatasetError(f"camera file {path}: focal lengths must be positive, got {values}")
    return Intrinsics(**values)
