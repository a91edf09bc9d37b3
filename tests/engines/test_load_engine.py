"""Backend selection of load_engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from anomaly_seg.engines import load_engine, resolve_backend
from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.engines.tensorrt_backend import tensorrt_available
from anomaly_seg.errors import ConfigError, EngineError, ModelFileError


def test_resolution_by_suffix() -> None:
    assert resolve_backend("m.engine") == ("tensorrt", "a serialised TensorRT engine")
    assert resolve_backend("m.safetensors")[0] == "torch"
    assert resolve_backend("configs/tiny.yaml")[0] == "torch"
    assert resolve_backend("m.onnx", "onnxruntime") == ("onnxruntime", "requested")
    with pytest.raises(ConfigError, match="backend must be one of"):
        resolve_backend("m.onnx", "openvino")


@pytest.mark.skipif(tensorrt_available()[0], reason="TensorRT is usable here: auto picks it")
def test_auto_falls_back_to_onnxruntime_without_tensorrt(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    backend, why = resolve_backend(tmp_path / "m.onnx")
    assert backend == "onnxruntime" and why.startswith("TensorRT not usable")
    assert isinstance(load_engine(make_onnx(tmp_path / "m.onnx")), OnnxRuntimeEngine)


def test_wrong_file_kind_for_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"onnxruntime backend needs an \.onnx"):
        load_engine(tmp_path / "m.engine", backend="onnxruntime")
    with pytest.raises(ModelFileError, match="torch backend needs"):
        load_engine(tmp_path / "m.onnx", backend="torch")


@pytest.mark.skipif(tensorrt_available()[0], reason="TensorRT is usable here")
def test_tensorrt_requested_without_tensorrt_says_why(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    with pytest.raises(EngineError, match="TensorRT"):
        load_engine(make_onnx(tmp_path / "m.onnx"), backend="tensorrt")
