"""Per-segment features for the meta classifier (Chan et al., MetaSeg), vectorised over all segments.

The list and the definitions are documented in ``docs/segments.md``; :data:`FEATURE_NAMES` is the column order.
Work is limited to the segment pixels and to the bounding box of all segments grown by the ring width, so the
cost follows the anomalous area, not the frame size. ``anomaly_seg.segments.reference`` is a slow per-segment
implementation of the same definitions that the tests compare against.
"""

from __future__ import annotations

import cv2
import numpy as np

from anomaly_seg.labels import CLASS_NAMES, NUM_CLASSES
from anomaly_seg.segments.components import Segments, pixel_lists

#: Heat maps, in order: the three uncertainty channels of the engine, then the anomaly score.
HEATMAP_NAMES: tuple[str, ...] = ("entropy", "variation_ratio", "probability_margin", "anomaly_score")
#: Per heat map: mean / variance over the segment, its interior and its boundary, and MetaSeg's relative values.
HEATMAP_STATS: tuple[str, ...] = (
    "mean", "var", "mean_in", "var_in", "mean_bd", "var_bd", "mean_rel", "mean_rel_in", "var_rel", "var_rel_in",
)  # fmt: skip
SIZE_NAMES: tuple[str, ...] = ("size", "size_in", "size_bd", "size_rel", "size_rel_in")
GEOMETRY_NAMES: tuple[str, ...] = ("centroid_x", "centroid_y", "box_x0", "box_y0", "box_x1", "box_y1")
_CLASS_KEYS = tuple(name.replace(" ", "_") for name in CLASS_NAMES)

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{h}_{s}" for h in HEATMAP_NAMES for s in HEATMAP_STATS),
    *SIZE_NAMES,
    *GEOMETRY_NAMES,
    *(f"class_{c}" for c in _CLASS_KEYS),
    *(f"ring_{c}" for c in _CLASS_KEYS),
)
#: Width in pixels of the ring of neighbours around a segment (dilation by a (2r+1)x(2r+1) square, minus the segment).
RING_PX = 1

_BINS = NUM_CLASSES + 1  # trainIds 0..18 and one bin for anything else (void)


def segment_features(
    segments: Segments, score: np.ndarray, uncertainty: np.ndarray, semantic: np.ndarray, *, ring_px: int = RING_PX
) -> np.ndarray:
    """Features of every segment: float64 ``[N, len(FEATURE_NAMES)]``, row ``i`` for segment id ``i + 1``.

    ``score`` float ``HxW`` anomaly score, ``uncertainty`` float ``[3, H, W]`` (entropy, variation ratio,
    probability margin), ``semantic`` uint8 ``HxW`` trainIds, all at the resolution of ``segments.ids``.
    """
    height, width = segments.shape
    if np.shape(score) != (height, width) or np.shape(semantic) != (height, width):
        raise ValueError(f"score {np.shape(score)} and semantic {np.shape(semantic)} must match ids {(height, width)}")
    if np.shape(uncertainty) != (3, height, width):
        raise ValueError(f"uncertainty must have shape (3, {height}, {width}), got {np.shape(uncertainty)}")
    if ring_px < 1:
        raise ValueError(f"ring_px must be >= 1, got {ring_px}")
    n = segments.count
    out = np.zeros((n, len(FEATURE_NAMES)), np.float64)
    if n == 0:
        return out
    index, labels = pixel_lists(segments)
    slot = labels.astype(np.intp) - 1
    ys, xs = np.divmod(index, width)

    # Region of interest: all segments plus the ring, so no full-frame pass is needed.
    boxes = segments.boxes_xyxy
    ya, xa = max(0, int(boxes[:, 1].min()) - ring_px), max(0, int(boxes[:, 0].min()) - ring_px)
    yb, xb = min(height, int(boxes[:, 3].max()) + ring_px), min(width, int(boxes[:, 2].max()) + ring_px)
    roi = np.ascontiguousarray(segments.ids[ya:yb, xa:xb])
    local = (ys - ya) * (xb - xa) + (xs - xa)
    inner = _interior(roi, local, labels)
    ring_slot, ring_index = _ring(roi, ring_px)
    ring_ys, ring_xs = np.divmod(ring_index, xb - xa)

    size = np.bincount(slot, minlength=n).astype(np.float64)
    size_in = np.bincount(slot[inner], minlength=n).astype(np.float64)
    size_bd = size - size_in  # >= 1: every finite segment has a pixel with a neighbour outside it
    col = 0
    slot_in, slot_bd = slot[inner], slot[~inner]
    maps = (*np.asarray(uncertainty), np.asarray(score))
    for heat in maps:
        v = np.ravel(heat)[index].astype(np.float64)
        mean, var = _mean_var(slot, v, size)
        mean_in, var_in = _mean_var(slot_in, v[inner], size_in)
        mean_bd, var_bd = _mean_var(slot_bd, v[~inner], size_bd)
        rel, rel_in = size / size_bd, size_in / size_bd
        for values in (
            mean,
            var,
            mean_in,
            var_in,
            mean_bd,
            var_bd,
            mean * rel,
            mean_in * rel_in,
            var * rel,
            var_in * rel_in,
        ):
            out[:, col] = values
            col += 1
    for values in (size, size_in, size_bd, size / size_bd, size_in / size_bd):
        out[:, col] = values
        col += 1
    out[:, col] = segments.centroids[:, 0] / width
    out[:, col + 1] = segments.centroids[:, 1] / height
    out[:, col + 2 : col + 6] = boxes / np.array([width, height, width, height], np.float64)
    col += 6
    classes = np.minimum(np.ravel(semantic)[index], NUM_CLASSES).astype(np.intp)
    out[:, col : col + NUM_CLASSES] = _class_shares(slot, classes, n)
    col += NUM_CLASSES
    ring_classes = np.minimum(np.ravel(semantic)[(ring_ys + ya) * width + ring_xs + xa], NUM_CLASSES).astype(np.intp)
    out[:, col : col + NUM_CLASSES] = _class_shares(ring_slot, ring_classes, n)
    return out


