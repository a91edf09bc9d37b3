"""Component-level metrics of SegmentMeIfYouCan (Chan et al., NeurIPS 2021 benchmarks track), streaming over frames.

Definitions follow the benchmark's evaluation code (road-anomaly-benchmark, ``metrics/instance_segmentation.py``:
``default_instancer``, ``segment_metrics``, ``MetricSegment.aggregate``):

* **Components.** Predicted anomaly = ``score > threshold`` (strictly), set to 0 on void *before* labelling;
  predicted components = 8-connected components of that mask, those of fewer than ``min_segment_px`` pixels
  removed. Ground-truth components = 8-connected components of the anomaly pixels (label 1); those of fewer than
  ``min_instance_px`` pixels become void. The region of interest is every non-void pixel after that; all counts
  below are taken over it.
* **sIoU** of a ground-truth component k (Rottmann et al.'s adjusted IoU): with K^ the predicted components that
  intersect k, ``sIoU(k) = |k ∩ K^| / |(k ∪ K^) \\ A(k)|``, where ``A(k)`` are the pixels of *other* ground-truth
  components covered by K^ (they are not counted against k).
* **PPV** of a predicted component k^: ``|k^ ∩ K| / |k^|`` with K the ground-truth components it intersects.
* At each ``tau`` in 0.25, 0.30, ..., 0.75: TP = ground-truth components with sIoU >= tau, FN = those below,
  FP = predicted components with PPV < tau; ``F1(tau) = 2 TP / (2 TP + FN + FP)``, summed over the dataset before
  the ratio. **mean F1** = the average of the 11 F1 values. The reported sIoU and PPV are means over every
  ground-truth (resp. predicted) component of the dataset.

Size filters: ``none`` (0, 0), the benchmark's ``obstacle_track`` (50 px segments, 10 px objects) and
``anomaly_track`` (500, 100). One quirk is kept for exactness: the benchmark's small-object loop also visits label
0, so on an image with fewer than ``min_instance_px`` non-anomaly pixels those pixels become void too.
State is a few counters per threshold: evaluation over any number of frames needs constant memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import cv2
import numpy as np

from anomaly_seg.vocabulary import GT_ANOMALY, GT_VOID

TAUS: Final = tuple(float(t) for t in np.linspace(0.25, 0.75, 11))
"""The benchmark's 11 sIoU / PPV thresholds."""
SIZE_FILTERS: Final[dict[str, tuple[int, int]]] = {
    "none": (0, 0),
    "obstacle_track": (50, 10),
    "anomaly_track": (500, 100),
}
"""Named (min_segment_px, min_instance_px) of the benchmark's configs (``SegEval-ObstacleTrack``,
``SegEval-AnomalyTrack``)."""


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    return int(n) - 1, labels


def _remove_small(labels: np.ndarray, n: int, min_px: int) -> np.ndarray:
    """Boolean per label (0..n): True where the component has fewer than ``min_px`` pixels (label 0 included)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    return sizes < min_px


def component_labels(
    score: np.ndarray, gt: np.ndarray, threshold: float, min_segment_px: int = 0, min_instance_px: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(ground-truth component ids, predicted component ids) over the region of interest, as 1-D arrays.

    ``gt``: 0 inlier, 1 anomaly, 255 void. Ids are 1-based, 0 = none; order is the image's, restricted to the ROI.
    """
    if score.shape != gt.shape:
        raise ValueError(f"score {score.shape} and ground truth {gt.shape} differ in shape")
    void = gt == GT_VOID
    predicted = (score > threshold) & ~void
    n_pred, pred = _components(predicted)
    if min_segment_px > 0 and n_pred:
        small = _remove_small(pred, n_pred, min_segment_px)
        small[0] = False
        pred[small[pred]] = 0
    n_gt, inst = _components(gt == GT_ANOMALY)
    roi = ~void
    if min_instance_px > 0:
        roi &= ~_remove_small(inst, n_gt, min_instance_px)[inst]
    return inst[roi], pred[roi]


@dataclass(frozen=True)
class FrameComponents:
    """Per-component values of one frame (the benchmark's ``segment_metrics`` result)."""

    siou_gt: np.ndarray  # float64 [G]
    siou_pred: np.ndarray  # float64 [P]
    ppv_pred: np.ndarray  # float64 [P]
    size_gt: np.ndarray  # int64 [G]
    size_pred: np.ndarray  # int64 [P]


def _adjusted(
    counts: np.ndarray, own: np.ndarray, other_sizes: np.ndarray, other_background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """sIoU and |k ∩ K| for every row of ``counts`` (rows: components k; columns: the other side's components).

    ``counts[k, j]`` = pixels of k and component j (j = 0: none); ``own[k]`` = |k|; ``other_sizes[j]`` = |j|;
    ``other_background[j]`` = pixels of j outside every component of k's side.
    """
    hit = counts[:, 1:] > 0
    inter = (counts[:, 1:] * hit).sum(axis=1)
    touched = (other_sizes[1:][None, :] * hit).sum(axis=1)
    # pixels of the touched components that lie on *other* components of k's side
    adjustment = ((other_sizes[1:] - other_background[1:])[None, :] * hit).sum(axis=1) - inter
    union = touched + own - inter - adjustment
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0), inter


