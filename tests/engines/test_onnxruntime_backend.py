"""ONNX Runtime backend: contract validation at load, input checks, NaN detection, parity with torch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_seg.engines import Engine, load_engine
from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.errors import EngineError, ModelFileError


def test_handmade_graph_matches_numpy(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    engine = OnnxRuntimeEngine(make_onnx(tmp_path / "m.onnx", scale=2.0), intra_op_threads=1)
    assert isinstance(engine, Engine)
    assert engine.input_size == (4, 6) and engine.batch_size == 1
    assert engine.name == "onnxruntime:CPUExecutionProvider"
    image = np.random.default_rng(0).integers(0, 256, (1, 4, 6, 3), dtype=np.uint8)
    out = engine.infer(image)
    x = image.astype(np.float64) * 2.0
    np.testing.assert_allclose(out.anomaly_score, x.mean(-1), rtol=1e-6)
    assert out.semantic.dtype == np.uint8
    np.testing.assert_array_equal(out.semantic, image.astype(np.float32).mean(-1).astype(np.uint8))
    ln = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out.uncertainty, ln.transpose(0, 3, 1, 2), atol=1e-4)


def test_toy_model_matches_torch(toy_onnx: Path, toy_model: torch.nn.Module, toy_size: tuple[int, int]) -> None:
    engine = load_engine(toy_onnx, backend="onnxruntime")
    image = np.random.default_rng(1).integers(0, 256, (1, *toy_size, 3), dtype=np.uint8)
    out = engine.infer(image)
    with torch.inference_mode():
        sem, score, unc = toy_model(torch.from_numpy(image))
    np.testing.assert_allclose(out.anomaly_score, score.numpy(), atol=1e-4)
    np.testing.assert_allclose(out.uncertainty, unc.numpy(), atol=1e-5)
    assert (out.semantic == sem.numpy()).mean() >= 0.999
    assert engine.metadata["anomaly_seg.network_size"] == f"{toy_size[0]}x{toy_size[1]}"
    engine.warmup()


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((1, 4, 6, 3), np.float32), "must be uint8"),
        (np.zeros((4, 6, 3), np.uint8), r"shape \[1, 4, 6, 3\]"),
        (np.zeros((1, 6, 4, 3), np.uint8), "must have shape"),
        (np.zeros((2, 4, 6, 3), np.uint8), "must have shape"),
    ],
)
def test_bad_inputs_raise_engine_error(
    tmp_path: Path, make_onnx: Callable[..., Path], image: np.ndarray, match: str
) -> None:
    engine = OnnxRuntimeEngine(make_onnx(tmp_path / "m.onnx"))
    with pytest.raises(EngineError, match=match):
        engine.infer(image)


def test_nan_output_raises_engine_error(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    engine = OnnxRuntimeEngine(make_onnx(tmp_path / "nan.onnx", nan_score=True))
    with pytest.raises(EngineError, match="'anomaly_score' has 24 non-finite"):
        engine.infer(np.zeros((1, 4, 6, 3), np.uint8))


def test_contract_violations_name_the_file(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    bad = make_onnx(tmp_path / "renamed.onnx", output_names=("labels", "anomaly_score", "uncertainty"))
    with pytest.raises(ModelFileError, match=r"renamed\.onnx.*missing output semantic"):
        OnnxRuntimeEngine(bad)


def test_missing_and_corrupt_files(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    with pytest.raises(ModelFileError, match=r"absent\.onnx: ONNX file not found"):
        OnnxRuntimeEngine(tmp_path / "absent.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelFileError, match=r"corrupt\.onnx"):
        OnnxRuntimeEngine(corrupt)


def test_unavailable_provider_is_refused(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    with pytest.raises(EngineError, match="not available"):
        OnnxRuntimeEngine(make_onnx(tmp_path / "m.onnx"), providers=["NoSuchExecutionProvider"])