def _mean_var(slot: np.ndarray, values: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment mean and (population) variance, two-pass; 0 for empty parts (e.g. no interior)."""
    n = count.size
    safe = np.maximum(count, 1)
    mean = np.bincount(slot, weights=values, minlength=n) / safe
    dev = values - mean[slot]
    var = np.bincount(slot, weights=dev * dev, minlength=n) / safe
    return mean, var


def _class_shares(slot: np.ndarray, classes: np.ndarray, n: int) -> np.ndarray:
    """Share of each trainId among the given pixels of every segment (void counts in the total only)."""
    counts = np.bincount(slot * _BINS + classes, minlength=n * _BINS).reshape(n, _BINS).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    shares: np.ndarray = counts[:, :NUM_CLASSES] / np.maximum(total, 1.0)
    return shares


def _interior(roi: np.ndarray, local: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """True for segment pixels whose 8 neighbours all carry the same id (3x3 min = max = own id).

    Pixels outside the image count as "no segment", so pixels on the image border are boundary pixels.
    """
    kernel = np.ones((3, 3), np.uint8)
    lo: np.ndarray = cv2.erode(roi, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).ravel()[local]
    hi: np.ndarray = cv2.dilate(roi, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).ravel()[local]
    inner: np.ndarray = (lo == labels) & (hi == labels)
    return inner


def _ring(roi: np.ndarray, ring_px: int) -> tuple[np.ndarray, np.ndarray]:
    """``(segment slot, flat ROI index)`` of every ring pixel: within ``ring_px`` (Chebyshev) of a segment, not in it.

    Rings of different segments may overlap. Where only one id lies in the window (the usual case) the 3x3 max of
    the ids names it; the few pixels seeing two or more ids are resolved by visiting their window offsets.
    """
    size = 2 * ring_px + 1
    kernel = np.ones((size, size), np.uint8)
    hi = cv2.dilate(roi, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    # Smallest non-zero id in the window: shift 0 to 65535 by wrapping, take the minimum, shift back.
    lo = cv2.erode(roi - np.uint16(1), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=65535) + np.uint16(1)
    single = np.flatnonzero((lo == hi) & (hi > 0) & (roi == 0))
    slots = [hi.ravel()[single].astype(np.intp) - 1]
    indices = [single]
    conflict = np.flatnonzero(lo != hi)
    if conflict.size:
        h, w = roi.shape
        cy, cx = np.divmod(conflict, w)
        own = roi.ravel()[conflict]
        pairs = []
        for dy in range(-ring_px, ring_px + 1):
            for dx in range(-ring_px, ring_px + 1):
                ny, nx = cy + dy, cx + dx
                ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
                nb = np.zeros_like(own)
                nb[ok] = roi[ny[ok], nx[ok]]
                hit = (nb > 0) & (nb != own)
                pairs.append(conflict[hit].astype(np.int64) * 65536 + nb[hit])
        key = np.unique(np.concatenate(pairs))
        indices.append(key // 65536)
        slots.append((key % 65536).astype(np.intp) - 1)
    return np.concatenate(slots), np.concatenate(indices)
