"""Learning-rate schedule: linear warm-up, then polynomial decay (mmseg's ``PolyLR`` after ``LinearLR``)."""

from __future__ import annotations

from training.config import ScheduleConfig


def lr_at(step: int, base_lr: float, schedule: ScheduleConfig) -> float:
    """Learning rate of optimiser step ``step`` (0-based).

    Warm-up: ``base_lr * (f + (1 - f) * step / warmup)`` with ``f = warmup_factor``; then
    ``(base_lr - min_lr) * (1 - t) ** power + min_lr`` with ``t`` going from 0 to 1 over the remaining steps.
    """
    if step < schedule.warmup:
        f = schedule.warmup_factor
        return base_lr * (f + (1.0 - f) * step / schedule.warmup)
    t = min(1.0, (step - schedule.warmup) / max(1, schedule.iterations - schedule.warmup))
    min_lr = min(schedule.min_lr, base_lr)
    return float((base_lr - min_lr) * (1.0 - t) ** schedule.poly_power + min_lr)
