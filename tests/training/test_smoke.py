"""The smoke run: the whole chain on synthetic scenes learns to flag obstacles of kinds it never saw.

The target AP is for the Lost and Found protocol (obstacles on the road; road and obstacle pixels scored); the
whole-image AP is lower (docs/training.md §5) and only has to beat max-softmax."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anomaly_seg.network import load_checkpoint
from anomaly_seg.segments import MetaClassifier

TARGET_AP = 0.8


def summary(run: Path) -> dict[str, float]:
    return json.loads((run / "smoke.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_smoke_run_writes_the_chain_and_beats_max_softmax(smoke_run_dir: Path) -> None:
    s = summary(smoke_run_dir)
    assert s["protocol"] == "road" and s["test_images"] == 64
    assert s["ap"] > s["max_softmax_ap"], s
    assert s["image_ap"] > s["image_max_softmax_ap"], s
    assert s["image_ap"] <= s["ap"]  # same positives, more negatives (signs, poles, people): AP cannot rise
    metrics = json.loads((smoke_run_dir / "metrics.json").read_text())
    assert metrics["pixel"]["llr"]["ap"] == pytest.approx(s["ap"])
    _, config = load_checkpoint(smoke_run_dir / "model.safetensors")
    assert config.name == "tiny"
    assert MetaClassifier.load(smoke_run_dir / "meta.json").training["segments"] > 0
    assert list((smoke_run_dir / "eval" / "predictions").glob("*.npz"))
    image = json.loads((smoke_run_dir / "eval_image" / "metrics.json").read_text())
    assert image["pixel"]["llr"]["ap"] == pytest.approx(s["image_ap"])
    assert image["pixel"]["llr"]["inlier_px"] > metrics["pixel"]["llr"]["inlier_px"]
    assert image["pixel"]["llr"]["anomaly_px"] == metrics["pixel"]["llr"]["anomaly_px"]


@pytest.mark.slow
def test_smoke_run_reaches_target_ap(smoke_run_dir: Path) -> None:
    assert summary(smoke_run_dir)["ap"] >= TARGET_AP
