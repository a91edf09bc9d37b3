"""The camera's orientation on the vehicle (numpy only): the package's one rotation convention.

Vehicle frame: ROS REP 103 (x forward, y left, z up). Optical frame: x right, y down, z forward. A camera is yawed
(left positive), pitched (down positive) and rolled about its forward axis, in the Cityscapes camera convention
(``extrinsic`` of ``camera/*.json``): ``R = Rz(yaw) Ry(pitch) Rx(roll)`` applied to the optical axes of a level camera.
"""

from __future__ import annotations

import math

import numpy as np

OPTICAL_TO_LEVEL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
"""Optical-frame directions -> vehicle axes of a level camera looking forward."""


def camera_rotation(pitch: float, roll: float, yaw: float = 0.0) -> np.ndarray:
    """Optical-frame directions -> vehicle frame for a camera with these angles (radians)."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    rotation: np.ndarray = rz @ ry @ rx @ OPTICAL_TO_LEVEL
    return rotation


def camera_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(pitch, roll, yaw) in radians of an optical -> vehicle ``rotation`` (the inverse of :func:`camera_rotation`)."""
    body = np.asarray(rotation, np.float64) @ OPTICAL_TO_LEVEL.T
    pitch = math.asin(float(np.clip(-body[2, 0], -1.0, 1.0)))
    return pitch, math.atan2(float(body[2, 1]), float(body[2, 2])), math.atan2(float(body[1, 0]), float(body[0, 0]))
