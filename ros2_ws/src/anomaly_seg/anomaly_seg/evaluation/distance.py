"""Distance of the published obstacles against stereo depth (Lost and Found's disparity and calibration).

For each obstacle the node published (its segment in ``obstacle_ids``) that overlaps a ground-truth obstacle, the
*estimate* is what the node's ``obstacles_3d`` rule gives with the dataset's calibration of that frame (the
segment's lowest pixels on flat ground, :func:`~anomaly_seg.pipeline.ground.ground_obstacles`) and the *reference*
is the median distance of the ground-truth obstacle's pixels by stereo depth, both ahead of the camera in the
vehicle frame. The calibration comes from the bag (camera_info and ``/tf``), so the node's own ``ground.*``
parameters do not enter: this measures the flat-ground rule and the segments, not a mounting typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import cv2
import numpy as np

from anomaly_seg.messages import scaled_k
from anomaly_seg.pipeline.ground import Mounting, ground_obstacles
from anomaly_seg.vocabulary import GT_ANOMALY

DISTANCE_BANDS_M: Final = ((0.0, 15.0), (15.0, 30.0), (30.0, 60.0), (60.0, float("inf")))
"""Bands of the reference distance (m) the errors are reported in."""
REFERENCE_RANGE_M: Final = 500.0
"""Ground points up to this far count for the estimate (the node's ``ground.max_range_m`` is a publishing limit)."""


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics ``k`` of images of ``size`` (height, width), from the bag's camera_info."""

    k: np.ndarray
    size: tuple[int, int]


def obstacle_distances(
    ids: np.ndarray, gt: np.ndarray, depth: np.ndarray, camera: CameraModel, mounting: Mounting
) -> tuple[np.ndarray, dict[str, int]]:
    """``[N, 2]`` (reference, estimate) distances ahead of the camera (m) of the published segments in ``ids``
    (at the ground truth's size) that overlap a ground-truth obstacle, and the counts of those left out and why."""
    k = scaled_k(camera.k, camera.size, (int(gt.shape[0]), int(gt.shape[1])))
    n_gt, components = cv2.connectedComponents((gt == GT_ANOMALY).view(np.uint8), connectivity=8)
    skipped = {"no_ground_truth_obstacle": 0, "no_stereo_depth": 0, "no_ground_contact": 0, "cut_by_image_bottom": 0}
    cut = set(np.unique(ids[-1]).tolist())  # their lowest pixel is the border, not where they stand
    pairs: list[tuple[float, float]] = []
    segment_ids = [int(i) for i in np.unique(ids) if i]
    if not segment_ids:
        return np.zeros((0, 2)), skipped
    ground = ground_obstacles(ids, np.asarray(segment_ids), k, _unlimited(mounting))
    estimates = {int(i): float(c[0]) - mounting.x_m for i, c in zip(ground.ids, ground.centres)}
    for seg in segment_ids:
        overlap = np.bincount(components[ids == seg], minlength=n_gt)
        overlap[0] = 0
        if n_gt <= 1 or overlap.max() == 0:
            skipped["no_ground_truth_obstacle"] += 1
            continue
        reference = _stereo_distance(components == int(np.argmax(overlap)), depth, k, mounting)
        if reference is None:
            skipped["no_stereo_depth"] += 1
        elif seg in cut:
            skipped["cut_by_image_bottom"] += 1
        elif seg not in estimates:
            skipped["no_ground_contact"] += 1
        else:
            pairs.append((reference, estimates[seg]))
    return np.asarray(pairs, np.float64).reshape(-1, 2), skipped


def _unlimited(mounting: Mounting) -> Mounting:
    m = mounting
    return Mounting(m.height_m, m.pitch_deg, m.roll_deg, m.x_m, m.y_m, REFERENCE_RANGE_M, m.yaw_deg)


def _stereo_distance(region: np.ndarray, depth: np.ndarray, k: np.ndarray, mounting: Mounting) -> float | None:
    """Median distance ahead of the camera of the pixels of ``region`` with a stereo depth (None without any)."""
    v, u = np.nonzero(region & np.isfinite(depth) & (depth > 0))
    if u.size == 0:
        return None
    rays = np.linalg.solve(k, np.stack([u + 0.5, v + 0.5, np.ones(u.size)]))  # optical, z = 1
    ahead = (mounting.rotation @ (rays * depth[v, u].astype(np.float64)))[0]
    return float(np.median(ahead))


@dataclass
class DistanceErrors:
    """Accumulates (reference, estimate) pairs over frames; :meth:`summary` gives the per-band table."""

    pairs: list[np.ndarray] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    frames: int = 0

    def add(self, pairs: np.ndarray, skipped: dict[str, int]) -> None:
        """One frame's pairs and left-out counts."""
        self.frames += 1
        self.pairs.append(pairs)
        for key, n in skipped.items():
            self.skipped[key] = self.skipped.get(key, 0) + n

    def all_pairs(self) -> np.ndarray:
        """Every pair so far, ``[N, 2]``."""
        return np.concatenate(self.pairs) if self.pairs else np.zeros((0, 2))

    def summary(self) -> dict[str, Any]:
        """``{"frames", "obstacles", "left_out": {...}, "bands": [row, ...]}``; a row per band (and ``all``) with
        the count, median |error| (m), median and 90th percentile of |error| / reference, and the median signed
        relative error (bias: positive = estimated too far)."""
        pairs = self.all_pairs()
        rows = []
        named = [(f">= {a:g}" if b == float("inf") else f"{a:g}-{b:g}", a, b) for a, b in DISTANCE_BANDS_M]
        for name, near, far in (*named, ("all", 0.0, float("inf"))):
            band = pairs[(pairs[:, 0] >= near) & (pairs[:, 0] < far)]
            row: dict[str, Any] = {"band_m": name, "obstacles": len(band)}
            if len(band):
                error = band[:, 1] - band[:, 0]
                relative = error / band[:, 0]
                row.update(
                    median_abs_error_m=float(np.median(np.abs(error))),
                    median_abs_relative=float(np.median(np.abs(relative))),
                    p90_abs_relative=float(np.quantile(np.abs(relative), 0.9)),
                    median_relative=float(np.median(relative)),
                )
            rows.append(row)
        return {"frames": self.frames, "obstacles": len(pairs), "left_out": dict(self.skipped), "bands": rows}
