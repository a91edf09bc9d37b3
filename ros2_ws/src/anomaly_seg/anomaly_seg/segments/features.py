"""Per-segment features for the meta classifier (Chan et al., MetaSeg), vectorised over all segments.

The list and the definitions are documented in ``docs/segments.md``; :data:`FEATURE_NAMES` is the column order.
Work is limited to the segment pixels, their neighbours and the ring pixels (gathers on pixel lists, sums with
``np.add.reduceat`` over pixels grouped by segment), so the cost follows the anomalous area, not the frame size.
``anomaly_seg.segments.reference`` is a slow per-segment implementation of the same definitions that the tests
compare against.
"""

from __future__ import annotations

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
    Segments may touch each other (their common border is boundary for both).
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
    index = pixel_lists(segments)
    areas = segments.areas
    starts = np.cumsum(areas) - areas
    slot = np.repeat(np.arange(n), areas)
    ids = segments.ids.ravel()
    inner = _interior(ids, index, height, width)

    stats, sizes = _heatmap_stats(score, uncertainty, index, inner, areas, starts)
    n_stats = len(HEATMAP_STATS)
    for k, stat in enumerate(stats):
        out[:, k : len(HEATMAP_NAMES) * n_stats : n_stats] = stat.T
    col = len(HEATMAP_NAMES) * n_stats
    for values_1d in sizes:
        out[:, col] = values_1d
        col += 1
    out[:, col] = segments.centroids[:, 0] / width
    out[:, col + 1] = segments.centroids[:, 1] / height
    out[:, col + 2 : col + 6] = segments.boxes_xyxy / np.array([width, height, width, height], np.float64)
    col += 6
    sem = np.ravel(semantic)
    out[:, col : col + NUM_CLASSES] = _class_shares(slot, sem[index], n)
    col += NUM_CLASSES
    ring_slot, ring_index = _ring(ids, index[~inner], slot[~inner], height, width, ring_px)
    out[:, col : col + NUM_CLASSES] = _class_shares(ring_slot, sem[ring_index], n)
    return out


def _heatmap_stats(
    score: np.ndarray,
    uncertainty: np.ndarray,
    index: np.ndarray,
    inner: np.ndarray,
    areas: np.ndarray,
    starts: np.ndarray,
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """(per-heat-map statistics in :data:`HEATMAP_STATS` order, each ``[C, N]``; the five size features ``[N]``)."""
    # Heat-map values of all segment pixels, grouped by segment: sums are np.add.reduceat over the groups.
    # Variances of interior and boundary come from the segment's squared deviations by the parallel-axis theorem.
    values = np.empty((len(HEATMAP_NAMES), index.size), np.float64)
    for c, heat in enumerate((*np.asarray(uncertainty), np.asarray(score))):
        values[c] = np.ravel(heat)[index]
    w_in = inner.astype(np.float64)
    size = areas.astype(np.float64)
    size_in = np.add.reduceat(w_in, starts)
    size_bd = size - size_in  # >= 1: every finite segment has a pixel with a neighbour outside it
    safe_in = np.maximum(size_in, 1.0)
    total = np.add.reduceat(values, starts, axis=1)
    mean = total / size
    dev = values - np.repeat(mean, areas, axis=1)
    np.multiply(dev, dev, out=dev)
    sq = np.add.reduceat(dev, starts, axis=1)
    dev *= w_in
    sq_in = np.add.reduceat(dev, starts, axis=1)
    values *= w_in
    total_in = np.add.reduceat(values, starts, axis=1)
    mean_in = total_in / safe_in
    mean_bd = (total - total_in) / size_bd
    var = sq / size
    var_in = np.maximum(sq_in - size_in * (mean_in - mean) ** 2, 0.0) / safe_in
    var_bd = np.maximum(sq - sq_in - size_bd * (mean_bd - mean) ** 2, 0.0) / size_bd
    rel, rel_in = size / size_bd, size_in / size_bd
    stats = (mean, var, mean_in, var_in, mean_bd, var_bd, mean * rel, mean_in * rel_in, var * rel, var_in * rel_in)
    return stats, (size, size_in, size_bd, rel, rel_in)


def _class_shares(slot: np.ndarray, classes: np.ndarray, n: int) -> np.ndarray:
    """Share of each trainId among the given pixels of every segment (void counts in the total only)."""
    key = slot * _BINS + np.minimum(classes, NUM_CLASSES)
    counts = np.bincount(key, minlength=n * _BINS).reshape(n, _BINS).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    shares: np.ndarray = counts[:, :NUM_CLASSES] / np.maximum(total, 1.0)
    return shares


def _offsets(radius: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1) if dy or dx]


