"""Live replay over DDS equals offline evaluation: anomaly_seg_play -> anomaly_seg_node -> anomaly_seg_eval.

The synthetic Fishyscapes-layout frames are converted to a bag; offline, ``replay_bag`` + ``evaluate_bag`` (what
``anomaly-seg replay`` and ``anomaly-seg evaluate`` run) score them. Live, three processes run as
replay_eval.launch.py starts them (the node with the launch plan's parameters and reliable input, the evaluator
with its defaults, the bag player in place of ``ros2 bag play``); the evaluator's report on SIGINT must carry the
same pixel and segment numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ros.harness import (
    BIN,
    SHIPPED_PARAMS,
    RosClient,
    RosProcess,
    latest_status,
    new_domain_id,
    require_ros,
    ros_environment,
    ros_processes,
)

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from anomaly_seg.bags.convert import GROUND_TRUTH_TOPIC, ConvertOptions, convert_dataset  # noqa: E402
from anomaly_seg.datasets.fishyscapes import FishyscapesLayout  # noqa: E402
from anomaly_seg.engines import load_engine  # noqa: E402
from anomaly_seg.evaluation.bag_evaluator import EvalSettings  # noqa: E402
from anomaly_seg.evaluation.bag_source import evaluate_bag  # noqa: E402
from anomaly_seg.node_core.params import NodeParams  # noqa: E402
from anomaly_seg.offline.replay import replay_bag  # noqa: E402
from anomaly_seg.parameters import read_ros_params_file  # noqa: E402
from anomaly_seg.ros.launch_plan import NodePlan, camera_nodes  # noqa: E402
from anomaly_seg.synthetic import write_fishyscapes_layout  # noqa: E402
from tests.pipeline.fake_engine import write_contract_onnx  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
FRAMES = 6


def test_live_replay_report_equals_offline_evaluation(tmp_path: Path) -> None:
    model = write_contract_onnx(tmp_path / "contract.onnx", (64, 128))
    root = tmp_path / "fs_laf"
    write_fishyscapes_layout(root, FRAMES, height=128, width=256, seed=3, n_obstacles=(1, 3))
    bag = tmp_path / "in"
    convert_dataset(FishyscapesLayout(root), bag, ConvertOptions(rate_hz=5.0), progress=False)

    (launched,) = camera_nodes("/camera/image_raw", str(SHIPPED_PARAMS), model=str(model), backend="onnxruntime")
    overrides: dict[str, Any] = {**launched.overrides, "input.qos": "reliable", "segments.region": "all"}
    plan = NodePlan(launched.namespace, launched.name, launched.params_file, overrides, launched.remappings)

    # offline: the same parameters, the same model
    params = NodeParams.from_dict({**read_ros_params_file(SHIPPED_PARAMS), **overrides})
    summary = replay_bag(bag, tmp_path / "out", load_engine(model, backend="onnxruntime"), params, progress=False)
    assert summary.processed == FRAMES
    evaluate_bag(tmp_path / "out", tmp_path / "offline", EvalSettings(), progress=False)

    domain = new_domain_id()
    env = ros_environment(domain)
    client = RosClient(domain)
    try:
        diagnostics = client.subscribe(vocabulary.TOPIC_DIAGNOSTICS, rm.ros_factory().DiagnosticArray)
        with ros_processes() as procs:
            node_cmd = plan.command(BIN / "anomaly_seg_node", tmp_path / "node.overrides.yaml")
            procs.append(node := RosProcess(node_cmd, env, tmp_path, "node"))
            eval_cmd = [str(BIN / "anomaly_seg_eval"), "--ros-args", "-p", f"report_dir:={tmp_path / 'live'}"]
            procs.append(evaluator := RosProcess(eval_cmd, env, tmp_path, "eval"))
            assert client.spin_until(lambda: latest_status(diagnostics, plan.full_name) is not None, 60.0), node.output
            play_cmd = [str(BIN / "anomaly_seg_play"), str(bag), "--topics", "/camera/image_raw", GROUND_TRUTH_TOPIC]
            procs.append(player := RosProcess([*play_cmd, "--wait-subscribers", "30"], env, tmp_path, "play"))

            def all_processed() -> bool:
                return (latest_status(diagnostics, plan.full_name) or {}).get("frames_processed") == str(FRAMES)

            assert client.spin_until(all_processed, 60.0), (latest_status(diagnostics, plan.full_name), player.output)
            assert player.wait(30.0) == 0 and f"published {2 * FRAMES} messages" in player.stderr, player.stderr
            client.spin_for(2.0)  # the evaluator's queue drains
            assert evaluator.interrupt() == 0, evaluator.output[-3000:]
            assert "Traceback" not in evaluator.stderr
            assert node.interrupt() == 0
    finally:
        client.close()

    offline = json.loads((tmp_path / "offline" / "metrics.json").read_text())
    live = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert live["frames"]["evaluated"] == offline["frames"]["evaluated"] == FRAMES
    assert live["frames"]["ground_truth_without_outputs"] == 0
    assert live["pixel"] == offline["pixel"]
    assert live["segments"] == offline["segments"]
    assert live["components"] == offline["components"] and live["segment_rules"] == offline["segment_rules"]
    assert offline["pixel"]["llr"]["anomaly_px"] > 0  # not vacuous
