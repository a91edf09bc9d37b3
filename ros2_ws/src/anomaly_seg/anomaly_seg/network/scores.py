"""Pixel anomaly scores (higher = more anomalous) and uncertainty maps, one short function each.

Inputs are class scores ``F`` ``[B, K, ...]`` (logits, or class log-likelihoods for a GMM head) and UEM log terms
``U`` ``[B, 2, ...]`` (channel 0 ``log p~in``, channel 1 ``log p~out``) at the same resolution. Every function is
stable for extreme values (no NaN/Inf for finite inputs) and works in float16.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def llr(class_scores: Tensor, uem: Tensor) -> Tensor:
    """Log-likelihood ratio: ``LLR = log p~out - log p~in - max_k F_k``."""
    return uem[:, 1] - uem[:, 0] - class_scores.amax(dim=1)


def uem_only(uem: Tensor) -> Tensor:
    """UEM ratio alone: ``log p~out - log p~in``."""
    return uem[:, 1] - uem[:, 0]


def max_softmax(class_scores: Tensor) -> Tensor:
    """Max-softmax probability baseline: ``1 - max_k softmax(F)_k = 1 - 1 / Z`` with ``Z = sum_k exp(F_k - max F)``."""
    shifted = class_scores - class_scores.amax(dim=1, keepdim=True)
    return 1.0 - torch.exp(-torch.exp(shifted).sum(dim=1).log())


def entropy(class_scores: Tensor) -> Tensor:
    """Normalised entropy ``-sum_k p_k log p_k / log K``, computed as ``(log Z - sum_k e_k (F_k - m) / Z) / log K``
    with ``m = max F``, ``e_k = exp(F_k - m)`` and ``Z = sum_k e_k`` (no ``0 * log 0``, no softmax)."""
    shifted = class_scores - class_scores.amax(dim=1, keepdim=True)
    e = torch.exp(shifted)
    log_z = e.sum(dim=1).log()
    return _normalised_entropy(shifted, e, log_z, torch.exp(-log_z))


def _normalised_entropy(shifted: Tensor, e: Tensor, log_z: Tensor, inv_z: Tensor) -> Tensor:
    # exp(shifted) <= 1 and Z >= 1 (fp16-safe). No Softmax node: ONNX Runtime's Softmax over the channel axis of a
    # full-resolution [B, K, H, W] map is several times slower than these reductions. 1 / Z is exp(-log Z):
    # TensorRT 8.x's ONNX parser has no Reciprocal.
    ent = log_z - (e * shifted).sum(dim=1) * inv_z
    return (ent / math.log(shifted.shape[1])).clamp(0.0, 1.0)


def max_logit(class_scores: Tensor) -> Tensor:
    """Max-logit baseline: ``-max_k F_k``."""
    return -class_scores.amax(dim=1)


def gmm_density(class_scores: Tensor) -> Tensor:
    """Negative marginal log-density of a GMM head: ``-logsumexp_k F_k`` with ``F_k = log p(x | k)``
    (``-log p(x)`` under a uniform class prior, up to the constant ``log K``)."""
    return -torch.logsumexp(class_scores, dim=1)


def op_msm(class_scores: Tensor, uem: Tensor) -> Tensor:
    """Outlier probability times max-softmax (Bevandic et al.): ``sigmoid(log p~out - log p~in) * (1 - max_k p_k)``;
    the paper's OP x MSM for a model with an outlier head, a UEM variant otherwise."""
    return outlier_probability(uem) * max_softmax(class_scores)


def outlier_probability(uem: Tensor) -> Tensor:
    """Outlier probability ``sigmoid(log p~out - log p~in)``: an outlier head's own output (Bevandic et al.), or the
    UEM's ratio read as one."""
    return torch.sigmoid(uem_only(uem))


def uncertainty_maps(class_scores: Tensor) -> Tensor:
    """Meta-classifier heat maps ``[B, 3, ...]``: normalised entropy, ``1 - p1``, ``1 - p1 + p2``
    (``p1 >= p2`` the two largest softmax probabilities).

    Softmax is monotonic, so the top two logits ``F1 >= F2`` give ``p1 = 1 / Z`` and ``p2 = exp(F2 - F1) / Z`` with
    ``Z = sum_k exp(F_k - F1)``; one exponential pass over the K channels serves all three maps."""
    top2 = torch.topk(class_scores, 2, dim=1).values
    shifted = class_scores - top2[:, :1]
    e = torch.exp(shifted)
    log_z = e.sum(dim=1).log()
    p1 = torch.exp(-log_z)
    p2 = torch.exp(top2[:, 1] - top2[:, 0] - log_z)
    return torch.stack((_normalised_entropy(shifted, e, log_z, p1), 1.0 - p1, 1.0 - p1 + p2), dim=1)


SCORE_NAMES = (
    "llr", "uem_only", "max_softmax", "entropy", "max_logit", "gmm_density", "op_msm", "outlier_probability",
)  # fmt: skip


def compute_score(name: str, class_scores: Tensor, uem: Tensor) -> Tensor:
    """Score ``name`` (one of :data:`SCORE_NAMES`) from class scores and UEM log terms."""
    if name == "llr":
        return llr(class_scores, uem)
    if name == "op_msm":
        return op_msm(class_scores, uem)
    if name == "uem_only":
        return uem_only(uem)
    if name == "outlier_probability":
        return outlier_probability(uem)
    single = {"max_softmax": max_softmax, "entropy": entropy, "max_logit": max_logit, "gmm_density": gmm_density}
    if name not in single:
        raise ValueError(f"unknown score {name!r} (expected one of {', '.join(SCORE_NAMES)})")
    return single[name](class_scores)
