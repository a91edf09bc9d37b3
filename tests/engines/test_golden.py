"""Golden inputs, stored reference outputs and the comparison behind selftest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.artifacts.golden import (
    CASES,
    check_against_golden,
    default_golden_dir,
    golden_images,
    iter_golden,
    read_manifest,
    write_golden,
)
from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.errors import ModelFileError


def test_golden_images_are_deterministic_uint8_and_structured() -> None:
    a, b = golden_images((28, 42), batch=2, seed=3), golden_images((28, 42), batch=2, seed=3)
    assert list(a) == list(CASES)
    for case in CASES:
        assert a[case].shape == (2, 28, 42, 3) and a[case].dtype == np.uint8
        np.testing.assert_array_equal(a[case], b[case])
    assert a["constant_extremes"].min() == 0 and a["constant_extremes"].max() == 255
    assert len(np.unique(a["checkerboard"][0, :, :, 0])) == 2


def test_default_golden_dir() -> None:
    assert default_golden_dir("m/model.onnx") == Path("m/model.onnx.golden")
    assert default_golden_dir("m/model.fp16.engine") == Path("m/model.onnx.golden")


def test_write_then_check_passes_and_tampering_is_caught(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    engine = OnnxRuntimeEngine(make_onnx(tmp_path / "m.onnx"))
    directory = write_golden(tmp_path / "golden", engine, golden_images((4, 6)), {"onnx_sha256": "x"})
    manifest = read_manifest(directory)
    assert manifest["cases"] == list(CASES) and manifest["reference_backend"] == engine.name
    results = check_against_golden(engine, directory)
    assert [name for name, _ in results] == list(CASES)
    assert all(c.score_max_abs == 0 and c.semantic_agreement == 1 for _, c in results)

    case = next(iter_golden(directory))
    np.savez_compressed(
        directory / f"{case.name}.npz",
        image=case.image,
        semantic=case.reference.semantic,
        anomaly_score=case.reference.anomaly_score + 1.0,
        uncertainty=case.reference.uncertainty,
    )
    assert check_against_golden(engine, directory)[0][1].score_max_abs == pytest.approx(1.0)


def test_broken_golden_sets_name_the_file(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    engine = OnnxRuntimeEngine(make_onnx(tmp_path / "m.onnx"))
    with pytest.raises(ModelFileError, match=r"manifest\.json"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"cases": ["lost"]}), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"lost\.npz"):
        check_against_golden(engine, tmp_path)
    other = write_golden(
        tmp_path / "other", OnnxRuntimeEngine(make_onnx(tmp_path / "o.onnx", size=(8, 6))), golden_images((8, 6))
    )
    with pytest.raises(ModelFileError, match=r"takes \[1, 4, 6, 3\]"):
        check_against_golden(engine, other)
