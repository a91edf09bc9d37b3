"""Streaming pixel metrics over a whole dataset: anomaly AP, FPR95, AUROC, and confusion-matrix mIoU.

``PixelAnomalyMetrics`` keeps, per score value, the number of anomalous and inlier pixels seen so far
(torchmetrics style: ``update`` per image, ``compute`` at the end, ``reset``). Scores are keyed by their
float32 bit pattern mapped to an order-preserving ``uint32``; while the number of distinct keys stays
below ``max_bins`` the counts are exact, so AP/FPR95/AUROC equal scikit-learn's on the float32 scores.
When a dataset has more distinct values than that, the lowest key bit is dropped (adjacent bit patterns
merge, i.e. relative score precision 2^-23, 2^-22, ...) until the state fits again. This keeps memory
bounded whatever the number of images while spending precision only where the data needs it: a narrow
score range stays exact, unlike a fixed histogram; 2^18 bins give a worst case of about 2^-9 relative
precision for scores spread over the whole float range and far finer for realistic score ranges.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from anomaly_seg.vocabulary import GT_ANOMALY, GT_INLIER, GT_VOID

__all__ = [
    "IoUResult",
    "MeanIoU",
    "PixelAnomalyMetrics",
    "PixelCurves",
    "PixelMetricsResult",
    "UndefinedMetricWarning",
    "float32_to_key",
    "key_to_float32",
]

_SIGN = np.uint32(0x80000000)


class UndefinedMetricWarning(RuntimeWarning):
    """A metric is undefined for the data seen (e.g. no anomalous or no inlier pixels); it is reported as NaN."""


def float32_to_key(scores: npt.ArrayLike) -> np.ndarray:
    """Order-preserving map of float32 values to ``uint32`` keys (``a < b`` iff ``key(a) < key(b)``; -0.0 == 0.0)."""
    values = np.asarray(scores, dtype=np.float32) + np.float32(0.0)  # -0.0 + 0.0 == +0.0: one key for zero
    bits = values.view(np.uint32)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def key_to_float32(keys: npt.ArrayLike) -> np.ndarray:
    """Inverse of :func:`float32_to_key`."""
    k = np.asarray(keys, dtype=np.uint32)
    return np.where(k & _SIGN, k ^ _SIGN, ~k).astype(np.uint32).view(np.float32)


@dataclass(frozen=True)
class PixelMetricsResult:
    """Dataset-level pixel metrics; anomaly (label 1) is the positive class. NaN where undefined."""

    ap: float
    fpr95: float
    auroc: float
    n_positive: int
    n_negative: int


@dataclass(frozen=True)
class PixelCurves:
    """Precision-recall and ROC curves, ordered by decreasing threshold, decimated for plotting."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray


def _validate(scores: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores)
    y = np.asarray(labels)
    if s.shape != y.shape:
        raise ValueError(f"scores shape {s.shape} does not match labels shape {y.shape}")
    if not (np.issubdtype(s.dtype, np.floating) or np.issubdtype(s.dtype, np.integer)):
        raise ValueError(f"scores must be a real number array, got dtype {s.dtype}")
    s = s.reshape(-1)
    y = y.reshape(-1)
    bad_labels = (y != GT_INLIER) & (y != GT_ANOMALY) & (y != GT_VOID)
    if bad_labels.any():
        raise ValueError(f"labels must be 0 (inlier), 1 (anomaly) or 255 (void), found {np.unique(y[bad_labels])[:5]}")
    valid = y != GT_VOID
    with np.errstate(over="ignore", invalid="ignore"):
        s32 = s[valid].astype(np.float32)
    if not np.isfinite(s32).all():
        n_nan = int(np.isnan(s32).sum())
        n_inf = int(s32.size - n_nan - np.isfinite(s32).sum())
        raise ValueError(
            f"scores contain {n_nan} NaN and {n_inf} infinite values on non-void pixels "
            "(values beyond the float32 range count as infinite); clip or fix the scores first"
        )
    return s32, y[valid].astype(bool)


