"""One anomaly_seg node per camera, optionally RViz.

    ros2 launch anomaly_seg camera.launch.py model:=/models/realtime_vits14_dd.onnx \
        cameras:="['/cam_front/image_raw', '/cam_left/image_raw']" use_rviz:=true

Camera topic ``/cam_front/image_raw`` -> node ``anomaly_seg`` in namespace ``/cam_front`` (outputs under
``/cam_front/anomaly_seg/output/...``), its ``~/input/image`` remapped to the topic (``<topic>/compressed``
with ``compressed:=true``). Empty ``model``/``backend``/``precision``/``compressed`` keep the values of ``params_file``.
With ``shared_engine:=true`` one node ``anomaly_seg_shared`` serves every camera on one engine (one CUDA context,
one copy of the weights) and publishes under the same names.
"""

from __future__ import annotations

import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from anomaly_seg.ros.launch_plan import NODE_EXECUTABLE, camera_nodes, dds_environment
from anomaly_seg.vocabulary import BACKENDS, PRECISIONS
from launch import Action, LaunchContext, LaunchDescription

PACKAGE = "anomaly_seg"


def _nodes(context: LaunchContext) -> list[Action]:
    cfg = {
        k: LaunchConfiguration(k).perform(context)
        for k in (
            "cameras",
            "params_file",
            "model",
            "backend",
            "precision",
            "compressed",
            "namespace",
            "log_level",
            "shared_engine",
            "engine_sharing",
        )
    }
    plans = camera_nodes(
        cfg["cameras"],
        cfg["params_file"],
        model=cfg["model"],
        backend=cfg["backend"],
        precision=cfg["precision"],
        compressed=cfg["compressed"],
        namespace=cfg["namespace"],
        log_level=cfg["log_level"],
        shared_engine=cfg["shared_engine"].lower() in ("true", "1", "yes"),
        engine_sharing=cfg["engine_sharing"],
    )
    actions: list[Action] = [SetEnvironmentVariable(k, v) for k, v in dds_environment(os.environ).items()]
    for plan in plans:
        actions.append(
            Node(
                package=PACKAGE,
                executable=NODE_EXECUTABLE,
                name=plan.name,
                namespace=plan.namespace,
                parameters=[plan.params_file, dict(plan.overrides)],
                remappings=list(plan.remappings),
                arguments=["--ros-args", "--log-level", plan.log_level],
                output="screen",
                emulate_tty=True,
            )
        )
    return actions


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory(PACKAGE))
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "cameras",
                default_value="['/cam_front/image_raw']",
                description="YAML list of camera image topics; one node per camera",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=str(share / "config" / "anomaly_seg.yaml"),
                description="ROS parameter file applied to every node",
            ),
            DeclareLaunchArgument("model", default_value="", description="ONNX model (overrides model.onnx_path)"),
            DeclareLaunchArgument(
                "backend", default_value="", description=f"{'|'.join(BACKENDS)} (empty = params_file)"
            ),
            DeclareLaunchArgument(
                "precision",
                default_value="",
                description=f"{'|'.join(PRECISIONS)} TensorRT precision (empty = params_file)",
            ),
            DeclareLaunchArgument(
                "compressed",
                default_value="",
                description="true: subscribe to <topic>/compressed (empty = params_file)",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="extra namespace above every camera"),
            DeclareLaunchArgument(
                "shared_engine",
                default_value="false",
                description="true: one node and one engine for every camera (outputs named as with one node each)",
            ),
            DeclareLaunchArgument(
                "engine_sharing",
                default_value="",
                description="with shared_engine: round_robin|batched (batched: batch-N ONNX); empty = params_file",
            ),
            DeclareLaunchArgument("use_rviz", default_value="false", description="start RViz with rviz_config"),
            DeclareLaunchArgument(
                "rviz_config",
                default_value=str(share / "rviz" / "anomaly_seg.rviz"),
                description="RViz config (shows the first camera /cam_front)",
            ),
            DeclareLaunchArgument("log_level", default_value="info", description="node log level"),
            OpaqueFunction(function=_nodes),
            Node(
                package="rviz2",
                executable="rviz2",
                name="anomaly_seg_rviz",
                arguments=["-d", LaunchConfiguration("rviz_config")],
                condition=IfCondition(LaunchConfiguration("use_rviz")),
                output="screen",
            ),
        ]
    )
