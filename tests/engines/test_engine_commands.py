"""anomaly-seg check-onnx / selftest / build-engine end to end on the exported toy model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.cli import main
from anomaly_seg.engines.tensorrt_backend import tensorrt_available


@pytest.fixture
def exported(tmp_path: Path, toy_onnx: Path) -> Path:
    out = tmp_path / "toy.onnx"
    shutil.copy(toy_onnx, out)
    shutil.copytree(toy_onnx.with_name(toy_onnx.name + ".golden"), tmp_path / "toy.onnx.golden")
    return out


def test_check_onnx_passes_with_fp16_table(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-onnx", str(exported), "--fp16", "--trt", "10.x"]) == 0
    out = capsys.readouterr().out
    for check in (
        "onnx.checker (full)",
        "TensorRT 10.x ops",
        "export parity (metadata)",
        "golden outputs (ORT CPU)",
        "fp16 range",
    ):
        assert check in out
    assert "all checks passed" in out.splitlines()[-1]


def test_check_onnx_fails_for_tensorrt_86_opset(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-onnx", str(exported), "--trt", "8.6"]) == 1
    assert "opset 18 > 17" in capsys.readouterr().out


def test_selftest_passes_then_fails_on_tampered_reference(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "--model", str(exported), "--backend", "onnxruntime"]) == 0
    assert "PASS (5 cases" in capsys.readouterr().out
    case = exported.with_name("toy.onnx.golden") / "gradient.npz"
    with np.load(case) as data:
        arrays = dict(data)
    arrays["semantic"] = (arrays["semantic"] + 1).astype(np.uint8)
    np.savez_compressed(case, **arrays)
    assert main(["selftest", "--model", str(exported), "--backend", "onnxruntime"]) == 1
    out = capsys.readouterr().out
    assert "gradient" in out and "0.000 %" in out and "FAIL" in out.splitlines()[-1]


def test_missing_model_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-onnx", str(tmp_path / "absent.onnx")]) == 2
    assert "absent.onnx: ONNX file not found" in capsys.readouterr().err


@pytest.mark.skipif(tensorrt_available()[0], reason="TensorRT is usable here")
def test_build_engine_without_tensorrt_says_why(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build-engine", str(exported)]) == 2
    assert "cannot build a TensorRT engine here" in capsys.readouterr().err
