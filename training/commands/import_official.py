"""``python -m training import-official``: a released UEM checkpoint -> our checkpoint + config."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from anomaly_seg.network.official import RELEASE_PAGE, VARIANTS

    parser.add_argument("ckpt", help=f"released Lightning checkpoint (.ckpt) from {RELEASE_PAGE}")
    parser.add_argument("--variant", required=True, choices=tuple(VARIANTS), help="which released model it is")
    parser.add_argument("--segmentor", help="the segmentor file it pairs with (checked against the copy inside)")
    parser.add_argument("--config", help="model config (default: models/configs/<the variant's official config>)")
    parser.add_argument("--out", required=True, help="output folder for official_<variant>.safetensors + .yaml")


def run(args: argparse.Namespace) -> int:
    from training.import_official import import_official

    result = import_official(args.ckpt, args.variant, args.out, args.segmentor, args.config)
    print(f"next: python -m training export --checkpoint {result.checkpoint} --mode sliding --out model.onnx")
    return 0
