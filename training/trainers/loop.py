"""The training loop shared by both stages: AdamW + warm-up/poly schedule, mixed precision, gradient accumulation,
DDP, validation-based model selection, safetensors checkpoints and exact resume of the optimiser and data order."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from anomaly_seg.errors import ConfigError
from anomaly_seg.network import AnomalySegmenter, ModelConfig, build_model, load_checkpoint, save_checkpoint
from training.config import TrainConfig
from training.distributed import DistInfo, all_reduce_sum, barrier
from training.trainers.data import ResumableSampler, make_loader, micro_batch_size, train_dataset, val_dataset
from training.trainers.objective import StageObjective, entropy_target
from training.trainers.schedule import lr_at
from training.trainers.state import Progress, load_state, save_state

BEST, LAST, STATE = "best.safetensors", "last.safetensors", "last.state.safetensors"


@dataclass
class TrainResult:
    """Where a run put its outputs and how it ended. ``best`` is the model selected on the validation set."""

    out_dir: Path
    best: Path
    last: Path
    metric_name: str
    best_metric: float | None
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def select_device(name: str, info: DistInfo) -> torch.device:
    """``cuda:<local rank>`` when asked for (or ``auto`` and available), else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda requested but torch sees no CUDA device")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", info.local_rank)
    return torch.device("cpu")


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: None (off) on CPU or ``off``; bf16 where supported for ``auto``, else fp16."""
    if device.type != "cuda" or mode == "off":
        return None
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def build_stage_model(config: TrainConfig) -> tuple[AnomalySegmenter, ModelConfig]:
    """The model to train: from ``init`` (a checkpoint) or built from the model config (official backbone weights
    loaded when the config names them), switched to the recipe's stage."""
    if config.init:
        model, model_config = load_checkpoint(config.init)
    else:
        model_config = ModelConfig.from_yaml(config.model)
        model = build_model(model_config, pretrained=model_config.backbone.weights is not None)
    model.set_stage(config.stage)
    if config.method != "uem":
        # Chan et al. (entropy_max) and Bevandic et al. (outlier_head, with a fresh outlier head) fine-tune the
        # segmentation model's trainable part (decoder + head; backbone frozen); the deployed score becomes the
        # normalised entropy or OP x MSM, so the node runs the model unchanged
        if config.method == "entropy_max":
            from dataclasses import replace

            model.config = replace(model_config, score="entropy")
        else:
            model.add_outlier_head()
        model_config = model.config
        model.set_stage(1)
        model.backbone.requires_grad_(False)
        model.train(model.training)
    # Only masked-image pre-training uses the mask token; a trainable parameter without gradients would stall DDP.
    model.backbone.mask_token.requires_grad_(False)
    return model, model_config


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: (backbone | rest) x (decay | no decay: biases, norms, tokens, position embeddings)."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim <= 1 or name.endswith(("pos_embed", "cls_token", "register_tokens"))
        groups.setdefault((name.startswith("backbone."), no_decay), []).append(p)
    out = []
    for (backbone, no_decay), params in sorted(groups.items()):
        scale = config.optim.backbone_lr_scale if backbone else 1.0
        wd = 0.0 if no_decay else config.optim.weight_decay
        out.append({"params": params, "lr": config.optim.lr * scale, "lr_scale": scale, "weight_decay": wd})
    if not out:
        raise ConfigError(f"stage {config.stage}: the model has no trainable parameters")
    return out


