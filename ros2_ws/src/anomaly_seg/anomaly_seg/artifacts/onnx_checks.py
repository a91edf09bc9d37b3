"""Checks of an exported ONNX model that need no GPU (``anomaly-seg check-onnx``).

Each check returns :class:`CheckResult` rows (``PASS``/``WARN``/``FAIL``/``SKIP`` + detail) for one table.
The fp16 safety check runs the fp32 graph with ONNX Runtime, exposing intermediate activations as extra
graph outputs (in groups that fit a memory budget), and flags tensors that would overflow half precision
(|x| > 65504), NaN/Inf, and ``LayerNormalization`` inputs above 256 in magnitude (their squares overflow
when TensorRT runs the normalisation in fp16).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_seg.artifacts.trt_ops import check_model
from anomaly_seg.engines.contract import TensorSpec, validate_io
from anomaly_seg.errors import ModelFileError

FP16_MAX = 65504.0
LAYERNORM_INPUT_LIMIT = 256.0
_FLOAT = 1  # onnx.TensorProto.FLOAT
_NP_OF_ONNX = {1: np.float32, 2: np.uint8, 10: np.float16}


@dataclass(frozen=True)
class CheckResult:
    """One row of the check table."""

    check: str
    status: str  # PASS | WARN | FAIL | SKIP
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


@dataclass(frozen=True)
class ActivationStat:
    """Range of one intermediate tensor over the probe inputs."""

    name: str
    op_type: str
    node: str
    max_abs: float
    non_finite: int


def load(path: str | Path) -> Any:
    """``onnx.load`` with a :class:`ModelFileError` naming the file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: ONNX file not found")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelFileError(f"{path}: not a readable ONNX file: {exc}") from exc


def structure_checks(path: str | Path) -> list[CheckResult]:
    """``onnx.checker`` (full check), shape inference with every shape static, and the I/O contract."""
    import onnx

    rows = []
    try:
        onnx.checker.check_model(str(path), full_check=True)
        rows.append(CheckResult("onnx.checker (full)", "PASS", "valid model"))
    except onnx.checker.ValidationError as exc:
        return [CheckResult("onnx.checker (full)", "FAIL", str(exc).splitlines()[0])]
    model = onnx.shape_inference.infer_shapes(load(path), strict_mode=True)
    dynamic = [
        v.name
        for v in [*model.graph.value_info, *model.graph.output]
        if not v.type.tensor_type.HasField("shape")
        or any(not d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)
    ]
    if dynamic:
        rows.append(
            CheckResult("static shapes", "FAIL", f"{len(dynamic)} tensors without static shape, e.g. {dynamic[:3]}")
        )
    else:
        rows.append(
            CheckResult("static shapes", "PASS", f"{len(model.graph.value_info)} intermediate tensors inferred")
        )

    def spec(v: Any) -> TensorSpec:
        t = v.type.tensor_type
        return TensorSpec(
            v.name, np.dtype(_NP_OF_ONNX.get(t.elem_type, np.float64)), tuple(d.dim_value for d in t.shape.dim)
        )

    try:
        b, h, w = validate_io(str(path), [spec(v) for v in model.graph.input], [spec(v) for v in model.graph.output])
        rows.append(
            CheckResult(
                "I/O contract", "PASS", f"image uint8 [{b}, {h}, {w}, 3] -> semantic, anomaly_score, uncertainty"
            )
        )
    except ModelFileError as exc:
        rows.append(CheckResult("I/O contract", "FAIL", str(exc)))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    ln = sum(n.op_type == "LayerNormalization" for n in model.graph.node)
    rows.append(
        CheckResult("opset", "PASS" if opset >= 17 else "FAIL", f"opset {opset}, {ln} LayerNormalization nodes")
    )
    return rows


def tensorrt_checks(path: str | Path, targets: tuple[str, ...]) -> list[CheckResult]:
    """One row per TensorRT target: operators, constraints and dtypes the parser accepts."""
    issues = check_model(load(path), targets)
    rows = []
    for target in targets:
        mine = [i for i in issues if i.target == target]
        if not mine:
            rows.append(CheckResult(f"TensorRT {target} ops", "PASS", "all operators and attributes supported"))
            continue
        shown = "; ".join(f"{i.op_type} {i.node}: {i.problem}" for i in mine[:4])
        more = f" (+{len(mine) - 4} more)" if len(mine) > 4 else ""
        rows.append(CheckResult(f"TensorRT {target} ops", "FAIL", shown + more))
    return rows


