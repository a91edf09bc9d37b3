"""Hand-built prediction frames for the meta-classifier tests: real obstacles, false blobs, a void band."""

from __future__ import annotations

import cv2
import numpy as np

from training.predictions import Prediction


def segment_frame(
    seed: int,
    *,
    obstacle_score: tuple[float, float] = (4.0, 1.0),
    blob_score: tuple[float, float] = (1.2, 0.2),
    blobs: int = 3,
    blob_size: int = 5,
    void_blob: bool = True,
    h: int = 64,
    w: int = 96,
) -> Prediction:
    """Two obstacles scored ``lo + span * U(0, 1)`` (``obstacle_score``), ``blobs`` false blobs (``blob_score``, high
    uncertainty) away from them, the top 8 rows void (with a high-score blob there when ``void_blob``)."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((h, w), np.uint8)
    gt[:8] = 255
    score = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5) * 0.3
    uncertainty = rng.random((3, h, w)).astype(np.float32) * 0.2
    for _ in range(2):
        y, x, s = rng.integers(12, h - 12), rng.integers(4, w - 12), rng.integers(4, 9)
        gt[y : y + s, x : x + s] = 1
        score[y : y + s, x : x + s] = obstacle_score[0] + obstacle_score[1] * rng.random()
    for _ in range(blobs):
        y, x, s = rng.integers(10, h - 6), rng.integers(2, w - 6), rng.integers(2, blob_size)
        if not gt[max(0, y - 1) : y + s + 1, max(0, x - 1) : x + s + 1].any():
            score[y : y + s, x : x + s] = blob_score[0] + blob_score[1] * rng.random()
            uncertainty[:, y : y + s, x : x + s] = 0.9
    if void_blob:
        score[1:4, 1:4] = 3.0
    return Prediction(np.zeros((h, w), np.uint8), score, uncertainty, gt)
