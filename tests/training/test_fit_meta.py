"""Tests of training/fit_meta.py and ``python -m training fit-meta`` on hand-built prediction files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.errors import DatasetError
from anomaly_seg.segments import MetaClassifier, SegmentParams
from tests.training.segment_frames import segment_frame
from training.__main__ import main
from training.fit_meta import collect_samples
from training.predictions import Prediction, load_prediction, save_prediction


def _frame(seed: int, h: int = 64, w: int = 96) -> Prediction:
    """Two real obstacles with a high score and a few false blobs just above the threshold, one in void."""
    return segment_frame(seed, h=h, w=w)


def test_samples_label_segments_and_follow_the_evaluations_void_rule(tmp_path: Path) -> None:
    path = save_prediction(tmp_path / "f0.npz", _frame(0))
    frame = load_prediction(path)
    # benchmark rule (evaluate's default): void is zeroed before segments form, so the blob in void is no segment
    samples = collect_samples([frame], SegmentParams(threshold=1.0))
    assert samples.ignored == 0 and samples.frames == 1
    assert samples.labels.sum() == 2 and samples.labels.size >= 3
    # the node's rule: the blob is a segment, judged after and ignored (all void); the counted ones are the same
    deployed = collect_samples([frame], SegmentParams(threshold=1.0), protocol="deployed")
    assert deployed.ignored == 1
    assert deployed.labels.size == samples.labels.size and deployed.labels.sum() == 2


def test_fit_meta_segments_are_the_ones_evaluate_counts(tmp_path: Path) -> None:
    """The training segments of fit-meta and the evaluation's SegmentMetrics agree segment for segment."""
    from anomaly_seg.evaluation.accumulator import FrameAccumulator

    frames = [_frame(i) for i in range(4)]
    # a void strip through a real obstacle: two segments under the benchmark rule, one under the node's
    frames[0].anomaly_gt[30:32, :] = 255
    frames[0].anomaly_score[24:40, 40:50] = 5.0
    frames[0].anomaly_gt[24:30, 40:50] = 1
    frames[0].anomaly_gt[32:40, 40:50] = 1
    for protocol in ("benchmark", "deployed"):
        samples = collect_samples(frames, SegmentParams(threshold=1.0), protocol=protocol)
        acc = FrameAccumulator([1.0], SegmentParams(threshold=1.0), protocol=protocol)
        for f in frames:
            acc.add(f.anomaly_score, f.semantic, f.anomaly_gt, f.uncertainty)
        counts = acc.segment_results()[0].counts
        assert (counts.tp, counts.fp) == (int(samples.labels.sum()), int(samples.labels.size - samples.labels.sum()))


def test_fit_meta_command_writes_a_valid_json_with_cv_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pred"
    for i in range(12):
        save_prediction(folder / f"{i:03d}.npz", _frame(i))
    out = tmp_path / "meta.json"
    assert (
        main(["fit-meta", "--predictions", str(folder), "--out", str(out), "--threshold", "1.0", "--folds", "3"]) == 0
    )
    meta = MetaClassifier.load(out)
    cv = meta.training["cross_validation"]
    assert cv["folds"] == 3 and cv["auroc"] > 0.9 and cv["accuracy"] > 0.8 and 0 < cv["auprc"] <= 1
    assert meta.training["segment_params"]["threshold"] == 1.0
    assert "wrote" in capsys.readouterr().out.splitlines()[-1]
    doc = json.loads(out.read_text())
    assert doc["format"] == "anomaly_seg.meta_classifier" and len(doc["coef"]) == len(doc["feature_names"])


def test_bad_prediction_files_name_the_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = _frame(0)
    bad = tmp_path / "bad.npz"
    np.savez(bad, semantic=frame.semantic, anomaly_score=frame.anomaly_score, anomaly_gt=frame.anomaly_gt)
    with pytest.raises(DatasetError, match="uncertainty"):
        load_prediction(bad)
    np.savez(bad, semantic=frame.semantic, anomaly_score=frame.anomaly_score[:-1], uncertainty=frame.uncertainty,
             anomaly_gt=frame.anomaly_gt)  # fmt: skip
    with pytest.raises(DatasetError, match="anomaly_score must have shape"):
        load_prediction(bad)
    assert main(["fit-meta", "--predictions", str(tmp_path / "absent"), "--out", str(tmp_path / "m.json")]) == 2
    assert "absent" in capsys.readouterr().err


def test_single_class_is_refused(tmp_path: Path) -> None:
    path = save_prediction(tmp_path / "f.npz", _frame(1))
    code = main(["fit-meta", "--predictions", str(path), "--out", str(tmp_path / "m.json"), "--threshold", "3.5"])
    assert code == 2 and not (tmp_path / "m.json").exists()
