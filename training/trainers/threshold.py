"""The suggested anomaly threshold of a stage-2 model: the LLR threshold that maximises pixel F1 on validation.

The threshold at 95 % TPR (FPR95's operating point) is a detection-rate target for benchmarks; as the default of a
binary mask it flags large inlier areas (most pixels are inliers, so 5 % missed anomaly pixels cost many false
alarms). The F1-optimal threshold balances pixel precision and recall and is what the exported model suggests to
the node and the demo. Both are computed on the validation set (pasted TRAIN-kind outliers), never on test data.
"""

from __future__ import annotations

import math

import numpy as np
from torch.utils.data import DataLoader, Dataset

from anomaly_seg.metrics.pixel import PixelAnomalyMetrics
from anomaly_seg.network import AnomalySegmenter
from anomaly_seg.network.scores import compute_score
from training.datasets.base import Sample, collate_samples


def max_f1_operating_point(metrics: PixelAnomalyMetrics) -> dict[str, float]:
    """``{"threshold", "f1", "precision", "recall"}`` at the threshold (``score >= threshold`` = anomaly) with the
    highest pixel F1 over every distinct score bin; empty without anomalous pixels."""
    curves = metrics.curves(max_points=2 * metrics.num_bins + 4)  # every bin (curves() splits its budget in two)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * curves.precision * curves.recall / (curves.precision + curves.recall)
    if not np.isfinite(f1).any():
        return {}
    i = int(np.nanargmax(f1))
    return {
        "threshold": float(curves.thresholds[i]),
        "f1": float(f1[i]),
        "precision": float(curves.precision[i]),
        "recall": float(curves.recall[i]),
    }


def suggested_threshold(
    model: AnomalySegmenter, dataset: Dataset[Sample], batch_size: int = 4, score: str = "llr"
) -> dict[str, float]:
    """Pixel-F1-optimal ``score`` threshold of ``model`` on ``dataset`` (anomaly targets 0/1/255), as
    ``{"score_threshold", "f1", "f1_precision", "f1_recall"}``; empty when undefined. Leaves the model in eval mode."""
    from training.evaluate import logits_at

    model.eval()
    device = next(model.parameters()).device
    metrics = PixelAnomalyMetrics()
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_samples):
        target = batch["anomaly"]
        class_logits, uem_logits = logits_at(model, batch["image"].to(device), (target.shape[1], target.shape[2]))
        metrics.update(compute_score(score, class_logits, uem_logits).cpu().numpy(), target.numpy())
    point = max_f1_operating_point(metrics)
    if not point or not math.isfinite(point["threshold"]):
        return {}
    return {
        "score_threshold": point["threshold"],
        "f1": point["f1"],
        "f1_precision": point["precision"],
        "f1_recall": point["recall"],
    }


#: score quantiles (of non-void validation pixels) tried as component thresholds
COMPONENT_QUANTILES = (0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)


def component_threshold(
    model: AnomalySegmenter,
    dataset: Dataset[Sample],
    batch_size: int = 4,
    score: str = "llr",
    size_filter: str = "none",
    extra: tuple[float, ...] = (),
) -> dict[str, float]:
    """The ``score`` threshold with the highest SMIYC mean F1 (component level) on ``dataset`` (validation), among the
    score quantiles :data:`COMPONENT_QUANTILES` and ``extra`` candidates; ``{"component_threshold",
    "component_mean_f1"}``, empty without ground-truth components. Two passes: quantiles, then components."""
    from anomaly_seg.metrics.components import ComponentMetrics
    from training.evaluate import logits_at

    model.eval()
    device = next(model.parameters()).device

    def scored() -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_samples):
            target = batch["anomaly"]
            class_logits, uem_logits = logits_at(model, batch["image"].to(device), (target.shape[1], target.shape[2]))
            values = compute_score(score, class_logits, uem_logits).cpu().numpy().astype(np.float32)
            out += [(values[i], target[i].numpy().astype(np.uint8)) for i in range(values.shape[0])]
        return out

    frames = scored()
    valid = np.concatenate([s[g != 255] for s, g in frames]) if frames else np.zeros(0, np.float32)
    if valid.size == 0:
        return {}
    candidates = sorted({*np.quantile(valid, COMPONENT_QUANTILES).astype(float).tolist(), *map(float, extra)})
    metrics = [ComponentMetrics(t, size_filter) for t in candidates]
    for s, g in frames:
        for m in metrics:
            m.update(s, g)
    results = [m.compute() for m in metrics]
    if not results[0]["gt_components"]:
        return {}
    best = max(results, key=lambda r: r["mean_f1"])
    return {"component_threshold": float(best["threshold"]), "component_mean_f1": float(best["mean_f1"])}
