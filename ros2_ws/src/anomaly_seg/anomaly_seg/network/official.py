"""The released UEM checkpoints of the likelihood-ratio paper: restricted reading, layout detection, strict mapping.

A release file is a PyTorch Lightning checkpoint, i.e. a pickle: untrusted input. :func:`read_checkpoint` unpickles
it with an allow-list of the globals such a file needs (tensor rebuild, OrderedDict, an inert stand-in for
``easydict.EasyDict``; storages are resolved by torch itself) and refuses anything else, naming the global, before
it is called. Tensors are memory-mapped (``mmap=True``): the 0.8 GB GMM training memory in the file is never read.

:func:`load_official_state` maps the official ``state_dict`` onto an :class:`AnomalySegmenter` built from an
``official_*`` config by explicit prefix rules. Every official key is either loaded or dropped for a stated reason;
every model tensor is either loaded or listed (BatchNorm step counters; the UEM of a segmentor-only import).
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.model import AnomalySegmenter
from anomaly_seg.network.state_dict import describe_key_problems

RELEASE_URL = "https://github.com/NazirNayal8/UEM-likelihood-ratio/releases/download/model-weights"
RELEASE_PAGE = "https://github.com/NazirNayal8/UEM-likelihood-ratio/releases/tag/model-weights"


@dataclass(frozen=True)
class OfficialVariant:
    """One released checkpoint kind. ``asset`` is the release file name we expect (not verifiable offline)."""

    name: str
    description: str
    segmentor_head: str  # "gmm" | "linear"
    uem_head: str | None  # None: a segmentor without UEM
    config: str  # file name under models/configs/
    asset: str
    pairs_with: str | None = None

    @property
    def is_segmentor(self) -> bool:
        """A stage-1 segmentor (no UEM in the file)."""
        return self.uem_head is None


VARIANTS: dict[str, OfficialVariant] = {
    v.name: v
    for v in (
        OfficialVariant("gmm", "segmentor, GMM head", "gmm", None, "official_gmm_segmentor.yaml", "gmm-segmentor.ckpt"),
        OfficialVariant(
            "discriminative",
            "segmentor, linear head",
            "linear",
            None,
            "official_discriminative_segmentor.yaml",
            "linear-segmentor.ckpt",
        ),
        OfficialVariant("g_g", "GMM segmentor + GMM UEM", "gmm", "gmm", "official_gg.yaml", "g_g.ckpt", "gmm"),
        OfficialVariant("g_d", "GMM segmentor + linear UEM", "gmm", "linear", "official_gd.yaml", "g_d.ckpt", "gmm"),
        OfficialVariant(
            "d_d", "linear segmentor + linear UEM", "linear", "linear", "official_dd.yaml", "d_d.ckpt", "discriminative"
        ),
    )
}


def release_url(variant: str) -> str:
    """Download URL of a variant's release asset."""
    return f"{RELEASE_URL}/{VARIANTS[variant].asset}"


# --- restricted unpickling -------------------------------------------------------------------------------------


class EasyDictStandIn(dict):  # type: ignore[type-arg]
    """Inert stand-in for ``easydict.EasyDict``: a plain dict (no attribute magic, no code of that package)."""


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("easydict", "EasyDict"): EasyDictStandIn,
}
"""Globals a UEM Lightning checkpoint may name (``torch.FloatStorage`` / ``torch.LongStorage`` are resolved by
``torch.load`` to inert storage types before this list is consulted)."""


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.global_name = f"{module}.{name}"


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None


class RestrictedPickle:
    """The pickle "module" handed to ``torch.load``: its ``Unpickler`` admits only :data:`ALLOWED_GLOBALS`."""

    Unpickler = _RestrictedUnpickler

    @staticmethod
    def load(file: Any, **kwargs: Any) -> Any:
        return _RestrictedUnpickler(file, **kwargs).load()


@dataclass
class OfficialCheckpoint:
    """What :func:`read_checkpoint` returns: the ``state_dict`` (memory-mapped tensors) and the rest."""

    path: Path
    state_dict: dict[str, Tensor]
    hyper_parameters: dict[str, Any]
    other_keys: list[str]


