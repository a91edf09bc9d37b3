"""The vision_msgs that make ros builds (or the installed one) carries upstream's type hashes on the wire.

The RIHS01 hash a publisher announces over DDS is what RViz and other nodes match types by; it must equal the
hash of ros-perception/vision_msgs 4.1.1 for every message the node publishes.
"""

from __future__ import annotations

import pytest

from tests.bags.test_vision_msgs_types import UPSTREAM_RIHS01
from tests.ros.harness import RosClient, new_domain_id, require_ros

require_ros()

import vision_msgs.msg  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("name", sorted(n for n in UPSTREAM_RIHS01 if n.startswith("vision_msgs/")))
def test_publishers_announce_the_upstream_type_hash(name: str) -> None:
    client = RosClient(new_domain_id())
    try:
        msg_type = getattr(vision_msgs.msg, name.rsplit("/", 1)[-1])
        topic = "/type_hash_probe"
        client.publisher(topic, msg_type)
        (info,) = client.node.get_publishers_info_by_topic(topic)
        assert info.topic_type == name
        assert str(info.topic_type_hash) == f"RIHS01_{UPSTREAM_RIHS01[name]}"
    finally:
        client.close()
