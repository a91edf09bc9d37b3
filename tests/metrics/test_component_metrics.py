"""SMIYC component metrics (sIoU, PPV, F1 over tau, mean F1): worked examples and the definition's literal form.

The module was also checked in a session against the benchmark's own ``default_instancer`` + ``segment_metrics``
+ ``aggregate`` on 300 random frames and three size filters: identical values (not part of the suite: it needs
the fetched benchmark code).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from anomaly_seg.metrics.components import TAUS, ComponentMetrics, component_labels, frame_components


def frame(h: int = 10, w: int = 20) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((h, w), np.uint8), np.zeros((h, w), np.float32)


def test_worked_example_one_prediction_over_two_objects() -> None:
    gt, score = frame()
    gt[2:6, 2:6] = 1  # object A, 16 px
    gt[2:4, 8:10] = 1  # object B, 4 px (2 columns apart: a separate component)
    score[2:6, 2:6] = 1.0
    score[2:4, 6:10] = 1.0  # one prediction of 24 px: A, the 4-px gap, B
    m = ComponentMetrics(threshold=0.5)
    values = m.update(score, gt)
    # sIoU(A) = 16 / (24 + 16 - 16 - 4 px of B) = 0.8; sIoU(B) = 4 / (24 + 4 - 4 - 16 px of A) = 0.5
    assert sorted(values.siou_gt.tolist()) == [0.5, 0.8]
    assert values.ppv_pred.tolist() == pytest.approx([20 / 24])
    assert values.siou_pred.tolist() == pytest.approx([20 / 24])  # 20 / (20 + 24 - 20 - 0)
    out = m.compute()
    assert out["tp"] == [2] * 6 + [1] * 5 and out["fn"] == [0] * 6 + [1] * 5 and out["fp"] == [0] * 11
    assert out["f1"] == pytest.approx([1.0] * 6 + [2 / 3] * 5)
    assert out["mean_f1"] == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert out["siou"] == pytest.approx(0.65) and out["ppv"] == pytest.approx(20 / 24)


def test_void_is_zeroed_before_components_are_formed() -> None:
    gt, score = frame()
    score[2:6, 2:12] = 1.0  # one blob ...
    gt[:, 6] = 255  # ... crossed by a void column: two predicted components, both false positives
    out = ComponentMetrics(0.5)
    out.update(score, gt)
    assert out.compute()["predicted_components"] == 2 and out.compute()["fp"] == [2] * 11
    assert out.compute()["mean_f1"] == 0.0
    gt2, score2 = frame()
    score2[2:6, 2:12] = 1.0
    gt2[2:6, 2:12] = 255  # entirely void: no component at all
    none = ComponentMetrics(0.5)
    none.update(score2, gt2)
    assert none.compute()["predicted_components"] == 0 and np.isnan(none.compute()["ppv"])


def test_threshold_is_strict_and_size_filters_drop_small_segments_and_objects() -> None:
    gt, score = frame(40, 60)
    gt[5:25, 5:25] = 1  # 400 px object
    gt[30:32, 40:44] = 1  # 8 px object: void under obstacle_track (< 10 px), a miss without filter
    score[5:25, 5:25] = 2.0
    score[30:35, 50:58] = 2.0  # 40 px false positive: removed under obstacle_track (< 50 px)
    score[0:2, 0:2] = 0.5  # == threshold: not predicted
    plain, track = ComponentMetrics(0.5, "none"), ComponentMetrics(0.5, "obstacle_track")
    for m in (plain, track):
        m.update(score, gt)
    assert (plain.compute()["gt_components"], plain.compute()["predicted_components"]) == (2, 2)
    assert plain.compute()["fn"][0] == 1 and plain.compute()["fp"][0] == 1
    assert (track.compute()["gt_components"], track.compute()["predicted_components"]) == (1, 1)
    assert track.compute()["mean_f1"] == 1.0 and track.compute()["min_segment_px"] == 50
    with pytest.raises(ValueError, match="size filter"):
        ComponentMetrics(0.5, "tiny")


def literal(score: np.ndarray, gt: np.ndarray, t: float) -> tuple[list[float], list[float]]:
    """sIoU of each ground-truth component and PPV of each prediction, pixel sets taken literally (no filters)."""
    roi = gt != 255
    _, inst = cv2.connectedComponents((gt == 1).astype(np.uint8), connectivity=8)
    _, pred = cv2.connectedComponents(((score > t) & roi).astype(np.uint8), connectivity=8)
    inst, pred = inst[roi], pred[roi]
    siou = []
    for k in np.unique(inst[inst > 0]):
        hit = np.unique(pred[(inst == k) & (pred > 0)])
        covered = np.isin(pred, hit) & (pred > 0)
        inter = np.sum((inst == k) & covered)
        union = np.sum(((inst == k) | covered) & ~((inst > 0) & (inst != k) & covered))
        siou.append(inter / union)
    ppv = []
    for j in np.unique(pred[pred > 0]):
        hit = np.unique(inst[(pred == j) & (inst > 0)])
        ppv.append(np.sum((pred == j) & np.isin(inst, hit) & (inst > 0)) / np.sum(pred == j))
    return sorted(siou), sorted(ppv)


def test_equals_the_definition_on_random_frames() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        gt, _ = frame(int(rng.integers(16, 64)), int(rng.integers(16, 96)))
        for _ in range(int(rng.integers(0, 5))):
            cv2.circle(
                gt,
                (int(rng.integers(0, gt.shape[1])), int(rng.integers(0, gt.shape[0]))),
                int(rng.integers(1, 9)),
                1,
                -1,
            )
        gt[: int(rng.integers(0, 6))] = 255
        score = cv2.GaussianBlur(rng.normal(0, 1, gt.shape).astype(np.float32) + 2.0 * (gt == 1), (5, 5), 0)
        values = frame_components(*component_labels(score, gt, 0.8))
        siou, ppv = literal(score, gt, 0.8)
        np.testing.assert_allclose(sorted(values.siou_gt), siou, rtol=0, atol=1e-12)
        np.testing.assert_allclose(sorted(values.ppv_pred), ppv, rtol=0, atol=1e-12)


def test_streaming_over_frames_equals_the_sum_and_keeps_constant_state() -> None:
    rng = np.random.default_rng(2)
    frames = []
    for _ in range(6):
        gt, _ = frame(32, 48)
        cv2.circle(gt, (int(rng.integers(5, 43)), int(rng.integers(5, 27))), int(rng.integers(2, 6)), 1, -1)
        frames.append((cv2.GaussianBlur(rng.normal(0, 1, gt.shape).astype(np.float32) + 2 * (gt == 1), (3, 3), 0), gt))
    m = ComponentMetrics(0.7)
    for score, gt in frames:
        m.update(score, gt)
    per = [ComponentMetrics(0.7) for _ in frames]
    for p, (score, gt) in zip(per, frames, strict=True):
        p.update(score, gt)
    out = m.compute()
    for key in ("tp", "fn", "fp"):
        assert out[key] == np.sum([p.compute()[key] for p in per], axis=0).tolist()
    n_gt = sum(p.compute()["gt_components"] for p in per)
    assert out["siou"] == pytest.approx(sum(p.compute()["siou"] * p.compute()["gt_components"] for p in per) / n_gt)
    assert m._tp.shape == (len(TAUS),) and out["frames"] == 6
