"""Contact sheet of augmented training samples: image (pasted outlier outlined), trainIds, outlier target."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from anomaly_seg.labels import VOID, colorize
from training.datasets.base import Sample

#: outlier target colours: inlier black, outlier red, void grey
OUTLIER_COLORS = np.zeros((256, 3), dtype=np.uint8)
OUTLIER_COLORS[1] = (255, 40, 40)
OUTLIER_COLORS[VOID] = (110, 110, 110)
PASTE_OUTLINE = (0, 255, 255)


def _caption(panel: np.ndarray, text: str) -> None:
    cv2.putText(panel, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(panel, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)


def render_sample(sample: Sample, paste_mask: np.ndarray | None = None) -> np.ndarray:
    """One row: the image with the pasted region outlined, its colourised trainIds and its outlier target (RGB)."""
    h, w = sample.image.shape[:2]
    image = sample.image.copy()
    if paste_mask is not None and paste_mask.any():
        contours, _ = cv2.findContours(paste_mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(image, contours, -1, PASTE_OUTLINE, 1)
    void = np.full((h, w), VOID, np.uint8)
    semantic = colorize(sample.train_ids if sample.train_ids is not None else void).copy()
    outlier = OUTLIER_COLORS[sample.anomaly if sample.anomaly is not None else void].copy()
    _caption(image, sample.name)
    _caption(semantic, "trainIds")
    _caption(outlier, "outlier target")
    gap = np.full((h, 2, 3), 255, np.uint8)
    return np.concatenate([image, gap, semantic, gap, outlier], axis=1)


def grid(rows: Sequence[np.ndarray], columns: int = 1, gap: int = 4) -> np.ndarray:
    """Tile equally sized RGB images into ``columns`` columns on a white background."""
    if not rows:
        raise ValueError("grid needs at least one image")
    h, w = rows[0].shape[:2]
    n_rows = -(-len(rows) // columns)
    sheet = np.full((n_rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 255, np.uint8)
    for i, tile in enumerate(rows):
        y, x = gap + (i // columns) * (h + gap), gap + (i % columns) * (w + gap)
        sheet[y : y + h, x : x + w] = tile
    return sheet
