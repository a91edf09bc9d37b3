"""Chan et al.'s meta-classification protocol (training/meta_protocol.py) against scikit-learn and the evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.errors import ModelFileError
from anomaly_seg.evaluation.accumulator import FrameAccumulator
from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier, SegmentParams
from tests.training.segment_frames import segment_frame
from training import meta_protocol as mp
from training.__main__ import main
from training.predictions import Prediction, save_prediction


def _frame(seed: int, h: int = 64, w: int = 96) -> Prediction:
    """Real obstacles (high score, low uncertainty), false blobs (lower score, high uncertainty), a void band."""
    return segment_frame(
        seed, obstacle_score=(1.5, 3.0), blob_score=(1.0, 2.0), blobs=4, blob_size=6, void_blob=False, h=h, w=w
    )


FRAMES = [_frame(i) for i in range(12)]
THRESHOLDS = [0.8, 1.2, 2.0]


@pytest.fixture(scope="module")
def data() -> list[mp.ThresholdSegments]:
    return mp.collect(FRAMES, THRESHOLDS, SegmentParams(threshold=0.0))


def test_plain_counts_equal_the_evaluators(data: list[mp.ThresholdSegments]) -> None:
    acc = FrameAccumulator(THRESHOLDS, SegmentParams(threshold=THRESHOLDS[0]))
    for f in FRAMES:
        acc.add(f.anomaly_score, f.semantic, f.anomaly_gt, f.uncertainty)
    for d, result in zip(data, acc.segment_results()):
        row = d.evaluate()
        assert (row["tp"], row["fp"], row["fn"]) == (result.counts.tp, result.counts.fp, result.counts.fn)
        assert row["road_miss_rate"] == pytest.approx(result.road_miss_rate)


def test_out_of_fold_probabilities_equal_sklearns_grouped_cross_val_predict(data: list[mp.ThresholdSegments]) -> None:
    from sklearn.model_selection import GroupKFold, cross_val_predict

    x, y, g = data[0].samples()
    proba, k = mp.out_of_fold(x, y, g, folds=4)
    reference = cross_val_predict(mp._pipeline(1.0, 0), x, y, groups=g, cv=GroupKFold(4), method="predict_proba")
    assert k == 4
    np.testing.assert_allclose(proba, reference[:, 1], rtol=1e-6, atol=1e-9)
    for train, test in GroupKFold(4).split(x, y, g):  # no frame on both sides
        assert not set(g[train]) & set(g[test])


def test_rows_tables_and_operating_point_rule(data: list[mp.ThresholdSegments]) -> None:
    from sklearn.metrics import roc_auc_score

    result = mp.run_protocol(data, reference_threshold=1.2, folds=4)
    doc = result.document
    assert [r["threshold"] for r in doc["rows"]] == THRESHOLDS and doc["folds"] == 4
    for row, d in zip(doc["rows"], data):
        x, y, _ = d.samples()
        assert row["segments"] == y.size and row["true_segments"] == int(y.sum())
        assert row["msp_auroc"] == pytest.approx(roc_auc_score(y, x[:, FEATURE_NAMES.index("variation_ratio_mean")]))
        assert 0.5 < row["meta_auroc"] <= 1.0  # the uncertainty separates the blobs from the obstacles
        assert row["meta"]["fp"] <= row["baseline"]["fp"]
    # the rule, by brute force over the same grid
    ref_fn = doc["reference"]["fn"]
    candidates = []
    for d in data:
        for m in mp.META_GRID:
            keep = None if m == 0 else [q >= m for q in result.proba[d.threshold]]
            c = d.evaluate(keep)
            if c["fn"] <= ref_fn and c["road_miss_rate"] <= doc["reference"]["road_miss_rate"] + 0.01:
                candidates.append((c["fp"] + c["fn"], -c["f1"], c["fn"], d.threshold, -m))
    best = min(candidates)
    op = doc["operating_point"]
    assert (op["fp"] + op["fn"], op["threshold"], op["meta_threshold"]) == (best[0], best[3], -best[4])
    assert op["fn"] <= ref_fn and op["fp"] + op["fn"] <= doc["reference"]["fp"] + ref_fn


def test_lars_enters_the_most_correlated_feature_first(data: list[mp.ThresholdSegments]) -> None:
    lars = mp.lars_ranking(data[0])
    x, y, _ = data[0].samples()
    keep = x.std(axis=0) > 0
    corr = np.abs([np.corrcoef(col, y)[0, 1] for col in x[:, keep].T])
    names = [n for n, k in zip(FEATURE_NAMES, keep) if k]
    assert lars["features"][0] == names[int(np.nanargmax(corr))]
    assert len(lars["features"]) == len(set(lars["features"])) > 1


def test_fit_meta_protocol_command_writes_the_operating_point_and_evaluation_measures_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "val"
    for i, f in enumerate(FRAMES):
        save_prediction(folder / f"{i:03d}.npz", f)
    out = tmp_path / "model" / "meta.json"
    argv = ["fit-meta", "--predictions", str(folder), "--out", str(out), "--threshold", "1.2", "--folds", "3"]
    assert main([*argv, "--meta-protocol", "--segment-thresholds", *map(str, THRESHOLDS)]) == 0
    meta = MetaClassifier.load(out)
    doc = json.loads((out.parent / "meta_protocol.json").read_text())
    assert (out.parent / "meta_lars.png").stat().st_size > 1000
    assert "## Meta classification" in (out.parent / "meta_protocol.md").read_text()
    assert meta.operating_point is not None and meta.score_threshold == doc["operating_point"]["threshold"]
    assert meta.threshold == doc["operating_point"]["meta_threshold"]
    assert "operating point" in capsys.readouterr().out
    # measured on other frames with the classifier as fitted (no refit)
    test = [_frame(100 + i) for i in range(6)]
    d = mp.collect(test, [meta.score_threshold], SegmentParams(threshold=0.0))
    measured = mp.measure_deployed(d, meta)
    keep = [meta.predict_proba(f.features) >= meta.threshold for f in d[0].frames]
    assert measured["fp"] == d[0].evaluate(keep)["fp"] and "chosen on validation" in measured["source"]


def test_operating_point_in_the_meta_file_is_checked(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((20, len(FEATURE_NAMES)))
    m = MetaClassifier(x.mean(0), x.std(0) + 1, np.zeros(len(FEATURE_NAMES)), 0.0, 0.4)
    doc = m.to_dict()
    assert "operating_point" not in doc and m.score_threshold is None
    doc["operating_point"] = {"threshold": 1.5, "meta_threshold": 0.4}
    assert MetaClassifier.from_dict(doc).score_threshold == 1.5
    for bad in ({"threshold": "x", "meta_threshold": 0.4}, {"threshold": 1.0, "meta_threshold": 2.0}, [1]):
        doc["operating_point"] = bad
        with pytest.raises(ModelFileError, match="operating_point"):
            MetaClassifier.from_dict(doc, source="m.json")
