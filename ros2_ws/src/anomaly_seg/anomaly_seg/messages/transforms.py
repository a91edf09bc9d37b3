"""``tf2_msgs/TFMessage`` <-> camera poses, for bags (rosbags dataclasses: tf2_msgs has no wheel for rclpy here).

A converted dataset carries its per-frame calibration as a ``/tf`` transform from the vehicle frame to the camera's
optical frame, stamped like the image, so that an evaluator reads the same bag the node reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

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
        x, y, z, w = Rotation.from_matrix(pose.rotation).as_quat()
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


def tf_poses(msg: Any) -> list[FramePose]:
    """The transforms of a ``TFMessage``; ValueError naming the frames for a non-finite or zero quaternion."""
    out = []
    for t in msg.transforms:
        q = np.array([t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w])
        v = np.array([t.transform.translation.x, t.transform.translation.y, t.transform.translation.z], np.float64)
        if not (np.isfinite(q).all() and np.isfinite(v).all()) or np.linalg.norm(q) < 1e-9:
            raise ValueError(f"tf {t.header.frame_id} -> {t.child_frame_id}: not a finite rotation and translation")
        rotation = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()
        out.append(FramePose(t.header.frame_id, t.child_frame_id, stamp_to_ns(t.header.stamp), v, rotation))
    return out
