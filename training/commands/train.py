"""``python -m training train``: stage 1 (inlier segmentor) or stage 2 (UEM) from a recipe YAML.

Multi-GPU: ``torchrun --nproc_per_node N -m training train --config ... --out ...`` (DDP; ``data.batch_size`` is the
global batch, so the same recipe gives the same optimisation on any number of GPUs).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``train``."""
    parser.add_argument("--config", type=Path, required=True, help="training recipe YAML (training/configs/*.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, TensorBoard logs, recipe")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key (repeatable), e.g. --set optim.lr=1e-4 --set init=runs/s1/best.safetensors",
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.state.safetensors if present")


def run(args: argparse.Namespace) -> int:
    """Train; prints the validation metric of the selected model and where the checkpoints are."""
    from training.config import TrainConfig
    from training.distributed import init_distributed, shutdown_distributed
    from training.trainers import train

    config = TrainConfig.from_yaml(args.config, args.overrides)
    info = init_distributed(config.device)
    try:
        result = train(config, args.out, resume=args.resume, dist=info)
    finally:
        shutdown_distributed()
    if info.is_main:
        best = "n/a" if result.best_metric is None else f"{result.best_metric:.4f}"
        print(
            f"train: stage {config.stage}, {result.steps} steps in {result.seconds:.0f} s on {info.world_size} "
            f"process(es); best val {result.metric_name} {best}; model {result.best} (last: {result.last})"
        )
    return 0
