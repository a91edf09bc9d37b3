"""Painter's canvas: an RGB image and an object-id image drawn together, plus the id -> label tables.

Object ids 0..33 are the Cityscapes labelIds themselves (stuff and background); each thing instance
(car, person, ...) and each obstacle gets its own id from 34 up, so label, instance and obstacle images
all come out of the id image with one ``cv2.LUT`` each at the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import LABELS

SHIFT = 4
ONE = 1 << SHIFT
FIRST_INSTANCE_ID = 34
_MAX_COORD = 1e6

Color = Sequence[float] | np.ndarray


def to_points(xy: np.ndarray) -> np.ndarray:
    """Float pixel coordinates ``[..., 2]`` -> fixed-point int32 points for OpenCV with ``shift=SHIFT``."""
    pts = np.asarray(xy, np.float64) * ONE
    np.minimum(pts, _MAX_COORD * ONE, out=pts)
    np.maximum(pts, -_MAX_COORD * ONE, out=pts)
    return np.rint(pts, out=pts).astype(np.int32)


def _point_lists(polys: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """Polygons (a list of ``[K_i, 2]`` or one ``[N, K, 2]`` array) converted in one vectorised pass."""
    if isinstance(polys, np.ndarray):
        return list(to_points(polys))
    lens = [len(p) for p in polys]
    flat = to_points(np.concatenate(polys))
    ends = np.cumsum(lens).tolist()
    return [flat[e - n : e] for n, e in zip(lens, ends)]


def _rgb(color: Color) -> tuple[float, float, float]:
    return (float(color[0]), float(color[1]), float(color[2]))


class Canvas:
    """RGB image + object-id image of one scene, drawn in painter's order (far to near)."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.img: np.ndarray = np.zeros((height, width, 3), np.uint8)
        self.obj: np.ndarray = np.zeros((height, width), np.uint8)
        n_stuff = max(lb.id for lb in LABELS) + 1
        self.label_of: list[int] = list(range(n_stuff))
        self.instance_of: list[int] = list(range(n_stuff))
        self.obstacle_of: list[int] = [0] * n_stuff
        self.obstacle_kinds: list[str] = []
        self.obstacle_depths: list[float] = []  # metres along the camera's forward axis, per obstacle
        self._count: dict[int, int] = {}

    def new_instance(self, label_id: int) -> int:
        """A fresh object id for one instance of ``label_id`` (Cityscapes instance id ``label_id * 1000 + k``)."""
        k = self._count.get(label_id, 0)
        self._count[label_id] = k + 1
        return self._append(label_id, label_id * 1000 + k, 0)

    def new_obstacle(self, kind: str, depth_m: float = float("nan")) -> int:
        """A fresh object id for an obstacle (labelId 0, no Cityscapes instance) standing ``depth_m`` ahead."""
        self.obstacle_kinds.append(kind)
        self.obstacle_depths.append(float(depth_m))
        return self._append(0, 0, len(self.obstacle_kinds))

    def _append(self, label_id: int, instance: int, obstacle: int) -> int:
        oid = len(self.label_of)
        if oid > 255:
            raise ConfigError("synthetic scene has more than 221 instances; lower the object counts")
        self.label_of.append(label_id)
        self.instance_of.append(instance)
        self.obstacle_of.append(obstacle)
        return oid

    def fill(self, polys: Sequence[np.ndarray] | np.ndarray, color: Color, oid: int | None) -> None:
        """Fill polygons (``[K, 2]`` float pixels each) with ``color``; set their ids to ``oid`` unless None."""
        if len(polys) == 0:
            return
        pts = _point_lists(polys)
        cv2.fillPoly(self.img, pts, _rgb(color), cv2.LINE_8, SHIFT)
        if oid is not None:
            cv2.fillPoly(self.obj, pts, oid, cv2.LINE_8, SHIFT)

    def lines(self, segments: np.ndarray, color: Color, oid: int | None, thickness: int = 1) -> None:
        """Draw line segments ``[N, 2, 2]`` (float pixels), ``thickness`` in whole pixels."""
        if len(segments) == 0:
            return
        pts = list(to_points(segments))
        cv2.polylines(self.img, pts, False, _rgb(color), max(1, thickness), cv2.LINE_8, SHIFT)
        if oid is not None:
            cv2.polylines(self.obj, pts, False, oid, max(1, thickness), cv2.LINE_8, SHIFT)

    def ellipse(self, center: Color, axes: Sequence[float], color: Color, oid: int | None) -> None:
        """Filled axis-aligned ellipse (float pixels)."""
        c = (round(center[0] * ONE), round(center[1] * ONE))
        a = (max(round(axes[0] * ONE), 1), max(round(axes[1] * ONE), 1))
        if max(abs(c[0]), abs(c[1])) > _MAX_COORD:
            return
        cv2.ellipse(self.img, c, a, 0, 0, 360, _rgb(color), -1, cv2.LINE_8, SHIFT)
        if oid is not None:
            cv2.ellipse(self.obj, c, a, 0, 0, 360, oid, -1, cv2.LINE_8, SHIFT)

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(label, instance, obstacle)`` look-up tables of 256 entries indexed by object id."""
        label = np.zeros(256, np.uint8)
        instance = np.zeros(256, np.uint16)
        obstacle = np.zeros(256, np.uint8)
        n = len(self.label_of)
        label[:n] = self.label_of
        instance[:n] = self.instance_of
        obstacle[:n] = self.obstacle_of
        return label, instance, obstacle
