"""The bundled vision_msgs definitions hash exactly like upstream vision_msgs 4.1 (same wire format)."""

from __future__ import annotations

import pytest

from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.messages.vision_msgs import VISION_MSGS_DEFINITIONS

# RIHS01 type hashes of ros-perception/vision_msgs 4.1.1 (the Jazzy release), every message of the package
# (rosidl's generated type descriptions, vision_msgs/msg/*.json), and two referenced standard types.
UPSTREAM_RIHS01 = {
    "vision_msgs/msg/Point2D": "eab0e83f44ab4de92ceaf76dd7d0e7638f2bdd1d16ffbe16c7a136c48e407247",
    "vision_msgs/msg/Pose2D": "b0b5d1d7b4c20dd4fcde3ed1d4b289a919290572007d67a97043814db25d3648",
    "vision_msgs/msg/BoundingBox2D": "008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f",
    "vision_msgs/msg/ObjectHypothesis": "51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90",
    "vision_msgs/msg/ObjectHypothesisWithPose": "41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc",
    "vision_msgs/msg/Detection2D": "0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea",
    "vision_msgs/msg/Detection2DArray": "214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968",
    "vision_msgs/msg/VisionClass": "1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a",
    "vision_msgs/msg/LabelInfo": "3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783",
    "vision_msgs/msg/BoundingBox2DArray": "2464e82838009386d371b523211c21c91d74d313fcdd6788223c531d621cf691",
    "vision_msgs/msg/BoundingBox3D": "bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698",
    "vision_msgs/msg/BoundingBox3DArray": "a81938db9576b10c2eecd7c5a5da3eac496efd00221b25ed051dfbc81fb56da6",
    "vision_msgs/msg/Classification": "f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143",
    "vision_msgs/msg/Detection3D": "ddd703be132ab0b69d33121f1bb034132bfbb3b0ac5f9fb1516005ba1c8a265b",
    "vision_msgs/msg/Detection3DArray": "793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018",
    "vision_msgs/msg/VisionInfo": "95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284",
    # referenced standard types, as a check that the base store matches too
    "std_msgs/msg/Header": "f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01",
    "geometry_msgs/msg/PoseWithCovariance": "9a7c0fd234b7f45c6098745ecccd773ca1085670e64107135397aee31c02e1bb",
}


@pytest.mark.parametrize("msgtype", sorted(UPSTREAM_RIHS01))
def test_registered_type_hash_matches_upstream(msgtype: str) -> None:
    assert get_typestore().hash_rihs01(msgtype) == f"RIHS01_{UPSTREAM_RIHS01[msgtype]}"


def test_every_upstream_message_is_bundled_and_checked() -> None:
    assert set(VISION_MSGS_DEFINITIONS) == {name for name in UPSTREAM_RIHS01 if name.startswith("vision_msgs/")}
    assert len(VISION_MSGS_DEFINITIONS) == 16


def test_each_call_returns_an_independent_store() -> None:
    first, second = get_typestore(), get_typestore()
    assert first is not second
    assert "vision_msgs/msg/Detection2DArray" in first.types
