"""TensorRT backend on a real GPU: build, cache reuse/rebuild, inference parity with ONNX Runtime.

Runs where ``tensorrt`` (10.x) and a CUDA GPU exist; skipped visibly elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.engines.tensorrt_backend import tensorrt_available

_OK, _WHY = tensorrt_available()
pytestmark = [
    pytest.mark.tensorrt,
    pytest.mark.gpu,
    pytest.mark.skipif(not _OK, reason=f"needs TensorRT + GPU: {_WHY}"),
]


@pytest.fixture
def onnx_copy(tmp_path: Path, toy_onnx: Path) -> Path:
    path = tmp_path / "toy.onnx"
    path.write_bytes(toy_onnx.read_bytes())
    return path


def test_build_reuse_force_and_parity(onnx_copy: Path, toy_size: tuple[int, int]) -> None:
    from anomaly_seg.artifacts.parity import TOLERANCES, compare
    from anomaly_seg.engines import load_engine
    from anomaly_seg.engines.engine_cache import engine_paths, timing_cache_path
    from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine

    logs: list[str] = []
    engine = load_engine(onnx_copy, "tensorrt", "fp32", log=logs.append)
    engine_file, sidecar = engine_paths(onnx_copy, "fp32")
    assert engine_file.is_file() and sidecar.is_file() and timing_cache_path(onnx_copy).is_file()
    assert json.loads(sidecar.read_text())["precision"] == "fp32"
    assert engine.name == "tensorrt:fp32" and engine.input_size == toy_size
    assert engine.metadata["anomaly_seg.network_size"] == f"{toy_size[0]}x{toy_size[1]}"

    image = np.random.default_rng(0).integers(0, 256, (1, *toy_size, 3), dtype=np.uint8)
    reference = OnnxRuntimeEngine(onnx_copy, ["CPUExecutionProvider"]).infer(image)
    assert compare(reference, engine.infer(image)).passed(TOLERANCES["fp32"])

    mtime = engine_file.stat().st_mtime_ns
    logs.clear()
    load_engine(onnx_copy, "tensorrt", "fp32", log=logs.append)
    assert engine_file.stat().st_mtime_ns == mtime and logs == []  # reused
    load_engine(onnx_copy, "tensorrt", "fp32", force_engine_update=True, log=logs.append)
    assert any("forced" in line for line in logs)


def test_fp16_engine_passes_fp16_tolerance(onnx_copy: Path, toy_size: tuple[int, int]) -> None:
    from anomaly_seg.artifacts.parity import TOLERANCES, compare
    from anomaly_seg.engines import load_engine
    from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
    from training.export import write_precision

    write_precision(onnx_copy, "fp16", None, log=lambda _: None)
    engine = load_engine(onnx_copy, "tensorrt", "fp16", log=lambda _: None)
    image = np.random.default_rng(1).integers(0, 256, (1, *toy_size, 3), dtype=np.uint8)
    reference = OnnxRuntimeEngine(onnx_copy, ["CPUExecutionProvider"]).infer(image)
    assert compare(reference, engine.infer(image)).passed(TOLERANCES["fp16"])


def test_corrupt_engine_is_rebuilt_and_engine_without_onnx_fails(onnx_copy: Path) -> None:
    from anomaly_seg.engines import load_engine
    from anomaly_seg.engines.engine_cache import engine_paths
    from anomaly_seg.errors import ModelFileError

    load_engine(onnx_copy, "tensorrt", "fp32", log=lambda _: None)
    engine_file, _ = engine_paths(onnx_copy, "fp32")
    engine_file.write_bytes(b"garbage")
    logs: list[str] = []
    load_engine(onnx_copy, "tensorrt", "fp32", log=logs.append)
    assert any("sha256" in line for line in logs)
    engine_file.write_bytes(b"garbage")
    onnx_copy.unlink()
    with pytest.raises(ModelFileError, match="no ONNX to rebuild from"):
        load_engine(engine_file, "tensorrt", log=lambda _: None)


def test_selftest_command_on_tensorrt(onnx_copy: Path, toy_onnx: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from anomaly_seg.cli import main
    from training.export import write_precision

    shutil.copytree(toy_onnx.with_name(toy_onnx.name + ".golden"), onnx_copy.with_name(onnx_copy.name + ".golden"))
    write_precision(onnx_copy, "fp16", None, log=lambda _: None)
    assert main(["selftest", "--model", str(onnx_copy), "--backend", "tensorrt", "--precision", "fp16"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_fp16_engine_of_a_gmm_model_keeps_its_fp32_islands(tmp_path: Path) -> None:
    """The tiny config has a GMM UEM head: the fp16 export keeps its nodes in fp32, the strongly typed engine too."""
    import onnx

    from anomaly_seg.artifacts.parity import TOLERANCES, compare
    from anomaly_seg.artifacts.precision import fp32_islands
    from anomaly_seg.engines import load_engine
    from anomaly_seg.engines.metadata import KEY_FP32_NODES, read_onnx_props
    from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
    from training.export import build_export_source, export_model

    config = Path(__file__).resolve().parents[2] / "models" / "configs" / "tiny.yaml"
    source = build_export_source(config, None)
    onnx_path = export_model(
        source.module, tmp_path / "tiny.onnx", source.size, source.metadata, log=lambda _: None, precision="fp16"
    ).onnx_path
    listed = json.loads(read_onnx_props(onnx_path)[KEY_FP32_NODES])
    assert listed and set(listed) <= set(fp32_islands(onnx.load(str(onnx_path))))
    engine = load_engine(onnx_path, "tensorrt", "fp16", log=lambda _: None)
    image = np.random.default_rng(2).integers(0, 256, (1, *source.size, 3), dtype=np.uint8)
    reference = OnnxRuntimeEngine(onnx_path, ["CPUExecutionProvider"]).infer(image)
    assert compare(reference, engine.infer(image)).passed(TOLERANCES["fp16"])