def activation_ranges(
    path: str | Path, images: list[np.ndarray], budget_bytes: int = 1 << 30, intra_op_threads: int = 0
) -> list[ActivationStat]:
    """Max |x| and non-finite count of every float intermediate tensor on ``images`` (ONNX Runtime CPU)."""
    import onnx
    import onnxruntime as ort

    model = onnx.shape_inference.infer_shapes(load(path))
    producer = {o: n for n in model.graph.node for o in n.output}
    existing = {o.name for o in model.graph.output}
    candidates = []
    for v in [*model.graph.value_info, *model.graph.output]:
        t = v.type.tensor_type
        if t.elem_type != _FLOAT or v.name not in producer:
            continue
        nbytes = 4 * int(np.prod([max(d.dim_value, 1) for d in t.shape.dim]))
        candidates.append((v, nbytes))
    groups: list[list[Any]] = [[]]
    used = 0
    for v, nbytes in candidates:
        if groups[-1] and used + nbytes > budget_bytes:
            groups.append([])
            used = 0
        groups[-1].append(v)
        used += nbytes
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor by name
    options.intra_op_num_threads = intra_op_threads
    options.log_severity_level = 3
    input_name = model.graph.input[0].name
    stats = []
    for group in groups:
        if not group:
            continue
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        probe.graph.output.extend(v for v in group if v.name not in existing)
        session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
        names = [v.name for v in group]
        max_abs = dict.fromkeys(names, 0.0)
        bad = dict.fromkeys(names, 0)
        for image in images:
            for name, value in zip(names, session.run(names, {input_name: image})):
                finite = np.isfinite(value)
                bad[name] += int(value.size - np.count_nonzero(finite))
                max_abs[name] = max(max_abs[name], float(np.abs(np.where(finite, value, 0)).max(initial=0.0)))
        for name in names:
            node = producer[name]
            stats.append(ActivationStat(name, node.op_type, node.name, max_abs[name], bad[name]))
    return stats


def fp16_checks(
    path: str | Path, images: list[np.ndarray], budget_bytes: int = 1 << 30
) -> tuple[list[CheckResult], list[ActivationStat]]:
    """fp16 safety rows, and the activations that triggered them (for the detailed table)."""
    stats = activation_ranges(path, images, budget_bytes)
    by_name = {s.name: s for s in stats}
    model = load(path)
    ln_inputs = [
        by_name[n.input[0]] for n in model.graph.node if n.op_type == "LayerNormalization" and n.input[0] in by_name
    ]
    non_finite = [s for s in stats if s.non_finite]
    overflow = [s for s in stats if s.max_abs > FP16_MAX]
    ln_large = [s for s in ln_inputs if s.max_abs > LAYERNORM_INPUT_LIMIT]
    peak = max(stats, key=lambda s: s.max_abs, default=None)
    rows = [
        CheckResult(
            "activations finite (fp32)",
            "FAIL" if non_finite else "PASS",
            f"{len(non_finite)} tensors with NaN/Inf"
            + (f", first {non_finite[0].node}" if non_finite else "")
            + f" ({len(stats)} tensors, {len(images)} inputs)",
        ),
        CheckResult(
            "fp16 range (|x| <= 65504)",
            "FAIL" if overflow else "PASS",
            (f"{len(overflow)} tensors overflow, e.g. " + ", ".join(f"{s.node}={s.max_abs:.3g}" for s in overflow[:3]))
            if overflow
            else (f"peak {peak.max_abs:.3g} at {peak.node}" if peak else "no float tensors"),
        ),
        CheckResult(
            f"LayerNorm inputs (|x| <= {LAYERNORM_INPUT_LIMIT:g})",
            "WARN" if ln_large else "PASS",
            (
                f"{len(ln_large)}/{len(ln_inputs)} above: "
                + ", ".join(f"{s.name}={s.max_abs:.3g}" for s in ln_large[:4])
                + " (fp16 exports keep normalisation layers in fp32)"
            )
            if ln_large
            else f"{len(ln_inputs)} LayerNormalization inputs within range",
        ),
    ]
    from anomaly_seg.artifacts.precision import fp32_node_names
    from anomaly_seg.engines.metadata import KEY_FP32_NODES

    listed = set(json.loads({p.key: p.value for p in model.metadata_props}.get(KEY_FP32_NODES, "[]")))
    gmm_nodes = set(fp32_node_names(model))
    if gmm_nodes or listed:
        unlisted = gmm_nodes - listed
        rows.append(
            CheckResult(
                "GMM head kept fp32 (fp16 export)",
                "FAIL" if unlisted else "PASS",
                f"{len(unlisted)} GMM-head nodes missing from the {KEY_FP32_NODES} metadata (re-export)"
                if unlisted
                else f"{len(listed)} nodes listed in {KEY_FP32_NODES}; fp16 exports keep them in fp32",
            )
        )
    return rows, sorted(overflow + ln_large + non_finite, key=lambda s: -s.max_abs)