def _count_keys(keys: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct keys with their positive and negative counts."""
    lo = int(keys.min())
    span = int(keys.max()) - lo + 1
    if span <= 2 * keys.size + (1 << 16):
        # Dense key range (the usual case once bins are coarse): counting is linear, no sort needed.
        offsets = (keys - np.uint32(lo)).astype(np.intp)
        pos = np.bincount(offsets[positive], minlength=span)
        neg = np.bincount(offsets[~positive], minlength=span)
        present = np.flatnonzero(pos + neg)
        return (present + lo).astype(np.uint32), pos[present].astype(np.int64), neg[present].astype(np.int64)
    tagged = np.sort((keys.astype(np.uint64) << np.uint64(1)) | positive.astype(np.uint64))
    starts = np.flatnonzero(np.concatenate([[True], tagged[1:] != tagged[:-1]]))
    counts = np.diff(np.append(starts, tagged.size)).astype(np.int64)
    distinct = tagged[starts]
    is_pos = (distinct & np.uint64(1)).astype(bool)
    key_of = (distinct >> np.uint64(1)).astype(np.uint32)
    key_starts = np.flatnonzero(np.concatenate([[True], key_of[1:] != key_of[:-1]]))
    pos = np.add.reduceat(np.where(is_pos, counts, 0), key_starts)
    neg = np.add.reduceat(np.where(is_pos, 0, counts), key_starts)
    return key_of[key_starts], pos, neg


def _coarsen(keys: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the lowest key bit and merge the bins that become equal (keys stay sorted, so this is linear)."""
    if keys.size == 0:
        return keys, pos, neg
    shifted = keys >> np.uint32(1)
    starts = np.flatnonzero(np.concatenate([[True], shifted[1:] != shifted[:-1]]))
    return shifted[starts], np.add.reduceat(pos, starts), np.add.reduceat(neg, starts)


def _arc_length_decimate(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points spread evenly along the curve's length (both ends kept)."""
    n = x.size
    if n <= max_points:
        return np.arange(n)
    seg = np.hypot(np.diff(x), np.diff(y))
    length = np.concatenate([[0.0], np.cumsum(seg)])
    if length[-1] <= 0:
        return np.array([0, n - 1])
    targets = np.linspace(0.0, length[-1], max_points)
    idx = np.searchsorted(length, targets, side="left")
    return np.unique(np.clip(np.concatenate([[0], idx, [n - 1]]), 0, n - 1))


class PixelAnomalyMetrics:
    """Streaming AP, FPR95 and AUROC over all non-void pixels of a dataset with bounded memory.

    ``update(scores, labels)`` takes one image (any shape; labels 0 inlier, 1 anomaly, 255 void; higher
    score = more anomalous). NaN and +-inf scores on non-void pixels raise ``ValueError``. Scores are
    compared at float32 precision (the engine's output type).
    """

    def __init__(self, max_bins: int = 1 << 18) -> None:
        if max_bins < 16:
            raise ValueError(f"max_bins must be >= 16, got {max_bins}")
        self.max_bins = int(max_bins)
        self.reset()

    def reset(self) -> None:
        """Forget all updates."""
        self.shift = 0
        self._keys = np.zeros(0, dtype=np.uint32)
        self._pos = np.zeros(0, dtype=np.int64)
        self._neg = np.zeros(0, dtype=np.int64)

    @property
    def state_nbytes(self) -> int:
        """Bytes held by the state (bounded by ``max_bins * 20``)."""
        return int(self._keys.nbytes + self._pos.nbytes + self._neg.nbytes)

    @property
    def num_bins(self) -> int:
        """Number of distinct score bins currently held."""
        return int(self._keys.size)

    def update(self, scores: npt.ArrayLike, labels: npt.ArrayLike) -> None:
        """Add one image (or batch) of per-pixel scores and 0/1/255 labels."""
        s32, positive = _validate(scores, labels)
        if s32.size == 0:
            return
        keys, pos, neg = _count_keys(float32_to_key(s32) >> np.uint32(self.shift), positive)
        while keys.size > self.max_bins:
            self.shift += 1
            keys, pos, neg = _coarsen(keys, pos, neg)
            self._keys, self._pos, self._neg = _coarsen(self._keys, self._pos, self._neg)
        # Both key arrays are sorted and distinct: add to the bins that exist, insert the others (no re-sort of
        # the state, which would make each update O(max_bins log max_bins)).
        idx = np.searchsorted(self._keys, keys)
        found = idx < self._keys.size
        found[found] = self._keys[idx[found]] == keys[found]
        self._pos[idx[found]] += pos[found]
        self._neg[idx[found]] += neg[found]
        if not found.all():
            at, fresh = idx[~found], ~found
            self._keys = np.insert(self._keys, at, keys[fresh])
            self._pos = np.insert(self._pos, at, pos[fresh])
            self._neg = np.insert(self._neg, at, neg[fresh])
        while self._keys.size > self.max_bins:
            self.shift += 1
            self._keys, self._pos, self._neg = _coarsen(self._keys, self._pos, self._neg)

    def _cumulative(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Thresholds (descending), true and false positive counts at ``score >= threshold``."""
        thresholds = key_to_float32(self._keys[::-1].astype(np.uint64) << np.uint64(self.shift))
        # The lower edge of the lowest bin can be a NaN/inf bit pattern when bins are coarse.
        finfo = np.finfo(np.float32)
        thresholds = np.nan_to_num(thresholds, nan=float(finfo.min), posinf=float(finfo.max), neginf=float(finfo.min))
        return thresholds, np.cumsum(self._pos[::-1]), np.cumsum(self._neg[::-1])

    def compute(self) -> PixelMetricsResult:
        """AP (scikit-learn's step-wise average precision), FPR95 (FPR at the first threshold with TPR >= 0.95), AUROC.

        With no anomalous pixels all three are NaN; with no inlier pixels AP is 1 and FPR95/AUROC are NaN;
        an :class:`UndefinedMetricWarning` says which.
        """
        n_pos = int(self._pos.sum())
        n_neg = int(self._neg.sum())
        nan = float("nan")
        if n_pos == 0:
            warnings.warn(
                f"no anomalous pixels among {n_neg} valid pixels: AP, FPR95 and AUROC are undefined (NaN)",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return PixelMetricsResult(nan, nan, nan, n_pos, n_neg)
        _, tps, fps = self._cumulative()
        precision = tps / (tps + fps)
        recall = tps / n_pos
        ap = float(np.sum(np.diff(recall, prepend=0.0) * precision))
        if n_neg == 0:
            warnings.warn(
                f"no inlier pixels among {n_pos} valid pixels: FPR95 and AUROC are undefined (NaN)",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return PixelMetricsResult(ap, nan, nan, n_pos, n_neg)
        tpr = recall
        fpr = fps / n_neg
        fpr95 = float(fpr[np.argmax(tpr >= 0.95)])  # tpr ends at 1, so a hit always exists
        auroc = float(np.trapezoid(np.concatenate([[0.0], tpr]), np.concatenate([[0.0], fpr])))
        return PixelMetricsResult(ap, fpr95, auroc, n_pos, n_neg)

    def threshold_at_tpr(self, tpr: float = 0.95) -> float:
        """Highest score threshold whose true-positive rate reaches ``tpr`` (NaN without anomalous pixels)."""
        n_pos = int(self._pos.sum())
        if n_pos == 0:
            return float("nan")
        thresholds, tps, _ = self._cumulative()
        return float(thresholds[np.argmax(tps / n_pos >= tpr)])

    def curves(self, max_points: int = 2000) -> PixelCurves:
        """PR and ROC curves at every distinct threshold, decimated evenly along the ROC and PR curve lengths."""
        n_pos = int(self._pos.sum())
        n_neg = int(self._neg.sum())
        thresholds, tps, fps = self._cumulative()
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = tps / (tps + fps)
            recall = tps / n_pos if n_pos else np.full(tps.shape, np.nan)
            fpr = fps / n_neg if n_neg else np.full(fps.shape, np.nan)
        half = max(2, max_points // 2)
        keep = np.union1d(_arc_length_decimate(fpr, recall, half), _arc_length_decimate(recall, precision, half))
        return PixelCurves(thresholds[keep], precision[keep], recall[keep], fpr[keep], recall[keep])


@dataclass(frozen=True)
class IoUResult:
    """Per-class IoU (NaN for classes absent from both prediction and ground truth), their mean and pixel accuracy."""

    iou: np.ndarray
    miou: float
    pixel_accuracy: float


class MeanIoU:
    """Streaming confusion matrix for semantic segmentation; ``ignore_index`` pixels of the target are skipped."""

    def __init__(self, num_classes: int = 19, ignore_index: int = GT_VOID) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def reset(self) -> None:
        """Forget all updates."""
        self.confusion[:] = 0

    def update(self, prediction: npt.ArrayLike, target: npt.ArrayLike) -> None:
        """Add one image (or batch): ``confusion[target, prediction] += 1`` over non-ignored pixels."""
        pred = np.asarray(prediction).reshape(-1)
        gt = np.asarray(target).reshape(-1)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction has {pred.size} pixels but target has {gt.size}")
        valid = gt != self.ignore_index
        pred = pred[valid].astype(np.int64)
        gt = gt[valid].astype(np.int64)
        k = self.num_classes
        for name, arr in (("prediction", pred), ("target", gt)):
            if arr.size and (arr.min() < 0 or arr.max() >= k):
                raise ValueError(f"{name} has class ids outside 0..{k - 1} (found {arr.min()}..{arr.max()})")
        self.confusion += np.bincount(gt * k + pred, minlength=k * k).reshape(k, k)

    def compute(self) -> IoUResult:
        """IoU_c = TP / (TP + FP + FN) per class, mIoU = mean over classes present in target or prediction."""
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
        total = self.confusion.sum()
        miou = float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
        accuracy = float(tp.sum() / total) if total else float("nan")
        return IoUResult(iou, miou, accuracy)
