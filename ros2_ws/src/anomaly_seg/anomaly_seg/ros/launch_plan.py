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

__all__ = ["NODE_EXECUTABLE", "NodePlan", "camera_nodes", "camera_topics", "dds_environment", "node_placement"]
from anomaly_seg import vocabulary
from anomaly_seg.node_core.naming import camera_topics, node_placement
from anomaly_seg.parameters import read_ros_params_file
from anomaly_seg.ros import dds

NODE_EXECUTABLE = "anomaly_seg_node"
SHARED_NODE_NAME = "anomaly_seg_shared"


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
    shared_engine: bool = False,
    engine_sharing: str = "",
) -> list[NodePlan]:
    """The nodes of ``camera.launch.py`` for its arguments (empty strings keep the parameter file's values).

    ``shared_engine``: one node (``anomaly_seg_shared``) and one engine for every camera, its outputs under the
    same names as with one node per camera; ``engine_sharing``: ``round_robin`` or ``batched``.
    """
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
    if engine_sharing:
        overrides["cameras.engine_sharing"] = engine_sharing
    topics = camera_topics(cameras)
    if shared_engine:
        overrides["cameras.topics"] = str(topics)
        node_ns = "/" + namespace.strip("/")
        return [NodePlan(node_ns, SHARED_NODE_NAME, params_file, overrides, (), log_level)]
    plans = []
    for i, topic in enumerate(topics):
        node_ns, name = node_placement(topic, namespace, i)
        if use_compressed:
            remap = (f"~/{vocabulary.TOPIC_INPUT_COMPRESSED}", f"{topic}/compressed")
        else:
            remap = (f"~/{vocabulary.TOPIC_INPUT}", topic)
        plans.append(NodePlan(node_ns, name, params_file, overrides, (remap,), log_level))
    return plans


def dds_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Variables the launch files set for every process they start: the large-image Fast DDS profile unless the
    environment already configures DDS (the rule of :func:`anomaly_seg.ros.dds.apply_default_profile`)."""
    env = dict(environ)
    before = set(env.items())
    dds.apply_default_profile(env)
    return {k: v for k, v in env.items() if (k, v) not in before}