class Trainer:
    """Trains stage ``config.stage``; ``fit()`` runs to ``schedule.iterations`` and returns a :class:`TrainResult`."""

    def __init__(
        self, config: TrainConfig, out_dir: str | Path, *, resume: bool = False, dist: DistInfo | None = None
    ) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.dist = dist or DistInfo()
        self.device = select_device(config.device, self.dist)
        self.micro = micro_batch_size(config.data, config.optim.accumulate, self.dist.world_size)
        torch.manual_seed(config.seed)
        self.model, self.model_config = build_stage_model(config)
        self.model.to(self.device).train()
        self.objective = StageObjective(self.model, config.stage, config.loss, config.method)
        self.module: nn.Module = self.objective
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.module = DistributedDataParallel(self.objective, device_ids=ids)
        self.optimizer = torch.optim.AdamW(
            param_groups(self.model, config), lr=config.optim.lr, betas=config.optim.betas
        )
        self.amp = amp_dtype(config.optim.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        self.train_set = train_dataset(config, self.model_config)
        self.sampler = ResumableSampler(
            self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank, seed=config.seed, drop_last=True
        )
        if len(self.sampler) < self.micro:
            raise ConfigError(f"data: {len(self.train_set)} training images are fewer than one global batch")
        self.val_set = val_dataset(config, self.model_config)
        self.progress = Progress()
        if resume and (self.out_dir / STATE).is_file():
            self._resume()

    @property
    def metric_name(self) -> str:
        """Model-selection metric: ``miou`` (stage 1) or ``ap`` of the LLR with pasted TRAIN-kind outliers (stage 2)."""
        return "miou" if self.config.stage == 1 else "ap"

    def _resume(self) -> None:
        from safetensors.torch import load_file

        self.model.load_state_dict(load_file(str(self.out_dir / LAST), device=str(self.device)), strict=True)
        self.progress = load_state(self.out_dir / STATE, self.optimizer, self.scaler, self.device)
        self.model.train()

    def _batches(self) -> Iterator[dict[str, Any]]:
        """Endless micro-batches, epoch after epoch, starting where :attr:`progress` says."""
        while True:
            self.sampler.set_epoch(self.progress.epoch)
            self.sampler.start = self.progress.batches_in_epoch * self.micro
            self.train_set.epoch = self.progress.epoch
            loader = make_loader(self.train_set, self.micro, self.config.data.num_workers, self.sampler)
            for batch in loader:
                self.progress.batches_in_epoch += 1
                yield batch
            self.progress.epoch += 1
            self.progress.batches_in_epoch = 0

    def _target(self, batch: dict[str, Any]) -> torch.Tensor:
        if self.config.method in ("entropy_max", "outlier_head"):
            for key in ("train_ids", "anomaly"):
                if key not in batch:
                    raise ConfigError(f"method {self.config.method}: training data has no {key} target")
            return entropy_target(batch["train_ids"], batch["anomaly"]).to(self.device, non_blocking=True)
        key = "train_ids" if self.config.stage == 1 else "anomaly"
        if key not in batch:
            raise ConfigError(f"stage {self.config.stage}: training data has no {key} target")
        return batch[key].to(self.device, non_blocking=True)  # type: ignore[no-any-return]

    def train_step(self, micro_batches: list[dict[str, Any]]) -> torch.Tensor:
        """One optimiser step over the micro-batches of this process; returns the mean loss terms (logging)."""
        targets = [self._target(b) for b in micro_batches]
        local = [self.objective.term_counts(t) for t in targets]
        total = all_reduce_sum(torch.stack(local).sum(0), self.dist)
        scale = self.dist.world_size / total.clamp_min(1.0)
        terms_sum = torch.zeros(len(self.objective.term_names), device=self.device)
        for i, (batch, target, counts) in enumerate(zip(micro_batches, targets, local)):
            weights = (counts * scale).float()
            last = i == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or not self.dist.enabled else self.module.no_sync()  # type: ignore[operator]
            autocast = torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)
            with sync:
                with autocast:
                    loss, terms = self.module(batch["image"].to(self.device, non_blocking=True), target, weights)
                self.scaler.scale(loss).backward()
            terms_sum += terms
        if self.config.optim.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.config.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        step = self.progress.step + 1
        self.objective.em_step(update=step % self.config.loss.em_every == 0)
        return terms_sum / len(micro_batches)

    def set_lr(self, step: int) -> float:
        """Apply the schedule for ``step``; returns the base learning rate."""
        lr = lr_at(step, self.config.optim.lr, self.config.schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        return lr

    def validate(self) -> dict[str, float]:
        """Validation metrics of the current model (rank 0 only; ``{}`` elsewhere). Stage 2 adds the suggested
        ``score_threshold`` (pixel-F1-optimal, see :mod:`training.trainers.threshold`), keeps the 95 %-TPR one
        as ``score_threshold_tpr95``, and adds ``component_threshold`` (SMIYC mean-F1-optimal)."""
        if not self.dist.is_main:
            return {}
        from training.evaluate import validate_model

        batch = self.config.data.val_batch_size
        metrics = validate_model(self.model, self.val_set, self.config.stage, batch)
        if self.config.stage == 2:
            from training.trainers.threshold import component_threshold, suggested_threshold

            if "score_threshold" in metrics:
                metrics["score_threshold_tpr95"] = metrics.pop("score_threshold")
            score = self.model.config.score  # the deployed score (LLR, entropy or OP x MSM)
            metrics.update(suggested_threshold(self.model, self.val_set, batch, score))
            pixel_best = (metrics["score_threshold"],) if "score_threshold" in metrics else ()
            metrics.update(component_threshold(self.model, self.val_set, batch, score, extra=pixel_best))
        self.model.train()
        return metrics

    def _save(self, val: dict[str, float], best: bool) -> None:
        if not self.dist.is_main:
            return
        extra = {"stage": self.config.stage, "step": self.progress.step, "val": val, "recipe": self.config.to_dict()}
        for key in ("score_threshold", "component_threshold"):
            if key in val:
                extra[key] = val[key]
        save_checkpoint(self.out_dir / LAST, self.model, self.model_config, extra)
        save_state(self.out_dir / STATE, self.optimizer, self.progress, self.scaler)
        if best:
            save_checkpoint(self.out_dir / BEST, self.model, self.model_config, extra)

    def fit(self) -> TrainResult:
        """Train to ``schedule.iterations``, validating and checkpointing on schedule; returns where things are."""
        from tqdm import tqdm

        cfg, sched = self.config, self.config.schedule
        writer = None
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "recipe.json").write_text(json.dumps(cfg.to_dict(), indent=1), encoding="utf-8")
            if cfg.logging.tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        start = time.perf_counter()
        batches = self._batches()
        bar = tqdm(
            total=sched.iterations,
            initial=self.progress.step,
            desc=f"stage {cfg.stage}",
            unit="step",
            disable=not (cfg.logging.progress and self.dist.is_main),
        )
        val: dict[str, float] = {}
        while self.progress.step < sched.iterations:
            lr = self.set_lr(self.progress.step)
            terms = self.train_step([next(batches) for _ in range(cfg.optim.accumulate)])
            self.progress.step += 1
            bar.update(1)
            step = self.progress.step
            if step % cfg.logging.log_every == 0 or step == sched.iterations:
                values = {n: float(v) for n, v in zip(self.objective.term_names, terms.cpu())}
                if not all(math.isfinite(v) for v in values.values()):
                    raise FloatingPointError(f"stage {cfg.stage} step {step}: non-finite loss {values}")
                bar.set_postfix({**{k: f"{v:.4f}" for k, v in values.items()}, "lr": f"{lr:.2e}"})
                if writer is not None:
                    for k, v in values.items():
                        writer.add_scalar(f"train/loss_{k}", v, step)
                    writer.add_scalar("train/lr", lr, step)
            if step % sched.val_every == 0 or step == sched.iterations:
                val = self.validate()
                improved = False
                if self.dist.is_main:
                    metric = val[self.metric_name]
                    self.progress.history.append({"step": float(step), **val})
                    best = self.progress.best_metric
                    improved = best is None or (math.isfinite(metric) and metric > best)
                    if improved:
                        self.progress.best_metric = metric
                    if writer is not None:
                        for k, v in val.items():
                            writer.add_scalar(f"val/{k}", v, step)
                    bar.write(f"stage {cfg.stage} step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in val.items()))
                self._save(val, improved)
                barrier(self.dist)
            elif step % sched.checkpoint_every == 0:
                self._save(val, False)
                barrier(self.dist)
        bar.close()
        if writer is not None:
            writer.close()
        return TrainResult(
            self.out_dir,
            self.out_dir / BEST,
            self.out_dir / LAST,
            self.metric_name,
            self.progress.best_metric,
            self.progress.step,
            time.perf_counter() - start,
            list(self.progress.history),
        )


def train(
    config: TrainConfig, out_dir: str | Path, *, resume: bool = False, dist: DistInfo | None = None
) -> TrainResult:
    """Run one training stage (see :class:`Trainer`)."""
    return Trainer(config, out_dir, resume=resume, dist=dist).fit()
