"""``sensor_msgs/CameraInfo`` for the node's outputs: the camera's intrinsics scaled to the outputs' resolution."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np


def scaled_k(k: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Intrinsics ``k`` of images of ``from_size`` (height, width) for images of ``to_size``."""
    out = np.asarray(k, np.float64).reshape(3, 3).copy()
    out[0] *= to_size[1] / from_size[1]
    out[1] *= to_size[0] / from_size[0]
    return out


def scaled_camera_info(info: Any, header: Any, height: int, width: int) -> Any:
    """A copy of ``info`` (rclpy or rosbags message) for images of ``height x width`` taken from the camera it
    describes: K and P scaled per axis (fx, cx by width / info.width; fy, cy by height / info.height), the new
    size, ``header``; distortion, rectification and the distortion model unchanged. Binning is reset (the scale is
    applied to K and P instead) and the ROI scaled."""
    if int(info.width) <= 0 or int(info.height) <= 0:
        raise ValueError(f"camera_info has no image size ({info.width}x{info.height})")
    sx, sy = width / int(info.width), height / int(info.height)
    k = scaled_k(np.asarray(info.k), (int(info.height), int(info.width)), (height, width))
    p = np.asarray(info.p, np.float64).reshape(3, 4).copy()
    p[0] *= sx
    p[1] *= sy
    out = copy.copy(info)
    out.header = header
    out.height, out.width = int(height), int(width)
    out.k, out.p = k.reshape(-1), p.reshape(-1)
    out.binning_x = out.binning_y = 0
    roi = copy.copy(info.roi)
    roi.x_offset, roi.width = round(roi.x_offset * sx), round(roi.width * sx)
    roi.y_offset, roi.height = round(roi.y_offset * sy), round(roi.height * sy)
    out.roi = roi
    return out
