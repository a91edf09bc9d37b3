"""Slow reference implementation of the segment features, for tests and the benchmark only.

It follows published research code (MetaSeg-style): a Python loop over segments, each with boolean masks of the
full image, SciPy morphology and plain ``np.mean`` / ``np.var``. It is the definition the fast
:func:`anomaly_seg.segments.features.segment_features` must reproduce, and the baseline it is timed against.
Never used at run time (SciPy is a training/test dependency).
"""

from __future__ import annotations

import numpy as np

from anomaly_seg.labels import NUM_CLASSES
from anomaly_seg.segments.components import Segments
from anomaly_seg.segments.features import FEATURE_NAMES, RING_PX


def reference_segment_features(
    segments: Segments, score: np.ndarray, uncertainty: np.ndarray, semantic: np.ndarray, *, ring_px: int = RING_PX
) -> np.ndarray:
    """Same contract as :func:`~anomaly_seg.segments.features.segment_features`, one segment at a time."""
    from scipy import ndimage

    height, width = segments.shape
    maps = [np.asarray(uncertainty[c], np.float64) for c in range(3)] + [np.asarray(score, np.float64)]
    rows = []
    for seg_id in range(1, segments.count + 1):
        seg = segments.ids == seg_id
        interior = ndimage.binary_erosion(seg, structure=np.ones((3, 3), bool), border_value=0)
        boundary = seg & ~interior
        ring = ndimage.binary_dilation(seg, structure=np.ones((2 * ring_px + 1,) * 2, bool)) & ~seg
        s, s_in, s_bd = float(seg.sum()), float(interior.sum()), float(boundary.sum())
        row: list[float] = []
        for heat in maps:
            mean, var = float(np.mean(heat[seg])), float(np.var(heat[seg]))
            mean_in = float(np.mean(heat[interior])) if s_in else 0.0
            var_in = float(np.var(heat[interior])) if s_in else 0.0
            mean_bd, var_bd = float(np.mean(heat[boundary])), float(np.var(heat[boundary]))
            row += [
                mean,
                var,
                mean_in,
                var_in,
                mean_bd,
                var_bd,
                mean * s / s_bd,
                mean_in * s_in / s_bd,
                var * s / s_bd,
                var_in * s_in / s_bd,
            ]
        row += [s, s_in, s_bd, s / s_bd, s_in / s_bd]
        yy, xx = np.nonzero(seg)
        row += [
            xx.mean() / width,
            yy.mean() / height,
            xx.min() / width,
            yy.min() / height,
            (xx.max() + 1) / width,
            (yy.max() + 1) / height,
        ]
        row += [float(np.mean(semantic[seg] == k)) for k in range(NUM_CLASSES)]
        n_ring = max(int(ring.sum()), 1)
        row += [float(np.sum(semantic[ring] == k)) / n_ring for k in range(NUM_CLASSES)]
        rows.append(row)
    out = np.array(rows, np.float64).reshape(segments.count, len(FEATURE_NAMES))
    return out
