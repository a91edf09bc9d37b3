"""Resume state in safetensors (no pickle): optimiser tensors, RNG states, step and data position.

Tensors are stored as ``optimizer/<param index>/<name>`` and ``rng/<name>``; everything else (optimiser param
groups, GradScaler state, counters) is JSON in the file's metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from anomaly_seg.errors import ModelFileError

FORMAT = "anomaly_seg.train_state/1"


@dataclass
class Progress:
    """Where training stands: optimiser steps done, data epoch and batches consumed in it, best validation score."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    best_metric: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)


def save_state(
    path: Path,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    scaler: torch.amp.GradScaler | None = None,
) -> Path:
    """Write optimiser, GradScaler, RNG and progress to ``path`` (written to a temp file, then renamed)."""
    from safetensors.torch import save_file

    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, entry in opt["state"].items():
        for name, value in entry.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optimizer/{index}/{name}"] = t.detach().cpu().contiguous().clone()
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    metadata = {
        "format": FORMAT,
        "param_groups": json.dumps(opt["param_groups"]),
        "scaler": json.dumps(scaler.state_dict() if scaler is not None and scaler.is_enabled() else {}),
        "progress": json.dumps(asdict(progress)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def load_state(
    path: Path,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None = None,
    device: torch.device | str = "cpu",
) -> Progress:
    """Restore what :func:`save_state` wrote into ``optimizer`` (and ``scaler``); returns the progress."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{path}: not a readable training state file: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a training state file (format {meta.get('format')!r})")
    groups: list[dict[str, Any]] = json.loads(meta["param_groups"])
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        parts = key.split("/")
        if parts[0] == "optimizer":
            state.setdefault(int(parts[1]), {})[parts[2]] = value.to(device) if parts[2] != "step" else value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: optimiser state does not match this model and recipe: {exc}") from exc
    scaler_state = json.loads(meta.get("scaler", "{}"))
    if scaler is not None and scaler.is_enabled() and scaler_state:
        scaler.load_state_dict(scaler_state)
    torch.set_rng_state(tensors["rng/torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda/")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    return Progress(**json.loads(meta["progress"]))
