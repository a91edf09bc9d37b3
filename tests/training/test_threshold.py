"""The suggested anomaly threshold: pixel-F1-optimal on validation, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from anomaly_seg.metrics.pixel import PixelAnomalyMetrics
from training.trainers.threshold import max_f1_operating_point


def test_max_f1_threshold_matches_sklearn_over_streamed_images() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((4, 30, 40)) < 0.1).astype(np.uint8)
    scores = (rng.normal(size=labels.shape) + 1.5 * labels).astype(np.float32)
    labels[:, :2] = 255  # void rows are ignored
    metrics = PixelAnomalyMetrics()
    for s, y in zip(scores, labels):
        metrics.update(s, y)
    point = max_f1_operating_point(metrics)

    valid = labels != 255
    precision, recall, thresholds = precision_recall_curve(labels[valid], scores[valid].astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    best = int(np.nanargmax(f1[:-1]))
    assert point["f1"] == pytest.approx(f1[best])
    assert point["threshold"] == pytest.approx(thresholds[best])
    assert point["precision"] == pytest.approx(precision[best]) and point["recall"] == pytest.approx(recall[best])


def test_perfect_separation_picks_the_lowest_anomaly_score() -> None:
    metrics = PixelAnomalyMetrics()
    metrics.update(np.array([0.1, 0.2, 0.3, 2.0, 3.0], np.float32), np.array([0, 0, 0, 1, 1], np.uint8))
    point = max_f1_operating_point(metrics)
    assert point["f1"] == 1.0 and point["threshold"] == pytest.approx(2.0)


def test_no_anomalous_pixels_gives_no_operating_point() -> None:
    metrics = PixelAnomalyMetrics()
    metrics.update(np.zeros(5, np.float32), np.zeros(5, np.uint8))
    assert max_f1_operating_point(metrics) == {}