def plain(value: Any) -> Any:
    """EasyDict stand-ins and OrderedDicts -> plain dicts/lists of JSON-able leaves (others as ``repr``)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def read_checkpoint(path: str | Path) -> OfficialCheckpoint:
    """Unpickle a Lightning checkpoint with :class:`RestrictedPickle`, tensors memory-mapped on the CPU.

    Raises :class:`ModelFileError` for a missing file, a non-zip file, a refused global (named) or a file
    without a ``state_dict`` of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: checkpoint not found (see `anomaly-seg download-weights --official`)")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a PyTorch zip checkpoint (torch.save / Lightning format)")
    try:
        ckpt = torch.load(path, map_location="cpu", pickle_module=RestrictedPickle, weights_only=False, mmap=True)
    except RefusedGlobal as exc:
        allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
        raise ModelFileError(
            f"{path}: refused to unpickle the global `{exc.global_name}`: a UEM checkpoint needs only {allowed} "
            "and torch storages. Nothing from the file was executed; it is corrupt, not a UEM checkpoint, "
            "or malicious."
        ) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: cannot read the checkpoint: {exc}") from exc
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get("state_dict"), Mapping):
        raise ModelFileError(f"{path}: no `state_dict` in the checkpoint (not a Lightning checkpoint)")
    state = dict(ckpt["state_dict"])
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise ModelFileError(f"{path}: state_dict entries that are not tensors: {', '.join(map(str, bad[:5]))}")
    hparams = ckpt.get("hyper_parameters", {})
    return OfficialCheckpoint(
        path=path,
        state_dict=state,
        hyper_parameters=plain(hparams) if isinstance(hparams, Mapping) else {},
        other_keys=sorted(str(k) for k in ckpt if k not in ("state_dict", "hyper_parameters")),
    )


# --- layout ----------------------------------------------------------------------------------------------------

SEGMENTOR = "segmentor."
DROPPED_SUFFIXES: dict[str, str] = {
    ".queue": "GMM training memory",
    ".queue_ptr": "GMM training memory pointer",
    ".eye_matrix": "GMM training covariance regulariser",
    ".iteration_counter": "GMM EM step counter",
    ".num_batches_tracked": "BatchNorm step counter (unused in eval mode)",
}
_LINEAR_AS_CONV = ("head.classifier.weight", "uem.head.weight")


def _head_kind(keys: set[str], prefix: str) -> str | None:
    if f"{prefix}.means" in keys:
        return "gmm"
    if f"{prefix}._head.weight" in keys:
        return "linear"
    return None


SEGMENTOR_VARIANTS = {"gmm": "gmm", "linear": "discriminative"}  # segmentor head kind -> variant name


def _letter(head: str) -> str:
    return "g" if head == "gmm" else "d"


def detect_variant(keys: set[str]) -> tuple[str, bool]:
    """(variant name, whether the segmentor tensors are in the file) from the official key layout.

    Raises :class:`ModelFileError` when the keys are not a UEM layout; a ``d_g`` layout (never released) is named.
    """
    is_ood = any(k.startswith(("ood_projector.", "ood_head.")) for k in keys)
    if not is_ood:
        seg = _head_kind(keys, "segmentation_head")
        if seg is None or not any(k.startswith("backbone.dinov2.") for k in keys):
            raise ModelFileError("not a UEM segmentor or OoD checkpoint (no backbone.dinov2.* / segmentation_head.*)")
        return SEGMENTOR_VARIANTS[seg], True
    uem = _head_kind(keys, "ood_head")
    if uem is None:
        raise ModelFileError("OoD checkpoint without ood_head.means or ood_head._head.weight")
    seg = _head_kind(keys, SEGMENTOR + "segmentation_head")
    if seg is None:
        return f"?_{_letter(uem)}", False
    return f"{_letter(seg)}_{_letter(uem)}", True


def _rules() -> list[tuple[str, str]]:
    """(official prefix, our prefix), most specific first. Official keys are normalised to the OoD form."""
    seg = SEGMENTOR
    return [
        (seg + "backbone.dinov2.", "backbone."),
        (seg + "backbone.learnable_layers.", "decoder."),
        (seg + "segmentation_head._head.", "head.classifier."),
        (seg + "segmentation_head.", "head."),
        ("ood_projector._layers.", "uem.projection."),
        ("ood_head._head.", "uem.head."),
        ("ood_head.", "uem.head."),
    ]


def our_key(official_key: str) -> str | None:
    """Our state-dict key for an official key in OoD form (``segmentor.`` prefix), None if no rule maps it."""
    for src, dst in _rules():
        if official_key.startswith(src):
            return dst + official_key[len(src) :]
    return None


def dropped_reason(official_key: str) -> str | None:
    """Why an official key is not loaded (a training-only tensor), or None."""
    return next((why for suffix, why in DROPPED_SUFFIXES.items() if official_key.endswith(suffix)), None)


@dataclass
class ImportReport:
    """What :func:`load_official_state` did with every tensor."""

    variant: str
    loaded: int = 0
    loaded_elements: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    dropped_elements: int = 0
    left_default: list[str] = field(default_factory=list)  # our keys not in the file (documented defaults)


def check_config(config: ModelConfig, variant: OfficialVariant) -> None:
    """The config must build the architecture of the released ``variant``; :class:`ConfigError` names the key."""
    expected: dict[str, Any] = {
        "backbone.name": ("vitb14_reg4", config.backbone.name.removeprefix("dinov2_")),
        "backbone.blocks": ((1, 4, 8, 11), tuple(config.backbone.fpn_blocks)),
        "decoder.type": ("dinov2_fpn", config.decoder.type),
        "decoder.channels": (256, config.decoder.channels),
        "head.type": ("gmm_official" if variant.segmentor_head == "gmm" else "linear", config.head.type),
        "uem.activation": ("relu", config.uem.activation),
    }
    if variant.uem_head is not None:
        expected["uem.head"] = ("gmm_official" if variant.uem_head == "gmm" else "linear", config.uem.head)
    for key, (want, got) in expected.items():
        if want != got:
            raise ConfigError(f"{key}: the released {variant.name} model needs {want!r}, the config has {got!r}")


