"""Evaluation of the node's outputs against ground truth matched by header stamp (offline bags and live replay).

:class:`StampMatcher` pairs the ground-truth image of a stamp with the node's outputs of the same stamp, holding a
bounded number of incomplete frames. :class:`ReplayEvaluator` accumulates, per matched frame, the dataset-level
pixel metrics (void ignored) and segment metrics of the score re-thresholded without meta classifier through
:class:`~anomaly_seg.evaluation.accumulator.FrameAccumulator` (the accumulation ``python -m training evaluate``
uses, so both give identical numbers on identical predictions), segment counts of the segments the node published
(meta classifier applied when the node ran one), latency percentiles, and a few thumbnails for the contact
sheet. State is bounded whatever the length of the bag (except 8 bytes per frame of latency samples).
``anomaly-seg evaluate`` and the live ``anomaly_seg_eval`` node both feed this class and write the same report.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from anomaly_seg.evaluation.accumulator import (
    FrameAccumulator,
    as_float32,
    pixel_row,
    resolve_thresholds,
    segment_row,
)
from anomaly_seg.evaluation.contact_sheet import EvenSampler, tile
from anomaly_seg.evaluation.distance import DistanceErrors, obstacle_distances
from anomaly_seg.evaluation.matching import FrameOutputs, StampMatcher
from anomaly_seg.evaluation.report import LATENCY_PERCENTILES, metrics_document, write_report
from anomaly_seg.metrics.pixel import PixelAnomalyMetrics, PixelMetricsResult
from anomaly_seg.metrics.segments import SegmentCounts, match_segments
from anomaly_seg.pipeline.overlay import render_overlay
from anomaly_seg.pipeline.result import Obstacles
from anomaly_seg.segments import SegmentParams, Segments
from anomaly_seg.vocabulary import GT_ANOMALY

SCORE_NAME: Final = "llr"
GT_BGR: Final = (0, 255, 0)
THUMB_WIDTH: Final = 384


@dataclass(frozen=True)
class EvalSettings:
    """What the evaluator computes. ``threshold=None``: the node's (from its LabelInfo), else 0.

    ``segment_thresholds``: thresholds the score is re-segmented at (``rescored`` rows); empty: ``threshold``.
    """

    threshold: float | None = None
    segment_thresholds: tuple[float, ...] = ()
    min_area_px: int = 0
    max_segments: int = 64
    region: tuple[int, ...] | None = None
    region_dilation_px: int = 0
    sheet_frames: int = 12
    max_pending: int = 64
    max_pending_ns: int = 10_000_000_000
    #: segment counting rule: benchmark (void zeroed first, every segment counted) or deployed (the node's)
    protocol: str = "benchmark"
    #: size filter of the SMIYC component metrics: none, obstacle_track, anomaly_track
    size_filter: str = "none"


def _fit(array: np.ndarray, shape: tuple[int, int], interpolation: int) -> np.ndarray:
    if array.shape[:2] == shape:
        return array
    return cv2.resize(array, (shape[1], shape[0]), interpolation=interpolation)


def compact_ids(ids: np.ndarray) -> np.ndarray:
    """Renumber a uint16 segment-id image to ``1..N`` (ids can vanish when the node resizes them)."""
    present, inverse = np.unique(ids, return_inverse=True)
    if present.size and present[0] == 0:
        return inverse.reshape(ids.shape).astype(np.uint16)
    return (inverse.reshape(ids.shape) + 1).astype(np.uint16)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = np.asarray(values, np.float64)
    out = {f"p{q}": float(np.percentile(v, q)) for q in LATENCY_PERCENTILES}
    out.update(mean=float(v.mean()), max=float(v.max()), n=float(v.size))
    return out


@dataclass
class _Published:
    counts: SegmentCounts = field(default_factory=SegmentCounts)
    road_marked: int = 0
    frames: int = 0


class ReplayEvaluator:
    """Accumulates metrics over matched frames (``add_frame``) and writes ``metrics.json``, ``report.md``, plots."""

    def __init__(self, settings: EvalSettings | None = None) -> None:
        self.settings = settings or EvalSettings()
        self.threshold: float | None = self.settings.threshold
        self._accumulator: FrameAccumulator | None = None
        self._no_frames = PixelAnomalyMetrics()
        self._published = _Published()
        self._road_total = 0
        self.latency: dict[str, list[float]] = {}
        self.node_values: dict[str, str] = {}
        self.frames = 0
        self.resized_frames = 0
        self.sheet = EvenSampler(self.settings.sheet_frames)
        self.source = ""
        self.distance = DistanceErrors()
        #: why the obstacles' distance is not evaluated ("" when it is or may be)
        self.distance_off = ""
        self.bad_calibration = 0

    @property
    def pixel(self) -> PixelAnomalyMetrics:
        """Pixel metrics of the score over the frames so far."""
        return self._no_frames if self._accumulator is None else self._accumulator.pixel

    # ------------------------------------------------------------------ inputs
    def set_node_threshold(self, threshold: float) -> None:
        """The node's anomaly threshold (from its LabelInfo); used unless the settings fix one."""
        if self.settings.threshold is None and self._accumulator is None:
            self.threshold = float(threshold)

    def add_latency(self, name: str, value_ms: float) -> None:
        """One sample of a debug topic (``processing_time_ms``, ``pipeline_latency_ms``)."""
        self.latency.setdefault(name, []).append(float(value_ms))

    def add_bad_calibration(self, reason: str) -> None:
        """A camera pose that could not be read (counted in the distance section; the frame waits for none)."""
        self.bad_calibration += 1
        self.distance_off = self.distance_off or f"unreadable camera pose: {reason}"

    def add_diagnostics(self, values: Mapping[str, str]) -> None:
        """Key/values of the node's latest DiagnosticStatus (backend, counters, meta classifier...)."""
        self.node_values = dict(values)

    def _frame_accumulator(self) -> FrameAccumulator:
        """Created at the first frame, once the node's threshold (latched LabelInfo) is known."""
        if self._accumulator is None:
            s = self.settings
            self.threshold = as_float32(0.0 if self.threshold is None else self.threshold)
            thresholds = resolve_thresholds(s.segment_thresholds, self.threshold)
            params = SegmentParams(
                threshold=thresholds[0],
                min_area_px=s.min_area_px,
                max_segments=s.max_segments,
                region=s.region,
                region_dilation_px=s.region_dilation_px,
            )
            self._accumulator = FrameAccumulator(thresholds, params, protocol=s.protocol, size_filter=s.size_filter)
        return self._accumulator

    def add_frame(self, frame: FrameOutputs) -> None:
        """One matched frame: pixel and segment metrics at the ground-truth size (outputs resized if needed)."""
        if frame.gt is None or frame.score is None or frame.semantic is None:
            raise ValueError("a frame needs ground truth, score and semantic outputs")
        gt = np.asarray(frame.gt, np.uint8)
        shape = (int(gt.shape[0]), int(gt.shape[1]))
        if frame.score.shape != shape:
            self.resized_frames += 1
        score = _fit(np.asarray(frame.score, np.float32), shape, cv2.INTER_LINEAR)
        semantic = _fit(np.asarray(frame.semantic, np.uint8), shape, cv2.INTER_NEAREST)
        self._frame_accumulator().add(score, semantic, gt)
        road = gt == 0
        self._road_total += int(road.sum())
        published = None
        if frame.obstacle_ids is not None:
            ids = compact_ids(_fit(np.asarray(frame.obstacle_ids, np.uint16), shape, cv2.INTER_NEAREST))
            published = Segments.from_ids(ids)
            match = match_segments(published, gt)
            p = self._published
            p.counts += match.counts()
            p.road_marked += int(np.count_nonzero(road & (ids > 0)))
            p.frames += 1
            if frame.depth is not None and frame.camera is not None and frame.mounting is not None:
                depth = _fit(np.asarray(frame.depth, np.float32), shape, cv2.INTER_NEAREST)
                self.distance.add(*obstacle_distances(ids, gt, depth, frame.camera, frame.mounting))
        if self.sheet.wants(self.frames):
            self.sheet.add(self.frames, self._thumbnail(frame, score, semantic, gt))
        self.frames += 1

    def _thumbnail(self, frame: FrameOutputs, score: np.ndarray, semantic: np.ndarray, gt: np.ndarray) -> np.ndarray:
        shape = gt.shape
        threshold = 0.0 if self.threshold is None else self.threshold
        if frame.overlay_bgr is not None:
            image = _fit(np.asarray(frame.overlay_bgr, np.uint8), shape, cv2.INTER_AREA).copy()
        else:
            boxes = np.zeros((0, 4), np.float32) if frame.boxes is None else np.asarray(frame.boxes, np.float32)
            scores = np.ones(len(boxes), np.float32) if frame.box_scores is None else frame.box_scores
            if frame.score is not None and frame.score.shape != shape and len(boxes):
                sy, sx = shape[0] / frame.score.shape[0], shape[1] / frame.score.shape[1]
                boxes = boxes * np.array([sx, sy, sx, sy], np.float32)
            obstacles = Obstacles(
                np.arange(1, len(boxes) + 1, dtype=np.uint16),
                boxes,
                np.zeros(len(boxes), np.int64),
                np.asarray(scores, np.float32),
                np.ones(len(boxes), bool),
            )
            mask = np.where(score >= threshold, np.uint8(255), np.uint8(0))
            grey = np.full((*shape, 3), 96, np.uint8)
            image = render_overlay(grey, semantic, mask, obstacles, 0.6)
        contours, _ = cv2.findContours((gt == GT_ANOMALY).view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(image, contours, -1, GT_BGR, max(1, round(min(shape) / 250)))
        scale = THUMB_WIDTH / shape[1]
        thumb = cv2.resize(image, (THUMB_WIDTH, max(1, round(shape[0] * scale))), interpolation=cv2.INTER_AREA)
        caption = f"t={frame.stamp_ns / 1e9:.3f} s"
        cv2.putText(thumb, caption, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        return thumb

    # ------------------------------------------------------------------ results
    def _pixel_result(self) -> PixelMetricsResult:
        if self._accumulator is not None:
            return self._accumulator.pixel_result()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._no_frames.compute()

    def metrics(self, matcher: StampMatcher | None = None) -> dict[str, Any]:
        """Everything measured, as a JSON-ready dict (NaN where undefined)."""
        rows: list[dict[str, Any]] = []
        if self._accumulator is not None:
            rows += self._accumulator.segment_rows("rescored")
        if self._published.frames:
            meta = self.node_values.get("meta_classifier", "none") not in ("none", "")
            p = self._published
            miss = p.road_marked / self._road_total if self._road_total else 0.0
            threshold = 0.0 if self.threshold is None else self.threshold
            rows.append(segment_row(threshold, meta, "published", p.counts, miss))
        return metrics_document(
            source=self.source,
            frames=self.frames,
            unmatched={
                "ground_truth_without_outputs": matcher.gt_without_outputs if matcher else 0,
                "outputs_without_ground_truth": matcher.outputs_without_gt if matcher else 0,
                "outputs_resized_to_ground_truth": self.resized_frames,
            },
            score_threshold=self.threshold,
            pixel={SCORE_NAME: pixel_row(self._pixel_result())},
            segments=rows,
            segment_rules=self._accumulator.rules() if self._accumulator is not None else {},
            components=self._accumulator.component_rows() if self._accumulator is not None else [],
            size_bins=self._accumulator.size_rows() if self._accumulator is not None else [],
            latency_ms={name: _percentiles(v) for name, v in sorted(self.latency.items())},
            node=self.node_values,
            extra={"distance": self._distance_summary()},
        )

    def _distance_summary(self) -> dict[str, Any]:
        if self.distance.frames:
            summary = self.distance.summary()
            summary["left_out"]["unreadable_camera_pose"] = self.bad_calibration
            return summary
        if not self.distance_off and self._published.frames == 0:
            return {"off": "the bag has no obstacle_ids from the node"}
        return {"off": self.distance_off or "no frame had stereo depth, camera_info and a camera pose"}

    def write_report(self, out_dir: str | Path, matcher: StampMatcher | None = None, title: str = "") -> list[Path]:
        """The shared report (:func:`~anomaly_seg.evaluation.report.write_report`) with the contact sheet."""
        metrics = self.metrics(matcher)
        frames = metrics["frames"]
        summary = (
            f"Source: `{self.source}`. {frames['evaluated']} frames matched by header stamp; "
            f"{frames['ground_truth_without_outputs']} ground-truth frames without node outputs (dropped or "
            f"rejected by the node), {frames['outputs_without_ground_truth']} output frames without ground truth. "
            "Pixel metrics over all non-void pixels of all frames (not averaged per image)."
        )
        return write_report(
            out_dir,
            metrics,
            kind="Replay evaluation",
            title=title,
            summary=summary,
            pixel_results={SCORE_NAME: self._pixel_result()},
            curves={SCORE_NAME: self.pixel.curves()},
            contact_sheet=self.contact_sheet(),
            distance_pairs=self.distance.all_pairs(),
        )

    def contact_sheet(self, columns: int = 3) -> np.ndarray | None:
        """BGR grid of the sampled frames (node overlay + ground-truth outline in green), or None without frames."""
        return tile(self.sheet.chosen(), columns)
