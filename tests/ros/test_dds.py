"""The shipped Fast DDS profile and the rule that decides when the node applies it (no ROS needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from anomaly_seg.ros import dds
from anomaly_seg.ros.launch_plan import dds_environment

NS = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}


def test_profile_gives_shared_memory_room_for_camera_size_images() -> None:
    root = ET.parse(dds.PROFILE_PATH).getroot()
    transports = {
        t.findtext("f:transport_id", namespaces=NS): t for t in root.iterfind(".//f:transport_descriptor", NS)
    }
    (shm,) = [t for t in transports.values() if t.findtext("f:type", namespaces=NS) == "SHM"]
    segment = int(shm.findtext("f:segment_size", namespaces=NS) or 0)
    message = int(shm.findtext("f:maxMessageSize", namespaces=NS) or 0)
    score_2048x1024 = 2048 * 1024 * 4
    assert message >= 2 * score_2048x1024 and segment >= 2 * message  # two whole frames' largest output in flight
    (participant,) = root.iterfind(".//f:participant", NS)
    assert participant.get("is_default_profile") == "true"
    used = [t.text for t in participant.iterfind(".//f:userTransports/f:transport_id", NS)]
    assert sorted(used) == sorted(transports)  # shared memory for data, UDPv4 for discovery and other hosts
    assert participant.findtext(".//f:useBuiltinTransports", namespaces=NS) == "false"


def test_profile_is_applied_only_when_nothing_else_configures_fast_dds(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    assert dds.apply_default_profile(env, tmp_path) == dds.PROFILE_PATH
    assert env == {"FASTRTPS_DEFAULT_PROFILES_FILE": str(dds.PROFILE_PATH)}
    for configured in (
        {"FASTRTPS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},
        {"FASTDDS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},
        {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"},
        {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"},
    ):
        before = dict(configured)
        assert dds.apply_default_profile(configured, tmp_path) is None
        assert configured == before
    (tmp_path / "DEFAULT_FASTRTPS_PROFILES.xml").write_text("<profiles/>")
    assert dds.apply_default_profile({}, tmp_path) is None
    assert dds.apply_default_profile({"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}, tmp_path.parent) is not None


@pytest.mark.parametrize(("environ", "expected"), [({}, True), ({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}, False)])
def test_launch_files_set_the_profile_by_the_same_rule(environ: dict[str, str], expected: bool) -> None:
    assert dds_environment(environ) == ({"FASTRTPS_DEFAULT_PROFILES_FILE": str(dds.PROFILE_PATH)} if expected else {})
