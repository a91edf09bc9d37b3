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
    meta = MetaClassifier.load(smoke_run_dir / "meta.json")
    assert meta.training["segments"] > 0 and meta.operating_point is not None
    assert list((smoke_run_dir / "eval" / "predictions").glob("*.npz"))
    image = json.loads((smoke_run_dir / "eval_image" / "metrics.json").read_text())
    assert image["pixel"]["llr"]["ap"] == pytest.approx(s["image_ap"])
    assert image["pixel"]["llr"]["inlier_px"] > metrics["pixel"]["llr"]["inlier_px"]
    assert image["pixel"]["llr"]["anomaly_px"] == metrics["pixel"]["llr"]["anomaly_px"]


@pytest.mark.slow
def test_smoke_run_chooses_the_operating_point_on_validation_and_reports_the_protocol(smoke_run_dir: Path) -> None:
    """Chan et al.'s protocol: chosen on the validation scenes by the rule (no more misses than the plain baseline
    at the pixel-F1 threshold), measured on the test frames with the classifier as fitted."""
    val = json.loads((smoke_run_dir / "meta_val" / "meta_protocol.json").read_text())
    test = json.loads((smoke_run_dir / "meta_protocol.json").read_text())
    op, ref = val["operating_point"], val["reference"]
    assert op["fn"] <= ref["fn"] and op["fp"] + op["fn"] <= ref["fp"] + ref["fn"]
    meta = MetaClassifier.load(smoke_run_dir / "meta.json")
    assert meta.operating_point is not None
    assert (meta.score_threshold, meta.threshold) == (op["threshold"], op["meta_threshold"])
    assert test["operating_point"]["threshold"] == op["threshold"] and "validation" in test["operating_point"]["source"]
    assert test["operating_point"]["f1"] > test["reference"]["f1"]  # fewer false positives on unseen frames
    assert len(test["rows"]) >= 10 and test["folds"] == 5 and test["lars"]["features"]
    for row in test["rows"]:
        assert set(row) >= {"threshold", "baseline", "meta", "meta_auroc", "meta_auprc", "msp_auroc", "msp_auprc"}
    assert "## Meta classification" in (smoke_run_dir / "eval" / "report.md").read_text()
    assert (smoke_run_dir / "eval" / "meta_lars.png").is_file()


@pytest.mark.slow
def test_smoke_run_reaches_target_ap(smoke_run_dir: Path) -> None:
    assert summary(smoke_run_dir)["ap"] >= TARGET_AP
