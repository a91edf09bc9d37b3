"""The suggested anomaly threshold: pixel-F1-optimal on validation, checked against scikit-learn."""

from __future__ import annotations

from pathlib import Path

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


def test_component_threshold_is_the_mean_f1_best_candidate_on_validation(tmp_path: Path) -> None:
    import torch

    from anomaly_seg.metrics.components import ComponentMetrics
    from anomaly_seg.network import ModelConfig, build_model
    from anomaly_seg.network.scores import compute_score
    from anomaly_seg.synthetic import write_fishyscapes_layout
    from training.config import REPO_ROOT
    from training.datasets import FishyscapesLaF
    from training.evaluate import logits_at
    from training.trainers.threshold import component_threshold

    torch.manual_seed(0)
    model = build_model(ModelConfig.from_yaml(REPO_ROOT / "models" / "configs" / "tiny.yaml")).eval()
    h, w = model.input_size
    write_fishyscapes_layout(tmp_path / "val", 3, height=h, width=w, seed=3, n_obstacles=(2, 3))
    data = FishyscapesLaF(tmp_path / "val")
    chosen = component_threshold(model, data, batch_size=2, extra=(0.0,))
    assert set(chosen) == {"component_threshold", "component_mean_f1"}
    frames = []
    for i in range(len(data)):
        sample = data[i]
        class_logits, uem_logits = logits_at(model, torch.from_numpy(sample.image[None]), sample.anomaly.shape)
        frames.append((compute_score("llr", class_logits, uem_logits)[0].numpy().astype(np.float32), sample.anomaly))

    def mean_f1(t: float) -> float:
        m = ComponentMetrics(t)
        for s, g in frames:
            m.update(s, g)
        return float(m.compute()["mean_f1"])

    assert mean_f1(chosen["component_threshold"]) == pytest.approx(chosen["component_mean_f1"])
    valid = np.concatenate([s[g != 255] for s, g in frames])
    for q in (0.8, 0.9, 0.99):
        assert chosen["component_mean_f1"] >= mean_f1(float(np.quantile(valid, q))) - 1e-12
