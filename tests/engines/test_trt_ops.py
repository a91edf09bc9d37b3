"""TensorRT parser table: hand-made graphs with one known problem each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from onnx import TensorProto, helper

from anomaly_seg.artifacts.trt_ops import SUPPORTED, TARGETS, check_model


def resize_model(**attrs: Any) -> onnx.ModelProto:
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", **attrs)
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
        [scales],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def problems(model: onnx.ModelProto, target: str = "10.x") -> list[str]:
    return [i.problem for i in check_model(model, (target,))]


def test_linear_resize_passes_and_cubic_or_antialias_fail() -> None:
    assert problems(resize_model(mode="linear")) == []
    assert problems(resize_model(mode="cubic")) == ["Resize mode 'cubic' (allowed: ['linear', 'nearest'])"]
    assert problems(resize_model(mode="linear", antialias=1)) == ["antialiased Resize"]
    assert problems(resize_model(mode="linear", coordinate_transformation_mode="tf_crop_and_resize")) == [
        "Resize coordinate_transformation_mode 'tf_crop_and_resize'"
    ]


def test_opset_limit_per_target() -> None:
    model = resize_model(mode="linear")
    assert problems(model, "8.6") == ["opset 18 > 17 supported by TensorRT 8.6"]
    assert TARGETS["10.x"] >= 18


def test_unsupported_op_and_custom_domain_are_named() -> None:
    nodes = [
        helper.make_node("NonZero", ["x"], ["nz"], name="where_nonzero"),
        helper.make_node("MyPlugin", ["x"], ["p"], domain="com.vendor", name="plugin"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [
            helper.make_tensor_value_info("nz", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("p", TensorProto.FLOAT, [2]),
        ],
    )
    issues = check_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), ("8.6",))
    assert [(i.op_type, i.node) for i in issues] == [("NonZero", "where_nonzero"), ("MyPlugin", "plugin")]
    assert "custom domain 'com.vendor'" in issues[1].problem


def test_double_tensors_and_dynamic_topk_k_fail() -> None:
    nodes = [
        helper.make_node("Cast", ["x"], ["xd"], to=TensorProto.DOUBLE, name="to_double"),
        helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [5]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        [
            helper.make_tensor_value_info("xd", TensorProto.DOUBLE, [5]),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info("i", TensorProto.INT64, [None]),
        ],
    )
    found = problems(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    assert "DOUBLE tensor" in found
    assert "input 1 ('k') must be an initializer/constant" in found


def test_layernorm_is_supported_everywhere_and_gelu_only_in_10() -> None:
    assert all("LayerNormalization" in ops for ops in SUPPORTED.values())
    assert "Gelu" in SUPPORTED["10.x"] and "Gelu" not in SUPPORTED["8.6"]


def test_exported_toy_model_passes_tensorrt_10(toy_onnx: Path) -> None:
    assert check_model(onnx.load(str(toy_onnx)), ("10.x",)) == []


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_target_has_a_table(target: str) -> None:
    assert len(SUPPORTED[target]) > 100
