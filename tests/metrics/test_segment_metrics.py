"""Tests of anomaly_seg/metrics/segments.py with hand-made frames (IoU > 0 rule, void, road miss rate, meta)."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_seg.evaluation.accumulator import segment_row
from anomaly_seg.evaluation.report import segment_table
from anomaly_seg.metrics.segments import SegmentCounts, SegmentMetrics, match_segments
from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier, SegmentParams, Segments, extract_segments


def _counts(ids: np.ndarray, gt: np.ndarray) -> SegmentCounts:
    return match_segments(Segments.from_ids(ids.astype(np.uint16)), gt.astype(np.uint8)).counts()


def test_gt_object_split_in_two_predictions_gives_two_true_positives() -> None:
    gt = np.zeros((10, 10))
    gt[2:8, 2:8] = 1
    ids = np.zeros((10, 10))
    ids[2:8, 2:4] = 1
    ids[2:8, 6:8] = 2
    assert _counts(ids, gt) == SegmentCounts(tp=2, fp=0, fn=0, ignored=0, gt_objects=1)


def test_one_prediction_covering_two_objects_hits_both() -> None:
    gt = np.zeros((10, 10))
    gt[2:4, 2:4] = 1
    gt[6:8, 6:8] = 1
    ids = np.zeros((10, 10))
    ids[1:9, 1:9] = 1
    assert _counts(ids, gt) == SegmentCounts(tp=1, fp=0, fn=0, ignored=0, gt_objects=2)


def test_false_positive_false_negative_and_touching_segments() -> None:
    gt = np.zeros((10, 12))
    gt[1:3, 1:3] = 1
    gt[7:9, 9:11] = 1
    ids = np.zeros((10, 12))
    ids[1:3, 3:6] = 1  # touches the first object's border but does not overlap it: FP
    ids[1:3, 6:8] = 2  # touches segment 1: separate FP
    ids[2, 2] = 3  # one pixel on the first object: TP
    counts = _counts(ids, gt)
    assert counts == SegmentCounts(tp=1, fp=2, fn=1, ignored=0, gt_objects=2)
    assert counts.f1 == pytest.approx(2 / (2 + 2 + 1))


def test_void_segments_are_ignored_and_partly_void_segments_judged_on_the_rest() -> None:
    gt = np.zeros((10, 10))
    gt[:, 7:] = 255
    gt[1:3, 1:3] = 1
    ids = np.zeros((10, 10))
    ids[5:7, 8:10] = 1  # entirely in void: ignored
    ids[8:10, 5:9] = 2  # partly void, rest inlier: FP
    ids[2:4, 2:4] = 3  # overlaps the object: TP
    assert _counts(ids, gt) == SegmentCounts(tp=1, fp=1, fn=0, ignored=1, gt_objects=1)


def test_empty_frames() -> None:
    assert _counts(np.zeros((5, 5)), np.zeros((5, 5))) == SegmentCounts()
    assert SegmentCounts().f1 == 1.0
    gt = np.zeros((5, 5))
    gt[1, 1] = 1
    assert _counts(np.zeros((5, 5)), gt) == SegmentCounts(fn=1, gt_objects=1)
    assert SegmentCounts(fn=1, gt_objects=1).f1 == 0.0


def test_gt_objects_are_8_connected() -> None:
    gt = np.zeros((6, 6))
    gt[1, 1] = gt[2, 2] = 1
    ids = np.zeros((6, 6))
    ids[1, 1] = 1
    assert _counts(ids, gt) == SegmentCounts(tp=1, gt_objects=1)


class _KeepLeft(MetaClassifier):
    """Keeps segments whose centroid is in the left half (a stand-in with a known decision)."""

    def __init__(self) -> None:
        coef = np.zeros(len(FEATURE_NAMES))
        coef[FEATURE_NAMES.index("centroid_x")] = -100.0
        super().__init__(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), coef, 50.0)


def test_streaming_metrics_over_thresholds_with_and_without_meta() -> None:
    score = np.zeros((10, 20), np.float32)
    score[2:4, 2:4] = 2.0  # TP on the left
    score[6:8, 14:16] = 1.0  # FP on the right, only above the low threshold
    gt = np.zeros((10, 20), np.uint8)
    gt[2:4, 2:4] = 1
    gt[0, :] = 255
    semantic = np.zeros((10, 20), np.uint8)
    uncertainty = np.zeros((3, 10, 20), np.float32)
    metrics = SegmentMetrics([0.5, 1.5], SegmentParams(threshold=0.0), meta=_KeepLeft())
    for _ in range(2):
        metrics.update(score, semantic, gt, uncertainty)
    low, low_meta, high, high_meta = metrics.compute()
    road = 2 * (200 - 20 - 4)
    assert (low.counts.tp, low.counts.fp, low.counts.fn, low.frames) == (2, 2, 0, 2)
    assert low.road_marked == 2 * 4 and low.road_total == road
    assert (low_meta.counts.tp, low_meta.counts.fp) == (2, 0) and low_meta.road_marked == 0
    assert (high.counts.tp, high.counts.fp, high.road_marked) == (2, 0, 0)
    assert high_meta.meta and high_meta.counts == high.counts
    rows = [segment_row(r.threshold, r.meta, "rescored", r.counts, r.road_miss_rate) for r in metrics.compute()]
    table = segment_table(rows)  # the report's table of these results
    assert table.count("\n") == 6 and "| 0.5 | yes | 2 | 0 | 0 |" in table
    metrics.reset()
    assert metrics.compute()[0].frames == 0


def test_matches_a_per_segment_reference_on_random_frames() -> None:
    rng = np.random.default_rng(0)
    import cv2

    for seed in range(3):
        score = cv2.GaussianBlur(rng.standard_normal((60, 80)).astype(np.float32), (0, 0), 2)
        gt = (cv2.GaussianBlur(rng.standard_normal((60, 80)).astype(np.float32), (0, 0), 3) > 0.2).astype(np.uint8)
        gt[rng.random((60, 80)) < 0.05] = 255
        seg = extract_segments(score, None, SegmentParams(threshold=0.1 + seed * 0.05))
        counts = match_segments(seg, gt).counts()
        n_gt, gt_lab = cv2.connectedComponents((gt == 1).astype(np.uint8), connectivity=8)
        tp = fp = ign = 0
        hit: set[int] = set()
        for i in range(1, seg.count + 1):
            m = seg.ids == i
            if (gt[m] == 1).any():
                tp += 1
                hit |= set(gt_lab[m & (gt == 1)].tolist())
            elif (gt[m] == 255).all():
                ign += 1
            else:
                fp += 1
        assert counts == SegmentCounts(tp, fp, n_gt - 1 - len(hit), ign, n_gt - 1)
