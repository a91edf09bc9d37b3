"""Which nodes of an exported graph fp16 TensorRT builds keep in fp32 (written by the exporter, read by the backend)."""

from __future__ import annotations

from typing import Any

#: Modules whose ONNX nodes fp16 TensorRT builds keep in fp32: Gaussian log-densities of a GMM head are hundreds
#: in magnitude before the class LayerNorm and differ between classes by far less (BENCHMARKS.md §10).
FP32_MODULES = ("anomaly_seg.network.heads.OfficialGMMHead", "anomaly_seg.network.heads.GMMHead")
_CLASS_HIERARCHY = "pkg.torch.onnx.class_hierarchy"


def fp32_node_names(model: Any) -> list[str]:
    """Names of the nodes of an exported graph that belong to a :data:`FP32_MODULES` module (from the exporter's
    ``class_hierarchy`` node metadata)."""
    names = []
    for node in model.graph.node:
        hierarchy = next((p.value for p in node.metadata_props if p.key == _CLASS_HIERARCHY), "")
        if any(f"'{module}'" in hierarchy for module in FP32_MODULES):
            names.append(node.name)
    return names


def is_fp32_layer(layer_name: str, node_names: set[str]) -> bool:
    """Whether a TensorRT layer comes from one of ``node_names``. onnx-tensorrt names each layer after its node and
    makes the name unique with ``_<counter>`` (a parser-wide counter) when one node becomes several layers, so a
    layer is the node's when its name is the node name, or the node name plus one numeric suffix. (A node of
    another module whose name is a GMM node's name plus a number can match too; that only keeps it in fp32.)"""
    if layer_name in node_names:
        return True
    head, sep, suffix = layer_name.rpartition("_")
    return bool(sep) and suffix.isdigit() and head in node_names
