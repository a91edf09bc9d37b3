"""Camera topics -> node names and namespaces (no rclpy): one rule for the launch files and the shared-engine node."""

from __future__ import annotations

import yaml


def camera_topics(text: str) -> list[str]:
    """``"['/a/image_raw', '/b/image_raw']"`` (YAML list) or ``"/a/image_raw"`` -> list of absolute topics."""
    try:
        value = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError as exc:
        raise ValueError(f"cameras must be a list of image topics, got {text!r} ({exc})") from None
    items: list[object] = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else [None]
    topics = [t for t in items if isinstance(t, str) and t.strip("/")]
    if not items or len(topics) != len(items):
        raise ValueError(f"cameras must be a list of image topics, got {text!r}")
    return ["/" + t.strip().lstrip("/") for t in topics]


def node_placement(topic: str, namespace: str, index: int) -> tuple[str, str]:
    """(namespace, node name) for a camera topic: the topic's parent namespace, below ``namespace``."""
    parent = topic.rsplit("/", 1)[0]
    name = "anomaly_seg" if parent else f"anomaly_seg_{index}"
    full = "/" + "/".join(p for p in (namespace.strip("/"), parent.strip("/")) if p)
    return full, name


def camera_prefix(topic: str, namespace: str, index: int) -> str:
    """``/<namespace>/<name>``: where a camera's outputs live, the same with one node per camera or one shared."""
    node_ns, name = node_placement(topic, namespace, index)
    return f"{node_ns.rstrip('/')}/{name}"
