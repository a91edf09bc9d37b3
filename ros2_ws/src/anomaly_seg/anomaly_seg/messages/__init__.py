"""numpy <-> ROS 2 messages through a :class:`MessageFactory` (rclpy classes or rosbags dataclasses); no rclpy here.

``factory`` (factories, headers), ``images`` (raw and YUV images), ``compressed`` (JPEG/PNG), ``vision``
(vision_msgs builders), ``transforms`` (tf in bags), ``typestore`` / ``vision_msgs`` (the rosbags type registry).
Callers use this package's names (``from anomaly_seg import messages as rm``).
"""

from anomaly_seg.messages.camera_info import scaled_camera_info, scaled_k
from anomaly_seg.messages.compressed import compressed_to_rgb, rgb_to_compressed
from anomaly_seg.messages.factory import (
    MessageFactory,
    copy_header,
    header_from_ns,
    make_header,
    ros_factory,
    rosbags_factory,
    stamp_to_ns,
)
from anomaly_seg.messages.images import (
    ENCODINGS,
    MAX_IMAGE_BYTES,
    MAX_SIDE_PX,
    array_to_image,
    image_to_array,
    image_to_rgb,
    rgb_to_yuv422,
)
from anomaly_seg.messages.pointcloud import cloud_points, xyz_cloud
from anomaly_seg.messages.transforms import FramePose, tf_message, tf_poses
from anomaly_seg.messages.vision import detection2d_array, detection3d_array, detections_to_arrays, label_info

__all__ = [
    "ENCODINGS",
    "MAX_IMAGE_BYTES",
    "MAX_SIDE_PX",
    "FramePose",
    "MessageFactory",
    "array_to_image",
    "cloud_points",
    "compressed_to_rgb",
    "copy_header",
    "detection2d_array",
    "detection3d_array",
    "detections_to_arrays",
    "header_from_ns",
    "image_to_array",
    "image_to_rgb",
    "label_info",
    "make_header",
    "rgb_to_compressed",
    "rgb_to_yuv422",
    "ros_factory",
    "rosbags_factory",
    "scaled_camera_info",
    "scaled_k",
    "stamp_to_ns",
    "tf_message",
    "tf_poses",
    "xyz_cloud",
]
