"""Lightning-style checkpoints in the exact layout of the released UEM models, from ``shared/data/uem_official``.

The layout files list ``key<TAB>(shape)`` of every ``state_dict`` tensor (random initialisation of the official
code: names and shapes only). ``values="index"`` fills key i with the constant i + 1 as a stride-0 view (tiny file,
every tensor identifiable after mapping); ``values="random"`` draws values of working scales (fan-in scaled
weights, positive standard deviations, unit-norm GMM means), with the GMM training memory as a stride-0 view.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

LAYOUT_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "uem_official"
VARIANT_FILES = ("gmm", "discriminative", "g_g", "g_d", "d_d")
INT_SUFFIXES = (".num_batches_tracked", ".queue_ptr")


def require_layouts() -> Path:
    """The layout folder, or skip with the reason."""
    if not (LAYOUT_DIR / "g_g.txt").is_file():
        pytest.skip(f"shared data absent: {LAYOUT_DIR}")
    return LAYOUT_DIR


def read_layout(variant: str) -> list[tuple[str, tuple[int, ...]]]:
    """``[(key, shape)]`` of one released checkpoint's ``state_dict``, in file order."""
    rows = []
    for line in (require_layouts() / f"{variant}.txt").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        key, shape = line.split("\t")
        rows.append((key, tuple(int(s) for s in shape.strip("()").split(",") if s.strip())))
    return rows


def _random_tensor(key: str, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    def rand(*s: int) -> torch.Tensor:
        return torch.randn(s or shape, generator=gen)

    name = key.rsplit(".", 1)[-1]
    if key.endswith(".queue"):
        return torch.zeros(1).expand(shape)
    if name == "diagonal":
        return 0.15 + 0.35 * torch.rand(shape, generator=gen)  # standard deviations
    if name == "means":
        m = rand()
        unit: torch.Tensor = m / m.norm(dim=-1, keepdim=True)
        return unit
    if name in ("running_var",):
        return 0.5 + torch.rand(shape, generator=gen)
    if name in ("running_mean",):
        return 0.1 * rand()
    if name in ("eye_matrix",):
        return torch.ones(shape)
    if name == "gamma":  # LayerScale
        return 0.1 + 0.05 * rand()
    if len(shape) >= 2 and name == "weight":
        transposed = any(f".{conv}." in key for conv in ("fpn1.1", "fpn1.4", "fpn2.1"))  # ConvTranspose: [in, out, ...]
        return rand() / math.sqrt(shape[0] if transposed else math.prod(shape[1:]))
    if name == "weight":  # norm affine
        return 1.0 + 0.1 * rand()
    if name == "bias":
        return 0.05 * rand()
    return 0.02 * rand()  # cls/register/mask tokens, pos_embed


def layout_state(variant: str, values: str = "index", seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the layout of ``variant`` (see the module docstring for ``values``)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for i, (key, shape) in enumerate(read_layout(variant)):
        if key.endswith(INT_SUFFIXES):
            state[key] = torch.zeros(shape, dtype=torch.long)
        elif values == "index":
            state[key] = torch.full((), float(i + 1)).expand(shape)
        else:
            state[key] = _random_tensor(key, shape, gen)
    return state


def _easydict(value: Any) -> Any:
    from easydict import EasyDict

    if isinstance(value, dict):
        return EasyDict({k: _easydict(v) for k, v in value.items() if not k.startswith("__type__")})
    if isinstance(value, list):
        return [_easydict(v) for v in value]
    return value


def hyper_parameters(variant: str) -> Any:
    """The released ``hyper_parameters`` of ``variant`` as nested real ``easydict.EasyDict`` objects."""
    data = json.loads((require_layouts() / f"hparams_{variant}.json").read_text(encoding="utf-8"))
    return _easydict(data)


def write_lightning_checkpoint(path: Path, state: dict[str, torch.Tensor], variant: str) -> Path:
    """``torch.save`` a dict with the top-level keys of a Lightning checkpoint (EasyDict hyper-parameters)."""
    from collections import OrderedDict

    ckpt = {
        "epoch": 3,
        "global_step": 4000,
        "pytorch-lightning_version": "2.1.3",
        "state_dict": OrderedDict(state),
        "loops": {"fit_loop": {"state_dict": {}}},
        "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.9)}},
        "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(4)}}, "param_groups": [{"lr": 1e-7}]}],
        "lr_schedulers": [{"last_epoch": 4000}],
        "hparams_name": "config",
        "hyper_parameters": hyper_parameters(variant),
    }
    torch.save(ckpt, path)
    return path
