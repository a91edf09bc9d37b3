"""``anomaly-seg info``: parameters, shapes and the TFLOP/frame last line."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_seg.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"


def test_info_prints_parts_shapes_and_tflop_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--config", str(CONFIGS / "tiny.yaml"), "--size", "112x224", "--flops"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("backbone") for line in lines)
    assert "output uncertainty: float32 [1, 3, 112, 224]" in lines
    assert lines[-1].startswith("TFLOP/frame: ")
    assert float(lines[-1].split(": ")[1]) > 0


def test_info_sliding_config_on_a_camera_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--config", str(CONFIGS / "paper_vitb14_dd.yaml"), "--size", "1024x2048"]) == 0
    out = capsys.readouterr().out
    assert "sliding window (45 windows)" in out and "output semantic: uint8 [1, 1024, 2048]" in out
