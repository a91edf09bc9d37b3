"""Pinhole camera over a flat ground plane, with a bending road: the geometry of a synthetic scene."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Forward-looking camera ``height_m`` above flat ground; angles are small (no lens distortion).

    A ground-plane point at lateral offset ``X`` (metres, right positive), height ``Z`` and depth ``d``
    projects to ``x = vanish_x + fx (X + curvature d^2) / d``, ``y = horizon_y + fy (height_m - Z) / d``:
    ``curvature`` bends the whole world sideways with depth, which draws a curving road.
    ``roll_deg`` is applied afterwards as an image rotation about the image centre.
    """

    fx: float
    fy: float
    u0: float
    v0: float
    height_m: float
    pitch_rad: float
    yaw_rad: float
    roll_deg: float
    curvature: float

    @cached_property
    def horizon_y(self) -> float:
        return self.v0 - self.fy * math.tan(self.pitch_rad)

    @cached_property
    def vanish_x(self) -> float:
        return self.u0 + self.fx * math.tan(self.yaw_rad)

    def project(self, X: Any, Z: Any, d: Any) -> np.ndarray:
        """Pixel coordinates ``[..., 2]`` (x, y) of world points; inputs broadcast, ``d > 0``."""
        d = np.asarray(d, np.float64)
        x = self.vanish_x + self.fx * (X + self.curvature * d * d) / d
        y = self.horizon_y + self.fy * (self.height_m - np.asarray(Z, np.float64)) / d
        if np.shape(x) != np.shape(y):
            x, y = np.broadcast_arrays(x, y)
        return np.stack((x, y), axis=-1)

    def ground_depth(self, y: float) -> float:
        """Depth of the ground seen at image row ``y`` (below the horizon)."""
        return self.fy * self.height_m / max(y - self.horizon_y, 1e-6)

    def to_cityscapes_json(self) -> dict[str, dict[str, float]]:
        """The camera in the Cityscapes ``camera/*.json`` format (extrinsic angles in radians, metres)."""
        return {
            "extrinsic": {
                "baseline": 0.22,
                "pitch": self.pitch_rad,
                "roll": math.radians(self.roll_deg),
                "x": 1.7,
                "y": 0.0,
                "yaw": self.yaw_rad,
                "z": self.height_m,
            },
            "intrinsic": {"fx": self.fx, "fy": self.fy, "u0": self.u0, "v0": self.v0},
        }


def sample_camera(height: int, width: int, rng: np.random.Generator) -> Camera:
    """A random but plausible vehicle camera for an image of ``height x width`` pixels."""
    f = width * rng.uniform(0.55, 0.9)
    u0, v0 = width / 2.0, height / 2.0
    horizon = height * rng.uniform(0.33, 0.5)
    vanish = width * (0.5 + rng.uniform(-0.12, 0.12))
    if rng.random() < 0.45:
        curvature = rng.uniform(-3e-4, 3e-4)
    else:
        curvature = float(rng.choice([-1.0, 1.0])) * rng.uniform(1e-3, 4e-3)
    roll = 0.0 if rng.random() < 0.5 else float(rng.choice([-1.0, 1.0])) * rng.uniform(0.5, 3.0)
    return Camera(
        fx=f,
        fy=f,
        u0=u0,
        v0=v0,
        height_m=rng.uniform(1.2, 1.7),
        pitch_rad=math.atan((v0 - horizon) / f),
        yaw_rad=math.atan((vanish - u0) / f),
        roll_deg=roll,
        curvature=curvature,
    )