def frame_components(gt_ids: np.ndarray, pred_ids: np.ndarray) -> FrameComponents:
    """sIoU of every ground-truth component, sIoU and PPV of every predicted one (ids from :func:`component_labels`).

    Components absent from the ROI (all their pixels void) do not exist for the benchmark and are not listed.
    """
    gt_present = np.unique(gt_ids[gt_ids > 0])
    pred_present = np.unique(pred_ids[pred_ids > 0])
    g = np.searchsorted(gt_present, gt_ids) + 1
    g[gt_ids == 0] = 0
    p = np.searchsorted(pred_present, pred_ids) + 1
    p[pred_ids == 0] = 0
    n_g, n_p = len(gt_present), len(pred_present)
    counts = np.bincount(g.astype(np.int64) * (n_p + 1) + p, minlength=(n_g + 1) * (n_p + 1)).reshape(n_g + 1, n_p + 1)
    gt_sizes, pred_sizes = counts.sum(axis=1), counts.sum(axis=0)
    siou_gt, _ = _adjusted(counts[1:], gt_sizes[1:], pred_sizes, counts[0])
    siou_pred, inter_pred = _adjusted(counts.T[1:], pred_sizes[1:], gt_sizes, counts.T[0])
    ppv = inter_pred / np.maximum(pred_sizes[1:], 1)
    return FrameComponents(
        siou_gt.astype(np.float64),
        siou_pred.astype(np.float64),
        ppv.astype(np.float64),
        gt_sizes[1:].astype(np.int64),
        pred_sizes[1:].astype(np.int64),
    )


@dataclass
class ComponentMetrics:
    """Streaming SMIYC component metrics at one score threshold: ``update()`` per frame, ``compute()`` at the end."""

    threshold: float
    size_filter: str = "none"
    taus: tuple[float, ...] = TAUS
    _tp: np.ndarray = field(init=False, repr=False)
    _fn: np.ndarray = field(init=False, repr=False)
    _fp: np.ndarray = field(init=False, repr=False)
    _sums: dict[str, float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size_filter not in SIZE_FILTERS:
            raise ValueError(f"size filter must be one of {'|'.join(SIZE_FILTERS)}, got {self.size_filter!r}")
        self.reset()

    def reset(self) -> None:
        """Forget every frame."""
        n = len(self.taus)
        self._tp, self._fn, self._fp = (np.zeros(n, np.int64) for _ in range(3))
        self._sums = dict.fromkeys(("siou_gt", "n_gt", "siou_pred", "ppv", "n_pred"), 0.0)
        self.frames = 0

    def update(self, score: np.ndarray, gt: np.ndarray) -> FrameComponents:
        """Add one frame (float score, uint8 ground truth 0/1/255); returns its per-component values."""
        min_segment, min_instance = SIZE_FILTERS[self.size_filter]
        gt_ids, pred_ids = component_labels(score, gt, self.threshold, min_segment, min_instance)
        frame = frame_components(gt_ids, pred_ids)
        taus = np.asarray(self.taus)[:, None]
        self._tp += (frame.siou_gt[None, :] >= taus).sum(axis=1)
        self._fn += (frame.siou_gt[None, :] < taus).sum(axis=1)
        self._fp += (frame.ppv_pred[None, :] < taus).sum(axis=1)
        self._sums["siou_gt"] += float(frame.siou_gt.sum())
        self._sums["n_gt"] += len(frame.siou_gt)
        self._sums["siou_pred"] += float(frame.siou_pred.sum())
        self._sums["ppv"] += float(frame.ppv_pred.sum())
        self._sums["n_pred"] += len(frame.ppv_pred)
        self.frames += 1
        return frame

    def compute(self) -> dict[str, Any]:
        """Dataset-level values: ``siou``, ``siou_pred``, ``ppv`` (means over components, NaN when there are none),
        ``f1`` / ``tp`` / ``fn`` / ``fp`` per tau, ``mean_f1``, and the settings."""
        s = self._sums
        denominator = 2 * self._tp + self._fn + self._fp
        f1 = np.where(denominator > 0, 2 * self._tp / np.maximum(denominator, 1), np.nan)

        def mean(total: str, count: str) -> float:
            return s[total] / s[count] if s[count] else float("nan")

        return {
            "threshold": float(self.threshold),
            "size_filter": self.size_filter,
            "min_segment_px": SIZE_FILTERS[self.size_filter][0],
            "min_instance_px": SIZE_FILTERS[self.size_filter][1],
            "frames": self.frames,
            "gt_components": int(s["n_gt"]),
            "predicted_components": int(s["n_pred"]),
            "siou": mean("siou_gt", "n_gt"),
            "siou_pred": mean("siou_pred", "n_pred"),
            "ppv": mean("ppv", "n_pred"),
            "taus": [round(t, 2) for t in self.taus],
            "tp": self._tp.tolist(),
            "fn": self._fn.tolist(),
            "fp": self._fp.tolist(),
            "f1": [float(v) for v in f1],
            "mean_f1": float(np.mean(f1)),
        }
