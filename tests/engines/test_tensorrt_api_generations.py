"""The TensorRT backend against fakes of the TensorRT 10.x and 11.x Python APIs (no GPU needed).

Each fake has only the names its generation has (tests/engines/fake_tensorrt.py): one strongly typed build path
for fp32, fp16 and int8, no weak-typing API, the ONNX of the requested precision picked or its absence explained,
and the runtime path (bindings, copies, stream) giving the contract's outputs.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from anomaly_seg.engines import tensorrt_backend
from anomaly_seg.engines.metadata import KEY_PRECISION, read_onnx_props
from anomaly_seg.errors import ModelFileError
from tests.engines.fake_tensorrt import REMOVED_IN_11, FakeCuda, make_tensorrt
from tests.pipeline.fake_engine import FakeEngine, write_contract_onnx

SIZE = (32, 64)


@pytest.fixture(params=["10.x", "11.x"])
def fake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[tuple[Any, ...]]]:
    calls: list[tuple[Any, ...]] = []
    trt = make_tensorrt(request.param, calls)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    cuda = FakeCuda()
    monkeypatch.setattr(tensorrt_backend, "cuda_api", lambda prefer="auto": cuda)
    return trt, calls


def with_precision(src: Path, dst: Path, precision: str) -> Path:
    """A copy of ``src`` labelled ``precision`` (what the exporter's fp16 / int8 files carry)."""
    model = onnx.load(str(src))
    entry = model.metadata_props.add()
    entry.key, entry.value = KEY_PRECISION, precision
    onnx.save(model, str(dst))
    return dst


def test_every_precision_is_one_strongly_typed_build_without_weak_typing(
    fake: tuple[Any, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    trt, calls = fake
    fp32 = write_contract_onnx(tmp_path / "model.onnx", SIZE)
    with_precision(fp32, tmp_path / "model.fp16.onnx", "fp16")
    with_precision(fp32, tmp_path / "model.int8.onnx", "int8")
    image = np.random.default_rng(0).integers(0, 256, (1, *SIZE, 3), dtype=np.uint8)
    expected = FakeEngine(SIZE).infer(image)
    for precision in ("fp32", "fp16", "int8"):
        engine_file = tensorrt_backend.ensure_engine(fp32, precision, log=lambda _: None)
        assert engine_file.name == f"model.{precision}.engine"
        build = [c[1] for c in calls if c[0] == "build"][-1]
        assert build == {"strongly_typed": True, "precision": precision, "size": list(SIZE), "batch": 1}
        assert [c for c in calls if c[0] == "parse"][-1][1].endswith(
            "model.onnx" if precision == "fp32" else f"model.{precision}.onnx"
        )
        engine = tensorrt_backend.TensorRTEngine(engine_file)
        assert engine.name == f"tensorrt:{precision}"
        out = engine.infer(image)
        np.testing.assert_array_equal(out.semantic, expected.semantic)
        np.testing.assert_allclose(out.anomaly_score, expected.anomaly_score, rtol=1e-6)
        np.testing.assert_allclose(out.uncertainty, expected.uncertainty, rtol=1e-6)
    assert not [c for c in calls if c[0] == "set_flag"]  # no builder precision flag on any generation
    assert all(
        c[1] == 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) for c in calls if c[0] == "create_network"
    )
    builds = len([c for c in calls if c[0] == "build"])
    tensorrt_backend.ensure_engine(fp32, "fp16", log=lambda _: None)  # cached, fingerprint matches: no new build
    assert len([c for c in calls if c[0] == "build"]) == builds


def test_a_missing_precision_model_says_what_to_export(fake: tuple[Any, list[Any]], tmp_path: Path) -> None:
    fp32 = write_contract_onnx(tmp_path / "model.onnx", SIZE)
    with pytest.raises(ModelFileError, match=r"no int8 model next to it \(model\.int8\.onnx\).*--precision int8"):
        tensorrt_backend.ensure_engine(fp32, "int8", log=lambda _: None)
    fp16 = with_precision(fp32, tmp_path / "model.fp16.onnx", "fp16")
    assert tensorrt_backend.ensure_engine(fp16, "fp16", log=lambda _: None).name == "model.fp16.engine"
    assert read_onnx_props(fp16)[KEY_PRECISION] == "fp16"


def test_the_backend_uses_no_name_that_tensorrt_11_removed() -> None:
    tree = ast.parse(Path(tensorrt_backend.__file__).read_text(encoding="utf-8"))
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
    }
    assert not used & set(REMOVED_IN_11)


def test_the_11_fake_really_lacks_the_removed_names() -> None:
    trt = make_tensorrt("11.x", [])
    assert not hasattr(trt.BuilderFlag, "FP16") and not hasattr(trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS")
    assert not hasattr(trt, "IInt8EntropyCalibrator2") and not hasattr(trt.Builder, "platform_has_fast_fp16")
    ten = make_tensorrt("10.x", [])
    assert hasattr(ten.BuilderFlag, "FP16") and hasattr(ten.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
