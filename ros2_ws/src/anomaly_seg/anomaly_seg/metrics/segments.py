"""Segment-level evaluation of obstacle segments (Chan et al., Table 2 style), streaming over frames.

Rules (METHOD.md, IoU > 0): a predicted segment is a **true positive** if it overlaps at least one ground-truth
anomaly pixel, a **false positive** otherwise; ground-truth objects (8-connected components of anomaly pixels)
not touched by any kept segment are **false negatives**. Void (255) handling: a predicted segment lying entirely
in void is **ignored** (neither TP nor FP); a segment partly in void is judged on its other pixels. One prediction
covering two objects is one TP and hits both objects; an object split into two predictions gives two TPs.
F1 = 2 TP / (2 TP + FP + FN).

**Road miss rate**: share of real road pixels marked anomalous. Road pixels are the ground-truth inlier pixels
(label 0) unless a ``road`` mask is passed. Without the meta classifier "marked" means ``score >= threshold`` (the
published anomaly mask); with it, "marked" means inside a segment the meta classifier keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from anomaly_seg.segments.components import SegmentParams, Segments, extract_segments, pixel_lists
from anomaly_seg.segments.features import segment_features
from anomaly_seg.segments.meta import MetaClassifier

ANOMALY, VOID = 1, 255
#: segment ids are uint16: "no cap" is the largest count they can number
NO_CAP = 65535


def rule_params(params: SegmentParams, protocol: str) -> SegmentParams:
    """Segment parameters under an evaluation ``protocol`` (vocabulary.PROTOCOLS): ``benchmark`` (SMIYC /
    meta-ood) counts every segment (no cap); ``deployed`` keeps the node's cap."""
    if protocol not in ("benchmark", "deployed"):
        raise ValueError(f"protocol must be benchmark or deployed, got {protocol!r}")
    return replace(params, max_segments=NO_CAP) if protocol == "benchmark" else params


def rule_score(score: np.ndarray, gt: np.ndarray, protocol: str) -> np.ndarray:
    """The float32 score segments are formed from: under ``benchmark`` void pixels are set below every threshold
    before components form; under ``deployed`` (the node's rule) segments are formed first and void judged after.
    The evaluation and the meta classifier's training segments both come from here (and :func:`rule_params`), so
    the classifier is trained on the segments it is judged on."""
    score = np.asarray(score, np.float32)
    return np.where(np.asarray(gt) == VOID, np.float32(-np.inf), score) if protocol == "benchmark" else score


@dataclass(frozen=True)
class SegmentCounts:
    """TP / FP / FN segment counts (plus ignored segments and GT objects) of one frame or a dataset."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    ignored: int = 0
    gt_objects: int = 0

    def __add__(self, other: SegmentCounts) -> SegmentCounts:
        return SegmentCounts(
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.ignored + other.ignored,
            self.gt_objects + other.gt_objects,
        )

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 1.0 when there is nothing to find and nothing was predicted."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 1.0

    @property
    def precision(self) -> float:
        """TP / (TP + FP) over counted segments; 1.0 without predictions."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of ground-truth objects hit by a kept segment; 1.0 without objects."""
        return (self.gt_objects - self.fn) / self.gt_objects if self.gt_objects else 1.0


@dataclass(frozen=True)
class SegmentMatch:
    """How one frame's segments meet its ground truth; :meth:`counts` applies any selection of kept segments."""

    true_positive: np.ndarray  # bool [N]: overlaps an anomaly pixel
    ignored: np.ndarray  # bool [N]: lies entirely in void
    gt_objects: int
    hits: np.ndarray  # int64 [K, 2]: (segment index, GT object index) pairs that overlap

    def counts(self, keep: np.ndarray | None = None) -> SegmentCounts:
        """Counts when only the segments where ``keep`` (bool ``[N]``) is true are published."""
        n = self.true_positive.size
        kept = np.ones(n, bool) if keep is None else np.asarray(keep, bool)
        tp = int((kept & self.true_positive).sum())
        ignored = int((kept & self.ignored).sum())
        fp = int(kept.sum()) - tp - ignored
        found = np.unique(self.hits[kept[self.hits[:, 0]], 1]) if self.hits.size else np.zeros(0, np.int64)
        return SegmentCounts(tp, fp, self.gt_objects - found.size, ignored, self.gt_objects)


