"""Anomaly metrics by the size of the ground-truth object (Bevandic et al., Fig. 7 style), streaming over frames.

Each ground-truth object (8-connected component of anomaly pixels) falls into one size bin by its area in pixels at
the ground-truth resolution. For a bin, the anomaly pixels of objects in other bins are set to void, so its pixel AP /
FPR95 / AUROC weigh that bin's objects against every inlier pixel of every frame, and its SMIYC component metrics
(mean F1 over tau) count only that bin's objects as ground truth. Small obstacles are where road-anomaly methods
fail; this is where a report shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from anomaly_seg.metrics.components import ComponentMetrics
from anomaly_seg.metrics.pixel import PixelAnomalyMetrics

ANOMALY, VOID = 1, 255

#: (name, smallest area, largest area exclusive or None) in ground-truth pixels
SIZE_BINS: tuple[tuple[str, int, int | None], ...] = (
    ("< 1k px", 0, 1024),
    ("1k-4k px", 1024, 4096),
    ("4k-16k px", 4096, 16384),
    (">= 16k px", 16384, None),
)


class SizeBinnedMetrics:
    """Pixel and component metrics per object-size bin (``update`` per frame, ``rows``)."""

    def __init__(
        self,
        threshold: float,
        size_filter: str = "none",
        bins: Sequence[tuple[str, int, int | None]] = SIZE_BINS,
    ) -> None:
        self.bins = tuple(bins)
        self.pixel = [PixelAnomalyMetrics() for _ in self.bins]
        self.components = [ComponentMetrics(float(threshold), size_filter) for _ in self.bins]
        self.objects = np.zeros(len(self.bins), np.int64)

    def bin_of(self, areas: np.ndarray) -> np.ndarray:
        """Bin index of each object area (``len(bins)`` for an area no bin holds)."""
        out = np.full(areas.shape, len(self.bins), np.int64)
        for b, (_, lo, hi) in enumerate(self.bins):
            inside = (areas >= lo) & (areas < hi if hi is not None else True)
            out[inside & (out == len(self.bins))] = b
        return out

    def update(self, score: np.ndarray, gt: np.ndarray) -> None:
        """One frame: score and ground truth (0 inlier, 1 anomaly, 255 void) at the same size."""
        gt = np.asarray(gt, np.uint8)
        _, labels, stats, _ = cv2.connectedComponentsWithStats((gt == ANOMALY).view(np.uint8), connectivity=8)
        object_bin = np.concatenate([[-1], self.bin_of(stats[1:, cv2.CC_STAT_AREA].astype(np.int64))])
        pixel_bin = object_bin[labels]  # -1 outside objects
        for b in range(len(self.bins)):
            gt_b = np.where((pixel_bin >= 0) & (pixel_bin != b), np.uint8(VOID), gt)
            self.pixel[b].update(score, gt_b)
            self.components[b].update(score, gt_b)
            self.objects[b] += int(np.count_nonzero(object_bin[1:] == b))

    def rows(self) -> list[dict[str, Any]]:
        """Per bin: ``{"bin", "min_px", "max_px", "objects", "ap", "fpr95", "auroc", "mean_f1"}`` (None where
        undefined, e.g. a bin without objects)."""
        import warnings

        out = []
        for b, (name, lo, hi) in enumerate(self.bins):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = self.pixel[b].compute()
            comp = self.components[b].compute()
            has = bool(self.objects[b])
            out.append(
                {
                    "bin": name,
                    "min_px": lo,
                    "max_px": hi,
                    "objects": int(self.objects[b]),
                    "ap": float(r.ap) if has else None,
                    "fpr95": float(r.fpr95) if has else None,
                    "auroc": float(r.auroc) if has else None,
                    "mean_f1": float(comp["mean_f1"]) if has and comp["gt_components"] else None,
                }
            )
        return out


def size_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The report section (markdown lines)."""

    def pct(v: Any) -> str:
        return "n/a" if v is None or v != v else f"{100 * v:.1f}"

    lines = [
        "## By obstacle size",
        "",
        "Ground-truth objects binned by area (pixels at the ground-truth resolution); other bins' objects are void "
        "for each row. Pixel AP / FPR95 in %, SMIYC mean F1 in % at the first segment threshold.",
        "",
        "| size | objects | AP | FPR95 | mean F1 |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['bin']} | {r['objects']} | {pct(r['ap'])} | {pct(r['fpr95'])} | {pct(r['mean_f1'])} |")
    return [*lines, ""]
