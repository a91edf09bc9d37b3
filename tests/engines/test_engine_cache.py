"""Engine cache decisions (pure Python, no TensorRT)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from anomaly_seg.engines.engine_cache import (
    EngineFingerprint,
    Sidecar,
    decide,
    engine_paths,
    read_sidecar,
    sha256_file,
    sidecar_path,
    timing_cache_path,
    write_sidecar,
)
from anomaly_seg.errors import ModelFileError

FP = EngineFingerprint("10.3.0", "Orin", "8.7", "fp16", (518, 1036), 1, "ab" * 32)


def cached_engine(tmp_path: Path, fp: EngineFingerprint = FP) -> Path:
    engine, side = engine_paths(tmp_path / "model.onnx", "fp16")
    engine.write_bytes(b"serialized engine")
    write_sidecar(side, Sidecar(fp, sha256_file(engine), str(tmp_path / "model.onnx")))
    return engine


def test_paths_sit_next_to_the_onnx(tmp_path: Path) -> None:
    engine, side = engine_paths(tmp_path / "m.onnx", "fp32")
    assert engine == tmp_path / "m.fp32.engine"
    assert side == tmp_path / "m.fp32.engine.json" == sidecar_path(engine)
    assert timing_cache_path(tmp_path / "m.onnx") == tmp_path / "m.timing_cache"


def test_matching_engine_is_reused(tmp_path: Path) -> None:
    decision = decide(cached_engine(tmp_path), FP)
    assert not decision.rebuild and decision.reasons == ()
    assert str(decision) == "reuse cached engine"


def test_missing_engine_rebuilds(tmp_path: Path) -> None:
    decision = decide(tmp_path / "none.engine", FP)
    assert decision.rebuild and "no engine" in decision.reasons[0]


def test_force_rebuilds_a_valid_engine(tmp_path: Path) -> None:
    decision = decide(cached_engine(tmp_path), FP, force=True)
    assert decision.rebuild and decision.reasons == ("forced (force_engine_update)",)


def test_missing_and_corrupt_sidecar(tmp_path: Path) -> None:
    engine = cached_engine(tmp_path)
    sidecar_path(engine).write_text("{not json", encoding="utf-8")
    decision = decide(engine, FP)
    assert decision.rebuild and "corrupt engine sidecar" in decision.reasons[0]
    sidecar_path(engine).unlink()
    assert "no sidecar" in decide(engine, FP).reasons[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tensorrt_version": "10.4.0"}, "TensorRT version 10.3.0 -> 10.4.0"),
        ({"gpu_name": "RTX 4090", "compute_capability": "8.9"}, "GPU Orin -> RTX 4090"),
        ({"precision": "fp32"}, "precision fp16 -> fp32"),
        ({"input_size": (518, 518)}, "input size (518, 1036) -> (518, 518)"),
        ({"onnx_sha256": "cd" * 32}, "ONNX hash abababababab -> cdcdcdcdcdcd"),
    ],
)
def test_each_fingerprint_difference_is_a_named_reason(tmp_path: Path, change: dict[str, object], reason: str) -> None:
    decision = decide(cached_engine(tmp_path), replace(FP, **change))  # type: ignore[arg-type]
    assert decision.rebuild
    assert reason in decision.reasons


def test_tampered_engine_is_detected_by_hash(tmp_path: Path) -> None:
    engine = cached_engine(tmp_path)
    engine.write_bytes(b"truncated")
    decision = decide(engine, FP)
    assert decision.rebuild and "does not match the sha256" in decision.reasons[0]


def test_sidecar_roundtrip_and_errors_name_the_file(tmp_path: Path) -> None:
    engine = cached_engine(tmp_path)
    side = read_sidecar(sidecar_path(engine))
    assert side.fingerprint == FP
    with pytest.raises(ModelFileError, match=r"missing\.json"):
        read_sidecar(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"tensorrt_version": "10"}', encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"bad\.json: corrupt engine sidecar"):
        read_sidecar(bad)
