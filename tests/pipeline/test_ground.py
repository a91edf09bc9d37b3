"""Flat-ground geometry (pipeline/ground.py) against OpenCV's projection and closed-form trigonometry."""

from __future__ import annotations

import math

import cv2
import numpy as np

from anomaly_seg.messages import scaled_k
from anomaly_seg.pipeline.ground import Mounting, ground_obstacles, ground_points

K = np.array([[800.0, 0.0, 640.0], [0.0, 800.0, 360.0], [0.0, 0.0, 1.0]])


def project(points: np.ndarray, mounting: Mounting) -> np.ndarray:
    """Vehicle-frame points -> pixels with cv2.projectPoints (the independent forward model)."""
    rotation = mounting.rotation.T  # vehicle -> optical
    rvec, _ = cv2.Rodrigues(rotation)
    uv, _ = cv2.projectPoints(points.astype(np.float64), rvec, -rotation @ mounting.centre, K, None)
    return uv.reshape(-1, 2)


def test_pixels_of_ground_points_come_back_to_those_points() -> None:
    mounting = Mounting(1.6, pitch_deg=5.0, roll_deg=-2.0, x_m=1.5, y_m=0.2, max_range_m=60.0)
    points = np.array([[6.0, -2.0, 0.0], [12.5, 0.0, 0.0], [30.0, 3.0, 0.0], [55.0, -1.0, 0.0]])
    uv = project(points, mounting)
    got, valid = ground_points(uv[:, 0], uv[:, 1], K, mounting)
    assert valid.all()
    np.testing.assert_allclose(got, points, atol=1e-6)


def test_the_principal_ray_meets_the_ground_at_height_over_tan_pitch_and_the_sky_has_no_points() -> None:
    mounting = Mounting(1.5, pitch_deg=4.0, x_m=2.0, max_range_m=100.0)
    (point,), (valid,) = ground_points(np.array([640.0]), np.array([360.0]), K, mounting)
    assert valid
    np.testing.assert_allclose(point, [2.0 + 1.5 / math.tan(math.radians(4.0)), 0.0, 0.0], atol=1e-9)
    _, above = ground_points(np.array([640.0, 640.0]), np.array([300.0, 0.0]), K, mounting)  # above the horizon
    assert not above.any()
    _, far = ground_points(np.array([640.0]), np.array([365.0]), K, Mounting(1.5, 4.0, max_range_m=10.0))
    assert not far.any()  # ~20 m away, beyond max_range_m


def test_an_obstacle_box_gives_its_distance_width_and_height() -> None:
    mounting = Mounting(1.5, pitch_deg=3.0)
    distance, left, right, height = 18.0, -0.5, 0.7, 0.8
    corners = np.array([[distance, left, 0.0], [distance, right, 0.0], [distance, 0.0, height]])
    (u_left, v_bottom), (u_right, _), (_, v_top) = project(corners, mounting)
    ids = np.zeros((720, 1280), np.uint16)
    ids[math.ceil(v_top) : round(v_bottom), round(u_right) : round(u_left)] = 3  # y left = smaller u
    result = ground_obstacles(ids, np.array([3]), K, mounting)
    assert result.ids.tolist() == [3]
    (x, y, z), (depth, width, h) = result.centres[0], result.sizes[0]
    assert abs(x - distance) < 0.02 * distance and abs(y - (left + right) / 2) < 0.05
    assert abs(width - (right - left)) < 0.05 and abs(h - height) < 0.05 and z == h / 2 and depth < 0.2
    assert len(result.points) == ids.any(axis=0).sum() and np.all(result.points[:, 2] == 0)


def test_intrinsics_scale_per_axis() -> None:
    np.testing.assert_allclose(scaled_k(K, (720, 1280), (360, 1280)), [[800, 0, 640], [0, 400, 180], [0, 0, 1]])
