"""What the launch files start, as plain data (no launch, no rclpy): nodes, parameters, remaps, environment.

``camera.launch.py`` turns its arguments into :class:`NodePlan` s with :func:`camera_nodes` and hands each to
``launch_ros.actions.Node``; the tests start the same plans as processes with :meth:`NodePlan.command`, which
builds the command line launch_ros would build (``--ros-args``, ``__ns``/``__node`` remaps, one
``--params-file`` per parameter source, topic remaps), so both run the node with identical settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anomaly_seg.ros import core, dds
from anomaly_seg.ros.params import read_ros_params_file

NODE_EXECUTABLE = "anomaly_seg_node"


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


@dataclass(frozen=True)
class NodePlan:
    """One ``anomaly_seg_node`` as a launch file starts it."""

    namespace: str
    name: str
    params_file: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    log_level: str = "info"

    @property
    def full_name(self) -> str:
        """``/<namespace>/<name>``."""
        return f"{self.namespace.rstrip('/')}/{self.name}"

    def command(self, executable: str | Path, overrides_file: Path) -> list[str]:
        """The command line launch_ros builds for this node; the overrides are written to ``overrides_file``
        (a parameter file for this node, as launch_ros writes dict parameters to a temporary YAML)."""
        overrides_file.write_text(yaml.safe_dump({self.full_name: {"ros__parameters": dict(self.overrides)}}))
        cmd = [str(executable), "--ros-args", "--log-level", self.log_level]
        cmd += ["-r", f"__node:={self.name}", "-r", f"__ns:={self.namespace}"]
        cmd += ["--params-file", self.params_file, "--params-file", str(overrides_file)]
        for source, target in self.remappings:
            cmd += ["-r", f"{source}:={target}"]
        return cmd


def camera_nodes(
    cameras: str,
    params_file: str,
    *,
    model: str = "",
    backend: str = "",
    precision: str = "",
    compressed: str = "",
    namespace: str = "",
    log_level: str = "info",
) -> list[NodePlan]:
    """The nodes of ``camera.launch.py`` for its arguments (empty strings keep the parameter file's values)."""
    overrides: dict[str, Any] = {}
    if model:
        overrides["model.onnx_path"] = str(Path(model).expanduser().resolve())
    if backend:
        overrides["model.backend"] = backend
    if precision:
        overrides["model.precision"] = precision
    if compressed:
        overrides["input.compressed"] = compressed.lower() in ("true", "1", "yes")
    if "input.compressed" in overrides:
        use_compressed = bool(overrides["input.compressed"])
    else:  # the file's choice decides which topic to remap
        use_compressed = bool(read_ros_params_file(params_file).get("input.compressed", False))
    plans = []
    for i, topic in enumerate(camera_topics(cameras)):
        node_ns, name = node_placement(topic, namespace, i)
        if use_compressed:
            remap = (f"~/{core.TOPIC_INPUT_COMPRESSED}", f"{topic}/compressed")
        else:
            remap = (f"~/{core.TOPIC_INPUT}", topic)
        plans.append(NodePlan(node_ns, name, params_file, overrides, (remap,), log_level))
    return plans


def dds_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Variables the launch files set for every process they start: the large-image Fast DDS profile unless the
    environment already configures DDS (the rule of :func:`anomaly_seg.ros.dds.apply_default_profile`)."""
    env = dict(environ)
    before = set(env.items())
    dds.apply_default_profile(env)
    return {k: v for k, v in env.items() if (k, v) not in before}
