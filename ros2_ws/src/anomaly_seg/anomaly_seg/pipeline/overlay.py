"""The RViz overlay: camera image + class colours + anomalous pixels in red + obstacle boxes with id and score."""

from __future__ import annotations

import cv2
import numpy as np

from anomaly_seg.labels import PALETTE
from anomaly_seg.pipeline.result import Obstacles

PALETTE_BGR: np.ndarray = np.ascontiguousarray(PALETTE[:, ::-1])
ANOMALY_BGR = (0, 0, 255)
BOX_BGR = (0, 255, 255)
#: share of the anomaly colour on anomalous pixels (drawn over the class colours)
ANOMALY_OPACITY = 0.6


def render_overlay(
    image_bgr: np.ndarray, semantic: np.ndarray, anomaly_mask: np.ndarray, obstacles: Obstacles, alpha: float
) -> np.ndarray:
    """BGR uint8 image: ``image_bgr`` blended with the palette colours of ``semantic`` (opacity ``alpha``),
    pixels of ``anomaly_mask`` tinted red, and a box labelled ``id score`` per obstacle.

    All inputs share one size (H, W); ``obstacles`` boxes are in that image's pixel coordinates.
    """
    if image_bgr.shape[:2] != semantic.shape or semantic.shape != anomaly_mask.shape:
        raise ValueError(f"overlay inputs differ in size: {image_bgr.shape}, {semantic.shape}, {anomaly_mask.shape}")
    colours = PALETTE_BGR[semantic]
    out = cv2.addWeighted(image_bgr, 1.0 - alpha, colours, alpha, 0.0)
    # keep x 255 + opacity x 255 <= 255: the uint8 addition cannot overflow
    tinted = cv2.convertScaleAbs(out, alpha=1.0 - ANOMALY_OPACITY)
    tinted += np.array([int(ANOMALY_OPACITY * c) for c in ANOMALY_BGR], np.uint8)
    cv2.copyTo(tinted, anomaly_mask, out)
    _draw_boxes(out, obstacles)
    return out


def _draw_boxes(image: np.ndarray, obstacles: Obstacles) -> None:
    h, w = image.shape[:2]
    thickness = max(1, round(min(h, w) / 300))
    font_scale = max(0.35, min(h, w) / 900)
    for seg_id, box, prob in zip(obstacles.ids, obstacles.boxes_xyxy, obstacles.probabilities):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(image, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), BOX_BGR, thickness, cv2.LINE_AA)
        text = f"{int(seg_id)} {float(prob):.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        ty = y1 - base - 1 if y1 - th - base - 2 >= 0 else min(h - 1, y2 + th + 1)
        cv2.rectangle(image, (x1, ty - th - 1), (x1 + tw + 1, ty + base), BOX_BGR, cv2.FILLED)
        cv2.putText(image, text, (x1 + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
