"""``python -m training compare``: one model per seed method, all scored on the same frames (leaderboard)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``compare``."""
    from training.config import METHODS

    parser.add_argument("--out", type=Path, required=True, help="output folder (compare.json, compare.md, plots)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the smoke-sized version: tiny models trained on synthetic scenes (about 20 minutes on 2 CPU cores); "
        "without it the realtime recipes train on Cityscapes + COCO (a GPU and the data; or give --checkpoint)",
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="METHOD=PATH",
        help=f"use this trained model for METHOD ({', '.join(METHODS)}) instead of training one",
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="methods to compare")
    parser.add_argument("--test-images", type=int, default=64, help="synthetic held-out test scenes")
    parser.add_argument("--val-images", type=int, default=64, help="synthetic validation scenes (thresholds)")
    parser.add_argument(
        "--dataset",
        default=None,
        help="test on this dataset instead of synthetic scenes (names as in `evaluate`: lost_and_found, fs_laf, ...)",
    )
    parser.add_argument("--root", type=Path, default=None, help="dataset root folder")
    parser.add_argument("--split", default=None, help="dataset split (default: its evaluation split)")
    parser.add_argument("--set1", action="append", default=[], metavar="KEY=VALUE", help="stage-1 recipe override")
    parser.add_argument("--set2", action="append", default=[], metavar="KEY=VALUE", help="stage-2 recipe override")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Train or load, score, write; prints the leaderboard and where it is."""
    from anomaly_seg.errors import ConfigError
    from training.compare import CompareOptions, markdown, run_compare

    checkpoints = {}
    for item in args.checkpoint:
        method, sep, path = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--checkpoint {item!r}: expected METHOD=PATH")
        if not Path(path).is_file():
            raise ConfigError(f"--checkpoint {item!r}: no such file")
        checkpoints[method] = Path(path)
    options = CompareOptions(
        methods=tuple(args.methods),
        checkpoints=checkpoints,
        test_images=args.test_images,
        val_images=args.val_images,
        recipes="smoke" if args.quick else "realtime",
        overrides1=args.set1,
        overrides2=args.set2,
        progress=not args.no_progress,
    )
    if args.dataset is not None:
        from training.datasets import build_anomaly_dataset

        if args.root is None:
            raise ConfigError(f"--root is required for --dataset {args.dataset}")
        options.test = build_anomaly_dataset(args.dataset, args.root, args.split)
        options.test_name = f"{args.dataset} ({args.root})"
        options.synthetic = False
    doc = run_compare(args.out, options)
    print(markdown(doc))
    print(f"compare: {len(doc['methods'])} rows in {doc['seconds']:.0f} s; {args.out / 'compare.md'}")
    return 0
