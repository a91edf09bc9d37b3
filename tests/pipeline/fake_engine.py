"""A deterministic stand-in for a real engine (Engine protocol), so pipeline and node tests do not need a network.

Anomaly score = (red - green) / 25.5 - 5: grey pixels score -5, pure red ones +5; so a test paints a red
square into a grey frame and knows where the anomaly is. Semantic: road (trainId 0) in the lower half of the
network image, sky (10) above. Uncertainty channels are fixed functions of the score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anomaly_seg.engines.base import EngineOutputs

GREY = (128, 128, 128)
RED = (255, 0, 0)


class FakeEngine:
    """Implements :class:`anomaly_seg.engines.base.Engine` deterministically on CPU."""

    def __init__(self, size: tuple[int, int] = (64, 128), *, nan: bool = False, error: Exception | None = None) -> None:
        self._size = size
        self.nan = nan
        self.error = error
        self.calls = 0
        self.last_input: np.ndarray | None = None

    @property
    def name(self) -> str:
        return "fake"

    @property
    def input_size(self) -> tuple[int, int]:
        return self._size

    @property
    def batch_size(self) -> int:
        return 1

    @property
    def metadata(self) -> dict[str, str]:
        return {"anomaly_seg.network_size": f"{self._size[0]}x{self._size[1]}"}

    def infer(self, images: np.ndarray) -> EngineOutputs:
        assert images.dtype == np.uint8 and images.shape == (1, *self._size, 3), images.shape
        self.calls += 1
        self.last_input = images.copy()
        if self.error is not None:
            raise self.error
        rgb = images.astype(np.float32)
        score = (rgb[..., 0] - rgb[..., 1]) / 25.5 - 5.0
        if self.nan:
            score[:, 0, 0] = np.nan
        h = self._size[0]
        semantic = np.full(score.shape, 10, np.uint8)
        semantic[:, h // 2 :] = 0
        p = 1.0 / (1.0 + np.exp(-score))
        uncertainty = np.stack([p, 0.5 * p, 0.25 * p], axis=1).astype(np.float32)
        return EngineOutputs(semantic, score.astype(np.float32), uncertainty)

    def warmup(self) -> None:
        self.infer(np.zeros((1, *self._size, 3), np.uint8))


def grey_frame(height: int, width: int, squares: Sequence[tuple[int, int, int, int]] = ()) -> np.ndarray:
    """Grey RGB frame with red squares given as (x0, y0, x1, y1), x1/y1 exclusive."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = GREY
    for x0, y0, x1, y1 in squares:
        frame[y0:y1, x0:x1] = RED
    return frame
