"""anomaly_seg_node under ROS 2 (launch_testing): start the node on a tiny contract ONNX model, publish an image,
assert every output topic arrives with the input stamp, frame_id and size. Runs where ROS 2 is installed
(``colcon test`` or ``pytest`` in a sourced workspace); skipped with a reason elsewhere.

``rclpy`` alone is not enough to tell: the ``rclpy-intellisense`` wheel in the dev venv ships rclpy's Python
sources without its C extension and message packages, so the skip checks for what the test really needs.
"""

from __future__ import annotations

import tempfile
import time
import unittest
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("launch_testing", reason="needs a ROS 2 installation (launch_testing)")
pytest.importorskip("rclpy.node", reason="needs a ROS 2 installation (rclpy with its C extension)")
pytest.importorskip("sensor_msgs.msg", reason="needs a ROS 2 installation (sensor_msgs)")
pytest.importorskip("vision_msgs.msg", reason="needs ros-<distro>-vision-msgs")

import launch_ros.actions
import launch_testing.actions
import launch_testing.asserts
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

import launch
from anomaly_seg.ros import core
from anomaly_seg.ros import messages as rm
from tests.pipeline.fake_engine import grey_frame, write_contract_onnx

pytestmark = pytest.mark.ros

NET = (64, 128)
IMAGE_SIZE = (96, 160)  # height, width of the published camera image
NODE_NS = "/cam_test"
INPUT_TOPIC = "/cam_test/image_raw"
OUTPUT_PREFIX = f"{NODE_NS}/anomaly_seg/"


@pytest.mark.launch_test
def generate_test_description() -> tuple[launch.LaunchDescription, dict[str, Any]]:
    model = write_contract_onnx(Path(tempfile.mkdtemp()) / "contract.onnx", NET)
    node = launch_ros.actions.Node(
        package="anomaly_seg",
        executable="anomaly_seg_node",
        name="anomaly_seg",
        namespace=NODE_NS,
        parameters=[
            {
                "model.onnx_path": str(model),
                "model.backend": "onnxruntime",
                "input.qos": "reliable",
                "segments.min_area_px": 4,
                "segments.region": "all",
            }
        ],
        remappings=[("~/input/image", INPUT_TOPIC)],
        output="screen",
    )
    return launch.LaunchDescription([node, launch_testing.actions.ReadyToTest()]), {"anomaly_seg": node}


class TestOutputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        rclpy.init()

    @classmethod
    def tearDownClass(cls) -> None:
        rclpy.shutdown()

    def test_every_output_arrives_with_the_input_header_and_size(self) -> None:
        factory = rm.ros_factory()
        node = Node("anomaly_seg_test_client")
        received: dict[str, Any] = {}
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        subscriptions = [
            node.create_subscription(
                getattr(factory, type_name),
                OUTPUT_PREFIX + topic,
                lambda msg, topic=topic: received.setdefault(topic, msg),
                reliable,
            )
            for topic, type_name in core.OUTPUT_TYPES.items()
        ]
        publisher = node.create_publisher(factory.Image, INPUT_TOPIC, reliable)
        h, w = IMAGE_SIZE
        header = rm.make_header(factory, 1234, 5678, "cam_test_optical")
        image = rm.array_to_image(factory, grey_frame(h, w, [(40, 50, 80, 90)]), "rgb8", header)
        deadline = time.monotonic() + 60.0
        while len(received) < len(core.OUTPUT_TYPES) and time.monotonic() < deadline:
            publisher.publish(image)  # again until late-joining subscriptions (overlay, colours) are matched
            rclpy.spin_once(node, timeout_sec=0.2)
        missing = set(core.OUTPUT_TYPES) - set(received)
        self.assertFalse(missing, f"no message on {sorted(missing)}")
        for topic, msg in received.items():
            if hasattr(msg, "header"):
                self.assertEqual((msg.header.stamp.sec, msg.header.stamp.nanosec), (1234, 5678), topic)
                self.assertEqual(msg.header.frame_id, "cam_test_optical", topic)
            if hasattr(msg, "encoding"):
                self.assertEqual((msg.height, msg.width), IMAGE_SIZE, topic)
        ids = rm.image_to_array(received[core.TOPIC_OBSTACLE_IDS])
        det_ids = {int(d.id) for d in received[core.TOPIC_OBSTACLES].detections}
        self.assertEqual(set(np.unique(ids)) - {0}, det_ids)
        self.assertGreater(len(det_ids), 0)
        for sub in subscriptions:
            node.destroy_subscription(sub)
        node.destroy_node()


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_node_exits_cleanly(self, proc_info: Any) -> None:
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2, -15])
