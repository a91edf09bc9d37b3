"""One anomaly_seg node per camera, optionally RViz.

    ros2 launch anomaly_seg camera.launch.py model:=/models/realtime_vits14_dd.onnx \
        cameras:="['/cam_front/image_raw', '/cam_left/image_raw']" use_rviz:=true

Camera topic ``/cam_front/image_raw`` -> node ``anomaly_seg`` in namespace ``/cam_front`` (outputs under
``/cam_front/anomaly_seg/output/...``), its ``~/input/image`` remapped to the topic (``<topic>/compressed``
with ``compressed:=true``). Empty ``model``/``backend``/``precision``/``compressed`` keep the values of ``params_file``.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchContext, LaunchDescription

PACKAGE = "anomaly_seg"


def camera_topics(text: str) -> list[str]:
    """``"['/a/image_raw', '/b/image_raw']"`` (YAML list) or ``"/a/image_raw"`` -> list of absolute topics."""
    value = yaml.safe_load(text) if text.strip() else []
    topics = [value] if isinstance(value, str) else list(value or [])
    if not topics or not all(isinstance(t, str) and t.strip("/") for t in topics):
        raise ValueError(f"cameras must be a list of image topics, got {text!r}")
    return ["/" + t.strip().lstrip("/") for t in topics]


def node_placement(topic: str, namespace: str, index: int) -> tuple[str, str]:
    """(namespace, node name) for a camera topic: the topic's parent namespace, below ``namespace``."""
    parent = topic.rsplit("/", 1)[0]
    name = "anomaly_seg" if parent else f"anomaly_seg_{index}"
    full = "/" + "/".join(p for p in (namespace.strip("/"), parent.strip("/")) if p)
    return full, name


def _nodes(context: LaunchContext) -> list[Node]:
    cfg = {
        k: LaunchConfiguration(k).perform(context)
        for k in ("cameras", "params_file", "model", "backend", "precision", "compressed", "namespace", "log_level")
    }
    overrides: dict[str, object] = {}
    if cfg["model"]:
        overrides["model.onnx_path"] = str(Path(cfg["model"]).expanduser().resolve())
    if cfg["backend"]:
        overrides["model.backend"] = cfg["backend"]
    if cfg["precision"]:
        overrides["model.precision"] = cfg["precision"]
    if cfg["compressed"]:
        overrides["input.compressed"] = cfg["compressed"].lower() in ("true", "1", "yes")
    compressed = bool(overrides.get("input.compressed", False))
    if "input.compressed" not in overrides:  # read the file's choice to pick the topic to remap
        with Path(cfg["params_file"]).open(encoding="utf-8") as f:
            section = (yaml.safe_load(f) or {}).get("/**", {}).get("ros__parameters", {})
        compressed = bool(section.get("input", {}).get("compressed", False))
    nodes = []
    for i, topic in enumerate(camera_topics(cfg["cameras"])):
        namespace, name = node_placement(topic, cfg["namespace"], i)
        remap = ("~/input/image/compressed", f"{topic}/compressed") if compressed else ("~/input/image", topic)
        nodes.append(
            Node(
                package=PACKAGE,
                executable="anomaly_seg_node",
                name=name,
                namespace=namespace,
                parameters=[cfg["params_file"], overrides],
                remappings=[remap],
                arguments=["--ros-args", "--log-level", cfg["log_level"]],
                output="screen",
                emulate_tty=True,
            )
        )
    return nodes


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
                "backend", default_value="", description="auto|tensorrt|onnxruntime|torch (empty = params_file)"
            ),
            DeclareLaunchArgument(
                "precision", default_value="", description="fp16|fp32 TensorRT precision (empty = params_file)"
            ),
            DeclareLaunchArgument(
                "compressed",
                default_value="",
                description="true: subscribe to <topic>/compressed (empty = params_file)",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="extra namespace above every camera"),
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
