"""ONNX operators that TensorRT's ONNX parser (onnx-tensorrt) accepts, for the TensorRT versions we target.

Source: onnx-tensorrt ``docs/operators.md`` of the 8.x and 10.x release branches (operator support
matrix and its "Restrictions" column), narrowed where this product is stricter than TensorRT:
no cubic or antialiased ``Resize`` (DESIGN.md §3), no DOUBLE/STRING/complex tensors in compute.
Update the table when a new TensorRT version is targeted; ``check_model`` reports against every target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: target -> highest ONNX opset its parser accepts
TARGETS: dict[str, int] = {"8.6": 17, "10.x": 20}

# Supported by the 8.6 parser (and every later one).
_OPS_86 = [
    "Abs",
    "Acos",
    "Acosh",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "Asin",
    "Asinh",
    "Atan",
    "Atanh",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Ceil",
    "Celu",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Cos",
    "Cosh",
    "CumSum",
    "DepthToSpace",
    "DequantizeLinear",
    "Div",
    "Dropout",
    "Einsum",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "EyeLike",
    "Flatten",
    "Floor",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gemm",
    "GlobalAveragePool",
    "GlobalLpPool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "GRU",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "If",
    "InstanceNormalization",
    "IsNaN",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "Loop",
    "LpNormalization",
    "LpPool",
    "LRN",
    "LSTM",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mul",
    "Neg",
    "NonMaxSuppression",
    "Not",
    "Or",
    "Pad",
    "Pow",
    "PRelu",
    "QuantizeLinear",
    "RandomUniform",
    "RandomUniformLike",
    "Range",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Resize",
    "RNN",
    "Round",
    "Scan",
    "Scatter",
    "ScatterElements",
    "ScatterND",
    "Selu",
    "Shape",
    "Shrink",
    "Sigmoid",
    "Sign",
    "Sin",
    "Sinh",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "SpaceToDepth",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tan",
    "Tanh",
    "ThresholdedRelu",
    "Tile",
    "TopK",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Upsample",
    "Where",
    "Xor",
]

# Added by the 10.x parsers.
_OPS_10 = [
    "BitwiseAnd",
    "BitwiseNot",
    "BitwiseOr",
    "BitwiseXor",
    "Gelu",
    "GroupNormalization",
    "IsInf",
    "Mish",
    "Mod",
    "Reciprocal",
    "ReverseSequence",
]

SUPPORTED: dict[str, frozenset[str]] = {
    "8.6": frozenset(_OPS_86),
    "10.x": frozenset(_OPS_86 + _OPS_10),
}

RESIZE_COORDINATE_MODES = frozenset(
    {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
)
RESIZE_MODES = frozenset({"nearest", "linear"})  # TensorRT also has cubic; the product forbids it
#: ONNX TensorProto element types that may not appear anywhere in the graph
FORBIDDEN_DTYPES = {11: "DOUBLE", 8: "STRING", 14: "COMPLEX64", 15: "COMPLEX128"}
#: inputs that the parser needs as initializers/constants (op -> input index)
CONSTANT_INPUTS = {"TopK": 1, "Conv": 1, "ConvTranspose": 1, "Slice": 3, "Squeeze": 1, "Unsqueeze": 1, "CumSum": 1}


@dataclass(frozen=True)
class OpIssue:
    """One problem of one node for one TensorRT target."""

    target: str
    op_type: str
    node: str
    problem: str


def _attr(node: Any, name: str, default: Any) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def node_problems(node: Any, constants: set[str]) -> list[str]:
    """Constraint violations of a supported op (independent of the target)."""
    problems = []
    if node.op_type == "Resize":
        mode = _attr(node, "mode", "nearest")
        if mode not in RESIZE_MODES:
            problems.append(f"Resize mode '{mode}' (allowed: {sorted(RESIZE_MODES)})")
        if _attr(node, "antialias", 0):
            problems.append("antialiased Resize")
        ctm = _attr(node, "coordinate_transformation_mode", "half_pixel")
        if ctm not in RESIZE_COORDINATE_MODES:
            problems.append(f"Resize coordinate_transformation_mode '{ctm}'")
        if _attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
            problems.append("Resize keep_aspect_ratio_policy other than 'stretch'")
        if _attr(node, "exclude_outside", 0):
            problems.append("Resize exclude_outside=1")
    index = CONSTANT_INPUTS.get(node.op_type)
    if index is not None and len(node.input) > index and node.input[index] and node.input[index] not in constants:
        problems.append(f"input {index} ('{node.input[index]}') must be an initializer/constant")
    if node.op_type in ("Conv", "ConvTranspose", "MaxPool", "AveragePool"):
        kernel = _attr(node, "kernel_shape", None)
        if kernel is not None and len(kernel) not in (2, 3):
            problems.append(f"{len(kernel)}D {node.op_type} (TensorRT: 2D/3D only)")
    return problems


def check_model(model: Any, targets: tuple[str, ...] = tuple(TARGETS)) -> list[OpIssue]:
    """Every operator/constraint/dtype problem of ``model`` (an ``onnx.ModelProto``) per target."""
    graph = model.graph
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    issues: list[OpIssue] = []
    for target in targets:
        if opset > TARGETS[target]:
            issues.append(
                OpIssue(target, "-", "-", f"opset {opset} > {TARGETS[target]} supported by TensorRT {target}")
            )
    typed = [*graph.input, *graph.output, *graph.value_info]
    for value in typed:
        elem = value.type.tensor_type.elem_type
        if elem in FORBIDDEN_DTYPES:
            issues += [OpIssue(t, "-", value.name, f"{FORBIDDEN_DTYPES[elem]} tensor") for t in targets]
    for init in graph.initializer:
        if init.data_type in FORBIDDEN_DTYPES:
            issues += [OpIssue(t, "-", init.name, f"{FORBIDDEN_DTYPES[init.data_type]} initializer") for t in targets]
    for i, node in enumerate(graph.node):
        name = node.name or f"#{i}"
        if node.domain not in ("", "ai.onnx"):
            issues += [
                OpIssue(t, node.op_type, name, f"custom domain '{node.domain}' (needs a plugin)") for t in targets
            ]
            continue
        for target in targets:
            if node.op_type not in SUPPORTED[target]:
                issues.append(OpIssue(target, node.op_type, name, "operator not supported by the ONNX parser"))
        for problem in node_problems(node, constants):
            issues += [OpIssue(t, node.op_type, name, problem) for t in targets]
    return issues
