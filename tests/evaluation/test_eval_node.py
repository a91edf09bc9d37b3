"""anomaly_seg_eval in-process under ROS 2: outputs + ground truth published live, one frame dropped, report written
at finish. (The evaluator as a process, against the node, is in tests/ros/test_live_replay.py.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.ros.harness import new_domain_id, require_ros

require_ros()

import rclpy  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg.ros.eval_node import PARAMETERS, RELIABLE_DEEP, EvalNode  # noqa: E402
from anomaly_seg.ros.launch_plan import camera_nodes  # noqa: E402
from tests.ros.harness import SHIPPED_PARAMS  # noqa: E402

pytestmark = pytest.mark.ros
#: the node that camera.launch.py starts for /camera/image_raw publishes here; the evaluator's default must match
(NODE,) = camera_nodes("/camera/image_raw", str(SHIPPED_PARAMS))
NS = NODE.full_name


def test_evaluator_default_namespace_is_where_the_node_publishes() -> None:
    assert {spec.name: spec.default for spec in PARAMETERS}["outputs_namespace"] == NS == "/camera/anomaly_seg"


def test_live_evaluation_counts_dropped_frames_and_writes_the_report(tmp_path: Path) -> None:
    rclpy.init(domain_id=new_domain_id())
    try:
        f = rm.ros_factory()
        evaluator = EvalNode()
        evaluator.report_dir = str(tmp_path / "report")
        player = Node("fake_player")
        pubs = {
            name: player.create_publisher(f.Image, topic, RELIABLE_DEEP)
            for name, topic in {
                "gt": "/ground_truth/anomaly",
                "score": f"{NS}/output/anomaly_score",
                "semantic": f"{NS}/output/semantic",
                "ids": f"{NS}/output/obstacle_ids",
                "overlay": f"{NS}/output/overlay",
            }.items()
        }
        det_pub = player.create_publisher(f.Detection2DArray, f"{NS}/output/obstacles", RELIABLE_DEEP)
        executor = SingleThreadedExecutor()
        executor.add_node(evaluator)
        executor.add_node(player)
        end = time.monotonic() + 2.0
        while time.monotonic() < end and pubs["gt"].get_subscription_count() == 0:
            executor.spin_once(timeout_sec=0.05)
        gt = np.zeros((8, 12), np.uint8)
        gt[2:4, 2:4] = 1
        score = np.where(gt == 1, 5.0, -5.0).astype(np.float32)
        for i in range(3):
            header = rm.header_from_ns(f, 10**9 + i, "cam")
            pubs["gt"].publish(rm.array_to_image(f, gt, "mono8", header))
            if i == 1:
                continue  # the node dropped this frame
            pubs["score"].publish(rm.array_to_image(f, score, "32FC1", header))
            pubs["semantic"].publish(rm.array_to_image(f, np.zeros_like(gt), "mono8", header))
            pubs["ids"].publish(rm.array_to_image(f, gt.astype(np.uint16), "mono16", header))
            pubs["overlay"].publish(rm.array_to_image(f, np.zeros((8, 12, 3), np.uint8), "bgr8", header))
            det_pub.publish(rm.detection2d_array(f, header, [1], [[2, 2, 4, 4]], [1.0]))
        end = time.monotonic() + 3.0
        while time.monotonic() < end and evaluator.evaluator.frames < 2:
            executor.spin_once(timeout_sec=0.05)
        assert evaluator.finish() == 0
        evaluator.destroy_node()  # rclpy's own subscription list intact (it was shadowed once: ValueError here)
        m = json.loads((tmp_path / "report/metrics.json").read_text())
        assert m["frames"]["evaluated"] == 2 and m["frames"]["ground_truth_without_outputs"] == 1
        assert m["pixel"]["llr"]["ap"] == pytest.approx(1.0)
        assert (tmp_path / "report/report.md").is_file()
    finally:
        rclpy.try_shutdown()


def test_invalid_evaluator_parameters_are_refused_by_name() -> None:
    from anomaly_seg.errors import AnomalySegError

    for name, value in (("protocol", "leaderboard"), ("component_size_filter", "tiny"), ("region", "sky")):
        rclpy.init(args=["--ros-args", "-p", f"{name}:={value}"], domain_id=new_domain_id())
        try:
            with pytest.raises(AnomalySegError, match=name):
                EvalNode()
        finally:
            rclpy.try_shutdown()
