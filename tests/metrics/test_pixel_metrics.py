"""Streaming pixel metrics against scikit-learn on random and adversarial inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve

from anomaly_seg.metrics.pixel import (
    MeanIoU,
    PixelAnomalyMetrics,
    UndefinedMetricWarning,
    float32_to_key,
    key_to_float32,
)


def sklearn_reference(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    valid = labels != 255
    s = scores[valid].astype(np.float32).astype(np.float64)
    y = labels[valid].astype(int)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return (
        float(average_precision_score(y, s)),
        float(fpr[np.argmax(tpr >= 0.95)]),
        float(roc_auc_score(y, s)),
    )


def streamed(images: list[tuple[np.ndarray, np.ndarray]], **kwargs: int) -> PixelAnomalyMetrics:
    metric = PixelAnomalyMetrics(**kwargs)
    for scores, labels in images:
        metric.update(scores, labels)
    return metric


def split_images(scores: np.ndarray, labels: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(zip(np.array_split(scores, n), np.array_split(labels, n)))


def assert_matches_sklearn(scores: np.ndarray, labels: np.ndarray, n_images: int = 5, tol: float = 1e-6) -> None:
    result = streamed(split_images(scores, labels, n_images)).compute()
    ap, fpr95, auroc = sklearn_reference(scores, labels)
    assert result.ap == pytest.approx(ap, abs=tol)
    assert result.fpr95 == pytest.approx(fpr95, abs=tol)
    assert result.auroc == pytest.approx(auroc, abs=tol)


def test_sortable_key_preserves_order_and_round_trips() -> None:
    values = np.array([-np.inf, -3e38, -1.0, -1e-45, -0.0, 0.0, 1e-45, 1.0, 3e38, np.inf], dtype=np.float32)
    keys = float32_to_key(values)
    assert np.all(np.diff(keys.astype(np.int64)) >= 0)
    assert keys[4] == keys[5]  # -0.0 and 0.0 are the same score
    np.testing.assert_array_equal(key_to_float32(keys)[[0, 1, 2, 3, 6, 7, 8, 9]], values[[0, 1, 2, 3, 6, 7, 8, 9]])


def test_random_scores_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(20_000) < 0.1).astype(np.uint8)
    scores = (rng.normal(size=labels.size) + 1.5 * labels).astype(np.float32)
    assert_matches_sklearn(scores, labels)


def test_heavy_ties_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    labels = (rng.random(10_000) < 0.3).astype(np.uint8)
    scores = rng.integers(0, 4, size=labels.size).astype(np.float32) + labels * rng.integers(0, 2, size=labels.size)
    assert_matches_sklearn(scores, labels)


def test_constant_scores_match_sklearn() -> None:
    labels = np.array([0, 1, 0, 1, 1, 0, 0], dtype=np.uint8)
    assert_matches_sklearn(np.full(labels.size, 0.5, dtype=np.float32), labels, n_images=2)


def test_void_pixels_are_ignored() -> None:
    rng = np.random.default_rng(2)
    labels = rng.choice(np.array([0, 1, 255], dtype=np.uint8), size=5_000, p=[0.6, 0.2, 0.2])
    scores = rng.random(labels.size).astype(np.float32)
    scores[labels == 255] = np.nan  # void scores are never looked at
    result = streamed(split_images(scores, labels, 3)).compute()
    ap, fpr95, auroc = sklearn_reference(np.nan_to_num(scores), labels)
    assert (result.ap, result.fpr95, result.auroc) == pytest.approx((ap, fpr95, auroc), abs=1e-9)
    assert result.n_positive == int((labels == 1).sum())
    assert result.n_negative == int((labels == 0).sum())


@pytest.mark.parametrize("scale", [1e-38, 1e-20, 1e30, 3e37])
def test_huge_and_tiny_magnitudes_match_sklearn(scale: float) -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(4_000) < 0.2).astype(np.uint8)
    scores = ((rng.normal(size=labels.size) + labels) * scale).astype(np.float32)
    assert_matches_sklearn(scores, labels)


def test_narrow_score_range_stays_exact() -> None:
    # Scores that differ only in the last few mantissa bits: a fixed histogram would merge them all.
    rng = np.random.default_rng(4)
    labels = (rng.random(5_000) < 0.5).astype(np.uint8)
    ulps = rng.integers(0, 64, size=labels.size) + 16 * labels
    scores = (np.float32(1.0).view(np.uint32) + ulps.astype(np.uint32)).view(np.float32)
    assert_matches_sklearn(scores, labels)


def test_compaction_keeps_state_bounded_and_accurate() -> None:
    rng = np.random.default_rng(5)
    metric = PixelAnomalyMetrics(max_bins=4096)
    all_scores, all_labels = [], []
    sizes = []
    for _ in range(40):
        labels = (rng.random(2_000) < 0.15).astype(np.uint8)
        scores = (rng.normal(size=labels.size) * 3 + 2.0 * labels).astype(np.float32)
        metric.update(scores, labels)
        sizes.append(metric.state_nbytes)
        all_scores.append(scores)
        all_labels.append(labels)
    assert metric.num_bins <= 4096
    assert max(sizes) <= 4096 * 20
    assert metric.shift > 0
    ap, fpr95, auroc = sklearn_reference(np.concatenate(all_scores), np.concatenate(all_labels))
    result = metric.compute()
    assert result.ap == pytest.approx(ap, abs=1e-3)
    assert result.fpr95 == pytest.approx(fpr95, abs=1e-3)
    assert result.auroc == pytest.approx(auroc, abs=1e-3)


def test_state_does_not_grow_with_number_of_updates() -> None:
    rng = np.random.default_rng(6)
    metric = PixelAnomalyMetrics(max_bins=4096)
    for _ in range(30):
        metric.update(rng.random((32, 64)).astype(np.float32), (rng.random((32, 64)) < 0.1).astype(np.uint8))
    size_after_30 = metric.state_nbytes
    for _ in range(60):
        metric.update(rng.random((32, 64)).astype(np.float32), (rng.random((32, 64)) < 0.1).astype(np.uint8))
    assert metric.state_nbytes <= 4096 * 20
    assert metric.state_nbytes <= size_after_30 * 1.01 + 1


def test_result_is_independent_of_how_pixels_are_split_into_images() -> None:
    rng = np.random.default_rng(7)
    labels = (rng.random(3_000) < 0.25).astype(np.uint8)
    scores = rng.normal(size=labels.size).astype(np.float32)
    one = streamed([(scores, labels)]).compute()
    many = streamed(split_images(scores, labels, 17)).compute()
    assert one == many


def test_no_anomalous_pixels_gives_nan_with_warning() -> None:
    metric = PixelAnomalyMetrics()
    metric.update(np.array([0.1, 0.2], dtype=np.float32), np.array([0, 0], dtype=np.uint8))
    with pytest.warns(UndefinedMetricWarning, match="no anomalous pixels"):
        result = metric.compute()
    assert np.isnan(result.ap) and np.isnan(result.fpr95) and np.isnan(result.auroc)


def test_no_inlier_pixels_gives_ap_one_and_nan_rates() -> None:
    metric = PixelAnomalyMetrics()
    metric.update(np.array([0.1, 0.2, 0.2], dtype=np.float32), np.array([1, 1, 255], dtype=np.uint8))
    with pytest.warns(UndefinedMetricWarning, match="no inlier pixels"):
        result = metric.compute()
    assert result.ap == 1.0
    assert np.isnan(result.fpr95) and np.isnan(result.auroc)


def test_empty_metric_is_nan() -> None:
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(PixelAnomalyMetrics().compute().ap)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_non_finite_scores_are_rejected(bad: float) -> None:
    scores = np.array([0.1, bad, 0.3])
    with pytest.raises(ValueError, match=r"NaN|infinite"):
        PixelAnomalyMetrics().update(scores, np.array([0, 1, 0], dtype=np.uint8))


def test_bad_labels_and_shapes_are_rejected() -> None:
    metric = PixelAnomalyMetrics()
    with pytest.raises(ValueError, match="labels must be"):
        metric.update(np.zeros(3, np.float32), np.array([0, 2, 1], dtype=np.uint8))
    with pytest.raises(ValueError, match="shape"):
        metric.update(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.uint8))


def test_reset_forgets_everything() -> None:
    metric = PixelAnomalyMetrics()
    metric.update(np.array([0.9, 0.1], dtype=np.float32), np.array([1, 0], dtype=np.uint8))
    metric.reset()
    metric.update(np.array([0.1, 0.9], dtype=np.float32), np.array([1, 0], dtype=np.uint8))
    assert metric.compute().auroc == 0.0


def test_curves_are_decimated_and_consistent_with_sklearn() -> None:
    rng = np.random.default_rng(8)
    labels = (rng.random(50_000) < 0.2).astype(np.uint8)
    scores = (rng.normal(size=labels.size) + labels).astype(np.float32)
    metric = streamed([(scores, labels)])
    curves = metric.curves(max_points=500)
    assert curves.fpr.size <= 502
    assert np.all(np.diff(curves.thresholds) < 0)
    assert curves.recall[-1] == 1.0 and curves.fpr[-1] == 1.0
    fpr_ref, tpr_ref, thr_ref = roc_curve(labels, scores.astype(np.float64), drop_intermediate=False)
    # Every kept point lies exactly on sklearn's curve at the same threshold.
    idx = np.searchsorted(-thr_ref, -curves.thresholds.astype(np.float64))
    np.testing.assert_allclose(curves.fpr, fpr_ref[idx])
    np.testing.assert_allclose(curves.tpr, tpr_ref[idx])
    # Decimated AUROC is still close to the exact one.
    auroc_dec = np.trapezoid(np.r_[0.0, curves.tpr], np.r_[0.0, curves.fpr])
    assert auroc_dec == pytest.approx(metric.compute().auroc, abs=2e-3)


def test_threshold_at_tpr() -> None:
    metric = PixelAnomalyMetrics()
    metric.update(np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float32), np.array([1, 0, 1, 1, 1], dtype=np.uint8))
    assert metric.threshold_at_tpr(0.75) == pytest.approx(0.3)
    assert metric.threshold_at_tpr(1.0) == pytest.approx(0.1)


def test_mean_iou_matches_sklearn_confusion_matrix() -> None:
    rng = np.random.default_rng(9)
    k = 5
    target = rng.integers(0, k, size=(4, 16, 16)).astype(np.uint8)
    target[rng.random(target.shape) < 0.1] = 255
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, k, size=target.shape)).astype(np.uint8)
    pred[pred == 255] = 0
    metric = MeanIoU(num_classes=k)
    for p, t in zip(pred, target):
        metric.update(p, t)
    valid = target != 255
    cm = confusion_matrix(target[valid], pred[valid], labels=list(range(k))).astype(np.float64)
    iou = np.diag(cm) / (cm.sum(0) + cm.sum(1) - np.diag(cm))
    result = metric.compute()
    np.testing.assert_array_equal(metric.confusion, cm)
    np.testing.assert_allclose(result.iou, iou)
    assert result.miou == pytest.approx(iou.mean())
    assert result.pixel_accuracy == pytest.approx(np.trace(cm) / cm.sum())


def test_mean_iou_absent_class_is_nan_and_excluded() -> None:
    metric = MeanIoU(num_classes=3)
    metric.update(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 255]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = metric.compute()
    np.testing.assert_allclose(result.iou, [0.5, 0.5, np.nan])
    assert result.miou == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outside"):
        metric.update(np.array([3]), np.array([0]))
