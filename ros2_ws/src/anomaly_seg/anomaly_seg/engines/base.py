"""The engine contract shared by every backend (DESIGN.md §3).

Input ``image``: uint8 ``[B, H, W, 3]`` RGB at the fixed network size (normalisation is inside the
network). Outputs at network resolution: ``semantic`` uint8 ``[B, H, W]`` (Cityscapes trainIds),
``anomaly_score`` float32 ``[B, H, W]`` (LLR, higher = more anomalous) and ``uncertainty`` float32
``[B, 3, H, W]`` (normalised entropy, 1 - p1, 1 - p1 + p2 of the inlier softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

INPUT_NAME = "image"
OUTPUT_NAMES = ("semantic", "anomaly_score", "uncertainty")
UNCERTAINTY_CHANNELS = ("entropy", "variation_ratio", "probability_margin")


@dataclass(frozen=True)
class EngineOutputs:
    """One engine call's outputs, batch-first, at network resolution."""

    semantic: np.ndarray  # uint8 [B, H, W]
    anomaly_score: np.ndarray  # float32 [B, H, W]
    uncertainty: np.ndarray  # float32 [B, 3, H, W]

    def __getitem__(self, index: int) -> EngineOutputs:
        """Outputs of batch element ``index`` (keeps a batch axis of 1)."""
        sl = slice(index, index + 1)
        return EngineOutputs(self.semantic[sl], self.anomaly_score[sl], self.uncertainty[sl])


@runtime_checkable
class Engine(Protocol):
    """What the pipeline needs from a backend (TensorRT, ONNX Runtime or torch)."""

    @property
    def name(self) -> str:
        """Backend name, e.g. ``onnxruntime:CPUExecutionProvider``."""
        ...

    @property
    def input_size(self) -> tuple[int, int]:
        """Fixed network input size ``(height, width)``."""
        ...

    @property
    def batch_size(self) -> int:
        """Fixed batch size of the engine (1 for full-frame models)."""
        ...

    @property
    def metadata(self) -> dict[str, str]:
        """Model metadata stored at export (``anomaly_seg.*`` keys, see :mod:`anomaly_seg.engines.metadata`)."""
        ...

    def infer(self, images: np.ndarray) -> EngineOutputs:
        """Run the network on uint8 ``[B, H, W, 3]`` RGB images at :attr:`input_size`.

        The outputs belong to the caller (the backend never writes them again) and are finite: a NaN/Inf raises
        EngineError (:class:`~anomaly_seg.engines.contract.EngineBase` does both for every backend).
        """
        ...

    def warmup(self) -> None:
        """Run once on a dummy input so the first real frame does not pay for lazy initialisation."""
        ...
