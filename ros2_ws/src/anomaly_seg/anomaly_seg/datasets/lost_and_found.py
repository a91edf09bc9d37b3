"""Lost and Found, original layout: ``leftImg8bit`` + ``gtCoarse`` (+ ``timestamp``, ``camera`` and ``disparity`` when
present): the images, labels, capture times, calibration and stereo depth of the published dataset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
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


@dataclass(frozen=True)
class Extrinsics:
    """The camera on the vehicle, Cityscapes convention: position (m) in the vehicle frame (x forward, y left, z up),
    yaw, pitch (positive = looking down), roll (radians, applied in that order), and the stereo baseline (m)."""

    baseline: float
    x: float
    y: float
    z: float
    yaw: float
    pitch: float
    roll: float


class LostAndFoundLayout(DatasetLayout):
    """``leftImg8bit/<split>/<seq>/<stem>_leftImg8bit.png`` + ``gtCoarse/<split>/<seq>/<stem>_gtCoarse_labelIds.png``.

    anomaly = 1 on obstacles (ids >= 2), 0 on free space, 255 elsewhere; trainIds = road on free space, void
    elsewhere. ``timestamp/<split>/<seq>/<stem>_timestamp.txt``, ``camera/<split>/<seq>/<stem>_camera.json`` and
    ``disparity/<split>/<seq>/<stem>_disparity.png`` are attached to an item when they exist.
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
            disparity = root / "disparity" / split / seq / f"{stem}_disparity.png"
            items.append(
                LabelledImage(
                    stem,
                    image,
                    label,
                    timestamp if timestamp.is_file() else None,
                    camera if camera.is_file() else None,
                    disparity if disparity.is_file() else None,
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


@dataclass(frozen=True)
class CameraCalibration:
    """A Cityscapes camera JSON: intrinsics, and the extrinsics where the file has them."""

    intrinsics: Intrinsics
    extrinsics: Extrinsics | None


def read_camera(path: Path) -> CameraCalibration:
    """A Cityscapes camera JSON (metres, radians), read once; DatasetError naming the file and the key that is
    missing or malformed (``intrinsic`` is required, ``extrinsic`` optional)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read camera file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise DatasetError(f"camera file {path} does not hold a JSON object")
    k = _numbers(path, doc, "intrinsic", ("fx", "fy", "u0", "v0"))
    if k["fx"] <= 0 or k["fy"] <= 0:
        raise DatasetError(f"camera file {path}: focal lengths must be positive, got {k}")
    if doc.get("extrinsic") is None:
        return CameraCalibration(Intrinsics(**k), None)
    e = _numbers(path, doc, "extrinsic", ("baseline", "x", "y", "z", "yaw", "pitch", "roll"))
    if e["baseline"] <= 0:
        raise DatasetError(f"camera file {path}: 'extrinsic.baseline' must be positive, got {e['baseline']}")
    if max(abs(e[a]) for a in ("yaw", "pitch", "roll")) > np.pi:
        raise DatasetError(f"camera file {path}: extrinsic angles must be radians within +-pi, got {e}")
    return CameraCalibration(Intrinsics(**k), Extrinsics(**e))


def _numbers(path: Path, doc: dict[str, object], section: str, keys: tuple[str, ...]) -> dict[str, float]:
    values = doc.get(section)
    if not isinstance(values, dict):
        raise DatasetError(f"camera file {path} has no '{section}' object")
    out = {}
    for key in keys:
        value = values.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise DatasetError(f"camera file {path}: '{section}.{key}' must be a finite number, got {value!r}")
        out[key] = float(value)
    return out


def read_disparity_depth(path: Path, fx: float, baseline: float) -> np.ndarray:
    """Depth along the optical axis (float32 metres, NaN where unknown) of a Cityscapes disparity PNG.

    The PNG holds ``p = 256 d + 1`` for a disparity of ``d`` pixels, 0 where the stereo matcher gave none
    (Cityscapes' README); depth = ``baseline * fx / d``.
    """
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DatasetError(f"cannot read disparity file {path}")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise DatasetError(f"disparity file {path}: expected a one-channel 16-bit PNG, got {raw.dtype} {raw.shape}")
    disparity = (raw.astype(np.float32) - 1.0) / 256.0
    with np.errstate(divide="ignore"):
        depth = np.float32(baseline * fx) / disparity
    depth[disparity <= 0] = np.nan
    return depth
