"""Precision lives in the ONNX: fp16 graphs with fp32 islands, int8 graphs with explicit Q/DQ, and their check.

TensorRT 11 has no weak typing (no FP16/INT8 builder flags, no per-layer precision), and TensorRT 10.3 (JetPack 6)
builds the same strongly typed networks: every tensor's type comes from the ONNX. So the exporter writes one ONNX
per precision next to the fp32 one (``model.onnx`` -> ``model.fp16.onnx``, ``model.int8.onnx``):

* **fp16** (:func:`to_fp16`): onnxconverter-common's float16 conversion turns weights and activations to float16,
  except the fp32 islands of :func:`fp32_islands`: normalisation layers (ViT LayerNorm inputs overflow fp16), the
  GMM-head nodes the exporter lists (their log-densities are hundreds in magnitude and differ between classes by far
  less), and the model's own tail (input normalisation, LLR / entropy / softmax scores: every node that belongs to
  no submodule). Graph inputs and outputs keep the contract's types (uint8 in, uint8 / float32 out).
* **int8** (:func:`to_int8`): ONNX Runtime's static quantizer inserts symmetric int8 Q/DQ pairs (per-channel
  weights) on the backbone's and neck's MatMul / Conv / Gemm nodes, calibrated on camera frames (MinMax); heads,
  norms and the score tail stay float. This is the explicit-quantization form TensorRT builds from.

``check-onnx`` measures a reduced-precision model against the fp32 golden outputs with the tolerances of
:data:`anomaly_seg.artifacts.parity.TOLERANCES` for its precision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np

from anomaly_seg.engines.base import INPUT_NAME
from anomaly_seg.engines.metadata import KEY_FP32_NODES, KEY_PRECISION
from anomaly_seg.errors import ModelFileError

CLASS_HIERARCHY: Final = "pkg.torch.onnx.class_hierarchy"
NORMALISATION_OPS: Final = frozenset({"LayerNormalization", "InstanceNormalization", "GroupNormalization"})
QUANTIZED_OPS: Final = ("MatMul", "Conv", "Gemm")
#: modules whose matmuls and convolutions int8 quantizes: the backbone and the necks
QUANTIZED_MODULES: Final = (
    "anomaly_seg.network.dinov2.",
    "anomaly_seg.network.fpn.",
    "anomaly_seg.network.dinov2_fpn.",
)
_FLOAT = 1  # onnx.TensorProto.FLOAT

#: Modules whose ONNX nodes fp16 graphs keep in fp32: Gaussian log-densities of a GMM head are hundreds
#: in magnitude before the class LayerNorm and differ between classes by far less (BENCHMARKS.md §10).
FP32_MODULES = ("anomaly_seg.network.heads.OfficialGMMHead", "anomaly_seg.network.heads.GMMHead")


def fp32_node_names(model: Any) -> list[str]:
    """Names of the nodes of an exported graph that belong to a :data:`FP32_MODULES` module (from the exporter's
    ``class_hierarchy`` node metadata)."""
    names = []
    for node in model.graph.node:
        hierarchy = next((p.value for p in node.metadata_props if p.key == CLASS_HIERARCHY), "")
        if any(f"'{module}'" in hierarchy for module in FP32_MODULES):
            names.append(node.name)
    return names


def _hierarchy(node: Any) -> str:
    return next((p.value for p in node.metadata_props if p.key == CLASS_HIERARCHY), "")


def _in_submodule(node: Any) -> bool:
    """Whether the exporter placed ``node`` inside a child module (``['Top', 'child.Module', ..., 'aten.op']``)."""
    return _hierarchy(node).count(",") >= 2


def fp32_islands(model: Any) -> list[str]:
    """Names of the nodes an fp16 graph keeps in fp32 (see the module docstring)."""
    props = {p.key: p.value for p in model.metadata_props}
    gmm = set(json.loads(props.get(KEY_FP32_NODES, "[]"))) | set(fp32_node_names(model))
    return [
        node.name
        for node in model.graph.node
        if node.op_type in NORMALISATION_OPS or node.name in gmm or not _in_submodule(node)
    ]


def _precision_of(model: Any) -> str:
    return str({p.key: p.value for p in model.metadata_props}.get(KEY_PRECISION, "fp32"))


def _set_precision(model: Any, precision: str) -> None:
    for prop in model.metadata_props:
        if prop.key == KEY_PRECISION:
            prop.value = precision
            return
    entry = model.metadata_props.add()
    entry.key, entry.value = KEY_PRECISION, precision


def to_fp16(model: Any) -> Any:
    """The fp16 graph of an fp32 export (a new ModelProto; ``model`` is left as it is)."""
    import onnx
    from onnxconverter_common import float16

    if _precision_of(model) != "fp32":
        raise ModelFileError(f"fp16 conversion needs the fp32 export, got a {_precision_of(model)} model")
    float_outputs = {o.name for o in model.graph.output if o.type.tensor_type.elem_type == _FLOAT}
    converted = float16.convert_float_to_float16(
        onnx.ModelProto.FromString(model.SerializeToString()), keep_io_types=True, node_block_list=fp32_islands(model)
    )
    # keep_io_types leaves a Cast to float16 before outputs produced by a kept-fp32 node: make those Casts float32
    producer = {name: node for node in converted.graph.node for name in node.output}
    for output in converted.graph.output:
        if output.name in float_outputs:
            node = producer[output.name]
            if node.op_type == "Cast":
                for attribute in node.attribute:
                    if attribute.name == "to":
                        attribute.i = _FLOAT
            output.type.tensor_type.elem_type = _FLOAT
    _set_precision(converted, "fp16")
    onnx.checker.check_model(converted)
    return converted


def quantized_nodes(model: Any) -> list[str]:
    """The MatMul / Conv / Gemm nodes of the backbone and necks (what int8 quantizes)."""
    return [
        node.name
        for node in model.graph.node
        if node.op_type in QUANTIZED_OPS and any(m in _hierarchy(node) for m in QUANTIZED_MODULES)
    ]


def to_int8(fp32_path: str | Path, out: str | Path, frames: Iterable[np.ndarray]) -> Path:
    """Quantize the fp32 export at ``fp32_path`` to ``out`` (Q/DQ), calibrated on uint8 ``[1, H, W, 3]`` frames."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    fp32_path, out = Path(fp32_path), Path(out)
    model = onnx.load(str(fp32_path), load_external_data=False)
    if _precision_of(model) != "fp32":
        raise ModelFileError(f"{fp32_path}: int8 quantization needs the fp32 export, got {_precision_of(model)}")
    nodes = quantized_nodes(model)
    if not nodes:
        raise ModelFileError(f"{fp32_path}: no backbone / neck MatMul or Conv to quantize (exporter metadata missing?)")

    class Frames(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self, items: Iterator[np.ndarray]) -> None:
            self.items, self.count = items, 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            frame = next(self.items, None)
            if frame is None:
                return None
            self.count += 1
            return {INPUT_NAME: frame}

    reader = Frames(iter(frames))
    quantize_static(
        str(fp32_path),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=nodes,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )
    if reader.count == 0:
        out.unlink(missing_ok=True)
        raise ModelFileError(f"{fp32_path}: int8 calibration got no frames")
    quantized = onnx.load(str(out))
    _set_precision(quantized, "int8")
    onnx.save(quantized, str(out))
    return out
