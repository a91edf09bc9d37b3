"""The vision_msgs 4.x message definitions this package publishes, as ``.msg`` text.

``vision_msgs`` is not part of the rosbags typestores, so the types are registered from these
definitions (identical fields and types to ros-perception/vision_msgs 4.x, the version shipped with
Humble, Iron and Jazzy; comments shortened). Their RIHS01 type hashes match the upstream generated
code, which the tests check.
"""

from __future__ import annotations

VISION_MSGS_DEFINITIONS: dict[str, str] = {
    "vision_msgs/msg/Point2D": """\
# A 2D point in pixel coordinates.
float64 x
float64 y
""",
    "vision_msgs/msg/Pose2D": """\
# A 2D pose (position in pixels, orientation in radians).
vision_msgs/Point2D position
float64 theta
""",
    "vision_msgs/msg/BoundingBox2D": """\
# A 2D bounding box that can be rotated about its center; all dimensions in pixels.
vision_msgs/Pose2D center
float64 size_x
float64 size_y
""",
    "vision_msgs/msg/ObjectHypothesis": """\
# An object hypothesis that contains no position information.
string class_id
float64 score
""",
    "vision_msgs/msg/ObjectHypothesisWithPose": """\
# An object hypothesis that contains pose information.
ObjectHypothesis hypothesis
geometry_msgs/PoseWithCovariance pose
""",
    "vision_msgs/msg/Detection2D": """\
# Defines a 2D detection result.
std_msgs/Header header
ObjectHypothesisWithPose[] results
BoundingBox2D bbox
string id
""",
    "vision_msgs/msg/Detection2DArray": """\
# A list of 2D detections, for a multi-object 2D detector.
std_msgs/Header header
Detection2D[] detections
""",
    "vision_msgs/msg/VisionClass": """\
# A key value pair that maps an integer class_id to a string class label.
uint16 class_id
string class_name
""",
    "vision_msgs/msg/LabelInfo": """\
# Meta-information about a vision pipeline: class ids to names, and the confidence threshold.
std_msgs/Header header
VisionClass[] class_map
float32 threshold
""",
}
