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

import json
import math
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
from anomaly_seg.metrics.pixel import PixelAnomalyMetrics, PixelMetricsResult
from anomaly_seg.metrics.segments import SegmentCounts, match_segments
from anomaly_seg.pipeline.overlay import render_overlay
from anomaly_seg.pipeline.result import Obstacles
from anomaly_seg.segments import SegmentParams, Segments
from anomaly_seg.vocabulary import GT_ANOMALY

SCORE_NAME: Final = "llr"
LATENCY_PERCENTILES: Final = (50, 90, 95, 99)
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


@dataclass
class FrameOutputs:
    """What the node published for one stamp (images at the output size) and its ground truth."""

    stamp_ns: int
    gt: np.ndarray | None = None
    score: np.ndarray | None = None
    semantic: np.ndarray | None = None
    obstacle_ids: np.ndarray | None = None
    overlay_bgr: np.ndarray | None = None
    boxes: np.ndarray | None = None  # float [N, 4] xyxy of the published obstacles
    box_scores: np.ndarray | None = None


class StampMatcher:
    """Groups messages by header stamp; a frame is complete when the ground truth and every ``required`` part arrived.

    At most ``max_pending`` incomplete stamps are held, none older than ``max_pending_ns`` behind the newest
    stamp; evicted ones are counted as ground truth without outputs (the node dropped or rejected the frame) or
    outputs without ground truth.
    """

    def __init__(self, required: set[str], max_pending: int = 64, max_pending_ns: int = 10_000_000_000) -> None:
        self.required = set(required) | {"gt"}
        self.max_pending = max_pending
        self.max_pending_ns = max_pending_ns
        self._pending: dict[int, FrameOutputs] = {}
        self._newest = -(2**63)
        self.gt_without_outputs = 0
        self.outputs_without_gt = 0

    def add(self, part: str, stamp_ns: int, value: Any) -> list[FrameOutputs]:
        """Store ``value`` as ``part`` (a FrameOutputs field) of frame ``stamp_ns``; returns the finished frames."""
        frame = self._pending.setdefault(stamp_ns, FrameOutputs(stamp_ns))
        setattr(frame, part, value)
        done = []
        if all(getattr(frame, name) is not None for name in self.required):
            done.append(self._pending.pop(stamp_ns))
        self._newest = max(self._newest, stamp_ns)
        while self._pending and (
            len(self._pending) > self.max_pending or min(self._pending) < self._newest - self.max_pending_ns
        ):
            self._evict(min(self._pending))
        return done

    def add_boxes(self, stamp_ns: int, boxes: np.ndarray, scores: np.ndarray) -> list[FrameOutputs]:
        """The published Detection2DArray of ``stamp_ns`` (boxes xyxy and meta probabilities)."""
        self._pending.setdefault(stamp_ns, FrameOutputs(stamp_ns)).box_scores = scores
        return self.add("boxes", stamp_ns, boxes)

    def _evict(self, stamp_ns: int) -> None:
        frame = self._pending.pop(stamp_ns)
        if frame.gt is not None:
            self.gt_without_outputs += 1
        else:
            self.outputs_without_gt += 1

    def flush(self) -> None:
        """Count every incomplete frame as unmatched (end of the bag or shutdown)."""
        for stamp in sorted(self._pending):
            self._evict(stamp)

    @property
    def pending(self) -> int:
        """Incomplete frames held now."""
        return len(self._pending)


