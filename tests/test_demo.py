"""``anomaly-seg demo`` end to end on CPU: synthetic scenes -> tiny model -> ONNX -> bag -> replay -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anomaly_seg.bags import message_count
from anomaly_seg.cli import main

pytestmark = pytest.mark.slow

FRAMES = 6


@pytest.fixture(scope="module")
def demo_model_dir(request: pytest.FixtureRequest) -> Path | None:
    """The session's smoke run (``smoke_run_dir`` in tests/conftest.py) when there is one; else the demo trains."""
    try:
        smoke = Path(request.getfixturevalue("smoke_run_dir"))
    except pytest.FixtureLookupError:
        return None
    return smoke


def test_demo_runs_end_to_end(tmp_path: Path, demo_model_dir: Path | None, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo_output"
    args = ["demo", "--out", str(out), "--frames", str(FRAMES), "--test-images", "8", "--no-progress"]
    if demo_model_dir is not None:
        args += ["--model-dir", str(demo_model_dir)]
    assert main(args) == 0
    printed = capsys.readouterr().out

    report = out / "report"
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["frames"]["evaluated"] == FRAMES and metrics["frames"]["ground_truth_without_outputs"] == 0
    assert 0.0 <= metrics["pixel"]["llr"]["ap"] <= 1.0 and metrics["pixel"]["llr"]["anomaly_px"] > 0
    assert {r["source"] for r in metrics["segments"]} == {"rescored", "published"}
    assert metrics["latency_ms"]["processing_time_ms"]["n"] == FRAMES
    for name in ("pr.png", "roc.png", "contact_sheet.png", "report.md"):
        assert (report / name).stat().st_size > 0, name
    replayed = out / "bags" / "lostandfound_replayed"
    frames_in = message_count(out / "bags" / "lostandfound", ["/camera/image_raw"])
    frames_out = message_count(replayed, ["/anomaly_seg/output/anomaly_score"])
    assert frames_in == frames_out == FRAMES
    assert f"frames in: {FRAMES}, processed: {FRAMES}, rejected: 0" in printed
    if demo_model_dir is not None:  # the smoke run's meta classifier carries the operating point
        assert "segments at the operating point chosen on validation" in printed
    assert "says nothing about accuracy on real roads" in printed and str(report / "contact_sheet.png") in printed
    # the synthetic Lost and Found has stereo depth and calibration: the report measures the obstacles' distance
    assert metrics["distance"]["frames"] == FRAMES, metrics["distance"]
    assert "obstacle distance" in printed

    # a second run reuses the cached model (no training, no export)
    assert main(args) == 0
    assert "reusing the model" in capsys.readouterr().out
