"""``tf2_msgs/TFMessage`` <-> camera poses, for bags (rosbags dataclasses: tf2_msgs has no wheel for rclpy here).

Quaternions are converted with numpy (the node's runtime has no scipy; tests compare with scipy's ``Rotation``).

A converted dataset carries its per-frame calibration as a ``/tf`` transform from the vehicle frame to the camera's
optical frame, stamped like the image, so that an evaluator reads the same bag the node reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from anomaly_seg.messages.factory import header_from_ns, rosbags_factory, stamp_to_ns


@dataclass(frozen=True)
class FramePose:
    """Where frame ``child`` is in frame ``parent`` at ``stamp_ns``: ``p_parent = rotation @ p_child + translation``."""

    parent: str
    child: str
    stamp_ns: int
    translation: np.ndarray  # float64 [3]
    rotation: np.ndarray  # float64 [3, 3]


def tf_message(typestore: Any, poses: list[FramePose]) -> Any:
    """``tf2_msgs/msg/TFMessage`` (a rosbags dataclass of ``typestore``) holding ``poses``."""
    types = typestore.types
    factory = rosbags_factory(typestore)
    transforms = []
    for pose in poses:
        x, y, z, w = quaternion_from_matrix(pose.rotation)
        tx, ty, tz = (float(v) for v in pose.translation)
        transforms.append(
            types["geometry_msgs/msg/TransformStamped"](
                header=header_from_ns(factory, pose.stamp_ns, pose.parent),
                child_frame_id=pose.child,
                transform=types["geometry_msgs/msg/Transform"](
                    translation=factory.Vector3(x=tx, y=ty, z=tz),
                    rotation=factory.Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)),
                ),
            )
        )
    return types["tf2_msgs/msg/TFMessage"](transforms=transforms)


def tf_poses(msg: Any, parent: str | None = None) -> list[FramePose]:
    """The transforms of a ``TFMessage`` (only those from ``parent`` when given); ValueError naming the frames for
    a non-finite or zero quaternion."""
    out = []
    for t in msg.transforms:
        if parent is not None and t.header.frame_id != parent:
            continue
        q = np.array([t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w])
        v = np.array([t.transform.translation.x, t.transform.translation.y, t.transform.translation.z], np.float64)
        if not (np.isfinite(q).all() and np.isfinite(v).all()) or np.linalg.norm(q) < 1e-9:
            raise ValueError(f"tf {t.header.frame_id} -> {t.child_frame_id}: not a finite rotation and translation")
        rotation = matrix_from_quaternion(q)
        out.append(FramePose(t.header.frame_id, t.child_frame_id, stamp_to_ns(t.header.stamp), v, rotation))
    return out


def quaternion_from_matrix(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` of a rotation matrix (Shepperd's method: divides by the largest of the four terms)."""
    m = np.asarray(rotation, np.float64)
    trace = float(np.trace(m))
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4)
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = (s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s)
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s)
    x, y, z, w = (float(v) for v in q)
    return x, y, z, w


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    """The rotation matrix of a quaternion ``(x, y, z, w)`` (normalised first)."""
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
