"""Training recipes: one frozen dataclass per concern (data, optimisation, schedule, outliers, loss, logging).

A recipe is a YAML file (``training/configs/*.yaml``) plus command-line overrides (``--set optim.lr=1e-4``), validated
once at start; every problem raises :class:`~anomaly_seg.errors.ConfigError` naming the key. The network itself is
described by a model config (``models/configs/*.yaml``) that the recipe points to.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The model config's validating dict reader is reused so both configs report errors the same way.
from anomaly_seg.config_schema import dataclass_from_dict, dataclass_to_dict, read_yaml_mapping
from anomaly_seg.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("synthetic", "cityscapes")
OUTLIER_SOURCES = ("synthetic", "coco", "none")
AMP_MODES = ("auto", "bf16", "fp16", "off")
DEVICES = ("auto", "cpu", "cuda")
#: Stage-2 training methods: the UEM's likelihood ratio (Nayal et al.); entropy maximisation (Chan et al.: the
#: segmentation head fine-tuned to maximal softmax entropy on pasted outliers; the deployed score is the entropy);
#: an outlier head (Bevandic et al.: a binary head on the decoder features trained with BCE on pasted noisy negatives
#: jointly with the segmentation head; the deployed score is OP x MSM).
METHODS = ("uem", "entropy_max", "outlier_head")


def _check(key: str, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


@dataclass(frozen=True)
class DataConfig:
    """Training and validation images.

    ``batch_size`` is the GLOBAL batch of one optimiser step; it is split evenly over processes (DDP) and
    accumulation steps, so a recipe means the same optimisation on any number of GPUs.
    ``synthetic_*`` are numbers of generated scenes (``dataset: synthetic``); ``root`` is the Cityscapes root.
    """

    dataset: str = "synthetic"
    root: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    synthetic_train: int = 512
    synthetic_val: int = 32
    scene_size: tuple[int, int] | None = None  # synthetic scene (height, width); None: the network size
    scale_range: tuple[float, float] = (0.5, 2.0)
    hflip_prob: float = 0.5
    jitter_prob: float = 0.8
    batch_size: int = 8
    num_workers: int = 2
    val_batch_size: int = 4
    val_max_images: int | None = None

    def __post_init__(self) -> None:
        _check("data.dataset", self.dataset in DATASETS, f"{self.dataset!r} is not one of {', '.join(DATASETS)}")
        if self.dataset == "cityscapes":
            _check("data.root", bool(self.root), "the Cityscapes root folder is required for dataset cityscapes")
        for key in ("synthetic_train", "synthetic_val", "batch_size", "val_batch_size"):
            _check(f"data.{key}", getattr(self, key) > 0, f"must be > 0, got {getattr(self, key)}")
        _check("data.num_workers", self.num_workers >= 0, f"must be >= 0, got {self.num_workers}")
        lo, hi = self.scale_range
        _check("data.scale_range", 0 < lo <= hi, f"must satisfy 0 < lo <= hi, got {list(self.scale_range)}")
        for key in ("hflip_prob", "jitter_prob"):
            _check(f"data.{key}", 0.0 <= getattr(self, key) <= 1.0, f"must be within [0, 1], got {getattr(self, key)}")
        if self.scene_size is not None:
            _check("data.scene_size", min(self.scene_size) >= 16, f"sides must be >= 16, got {list(self.scene_size)}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW; ``backbone_lr_scale`` multiplies the lr of a trained (not frozen) backbone; ``accumulate`` micro-steps
    per optimiser step; ``amp``: mixed precision on CUDA (auto = bf16 where supported, else fp16 + GradScaler)."""

    lr: float = 5e-4
    weight_decay: float = 1e-2
    betas: tuple[float, float] = (0.9, 0.999)
    backbone_lr_scale: float = 1.0
    grad_clip: float | None = 1.0
    accumulate: int = 1
    amp: str = "auto"

    def __post_init__(self) -> None:
        _check("optim.lr", self.lr > 0, f"must be > 0, got {self.lr}")
        _check("optim.weight_decay", self.weight_decay >= 0, f"must be >= 0, got {self.weight_decay}")
        _check("optim.betas", all(0 <= b < 1 for b in self.betas), f"must be in [0, 1), got {list(self.betas)}")
        _check("optim.backbone_lr_scale", self.backbone_lr_scale >= 0, f"must be >= 0, got {self.backbone_lr_scale}")
        _check("optim.grad_clip", self.grad_clip is None or self.grad_clip > 0, f"must be > 0, got {self.grad_clip}")
        _check("optim.accumulate", self.accumulate >= 1, f"must be >= 1, got {self.accumulate}")
        _check("optim.amp", self.amp in AMP_MODES, f"{self.amp!r} is not one of {', '.join(AMP_MODES)}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Linear warm-up from ``warmup_factor * lr`` over ``warmup`` steps, then polynomial decay to ``min_lr``."""

    iterations: int = 1000
    warmup: int = 100
    warmup_factor: float = 1e-3
    poly_power: float = 1.0
    min_lr: float = 0.0
    val_every: int = 500
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        _check("schedule.iterations", self.iterations > 0, f"must be > 0, got {self.iterations}")
        _check("schedule.warmup", 0 <= self.warmup < self.iterations, "must be in [0, schedule.iterations)")
        _check("schedule.warmup_factor", 0 < self.warmup_factor <= 1, f"must be in (0, 1], got {self.warmup_factor}")
        _check("schedule.poly_power", self.poly_power > 0, f"must be > 0, got {self.poly_power}")
        _check("schedule.min_lr", self.min_lr >= 0, f"must be >= 0, got {self.min_lr}")
        for key in ("val_every", "checkpoint_every"):
            _check(f"schedule.{key}", getattr(self, key) > 0, f"must be > 0, got {getattr(self, key)}")


@dataclass(frozen=True)
class OutlierConfig:
    """Pasted outliers for stage 2 (and its validation set): synthetic obstacle patches of TRAIN kinds or COCO.
    ``stage1_probability`` > 0 also pastes them in stage 1, void for the inlier loss (the inlier model learns to
    segment the scene around objects it has no class for). Held-out obstacle kinds are rejected: they are reserved
    for testing on unseen kinds.
    """

    source: str = "synthetic"
    coco_root: str | None = None
    probability: float = 0.2
    val_probability: float = 1.0
    stage1_probability: float = 0.0
    area_range: tuple[float, float] = (0.001, 0.1)
    kinds: tuple[str, ...] | None = None  # synthetic kinds; None: all TRAIN_OBSTACLE_KINDS
    patch_size_range: tuple[int, int] = (48, 160)
    #: share of training samples replaced by a whole outlier image (an outlier drawn from the source, resized to
    #: the crop; its pixels are outliers, the rest void): the proxy's whole images mixed into the inlier batches
    whole_image_probability: float = 0.0

    def __post_init__(self) -> None:
        _check("outliers.source", self.source in OUTLIER_SOURCES, f"{self.source!r} not in {OUTLIER_SOURCES}")
        if self.source == "coco":
            _check("outliers.coco_root", bool(self.coco_root), "the COCO root is required for source coco")
        for key in ("probability", "val_probability", "stage1_probability", "whole_image_probability"):
            v = getattr(self, key)
            _check(f"outliers.{key}", 0.0 <= v <= 1.0, f"must be within [0, 1], got {v}")
        lo, hi = self.area_range
        _check("outliers.area_range", 0 < lo <= hi <= 1, f"must satisfy 0 < lo <= hi <= 1, got {[lo, hi]}")
        lo_px, hi_px = self.patch_size_range
        _check("outliers.patch_size_range", 4 <= lo_px <= hi_px, f"must satisfy 4 <= lo <= hi, got {[lo_px, hi_px]}")
        if self.kinds is not None:
            from anomaly_seg.synthetic.obstacles import HELDOUT_OBSTACLE_KINDS, TRAIN_OBSTACLE_KINDS

            for kind in self.kinds:
                _check(
                    "outliers.kinds",
                    kind not in HELDOUT_OBSTACLE_KINDS,
                    f"{kind!r} is a held-out kind (kept for testing on unseen obstacles)",
                )
                _check("outliers.kinds", kind in TRAIN_OBSTACLE_KINDS, f"unknown kind {kind!r}")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights: ``gmm_beta`` (GMMSeg contrastive term), ``uem_alpha`` (stage 2 GMM term, G-G only);
    ``em_every`` optimiser steps between Sinkhorn-EM updates of GMM heads; ``em_per_class`` memory pushes."""

    gmm_beta: float = 0.01
    uem_alpha: float = 0.1
    em_every: int = 1
    em_per_class: int = 64
    #: entropy maximisation: L = (1 - lambda) CE(inliers) + lambda L_entropy(outliers) (Chan et al.: 0.9)
    entropy_lambda: float = 0.9
    #: outlier head: L = CE(inliers) + outlier_weight x BCE(outlier logit, pasted-negative target)
    outlier_weight: float = 0.2

    def __post_init__(self) -> None:
        for key in ("gmm_beta", "uem_alpha"):
            _check(f"loss.{key}", getattr(self, key) >= 0, f"must be >= 0, got {getattr(self, key)}")
        _check(
            "loss.entropy_lambda", 0 <= self.entropy_lambda <= 1, f"must be within [0, 1], got {self.entropy_lambda}"
        )
        for key in ("em_every", "em_per_class"):
            _check(f"loss.{key}", getattr(self, key) >= 1, f"must be >= 1, got {getattr(self, key)}")


@dataclass(frozen=True)
class LoggingConfig:
    """Console / TensorBoard logging every ``log_every`` steps; ``progress`` shows tqdm bars."""

    log_every: int = 10
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        _check("logging.log_every", self.log_every > 0, f"must be > 0, got {self.log_every}")


@dataclass(frozen=True)
class TrainConfig:
    """A full training recipe. ``model`` is a model-config YAML (relative paths: to the recipe's folder, then the
    repository root); ``init`` a checkpoint to start from (stage 2: the stage-1 model)."""

    stage: int = 1
    method: str = "uem"  # stage 2: METHODS
    model: str = "models/configs/tiny.yaml"
    init: str | None = None
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    outliers: OutlierConfig = field(default_factory=OutlierConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def __post_init__(self) -> None:
        _check("stage", self.stage in (1, 2), f"must be 1 or 2, got {self.stage}")
        _check("device", self.device in DEVICES, f"{self.device!r} is not one of {', '.join(DEVICES)}")
        _check("method", self.method in METHODS, f"{self.method!r} is not one of {', '.join(METHODS)}")
        if self.stage == 2:
            _check("outliers.source", self.outliers.source != "none", "stage 2 needs pasted outliers")
        _check("method", self.stage == 2 or self.method == "uem", f"{self.method} is a stage-2 method (init: stage 1)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build and validate from a nested dict (unknown keys and wrong types raise :class:`ConfigError`)."""
        config: TrainConfig = dataclass_from_dict(cls, data)
        return config

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
        """Load a recipe and apply ``key.sub=value`` overrides (values parsed as YAML); errors name file and key."""
        path = Path(path)
        data = read_yaml_mapping(path, "training config")
        data = apply_overrides(data, overrides)
        if isinstance(data.get("model"), str):
            data["model"] = str(resolve_path(data["model"], path.parent))
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict that :meth:`from_dict` reads back."""
        return dataclass_to_dict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """Copy with top-level fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)


def resolve_path(value: str, base: Path) -> Path:
    """``value`` as given if absolute or existing, else relative to ``base``, else to the repository root."""
    p = Path(value)
    if p.is_absolute() or p.exists():
        return p
    for root in (base, REPO_ROOT):
        if (root / p).exists():
            return root / p
    return p


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` set (value parsed as YAML: numbers, lists, null ...)."""
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. optim.lr=1e-4")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {exc}") from exc
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])} is not a section")
            node = child
        node[parts[-1]] = value
    return out