def match_segments(segments: Segments, gt: np.ndarray) -> SegmentMatch:
    """Match predicted segments against a ground-truth mask (0 inlier, 1 anomaly, 255 void; same size)."""
    gt = np.asarray(gt)
    if gt.shape != segments.shape:
        raise ValueError(f"ground truth shape {gt.shape} does not match segments {segments.shape}")
    n_gt, gt_labels = cv2.connectedComponents((gt == ANOMALY).view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    index = pixel_lists(segments)
    slot = np.repeat(np.arange(segments.count), segments.areas)
    values = gt.ravel()[index]
    anomalous = values == ANOMALY
    true_positive = np.bincount(slot[anomalous], minlength=segments.count) > 0
    ignored = np.bincount(slot[values != VOID], minlength=segments.count) == 0
    obj = gt_labels.ravel()[index[anomalous]].astype(np.int64) - 1
    pairs = np.unique(slot[anomalous].astype(np.int64) * max(n_gt, 1) + obj)
    hits = np.stack([pairs // max(n_gt, 1), pairs % max(n_gt, 1)], axis=1)
    return SegmentMatch(true_positive, ignored, int(n_gt) - 1, hits)


@dataclass(frozen=True)
class SegmentResult:
    """Dataset-level segment metrics at one score threshold, with or without the meta classifier."""

    threshold: float
    meta: bool
    counts: SegmentCounts
    road_marked: int
    road_total: int
    frames: int

    @property
    def road_miss_rate(self) -> float:
        """Share of road pixels marked anomalous (0 when the data holds no road pixel)."""
        return self.road_marked / self.road_total if self.road_total else 0.0


class SegmentMetrics:
    """Streaming segment metrics over a list of thresholds (``update`` per frame, ``compute``, ``reset``).

    ``params`` gives min area, cap and region; its threshold is replaced by each of ``thresholds``. With a
    ``meta`` classifier every threshold is also evaluated with the segments it rejects removed. State is a few
    integers per threshold, whatever the number of frames.
    """

    def __init__(self, thresholds: Sequence[float], params: SegmentParams, meta: MetaClassifier | None = None) -> None:
        if not thresholds:
            raise ValueError("at least one threshold is needed")
        self.params = [replace(params, threshold=float(t)) for t in thresholds]
        self.meta = meta
        self.reset()

    def reset(self) -> None:
        """Forget all frames."""
        variants = 2 if self.meta is not None else 1
        self._counts = [[SegmentCounts() for _ in range(variants)] for _ in self.params]
        self._road = np.zeros((len(self.params), variants), np.int64)
        self._road_total = 0
        self._frames = 0

    def update(
        self,
        score: np.ndarray,
        semantic: np.ndarray,
        gt: np.ndarray,
        uncertainty: np.ndarray | None = None,
        road: np.ndarray | None = None,
    ) -> None:
        """Add one frame: score/semantic/uncertainty as the engine gives them (at the GT size), GT 0/1/255."""
        gt = np.asarray(gt)
        if np.shape(score) != gt.shape:
            raise ValueError(f"score shape {np.shape(score)} does not match ground truth {gt.shape}")
        if self.meta is not None and uncertainty is None:
            raise ValueError("uncertainty is needed to evaluate with the meta classifier")
        road_mask = (gt == 0) if road is None else np.asarray(road, bool)
        road_flat = road_mask.ravel()
        self._road_total += int(road_mask.sum())
        self._frames += 1
        for i, params in enumerate(self.params):
            segments = extract_segments(score, semantic, params)
            match = match_segments(segments, gt)
            self._counts[i][0] += match.counts()
            self._road[i, 0] += int(np.count_nonzero(road_mask & (np.asarray(score) >= params.threshold)))
            if self.meta is not None and uncertainty is not None:
                keep = self.meta.keep(segment_features(segments, score, uncertainty, semantic))
                self._counts[i][1] += match.counts(keep)
                slot = np.repeat(np.arange(segments.count), segments.areas)
                on_road = np.bincount(slot[road_flat[pixel_lists(segments)]], minlength=segments.count)
                self._road[i, 1] += int(on_road[keep].sum())

    def compute(self) -> list[SegmentResult]:
        """One result per threshold (and per meta variant), in threshold order, plain before meta."""
        return [
            SegmentResult(
                params.threshold, bool(v), self._counts[i][v], int(self._road[i, v]), self._road_total, self._frames
            )
            for i, params in enumerate(self.params)
            for v in range(len(self._counts[i]))
        ]
