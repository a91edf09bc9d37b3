"""Loading state dicts from outside: the official DINOv2 ``.pth`` (weights-only unpickler, strict keys) and the
key-problem summary that every loader of released weights reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from anomaly_seg.errors import ModelFileError
from anomaly_seg.network.dinov2 import DinoVisionTransformer


def describe_key_problems(groups: Sequence[tuple[str, Sequence[str]]], shown: int = 8) -> str:
    """``"2 missing: a, b; 1 unexpected: c"`` for the non-empty ``(title, keys)`` groups of a state-dict check
    (at most ``shown`` keys each); empty when there are none."""
    parts = []
    for title, keys in groups:
        if keys:
            more = f" ... (+{len(keys) - shown})" if len(keys) > shown else ""
            parts.append(f"{len(keys)} {title}: " + ", ".join(keys[:shown]) + more)
    return "; ".join(parts)


def load_backbone_weights(model: DinoVisionTransformer, path: str | Path) -> None:
    """Load an official ``.pth`` state dict (``weights_only=True``, strict) into ``model``.

    Raises :class:`ModelFileError` naming the file and listing missing, unexpected and mis-shaped keys.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: backbone weights file not found (see `anomaly-seg download-weights`)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt/unsafe files
        raise ModelFileError(f"{path}: cannot read backbone weights: {exc}") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ModelFileError(f"{path}: not a state dict of tensors")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    problems = describe_key_problems((("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)))
    if problems:
        spec = model.spec
        arch = f"embed_dim {spec.embed_dim}, depth {spec.depth}, {spec.num_register_tokens} registers"
        raise ModelFileError(f"{path}: does not match the backbone ({arch}): {problems}")
    model.load_state_dict(state, strict=True)
