"""FrameAccumulator: the per-frame accumulation both evaluators share, checked on a hand-made frame."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from anomaly_seg.evaluation.accumulator import FrameAccumulator, resolve_thresholds


def hand_made_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Obstacles A (found) and B (missed), one false alarm on the road, a void strip on top."""
    gt = np.zeros((12, 16), np.uint8)
    gt[:2] = 255
    gt[4:7, 2:5] = 1  # A
    gt[8:11, 10:13] = 1  # B
    score = np.zeros(gt.shape, np.float64)  # float64 in, compared at float32
    score[4:7, 2:5] = 2.0  # A found
    score[8:11, 10:13] = 0.5  # B scores between the thresholds
    score[3, 10:12] = 1.5  # false alarm on the road
    score[0, :4] = 3.0  # a segment entirely in void: ignored (deployed) or never formed (benchmark)
    return score, np.zeros(gt.shape, np.uint8), gt


@pytest.mark.parametrize(("protocol", "ignored"), [("deployed", 1), ("benchmark", 0)])
def test_counts_road_miss_rate_and_ap_of_a_hand_made_frame(protocol: str, ignored: int) -> None:
    score, semantic, gt = hand_made_frame()
    acc = FrameAccumulator([1.0, 0.25], protocol=protocol)
    acc.add(score, semantic, gt)

    high, low = acc.segment_rows()
    assert (high["tp"], high["fp"], high["fn"], high["ignored"], high["gt_objects"]) == (1, 1, 1, ignored, 2)
    assert (low["tp"], low["fp"], low["fn"]) == (2, 1, 0)
    road = int((gt == 0).sum())
    assert high["road_miss_rate"] == pytest.approx(2 / road) and high["source"] == "rescored"
    valid = gt != 255
    px = acc.pixel_row()
    assert px["ap"] == pytest.approx(average_precision_score(gt[valid] == 1, score[valid]), abs=1e-12)
    assert (px["anomaly_px"], px["inlier_px"]) == (18, int(valid.sum()) - 18) and acc.frames == 1


def test_shapes_must_match_and_thresholds_resolve_like_both_clis() -> None:
    score, semantic, gt = hand_made_frame()
    with pytest.raises(ValueError, match="ground truth's shape"):
        FrameAccumulator([0.0]).add(score[:-1], semantic, gt)
    with pytest.raises(ValueError, match="at least one"):
        FrameAccumulator([])
    assert resolve_thresholds(None, None) == [0.0]
    assert resolve_thresholds((), 0.5) == [0.5]
    assert resolve_thresholds([1, 2], 0.5) == [1.0, 2.0]


def test_thresholds_are_the_float32_values_scores_are_compared_with() -> None:
    """0.7 is not a float32; the float32 score 0.69999999 (= float32(0.7)) counts as >= 0.7, as the node sees it."""
    score, semantic, gt = hand_made_frame()
    score[8:11, 10:13] = np.float32(0.7)
    acc = FrameAccumulator([0.7])
    acc.add(score, semantic, gt)
    (row,) = acc.segment_rows()
    assert acc.thresholds == [float(np.float32(0.7))] == [row["threshold"]] and row["threshold"] < 0.7
    assert (row["tp"], row["fn"]) == (2, 0)


def test_benchmark_protocol_splits_at_void_and_counts_every_segment() -> None:
    gt = np.zeros((20, 400), np.uint8)
    gt[:, 10] = 255  # a void column through a road blob
    score = np.zeros(gt.shape, np.float32)
    score[5:9, 5:16] = 2.0  # one blob crossed by the void column
    score[15, 30::4] = 2.0  # 93 one-pixel false alarms: beyond the node's cap of 64
    bench, deployed = FrameAccumulator([1.0]), FrameAccumulator([1.0], protocol="deployed")
    for acc in (bench, deployed):
        acc.add(score, np.zeros(gt.shape, np.uint8), gt)
    assert bench.segment_rows()[0]["fp"] == 2 + 93  # the blob is two segments, every false alarm counted
    assert deployed.segment_rows()[0]["fp"] == 64  # one blob, then the cap: 63 false alarms
    assert bench.rules()["segment_cap"] is None and deployed.rules()["segment_cap"] == 64
    (components,) = bench.component_rows()
    assert components["predicted_components"] == 95 and components["fp"] == [95] * 11
    with pytest.raises(ValueError, match="protocol"):
        FrameAccumulator([1.0], protocol="leaderboard")
