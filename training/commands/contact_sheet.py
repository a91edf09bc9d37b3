"""``python -m training contact-sheet``: PNG grid of augmented, outlier-pasted training samples to eyeball."""

from __future__ import annotations

import argparse
from pathlib import Path

from anomaly_seg.errors import ConfigError


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, got {text!r}") from exc
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output PNG path")
    parser.add_argument("--coco", type=Path, help="COCO root (<split>/, annotations/); synthetic obstacles if absent")
    parser.add_argument("--coco-split", default="train2017", help="COCO split folder and annotation name")
    parser.add_argument("--coco-min-side", type=int, default=480, help="outlier filter: minimum COCO image side")
    parser.add_argument("--cityscapes", type=Path, help="Cityscapes root; synthetic road scenes if absent")
    parser.add_argument("--split", default="train", help="Cityscapes split")
    parser.add_argument("-n", "--num-samples", type=int, default=8, help="number of samples (rows)")
    parser.add_argument("--columns", type=int, default=1, help="samples per row of the sheet")
    parser.add_argument("--crop", type=_size, default=(259, 518), help="crop size HEIGHTxWIDTH")
    parser.add_argument("--scene-size", type=_size, default=(256, 512), help="synthetic scene size HEIGHTxWIDTH")
    parser.add_argument("--paste-prob", type=float, default=0.75, help="outlier pasting probability")
    parser.add_argument("--seed", type=int, default=0, help="random seed")


def run(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np
    from tqdm import tqdm

    from training.augment import Augment, AugmentParams
    from training.contact_sheet import grid, render_sample
    from training.datasets import Cityscapes, CocoOutliers, Sample
    from training.pasting import CocoOutlierSource, OutlierPaster, OutlierSource, PasteParams, SyntheticOutlierSource

    if args.num_samples < 1 or args.columns < 1:
        raise ConfigError("--num-samples and --columns must be at least 1")
    source: OutlierSource = (
        CocoOutlierSource(CocoOutliers(args.coco, args.coco_split, min_side=args.coco_min_side))
        if args.coco
        else SyntheticOutlierSource()
    )
    cityscapes = Cityscapes(args.cityscapes, args.split) if args.cityscapes else None
    augment = Augment(AugmentParams(crop_size=args.crop), seed=args.seed)
    paster = OutlierPaster(source, PasteParams(probability=args.paste_prob), seed=args.seed)
    rng = np.random.default_rng(args.seed)

    rows = []
    for i in tqdm(range(args.num_samples), desc="contact sheet", unit="sample"):
        if cityscapes is not None:
            sample = cityscapes[int(rng.integers(len(cityscapes)))]
        else:
            from anomaly_seg.synthetic.obstacles import TRAIN_OBSTACLE_KINDS
            from anomaly_seg.synthetic.scene import generate_scene

            height, width = args.scene_size
            scene = generate_scene(height, width, args.seed * 100_003 + i, obstacle_kinds=TRAIN_OBSTACLE_KINDS)
            sample = Sample(scene.image, f"synthetic {i}", train_ids=scene.train_ids, anomaly=scene.anomaly)
        result = paster.paste(augment(sample), paster.rng)
        rows.append(render_sample(result.sample, result.mask))
    sheet = grid(rows, args.columns)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise ConfigError(f"--out: cannot write PNG {args.out}")
    print(f"contact sheet of {len(rows)} samples ({sheet.shape[1]}x{sheet.shape[0]} px) written to {args.out}")
    return 0
