"""The one per-frame accumulation of anomaly metrics behind both evaluators.

``python -m training evaluate`` (dataset predictions) and ``anomaly-seg evaluate`` / the live evaluator node (node
outputs matched to ground truth by stamp) both feed every frame into :class:`FrameAccumulator` and write its
:meth:`~FrameAccumulator.pixel_row` and :meth:`~FrameAccumulator.segment_rows` into ``metrics.json``. Identical
predictions therefore give identical numbers by construction: same dtypes, same update order, same segment
parameters, thresholds and road definition (ground-truth inlier pixels).

Per frame, at the ground-truth resolution: pixel AP / FPR95 / AUROC of the score over all non-void pixels
(:class:`~anomaly_seg.metrics.pixel.PixelAnomalyMetrics`) and the TP / FP / FN counts and road miss rate of the
8-connected components of ``score >= threshold`` at each threshold
(:class:`~anomaly_seg.metrics.segments.SegmentMetrics`, optionally also after a meta classifier).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from anomaly_seg.metrics.pixel import PixelAnomalyMetrics, PixelMetricsResult
from anomaly_seg.metrics.segments import SegmentCounts, SegmentMetrics, SegmentResult
from anomaly_seg.segments import MetaClassifier, SegmentParams

__all__ = ["FrameAccumulator", "as_float32", "pixel_row", "resolve_thresholds", "segment_row"]


def resolve_thresholds(thresholds: Sequence[float] | None, threshold: float | None) -> list[float]:
    """Segment thresholds of a run: ``thresholds`` when given, else ``[threshold]`` (``None``: 0)."""
    if thresholds:
        return [float(t) for t in thresholds]
    return [0.0 if threshold is None else float(threshold)]


def as_float32(threshold: float) -> float:
    """The threshold a float32 score is actually compared with (NumPy compares a float32 array with a Python float
    at float32). The node's LabelInfo carries this value too, so a checkpoint's float64 threshold and the one a
    replayed bag reports are the same number."""
    return float(np.float32(threshold))


def pixel_row(result: PixelMetricsResult) -> dict[str, Any]:
    """``metrics.json`` entry of one score's pixel metrics (NaN where undefined)."""
    return {
        "ap": result.ap,
        "fpr95": result.fpr95,
        "auroc": result.auroc,
        "anomaly_px": result.n_positive,
        "inlier_px": result.n_negative,
    }


def segment_row(threshold: float, meta: bool, source: str, counts: SegmentCounts, miss: float) -> dict[str, Any]:
    """``metrics.json`` entry of segment counts at one threshold (``source``: ``rescored`` or ``published``)."""
    return {
        "threshold": threshold,
        "meta": meta,
        "source": source,
        "tp": counts.tp,
        "fp": counts.fp,
        "fn": counts.fn,
        "ignored": counts.ignored,
        "gt_objects": counts.gt_objects,
        "precision": counts.precision,
        "recall": counts.recall,
        "f1": counts.f1,
        "road_miss_rate": miss,
    }


class FrameAccumulator:
    """Pixel and segment metrics of one anomaly score over a dataset (``add`` per frame; bounded state).

    ``params`` gives min area, cap and region of the segments (its threshold is replaced by each of ``thresholds``,
    rounded to float32; default: :class:`SegmentParams` defaults). With ``meta``, every threshold is also counted
    with the segments the meta classifier rejects removed (``add`` then needs the uncertainty maps).
    """

    def __init__(
        self,
        thresholds: Sequence[float],
        params: SegmentParams | None = None,
        meta: MetaClassifier | None = None,
        max_bins: int = 1 << 18,
    ) -> None:
        if not thresholds:
            raise ValueError("at least one segment threshold is needed")
        self.thresholds = [as_float32(t) for t in thresholds]
        self.params = params if params is not None else SegmentParams(threshold=self.thresholds[0])
        self.pixel = PixelAnomalyMetrics(max_bins)
        self.segments = SegmentMetrics(self.thresholds, self.params, meta)
        self.frames = 0

    def add(
        self, score: np.ndarray, semantic: np.ndarray, gt: np.ndarray, uncertainty: np.ndarray | None = None
    ) -> None:
        """One frame, everything at the ground-truth size: score (compared at float32), semantic trainIds, ground
        truth 0 inlier / 1 anomaly / 255 void, and the ``[3, H, W]`` uncertainty maps (only for the meta classifier).
        """
        gt = np.asarray(gt, np.uint8)
        score = np.asarray(score, np.float32)
        semantic = np.asarray(semantic, np.uint8)
        if score.shape != gt.shape or semantic.shape != gt.shape:
            raise ValueError(
                f"score {score.shape} and semantic {semantic.shape} must have the ground truth's shape {gt.shape}"
            )
        self.pixel.update(score, gt)
        self.segments.update(score, semantic, gt, uncertainty)
        self.frames += 1

    def pixel_result(self) -> PixelMetricsResult:
        """Dataset-level AP, FPR95, AUROC (NaN where undefined, without warnings)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.pixel.compute()

    def segment_results(self) -> list[SegmentResult]:
        """One result per threshold (and meta variant), in threshold order, plain before meta."""
        return self.segments.compute()

    def pixel_row(self) -> dict[str, Any]:
        """:func:`pixel_row` of the accumulated pixel metrics."""
        return pixel_row(self.pixel_result())

    def segment_rows(self, source: str = "rescored") -> list[dict[str, Any]]:
        """:func:`segment_row` of every threshold (and meta variant)."""
        return [segment_row(r.threshold, r.meta, source, r.counts, r.road_miss_rate) for r in self.segment_results()]