class EvenSampler:
    """Keeps about ``k`` items spread evenly over a stream of unknown length (bounded: < 2k items held)."""

    def __init__(self, k: int) -> None:
        self.k = max(k, 0)
        self.stride = 1
        self.items: list[tuple[int, Any]] = []

    def wants(self, index: int) -> bool:
        """Whether item ``index`` would be kept (so the caller renders only those)."""
        return self.k > 0 and index % self.stride == 0

    def add(self, index: int, item: Any) -> None:
        """Offer item number ``index`` (0, 1, 2, ... in order)."""
        if not self.wants(index):
            return
        self.items.append((index, item))
        if len(self.items) >= 2 * self.k:
            self.stride *= 2
            self.items = [(i, x) for i, x in self.items if i % self.stride == 0]

    def chosen(self) -> list[Any]:
        """At most ``k`` of the kept items, evenly spaced."""
        if len(self.items) <= self.k:
            return [x for _, x in self.items]
        picks = np.linspace(0, len(self.items) - 1, self.k).round().astype(int)
        return [self.items[i][1] for i in picks]


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


def _finite(value: Any) -> Any:
    """JSON-safe copy: NaN / inf become None."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
        out: dict[str, Any] = {
            "source": self.source,
            "frames": {
                "evaluated": self.frames,
                "ground_truth_without_outputs": matcher.gt_without_outputs if matcher else 0,
                "outputs_without_ground_truth": matcher.outputs_without_gt if matcher else 0,
                "outputs_resized_to_ground_truth": self.resized_frames,
            },
            "score_threshold": self.threshold,
            "pixel": {SCORE_NAME: pixel_row(self._pixel_result())},
            "segments": rows,
            "segment_rules": self._accumulator.rules() if self._accumulator is not None else {},
            "components": self._accumulator.component_rows() if self._accumulator is not None else [],
            "latency_ms": {name: _percentiles(v) for name, v in sorted(self.latency.items())},
            "node": self.node_values,
        }
        finite: dict[str, Any] = _finite(out)
        return finite

    def write_report(self, out_dir: str | Path, matcher: StampMatcher | None = None, title: str = "") -> list[Path]:
        """``metrics.json``, ``report.md``, ``pr.png``, ``roc.png`` and ``contact_sheet.png`` in ``out_dir``."""
        from anomaly_seg.evaluation.plots import save_curves, save_f1_over_tau
        from anomaly_seg.evaluation.report import component_section, markdown_table, pixel_metrics_table

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        metrics = self.metrics(matcher)
        files = [out / "metrics.json"]
        files[0].write_text(json.dumps(metrics, indent=1), encoding="utf-8")
        result = self._pixel_result()
        if self.pixel.num_bins and result.n_positive and result.n_negative:
            files += list(save_curves(out / "pr.png", out / "roc.png", {SCORE_NAME: self.pixel.curves()},
                                      {SCORE_NAME: result}, title))  # fmt: skip
        f1_plot = None
        if metrics["components"]:
            f1_plot = save_f1_over_tau(out / "f1_over_tau.png", metrics["components"], title)
            files.append(f1_plot)
        sheet = self.contact_sheet()
        if sheet is not None:
            cv2.imwrite(str(out / "contact_sheet.png"), sheet)
            files.append(out / "contact_sheet.png")
        frames = metrics["frames"]
        lines = [
            f"# Replay evaluation {title}".rstrip(),
            "",
            f"Source: `{self.source}`. {frames['evaluated']} frames matched by header stamp; "
            f"{frames['ground_truth_without_outputs']} ground-truth frames without node outputs (dropped or "
            f"rejected by the node), {frames['outputs_without_ground_truth']} output frames without ground truth. "
            "Pixel metrics over all non-void pixels of all frames (not averaged per image).",
            "",
            "## Pixel metrics",
            "",
            pixel_metrics_table({SCORE_NAME: result}),
            "## Obstacle segments (score >= threshold)",
            "",
            "`rescored`: 8-connected components of the thresholded score, no meta classifier (as "
            "`python -m training evaluate`). `published`: the segments the node published (after its meta "
            "classifier when `meta` is yes). TP: overlaps a ground-truth obstacle; FN: obstacle hit by no segment.",
            "",
            markdown_table(
                ["segments", "threshold", "meta", "TP", "FP", "FN", "precision", "recall", "F1", "road miss rate %"],
                [
                    [
                        r["source"],
                        f"{r['threshold']:g}",
                        "yes" if r["meta"] else "no",
                        r["tp"],
                        r["fp"],
                        r["fn"],
                        r["precision"],
                        r["recall"],
                        r["f1"],
                        100 * r["road_miss_rate"],
                    ]
                    for r in metrics["segments"]
                ],
                "lrlrrrrrrr",
            ),
        ]
        if metrics["components"]:
            lines += component_section(metrics["components"], metrics["segment_rules"], None)
        if metrics["latency_ms"]:
            rows = [[name, *(stats.get(f"p{q}", 0.0) for q in LATENCY_PERCENTILES), stats.get("max", 0.0)]
                    for name, stats in metrics["latency_ms"].items()]  # fmt: skip
            lines += ["## Latency (ms)", "", markdown_table(["topic", "p50", "p90", "p95", "p99", "max"], rows)]
        if self.node_values:
            keys = ("backend", "network_size", "input_size", "meta_classifier", "frames_in", "frames_processed",
                    "frames_failed", "frames_dropped")  # fmt: skip
            rows = [[k, self.node_values[k]] for k in keys if k in self.node_values]
            lines += ["## Node", "", markdown_table(["key", "value"], rows, "ll")]
        images = [f"![{p.stem}]({p.name})" for p in files if p.suffix == ".png"]
        lines += ["## Figures", "", " ".join(images), ""]
        (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
        files.append(out / "report.md")
        return files

    def contact_sheet(self, columns: int = 3) -> np.ndarray | None:
        """BGR grid of the sampled frames (node overlay + ground-truth outline in green), or None without frames."""
        thumbs = self.sheet.chosen()
        if not thumbs:
            return None
        h = max(t.shape[0] for t in thumbs)
        tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0)) for t in thumbs]
        tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
        rows = [np.concatenate(tiles[i : i + columns], axis=1) for i in range(0, len(tiles), columns)]
        return np.concatenate(rows, axis=0)


#: topic suffix under the node's namespace -> how the evaluator uses it
OUTPUT_SUFFIXES: Final = {
    "output/anomaly_score": "score",
    "output/semantic": "semantic",
    "output/obstacle_ids": "obstacle_ids",
    "output/overlay": "overlay_bgr",
    "output/obstacles": "boxes",
    "output/label_info": "label_info",
    "debug/processing_time_ms": "latency",
    "debug/pipeline_latency_ms": "latency",
}


def required_parts(available_suffixes: set[str]) -> set[str]:
    """Parts a frame needs before it is evaluated, given the node output topics that exist."""
    parts = {"score", "semantic"}
    for suffix in ("output/obstacle_ids", "output/overlay", "output/obstacles"):
        if suffix in available_suffixes:
            parts.add(OUTPUT_SUFFIXES[suffix])
    return parts


def feed(
    matcher: StampMatcher, evaluator: ReplayEvaluator, part: str, msg: Any, suffix: str = ""
) -> list[FrameOutputs]:
    """Route one message (``part`` from :data:`OUTPUT_SUFFIXES`, ``gt`` or ``diagnostics``) into the matcher and
    evaluator; completed frames are evaluated and returned. Shared by the bag evaluator and the live node."""
    from anomaly_seg import messages as rm

    if part == "latency":
        evaluator.add_latency(suffix.rsplit("/", 1)[-1], float(msg.data))
        return []
    if part == "label_info":
        evaluator.set_node_threshold(float(msg.threshold))
        return []
    if part == "diagnostics":
        for status in msg.status:
            evaluator.add_diagnostics({kv.key: kv.value for kv in status.values})
        return []
    stamp = rm.stamp_to_ns(msg.header.stamp)
    if part == "boxes":
        _, boxes, scores = rm.detections_to_arrays(msg)
        done = matcher.add_boxes(stamp, boxes, scores)
    else:
        done = matcher.add(part, stamp, rm.image_to_array(msg))
    for frame in done:
        evaluator.add_frame(frame)
    return done