def _interior(ids: np.ndarray, index: np.ndarray, height: int, width: int) -> np.ndarray:
    """True for segment pixels whose 8 neighbours all carry the same id (pixels outside the image count as none).

    Gathers the 8 neighbours of the segment pixels only, so the cost follows the segment area, not the frame.
    """
    ys = index // width
    xs = index - ys * width
    inside = (ys > 0) & (ys < height - 1) & (xs > 0) & (xs < width - 1)  # image-border pixels are boundary
    top_left = index[inside] - (width + 1)
    own = ids[top_left + (width + 1)]
    ok = np.ones(top_left.size, bool)
    for dy, dx in _offsets(1):
        ok &= np.take(ids[(dy + 1) * width + dx + 1 :], top_left) == own  # shifted view: no index arithmetic
    inner = np.zeros(index.size, bool)
    inner[inside] = ok
    return inner


def _ring(
    ids: np.ndarray, boundary: np.ndarray, slot: np.ndarray, height: int, width: int, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(segment slot, flat index)`` of every ring pixel: within ``radius`` (Chebyshev) of a segment, not in it.

    The nearest segment pixel to a ring pixel is always a boundary pixel, so candidates come from the boundary
    pixels' windows. Rings of different segments may overlap; duplicates of a ``(segment, pixel)`` pair are
    removed with a scratch image instead of a sort.
    """
    ys = boundary // width
    xs = boundary - ys * width
    own = ids[boundary]
    far = (ys >= radius) & (ys < height - radius) & (xs >= radius) & (xs < width - radius)
    corner = boundary[far] - (radius * width + radius)
    corner_own, corner_slot = own[far], slot[far]
    near, near_ys, near_xs, near_own, near_slot = boundary[~far], ys[~far], xs[~far], own[~far], slot[~far]
    qs, ss = [], []
    for dy, dx in _offsets(radius):
        shift = (dy + radius) * width + dx + radius
        hit = np.take(ids[shift:], corner) != corner_own  # window pixels of far-from-border pixels: no bounds check
        qs.append(corner[hit] + shift)
        ss.append(corner_slot[hit])
        if near.size:
            y2, x2 = near_ys + dy, near_xs + dx
            ok = (y2 >= 0) & (y2 < height) & (x2 >= 0) & (x2 < width)
            q = near[ok] + (dy * width + dx)
            hit = ids[q] != near_own[ok]
            qs.append(q[hit])
            ss.append(near_slot[ok][hit])
    q, s = np.concatenate(qs), np.concatenate(ss)
    scratch = np.empty(height * width, np.int32)
    out_q, out_s = [], []
    while q.size:  # one round per segment sharing a ring pixel (nearly always a single round)
        arange = np.arange(q.size, dtype=np.int32)
        scratch[q] = arange
        winner = scratch[q]
        is_winner = winner == arange
        out_q.append(q[is_winner])
        out_s.append(s[is_winner])
        other = s[winner] != s
        q, s = q[other], s[other]
    if not out_q:
        return np.zeros(0, np.intp), np.zeros(0, np.int64)
    return np.concatenate(out_s), np.concatenate(out_q)
