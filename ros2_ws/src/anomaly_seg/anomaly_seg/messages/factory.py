"""Message factories (rclpy classes or rosbags dataclasses) and ``std_msgs/Header`` helpers.

Every builder takes a :class:`MessageFactory`, so the same code fills real ``rclpy`` messages in the node
(:func:`ros_factory`) and rosbags dataclasses in offline replay and tests (:func:`rosbags_factory`). Builders pass
every field as a keyword argument (rosbags classes have no defaults) and plain Python scalars (rclpy's setters
reject numpy scalars).
"""

from __future__ import annotations

import array
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from anomaly_seg.errors import ConfigError

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore


def _as_ndarray(data: np.ndarray) -> Any:
    return data


def _as_array_array(data: np.ndarray) -> Any:
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(data).data)
    return out


@dataclass(frozen=True)
class MessageFactory:
    """The message classes the builders instantiate (rclpy classes or rosbags dataclasses).

    ``byte_array`` turns a 1-D uint8 array into what the classes' ``uint8[]`` fields hold
    (numpy for rosbags, ``array.array('B')`` for rclpy).
    """

    Header: type[Any]
    Time: type[Any]
    Image: type[Any]
    CompressedImage: type[Any]
    CameraInfo: type[Any]
    RegionOfInterest: type[Any]
    Detection2DArray: type[Any]
    Detection2D: type[Any]
    BoundingBox2D: type[Any]
    Pose2D: type[Any]
    Point2D: type[Any]
    ObjectHypothesisWithPose: type[Any]
    ObjectHypothesis: type[Any]
    PoseWithCovariance: type[Any]
    Pose: type[Any]
    Point: type[Any]
    Quaternion: type[Any]
    LabelInfo: type[Any]
    VisionClass: type[Any]
    DiagnosticArray: type[Any]
    DiagnosticStatus: type[Any]
    KeyValue: type[Any]
    Float64: type[Any]
    Detection3DArray: type[Any]
    Detection3D: type[Any]
    BoundingBox3D: type[Any]
    Vector3: type[Any]
    PointCloud2: type[Any]
    PointField: type[Any]
    byte_array: Callable[[np.ndarray], Any] = _as_ndarray


_FACTORY_TYPES: Final[Mapping[str, str]] = {
    "Header": "std_msgs/msg/Header",
    "Time": "builtin_interfaces/msg/Time",
    "Image": "sensor_msgs/msg/Image",
    "CompressedImage": "sensor_msgs/msg/CompressedImage",
    "CameraInfo": "sensor_msgs/msg/CameraInfo",
    "RegionOfInterest": "sensor_msgs/msg/RegionOfInterest",
    "Detection2DArray": "vision_msgs/msg/Detection2DArray",
    "Detection2D": "vision_msgs/msg/Detection2D",
    "BoundingBox2D": "vision_msgs/msg/BoundingBox2D",
    "Pose2D": "vision_msgs/msg/Pose2D",
    "Point2D": "vision_msgs/msg/Point2D",
    "ObjectHypothesisWithPose": "vision_msgs/msg/ObjectHypothesisWithPose",
    "ObjectHypothesis": "vision_msgs/msg/ObjectHypothesis",
    "PoseWithCovariance": "geometry_msgs/msg/PoseWithCovariance",
    "Pose": "geometry_msgs/msg/Pose",
    "Point": "geometry_msgs/msg/Point",
    "Quaternion": "geometry_msgs/msg/Quaternion",
    "LabelInfo": "vision_msgs/msg/LabelInfo",
    "VisionClass": "vision_msgs/msg/VisionClass",
    "DiagnosticArray": "diagnostic_msgs/msg/DiagnosticArray",
    "DiagnosticStatus": "diagnostic_msgs/msg/DiagnosticStatus",
    "KeyValue": "diagnostic_msgs/msg/KeyValue",
    "Float64": "std_msgs/msg/Float64",
    "Detection3DArray": "vision_msgs/msg/Detection3DArray",
    "Detection3D": "vision_msgs/msg/Detection3D",
    "BoundingBox3D": "vision_msgs/msg/BoundingBox3D",
    "Vector3": "geometry_msgs/msg/Vector3",
    "PointCloud2": "sensor_msgs/msg/PointCloud2",
    "PointField": "sensor_msgs/msg/PointField",
}


def rosbags_factory(typestore: Typestore | None = None) -> MessageFactory:
    """Factory of rosbags dataclasses from ``typestore`` (default: ``typestore.get_typestore()``)."""
    if typestore is None:
        from anomaly_seg.messages.typestore import get_typestore

        typestore = get_typestore()
    missing = sorted(name for name in _FACTORY_TYPES.values() if name not in typestore.types)
    if missing:
        raise ConfigError(f"typestore lacks message types {missing}; use messages.typestore.get_typestore()")
    return MessageFactory(**{attr: typestore.types[name] for attr, name in _FACTORY_TYPES.items()})


def ros_factory() -> MessageFactory:
    """Factory of the real ROS 2 message classes (needs a sourced ROS 2 environment)."""
    classes = {}
    for attr, name in _FACTORY_TYPES.items():
        package, _, cls = name.split("/")
        classes[attr] = getattr(importlib.import_module(f"{package}.msg"), cls)
    return MessageFactory(**classes, byte_array=_as_array_array)


def make_header(factory: MessageFactory, sec: int, nanosec: int, frame_id: str) -> Any:
    """``std_msgs/Header`` with stamp ``sec.nanosec`` and ``frame_id``."""
    return factory.Header(stamp=factory.Time(sec=int(sec), nanosec=int(nanosec)), frame_id=str(frame_id))


def header_from_ns(factory: MessageFactory, stamp_ns: int, frame_id: str) -> Any:
    """``std_msgs/Header`` for a stamp in integer nanoseconds."""
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return make_header(factory, sec, nanosec, frame_id)


def copy_header(factory: MessageFactory, header: Any) -> Any:
    """A new header of ``factory``'s class with the same stamp and frame_id (works across factories)."""
    return make_header(factory, header.stamp.sec, header.stamp.nanosec, header.frame_id)


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` to integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