def load_official_state(
    model: AnomalySegmenter, state: Mapping[str, Tensor], variant: OfficialVariant, source: str = "checkpoint"
) -> ImportReport:
    """Copy an official state dict (OoD key form: segmentor keys prefixed ``segmentor.``) into ``model`` in place.

    Strict: an unknown official key, a missing model tensor or a shape mismatch raises :class:`ModelFileError`
    listing all of them (nothing is copied then). Linear-layer weights ``[K, D]`` fill our 1x1 convolutions.
    """
    ours = model.state_dict()
    report = ImportReport(variant.name)
    plan: list[tuple[str, str, Tensor]] = []
    unknown: list[str] = []
    mismatched: list[str] = []
    covered: set[str] = set()
    for key, tensor in state.items():
        why = dropped_reason(key)
        if why is not None:
            report.dropped[why] = report.dropped.get(why, 0) + 1
            report.dropped_elements += tensor.numel()
            continue
        target = our_key(key)
        if target is None or target not in ours:
            unknown.append(key)
            continue
        covered.add(target)
        dst = ours[target]
        src = tensor
        if target in _LINEAR_AS_CONV and tensor.dim() == 2 and dst.dim() == 4:
            src = tensor[:, :, None, None]
        if src.shape != dst.shape:
            mismatched.append(f"{key} {tuple(tensor.shape)} -> {target} {tuple(dst.shape)}")
            continue
        plan.append((key, target, src))
    missing = []
    for key in ours:
        if key in covered:
            continue
        if key.endswith(".num_batches_tracked") or (variant.is_segmentor and key.startswith("uem.")):
            report.left_default.append(key)
        else:
            missing.append(key)
    problems = describe_key_problems(
        (
            ("keys not in the released layout", unknown),
            ("shape mismatches (official -> ours)", mismatched),
            ("model tensors the file does not provide", missing),
        )
    )
    if problems:
        raise ModelFileError(f"{source}: does not fit the released {variant.name} layout: {problems}")
    with torch.no_grad():
        for _, target, src in plan:
            ours[target].copy_(src)
            report.loaded += 1
            report.loaded_elements += src.numel()
    model.backbone.refresh_pos_embed()
    return report


def combined_state(
    ckpt: OfficialCheckpoint, segmentor: OfficialCheckpoint | None, log: Callable[[str], None] = print
) -> tuple[str, dict[str, Tensor]]:
    """(detected variant, state in OoD key form) of a checkpoint and an optional separate segmentor file.

    An OoD file carries its frozen segmentor; a ``segmentor`` file is then checked tensor by tensor against that
    copy (a wrong pairing is an error). An OoD file without segmentor tensors takes them from ``segmentor``.
    """
    name, has_segmentor = detect_variant(set(ckpt.state_dict))
    if name in SEGMENTOR_VARIANTS.values():
        if segmentor is not None:
            raise ConfigError(f"--segmentor: {ckpt.path} is itself a segmentor ({name}); pass one file")
        return name, {SEGMENTOR + k: v for k, v in ckpt.state_dict.items()}
    state = dict(ckpt.state_dict)
    if segmentor is None:
        if not has_segmentor:
            raise ConfigError(f"{ckpt.path}: holds no segmentor tensors; pass its segmentor with --segmentor")
        return name, state
    seg_name, _ = detect_variant(set(segmentor.state_dict))
    if seg_name not in SEGMENTOR_VARIANTS.values():
        raise ConfigError(f"--segmentor: {segmentor.path} is an OoD checkpoint ({seg_name}), not a segmentor")
    if not has_segmentor:
        state.update({SEGMENTOR + k: v for k, v in segmentor.state_dict.items()})
        return f"{_letter(VARIANTS[seg_name].segmentor_head)}{name[1:]}", state

    def differs(key: str, value: Tensor) -> bool:
        embedded = state.get(SEGMENTOR + key)
        return embedded is None or embedded.shape != value.shape or not torch.equal(embedded, value)

    differing = [k for k, v in segmentor.state_dict.items() if dropped_reason(k) is None and differs(k, v)]
    if differing:
        raise ModelFileError(
            f"--segmentor: {segmentor.path} differs from the segmentor inside {ckpt.path} in {len(differing)} tensors "
            f"(first: {differing[0]}); the OoD file's own copy is the one its UEM was trained with: drop --segmentor "
            "or pass the matching file"
        )
    log(f"--segmentor {segmentor.path.name}: identical to the segmentor inside {ckpt.path.name}")
    return name, state
