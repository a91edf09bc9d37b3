"""The bundled vision_msgs definitions hash exactly like upstream vision_msgs 4.x (same wire format)."""

from __future__ import annotations

import pytest

from anomaly_seg.bags import get_typestore
from anomaly_seg.bags.vision_msgs import VISION_MSGS_DEFINITIONS

# RIHS01 type hashes from the rosidl-generated code of ros-perception/vision_msgs 4.x
# (vision_msgs/msg/detail/*__description.c: the hashes of LabelInfo and Detection2DArray and their references).
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
    # referenced standard types, as a check that the base store matches too
    "std_msgs/msg/Header": "f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01",
    "geometry_msgs/msg/PoseWithCovariance": "9a7c0fd234b7f45c6098745ecccd773ca1085670e64107135397aee31c02e1bb",
}


@pytest.mark.parametrize("msgtype", sorted(UPSTREAM_RIHS01))
def test_registered_type_hash_matches_upstream(msgtype: str) -> None:
    assert get_typestore().hash_rihs01(msgtype) == f"RIHS01_{UPSTREAM_RIHS01[msgtype]}"


def test_every_bundled_definition_is_checked() -> None:
    assert set(VISION_MSGS_DEFINITIONS) <= set(UPSTREAM_RIHS01)


def test_each_call_returns_an_independent_store() -> None:
    first, second = get_typestore(), get_typestore()
    assert first is not second
    assert "vision_msgs/msg/Detection2DArray" in first.types
