"""check-onnx building blocks: structure, activation ranges against numpy, fp16 verdicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx

from anomaly_seg.artifacts.onnx_checks import activation_ranges, fp16_checks, structure_checks, tensorrt_checks


def test_structure_of_the_exported_toy_passes(toy_onnx: Path) -> None:
    rows = {r.check: r for r in structure_checks(toy_onnx)}
    assert all(r.status == "PASS" for r in rows.values()), rows
    assert "LayerNormalization" in rows["opset"].detail


def test_structure_flags_a_contract_violation(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    path = make_onnx(tmp_path / "m.onnx", output_names=("labels", "anomaly_score", "uncertainty"))
    rows = {r.check: r for r in structure_checks(path)}
    assert rows["I/O contract"].status == "FAIL" and "missing output semantic" in rows["I/O contract"].detail


def test_structure_flags_dynamic_shapes(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    path = make_onnx(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "height"
    onnx.save(model, str(path))
    rows = {r.check: r for r in structure_checks(path)}
    assert rows["static shapes"].status == "FAIL"


def test_activation_ranges_match_numpy(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    path = make_onnx(tmp_path / "m.onnx", scale=3.0)
    images = [np.random.default_rng(i).integers(0, 256, (1, 4, 6, 3), dtype=np.uint8) for i in range(2)]
    # a budget of one tensor per probe run exercises the grouping
    stats = {s.name: s for s in activation_ranges(path, images, budget_bytes=1)}
    x = np.stack(images).astype(np.float64) * 3.0
    assert stats["x"].max_abs == x.max() and stats["x"].op_type == "Mul" and stats["x"].node == "scale_mul"
    assert np.isclose(stats["m"].max_abs, x.mean(-1).max())
    assert np.isclose(stats["anomaly_score"].max_abs, x.mean(-1).max())  # float graph outputs are included
    assert all(s.non_finite == 0 for s in stats.values())


def test_fp16_check_flags_overflow_and_large_layernorm_inputs(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    image = np.full((1, 4, 6, 3), 255, np.uint8)
    ok_rows, flagged = fp16_checks(make_onnx(tmp_path / "ok.onnx", scale=1.0), [image])
    assert [r.status for r in ok_rows] == ["PASS", "PASS", "PASS"] and flagged == []
    rows, flagged = fp16_checks(make_onnx(tmp_path / "big.onnx", scale=1000.0), [image])
    status = {r.check: r.status for r in rows}
    assert status["fp16 range (|x| <= 65504)"] == "FAIL"
    assert status["LayerNorm inputs (|x| <= 256)"] == "WARN"
    assert flagged[0].name in ("x", "m") and flagged[0].max_abs == 255000.0
    ln_row = next(r for r in rows if r.check.startswith("LayerNorm"))
    assert "x=2.55e+05" in ln_row.detail


def test_fp16_check_reports_nan(tmp_path: Path, make_onnx: Callable[..., Path]) -> None:
    rows, flagged = fp16_checks(make_onnx(tmp_path / "nan.onnx", nan_score=True), [np.zeros((1, 4, 6, 3), np.uint8)])
    assert rows[0].status == "FAIL" and "first nan" in rows[0].detail
    assert [(s.name, s.non_finite) for s in flagged if s.non_finite] == [("anomaly_score", 24)]


def test_tensorrt_rows_per_target(toy_onnx: Path) -> None:
    rows = tensorrt_checks(toy_onnx, ("8.6", "10.x"))
    assert [(r.check, r.status) for r in rows] == [("TensorRT 8.6 ops", "FAIL"), ("TensorRT 10.x ops", "PASS")]
    assert "opset 18 > 17" in rows[0].detail
