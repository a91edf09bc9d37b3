"""Obstacles on flat ground: pixels of the output images -> points in the vehicle frame (numpy only).

The vehicle frame (``ground.frame_id``, ROS REP 103: x forward, y left, z up, z = 0 on the road) holds the camera at
``(x, y, height)``, looking forward, pitched down by ``pitch`` and rolled by ``roll`` (degrees). A pixel's ray
(``K^-1 [u, v, 1]`` in the optical frame: x right, y down, z forward) meets the ground where it points below the
horizon; pixels whose ground point lies beyond ``max_range_m`` give none. An obstacle's ground contact is its lowest
pixel in every image column it covers: those points give its position (their centre), its width (their lateral
extent) and, with the ray of its top row at that distance, its height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from anomaly_seg.geometry import camera_angles, camera_rotation


@dataclass(frozen=True)
class Mounting:
    """Where the camera sits on the vehicle (``ground.*`` parameters)."""

    height_m: float
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    x_m: float = 0.0
    y_m: float = 0.0
    max_range_m: float = 50.0
    #: heading left of the vehicle's x axis (no node parameter: a dataset's calibration may have one)
    yaw_deg: float = 0.0

    @cached_property
    def rotation(self) -> np.ndarray:
        """Optical-frame directions -> vehicle frame (:func:`~anomaly_seg.geometry.camera_rotation`); computed once."""
        return camera_rotation(*(math.radians(a) for a in (self.pitch_deg, self.roll_deg, self.yaw_deg)))

    @classmethod
    def from_pose(cls, translation: np.ndarray, rotation: np.ndarray, max_range_m: float = 50.0) -> Mounting:
        """The mounting of a camera whose optical frame sits at ``translation`` with ``rotation`` (optical ->
        vehicle), e.g. from a ``tf`` transform."""
        pitch, roll, yaw = (math.degrees(a) for a in camera_angles(rotation))
        x, y, z = (float(v) for v in translation)
        return cls(z, pitch, roll, x, y, max_range_m, yaw)

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.x_m, self.y_m, self.height_m])


@dataclass(frozen=True)
class GroundObstacles:
    """Ground positions of a frame's kept obstacles (rows match the ids) and the contact points of all of them."""

    ids: np.ndarray  # uint16 [N], as in Obstacles.ids (only obstacles with a contact on the ground)
    centres: np.ndarray  # float64 [N, 3], x y on the ground, z = half the height
    sizes: np.ndarray  # float64 [N, 3], depth extent, width, height (metres)
    points: np.ndarray  # float32 [M, 3], ground-contact points (z = 0)


def ground_points(u: np.ndarray, v: np.ndarray, k: np.ndarray, mounting: Mounting) -> tuple[np.ndarray, np.ndarray]:
    """Ground points ``[N, 3]`` of pixels ``(u, v)`` (pixel-centre coordinates) and which pixels have one (below the
    horizon, within ``max_range_m``)."""
    rays = np.linalg.solve(k, np.stack([u, v, np.ones_like(u)]).astype(np.float64))  # [3, N] optical
    d = mounting.rotation @ rays  # vehicle frame
    c = mounting.centre
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -c[2] / d[2]
    points = c[:, None] + t * d
    valid = (d[2] < 0) & np.isfinite(t)
    valid &= np.hypot(points[0] - c[0], points[1] - c[1]) <= mounting.max_range_m
    return points.T, valid


def ground_obstacles(obstacle_ids: np.ndarray, ids: np.ndarray, k: np.ndarray, mounting: Mounting) -> GroundObstacles:
    """Ground contact, position and size of each obstacle of the id image (output resolution, ``k`` for it)."""
    cols = np.flatnonzero(obstacle_ids.any(axis=0))
    centres, sizes, keep, contact = [], [], [], []
    if cols.size:
        sub = obstacle_ids[:, cols]
        for seg in np.asarray(ids, np.int64):
            hit = sub == seg
            present = hit.any(axis=0)
            if not present.any():
                continue
            bottom = hit.shape[0] - 1 - np.argmax(hit[::-1], axis=0)  # lowest row per column
            top = np.argmax(hit, axis=0)
            u = cols[present].astype(np.float64) + 0.5
            points, valid = ground_points(u, bottom[present] + 1.0, k, mounting)  # the pixel's lower edge
            if not valid.any():
                continue
            pts = points[valid]
            xy = pts[:, :2].mean(axis=0)
            distance = float(np.hypot(*(xy - mounting.centre[:2])))
            height = _height(float(top[present].min()), distance, k, mounting)
            centres.append([xy[0], xy[1], height / 2])
            sizes.append([np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), height])
            keep.append(seg)
            contact.append(pts)
    points = np.concatenate(contact).astype(np.float32) if contact else np.zeros((0, 3), np.float32)
    return GroundObstacles(
        np.asarray(keep, np.uint16),
        np.asarray(centres, np.float64).reshape(-1, 3),
        np.asarray(sizes, np.float64).reshape(-1, 3),
        points,
    )


def _height(top_row: float, distance: float, k: np.ndarray, mounting: Mounting) -> float:
    """Height above the ground where the ray of ``top_row`` (image centre column) is ``distance`` ahead."""
    ray = mounting.rotation @ np.linalg.solve(k, np.array([k[0, 2], top_row, 1.0]))
    horizontal = math.hypot(ray[0], ray[1])
    if horizontal <= 0:
        return 0.0
    return max(0.0, float(mounting.height_m + ray[2] * distance / horizontal))
