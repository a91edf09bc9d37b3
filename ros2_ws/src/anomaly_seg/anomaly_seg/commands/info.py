"""``anomaly-seg info``: parameters per part, input/output shapes and (with ``--flops``) FLOPs of a model config."""

from __future__ import annotations

import argparse
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must be HxW, e.g. 518x1036, got {text!r}") from exc
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``info``."""
    parser.add_argument("--config", type=Path, required=True, help="model config YAML (models/configs/*.yaml)")
    parser.add_argument("--size", type=_size, default=None, help="frame size HxW (default: the network size)")
    parser.add_argument("--flops", action="store_true", help="count FLOPs per frame with FlopCounterMode")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also count the reference setting: this backbone twice per window, sliding over --size (1024x2048)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the report; the last line is ``TFLOP/frame: X`` when FLOPs are counted."""
    import torch

    from anomaly_seg.network.config import ModelConfig
    from anomaly_seg.network.flops import frame_flops, reference_flops
    from anomaly_seg.network.model import AnomalySegmenter
    from anomaly_seg.network.sliding import SlidingWindowSegmenter

    config = ModelConfig.from_yaml(args.config)
    size = args.size or config.input.size
    sliding = config.sliding.enabled and size != config.input.size
    if size != config.input.size and not sliding:
        print(f"note: full-frame model; frames of {size[0]}x{size[1]} are resized to {config.input.size}")
        size = config.input.size
    with torch.device("meta"):
        model = AnomalySegmenter(config).eval()
        image = torch.zeros(1, *size, 3, dtype=torch.uint8)
    print(f"config: {config.name} ({args.config}), variant {config.variant}, backbone {config.backbone.name}")
    print(f"network size: {config.input.size[0]}x{config.input.size[1]}, FPN blocks {list(config.backbone.fpn_blocks)}")
    print(f"{'part':<10}{'params':>14}{'trainable (stage 1)':>22}")
    total = trainable = 0
    for name in ("backbone", "decoder", "head", "uem"):
        part = getattr(model, name)
        n = sum(p.numel() for p in part.parameters())
        t = sum(p.numel() for p in part.parameters() if p.requires_grad)
        total, trainable = total + n, trainable + t
        print(f"{name:<10}{n:>14,}{t:>22,}")
    print(f"{'total':<10}{total:>14,}{trainable:>22,}")
    module: torch.nn.Module = SlidingWindowSegmenter(model, size).to("meta") if sliding else model
    with torch.no_grad():
        outputs = module(image)
    mode = f"sliding window ({module.num_windows} windows)" if isinstance(module, SlidingWindowSegmenter) else "full"
    print(f"mode: {mode}")
    print(f"input  image: uint8 {list(image.shape)}")
    for name, out in zip(("semantic", "anomaly_score", "uncertainty"), outputs):
        print(f"output {name}: {str(out.dtype).removeprefix('torch.')} {list(out.shape)}")
    if args.reference:
        ref = reference_flops(config, frame=args.size or (1024, 2048))
        print(f"reference ({ref.windows} windows, 2 backbone passes each): {ref.tflop:.2f} TFLOP/frame")
    if args.flops or args.reference:
        report = frame_flops(config, size)
        for name, flops in report.parts.items():
            print(f"GFLOP {name}: {flops / 1e9:.1f}")
        print(f"TFLOP/frame: {report.tflop:.4g}")
    return 0
