"""Output comparison between two runs of the same model (torch vs ONNX Runtime, golden vs TensorRT).

Errors are measured per output: max absolute error of ``anomaly_score`` and ``uncertainty`` and the share
of pixels whose ``semantic`` class agrees. Pass/fail thresholds depend on the precision of the run under
test: fp32 backends must match to float rounding, fp16 engines to what half precision allows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from anomaly_seg.engines.base import EngineOutputs


@dataclass(frozen=True)
class Tolerance:
    """Pass thresholds. Score errors are relative to the reference's largest |score| (at least 1)."""

    score_rel: float
    uncertainty_abs: float
    min_agreement: float


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(score_rel=1e-3, uncertainty_abs=1e-3, min_agreement=0.999),
    "fp16": Tolerance(score_rel=2e-2, uncertainty_abs=2e-2, min_agreement=0.99),
    # int8 changes the numbers on purpose: this catches a broken quantization; its accuracy change is measured
    # on held-out scenes (BENCHMARKS.md), not here
    "int8": Tolerance(score_rel=0.3, uncertainty_abs=1.0, min_agreement=0.9),
}


@dataclass(frozen=True)
class Comparison:
    """Errors of ``candidate`` against ``reference``."""

    score_max_abs: float
    score_scale: float  # max |reference score|, floored at 1
    uncertainty_max_abs: float
    semantic_agreement: float
    pixels: int

    def passed(self, tol: Tolerance) -> bool:
        """Whether every error is within ``tol``."""
        return bool(
            self.score_max_abs <= tol.score_rel * self.score_scale
            and self.uncertainty_max_abs <= tol.uncertainty_abs
            and self.semantic_agreement >= tol.min_agreement
        )

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def compare(reference: EngineOutputs, candidate: EngineOutputs) -> Comparison:
    """Compare two outputs of identical shapes (float64 arithmetic, NaN counts as an infinite error)."""
    for name in ("semantic", "anomaly_score", "uncertainty"):
        a, b = getattr(reference, name), getattr(candidate, name)
        if a.shape != b.shape:
            raise ValueError(f"output '{name}': shapes differ, {a.shape} vs {b.shape}")

    def max_abs(a: np.ndarray, b: np.ndarray) -> float:
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        return float("inf") if np.isnan(diff).any() else float(diff.max(initial=0.0))

    ref_score = reference.anomaly_score.astype(np.float64)
    return Comparison(
        score_max_abs=max_abs(ref_score, candidate.anomaly_score),
        score_scale=max(1.0, float(np.abs(ref_score).max(initial=0.0))),
        uncertainty_max_abs=max_abs(reference.uncertainty, candidate.uncertainty),
        semantic_agreement=float(np.mean(reference.semantic == candidate.semantic)) if reference.semantic.size else 1.0,
        pixels=int(reference.semantic.size),
    )


def merge(comparisons: list[Comparison]) -> Comparison:
    """Worst case over several comparisons (agreement weighted by pixels)."""
    pixels = sum(c.pixels for c in comparisons)
    return Comparison(
        score_max_abs=max(c.score_max_abs for c in comparisons),
        score_scale=min(c.score_scale for c in comparisons),
        uncertainty_max_abs=max(c.uncertainty_max_abs for c in comparisons),
        semantic_agreement=sum(c.semantic_agreement * c.pixels for c in comparisons) / max(pixels, 1),
        pixels=pixels,
    )
