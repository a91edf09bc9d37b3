"""The one per-frame accumulation of anomaly metrics behind both evaluators.

``python -m training evaluate`` (dataset predictions) and ``anomaly-seg evaluate`` / the live evaluator node (node
outputs matched to ground truth by stamp) both feed every frame into :class:`FrameAccumulator` and write its
:meth:`~FrameAccumulator.pixel_row` and :meth:`~FrameAccumulator.segment_rows` into ``metrics.json``. Identical
predictions therefore give identical numbers by construction: same dtypes, same update order, same segment
parameters, thresholds and road definition (ground-truth inlier pixels).

Per frame, at the ground-truth resolution: pixel AP / FPR95 / AUROC of the score over all non-void pixels
(:class:`~anomaly_seg.metrics.pixel.PixelAnomalyMetrics`) and the TP / FP / FN counts and road miss rate of the
8-connected components of ``score >= threshold`` at each threshold
(:class:`~anomaly_seg.metrics.segments.SegmentMetrics`, optionally also after a meta classifier), and the
SegmentMeIfYouCan component metrics (sIoU, PPV, F1 over tau, mean F1:
:class:`~anomaly_seg.metrics.components.ComponentMetrics`) at each threshold.

Rules (``protocol``), stated in every ``metrics.json`` under ``segment_rules``:

* ``benchmark`` (default): as SMIYC and meta-ood, predictions on void pixels are set to 0 before components are
  formed (a blob crossed by a void strip is two segments, an all-void blob none), and every segment is counted
  (no per-frame cap; ids are uint16, so at most 65535 per frame).
* ``deployed``: segments as the node forms them (labelled first, void judged after, the node's cap), to judge
  the node's own output. The component metrics always follow the benchmark (they are defined by it).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from anomaly_seg.metrics.components import SIZE_FILTERS, ComponentMetrics
from anomaly_seg.metrics.pixel import PixelAnomalyMetrics, PixelMetricsResult
from anomaly_seg.metrics.segments import SegmentCounts, SegmentMetrics, SegmentResult, rule_params, rule_score
from anomaly_seg.metrics.size_bins import SizeBinnedMetrics
from anomaly_seg.segments import MetaClassifier, SegmentParams
from anomaly_seg.vocabulary import PROTOCOLS

__all__ = [
    "PROTOCOLS",
    "FrameAccumulator",
    "add_rule_arguments",
    "as_float32",
    "component_summary",
    "pixel_row",
    "resolve_thresholds",
    "segment_row",
]


def add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` and ``--component-size-filter``, the same in ``anomaly-seg evaluate`` and ``python -m training
    evaluate``."""
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="benchmark",
        help="segment counting: benchmark (SMIYC / meta-ood: void zeroed before segments form, every segment "
        "counted) or deployed (the node's own rule and cap)",
    )
    parser.add_argument(
        "--component-size-filter",
        choices=tuple(SIZE_FILTERS),
        default="none",
        help="size filter of the SMIYC component metrics (obstacle_track: 50 px segments / 10 px objects, "
        "anomaly_track: 500 / 100)",
    )


def component_summary(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One console line per threshold: sIoU, PPV, mean F1."""

    def pct(v: Any) -> str:
        return "n/a" if v is None or v != v else f"{100 * v:.2f} %"

    return [
        f"components at {r['threshold']:g} ({r['size_filter']}): sIoU {pct(r['siou'])}, PPV {pct(r['ppv'])}, "
        f"mean F1 {pct(r['mean_f1'])}"
        for r in rows
    ]


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
    rounded to float32; default: :class:`SegmentParams` defaults; the cap applies under ``protocol="deployed"``
    only). With ``meta``, every threshold is also counted with the segments the meta classifier rejects removed
    (``add`` then needs the uncertainty maps). ``size_filter``: of the component metrics (``none``,
    ``obstacle_track``, ``anomaly_track``).
    """

    def __init__(
        self,
        thresholds: Sequence[float],
        params: SegmentParams | None = None,
        meta: MetaClassifier | None = None,
        max_bins: int = 1 << 18,
        *,
        protocol: str = "benchmark",
        size_filter: str = "none",
    ) -> None:
        if not thresholds:
            raise ValueError("at least one segment threshold is needed")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {'|'.join(PROTOCOLS)}, got {protocol!r}")
        self.protocol = protocol
        self.thresholds = [as_float32(t) for t in thresholds]
        params = params if params is not None else SegmentParams(threshold=self.thresholds[0])
        self.params = rule_params(params, protocol)
        self.pixel = PixelAnomalyMetrics(max_bins)
        self.segments = SegmentMetrics(self.thresholds, self.params, meta)
        self.components = [ComponentMetrics(t, size_filter) for t in self.thresholds]
        self.sizes = SizeBinnedMetrics(self.thresholds[0], size_filter)
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
        segment_score = rule_score(score, gt, self.protocol)
        self.segments.update(segment_score, semantic, gt, uncertainty)
        for components in self.components:
            components.update(score, gt)
        self.sizes.update(score, gt)
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

    def size_rows(self) -> list[dict[str, Any]]:
        """Pixel and component metrics by ground-truth object size (:class:`SizeBinnedMetrics`)."""
        return self.sizes.rows()

    def component_rows(self) -> list[dict[str, Any]]:
        """SMIYC component metrics (:meth:`ComponentMetrics.compute`) at every threshold."""
        return [c.compute() for c in self.components]

    def rules(self) -> dict[str, Any]:
        """How segments were formed and counted (``metrics.json`` ``segment_rules``)."""
        benchmark = self.protocol == "benchmark"
        return {
            "protocol": self.protocol,
            "void": "set to 0 before components are formed" if benchmark else "segments formed first, void after",
            "segment_cap": None if benchmark else self.params.max_segments,
            "counted": "every segment" if benchmark else f"the largest {self.params.max_segments} per frame",
            "component_size_filter": self.components[0].size_filter,
            "component_void": "set to 0 before components are formed (always: SMIYC definition)",
        }

    def segment_rows(self, source: str = "rescored") -> list[dict[str, Any]]:
        """:func:`segment_row` of every threshold (and meta variant)."""
        return [segment_row(r.threshold, r.meta, source, r.counts, r.road_miss_rate) for r in self.segment_results()]
