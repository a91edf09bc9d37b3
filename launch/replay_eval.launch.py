"""Live replay: ``ros2 bag play`` -> anomaly_seg node -> evaluator (``anomaly_seg_eval``) -> report.

    ros2 launch anomaly_seg replay_eval.launch.py bag:=lostandfound.mcap model:=model.onnx report:=report/

The player publishes with the QoS of ``qos_overrides`` (RELIABLE, deep history) so that both the node's
best-effort sensor-data subscription and the evaluator's reliable one receive every message. Playback starts
``start_delay`` seconds after the node (model loading / engine build); when it ends, the launch shuts down
after ``drain_s`` seconds and the evaluator writes its report on shutdown. The offline equivalent, without
ROS and without any frame drop, is ``anomaly-seg replay`` + ``anomaly-seg evaluate``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
    TimerAction,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from anomaly_seg.ros.launch_plan import dds_environment
from anomaly_seg.vocabulary import GROUND_TRUTH_TOPIC
from launch import LaunchContext, LaunchDescription

PACKAGE = "anomaly_seg"


def _actions(context: LaunchContext) -> list[object]:
    cfg = {
        k: LaunchConfiguration(k).perform(context)
        for k in (
            "bag",
            "model",
            "report",
            "params_file",
            "image_topic",
            "ground_truth_topic",
            "qos_overrides",
            "rate",
            "start_delay",
            "drain_s",
        )
    }
    if not cfg["bag"] or not cfg["model"]:
        raise RuntimeError("replay_eval.launch.py needs bag:=<rosbag2 folder or file> and model:=<model.onnx>")
    for what in ("bag", "model"):
        if not Path(cfg[what]).exists():
            raise RuntimeError(f"replay_eval.launch.py: {what}:={cfg[what]} does not exist")
    image_topic = "/" + cfg["image_topic"].strip("/")
    namespace = image_topic.rsplit("/", 1)[0] or "/"
    node_name = "anomaly_seg"
    node = Node(
        package=PACKAGE,
        executable="anomaly_seg_node",
        name=node_name,
        namespace=namespace,
        parameters=[
            cfg["params_file"],
            {"model.onnx_path": str(Path(cfg["model"]).resolve()), "input.qos": "best_effort"},
        ],
        remappings=[("~/input/image", image_topic)],
        output="screen",
    )
    outputs = f"{namespace.rstrip('/')}/{node_name}"
    evaluator = Node(
        package=PACKAGE,
        executable="anomaly_seg_eval",
        name="anomaly_seg_eval",
        parameters=[
            {
                "outputs_namespace": outputs,
                "image_topic": image_topic,
                "ground_truth_topic": cfg["ground_truth_topic"],
                "report_dir": str(Path(cfg["report"]).resolve()),
            }
        ],
        output="screen",
    )
    play = ExecuteProcess(
        cmd=[
            "ros2",
            "bag",
            "play",
            cfg["bag"],
            "--rate",
            cfg["rate"],
            "--qos-profile-overrides-path",
            cfg["qos_overrides"],
        ],
        output="screen",
    )
    shutdown_after_play = RegisterEventHandler(
        OnProcessExit(
            target_action=play,
            on_exit=[TimerAction(period=float(cfg["drain_s"]), actions=[EmitEvent(event=Shutdown(reason="bag done"))])],
        )
    )
    env = [SetEnvironmentVariable(k, v) for k, v in dds_environment(os.environ).items()]
    return [*env, node, evaluator, shutdown_after_play, TimerAction(period=float(cfg["start_delay"]), actions=[play])]


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory(PACKAGE))
    return LaunchDescription(
        [
            DeclareLaunchArgument("bag", default_value="", description="rosbag2 to play (from `anomaly-seg convert`)"),
            DeclareLaunchArgument("model", default_value="", description="ONNX model for the node"),
            DeclareLaunchArgument(
                "report", default_value="replay_report", description="report folder of the evaluator"
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=str(share / "config" / "anomaly_seg.yaml"),
                description="node parameter file",
            ),
            DeclareLaunchArgument(
                "image_topic", default_value="/camera/image_raw", description="camera topic in the bag"
            ),
            DeclareLaunchArgument(
                "ground_truth_topic",
                default_value=GROUND_TRUTH_TOPIC,
                description="mono8 ground truth topic in the bag (0 inlier, 1 anomaly, 255 void)",
            ),
            DeclareLaunchArgument(
                "qos_overrides",
                default_value=str(share / "config" / "replay_qos_overrides.yaml"),
                description="QoS overrides of the player (topics must match the bag)",
            ),
            DeclareLaunchArgument("rate", default_value="1.0", description="playback rate"),
            DeclareLaunchArgument("start_delay", default_value="5.0", description="seconds before playback starts"),
            DeclareLaunchArgument("drain_s", default_value="3.0", description="seconds after playback before shutdown"),
            OpaqueFunction(function=_actions),
        ]
    )
