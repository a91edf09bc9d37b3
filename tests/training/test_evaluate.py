"""Evaluation: every score side by side, AP equal to scikit-learn's on the dumped predictions, report files,
prediction files that fit-meta reads, and sliding-window mode equal to full frame when one window covers the image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from anomaly_seg.evaluation.report import markdown_table
from anomaly_seg.network import AnomalySegmenter, ModelConfig, build_model
from anomaly_seg.network.scores import SCORE_NAMES
from training.config import REPO_ROOT
from training.evaluate import EvalOptions, evaluate, logits_at, score_names
from training.predictions import load_prediction, prediction_files
from training.smoke import heldout_scenes


@pytest.fixture(scope="module")
def model() -> AnomalySegmenter:
    torch.manual_seed(0)
    return build_model(ModelConfig.from_yaml(REPO_ROOT / "models" / "configs" / "tiny.yaml")).eval()


def test_evaluate_writes_all_scores_report_and_predictions(model: AnomalySegmenter, tmp_path: Path) -> None:
    data = heldout_scenes(3, model.input_size)
    report = evaluate(model, data, tmp_path, EvalOptions(dump_predictions=True, overlays=2, progress=False), 0.0)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["pixel"]) == set(score_names(model)) == set(SCORE_NAMES) - {"gmm_density", "outlier_probability"}
    for name in ("metrics.json", "report.md", "pr.png", "roc.png"):
        assert (tmp_path / name).is_file(), name
    assert len(list((tmp_path / "overlays").glob("*.png"))) == 2
    assert "| llr |" in (tmp_path / "report.md").read_text()

    files = prediction_files([tmp_path / "predictions"])
    assert len(files) == 3
    predictions = [load_prediction(f) for f in files]
    scores = np.concatenate([p.anomaly_score.ravel() for p in predictions])
    gt = np.concatenate([p.anomaly_gt.ravel() for p in predictions])
    valid = gt != 255
    expected = average_precision_score(gt[valid], scores[valid])
    assert report.ap("llr") == pytest.approx(expected, rel=1e-6)
    assert metrics["pixel"]["llr"]["anomaly_px"] == int((gt == 1).sum())
    assert metrics["segments"][0]["threshold"] == 0.0


def test_sliding_window_with_one_window_equals_full_frame(model: AnomalySegmenter) -> None:
    images = torch.from_numpy(heldout_scenes(1, model.input_size)[0].image[None])
    size = model.input_size
    full = logits_at(model, images, size, "full")
    sliding = logits_at(model, images, size, "sliding")
    for a, b in zip(full, sliding):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_markdown_table_formats_rows() -> None:
    table = markdown_table(["score", "AP %"], [["llr", 91.234], ["max_softmax", 12.0]])
    assert table.splitlines() == ["| score | AP % |", "|:---|---:|", "| llr | 91.23 |", "| max_softmax | 12.00 |"]


def test_an_interrupted_evaluation_reports_the_images_it_finished(model: AnomalySegmenter, tmp_path: Path) -> None:
    import signal

    data = heldout_scenes(4, model.input_size)
    get = data.__getitem__

    class SignalAtSecond:
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> object:
            if i == 1:
                signal.raise_signal(signal.SIGINT)  # image 1 is still evaluated, image 2 is not started
            return get(i)

    report = evaluate(model, SignalAtSecond(), tmp_path, EvalOptions(progress=False, overlays=0), 0.0)  # type: ignore[arg-type]
    assert report.metrics["frames"]["evaluated"] == 2 and report.metrics["interrupted"] == "interrupted (SIGINT)"
    assert "interrupted (SIGINT) after 2 images" in (tmp_path / "report.md").read_text()


def test_evaluate_meta_protocol_measures_a_given_operating_point(model: AnomalySegmenter, tmp_path: Path) -> None:
    """``evaluate --meta-protocol --meta M``: the cross-validated tables on these frames, and M's operating point
    measured as fitted (never re-chosen on the test frames); without --meta the point is chosen here, labelled so."""
    from anomaly_seg.network.checkpoint import save_checkpoint
    from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier
    from training.__main__ import main

    checkpoint = save_checkpoint(tmp_path / "m.safetensors", model, model.config, {"score_threshold": 0.0})
    n = len(FEATURE_NAMES)
    op = {"threshold": 0.0, "meta_threshold": 0.5}
    meta = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), 1.0, 0.5, operating_point=op).save(
        tmp_path / "meta.json"
    )
    base = ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "synthetic_heldout", "--synthetic-n", "4"]
    base += ["--overlays", "0", "--meta-protocol", "--segment-thresholds", "-1", "0", "1"]
    assert main([*base, "--out", str(tmp_path / "with"), "--meta", str(meta)]) == 0
    doc = json.loads((tmp_path / "with" / "meta_protocol.json").read_text())
    assert [r["threshold"] for r in doc["rows"]] == [-1.0, 0.0, 1.0] and doc["frames"] == 4
    assert doc["operating_point"]["threshold"] == 0.0 and "chosen on validation" in doc["operating_point"]["source"]
    assert "## Meta classification" in (tmp_path / "with" / "report.md").read_text()
    assert main([*base, "--out", str(tmp_path / "without")]) == 0
    alone = json.loads((tmp_path / "without" / "meta_protocol.json").read_text())
    assert "these frames" in alone["operating_point"]["source"] and "optimistic" in alone["note"]
