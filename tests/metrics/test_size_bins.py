"""Anomaly metrics by object size against scikit-learn on the same pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from anomaly_seg.evaluation.accumulator import FrameAccumulator
from anomaly_seg.metrics.size_bins import SIZE_BINS, SizeBinnedMetrics, size_table


def _frames(n: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frames with one small (10x10), one medium (40x40) and one large (140x140) obstacle; larger ones score higher."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        gt = np.zeros((300, 400), np.uint8)
        gt[:10] = 255
        score = rng.normal(0.0, 1.0, gt.shape).astype(np.float32)
        for (y, x, s), mean in zip(((20, 20, 10), (60, 60, 40), (120, 200, 140)), (0.8, 2.0, 3.5)):
            gt[y : y + s, x : x + s] = 1
            score[y : y + s, x : x + s] = rng.normal(mean, 1.0, (s, s))
        out.append((score, gt))
    return out


def test_each_bin_weighs_its_objects_against_every_inlier_pixel() -> None:
    frames = _frames()
    m = SizeBinnedMetrics(threshold=1.5)
    for score, gt in frames:
        m.update(score, gt)
    rows = m.rows()
    assert [r["bin"] for r in rows] == [b[0] for b in SIZE_BINS]
    assert [r["objects"] for r in rows] == [6, 6, 0, 6]  # 100 px, 1600 px, none, 19600 px
    lo_hi = {"< 1k px": (0, 1024), "1k-4k px": (1024, 4096), ">= 16k px": (16384, 10**9)}
    for r in rows:
        if r["bin"] not in lo_hi:
            assert r["ap"] is None and r["mean_f1"] is None
            continue
        lo, hi = lo_hi[r["bin"]]
        scores, labels = [], []
        for score, gt in frames:
            _, lab, stats, _ = cv2.connectedComponentsWithStats((gt == 1).astype(np.uint8), connectivity=8)
            area = np.concatenate([[0], stats[1:, cv2.CC_STAT_AREA]])[lab]
            pos = (gt == 1) & (area >= lo) & (area < hi)
            keep = (gt == 0) | pos
            scores.append(score[keep])
            labels.append(pos[keep])
        reference = average_precision_score(np.concatenate(labels), np.concatenate(scores))
        assert r["ap"] == pytest.approx(reference, abs=0.01)
    aps = [r["ap"] for r in rows if r["ap"] is not None]
    assert aps == sorted(aps)  # larger objects score higher here
    assert "## By obstacle size" in size_table(rows)[0]


def test_evaluators_report_size_bins() -> None:
    acc = FrameAccumulator([1.5])
    for score, gt in _frames(2):
        acc.add(score, np.zeros_like(gt), gt)
    rows = acc.size_rows()
    assert sum(r["objects"] for r in rows) == 6 and rows[-1]["ap"] is not None
