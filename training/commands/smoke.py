"""``python -m training smoke``: the whole training chain on synthetic scenes with the tiny config (CPU, minutes)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``smoke``."""
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--test-images", type=int, default=64, help="held-out test scenes (unseen obstacle kinds)")
    parser.add_argument("--set1", action="append", default=[], metavar="KEY=VALUE", help="stage-1 recipe override")
    parser.add_argument("--set2", action="append", default=[], metavar="KEY=VALUE", help="stage-2 recipe override")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    from training.config import METHODS

    parser.add_argument(
        "--method",
        choices=METHODS,
        default="uem",
        help="stage-2 method: uem (likelihood ratio, the default), entropy_max (Chan et al.: the segmentation "
        "head fine-tuned to maximal entropy on pasted outliers; score = normalised entropy) or outlier_head "
        "(Bevandic et al.: a BCE outlier head trained with the segmentation head on noisy negatives; OP x MSM)",
    )
    parser.add_argument(
        "--stage1", type=Path, default=None, help="reuse this stage-1 checkpoint (e.g. OUT/stage1/best.safetensors)"
    )


def run(args: argparse.Namespace) -> int:
    """Run; the last line is ``synthetic AP: X`` (LLR, held-out obstacle kinds, Lost and Found protocol)."""
    from training.smoke import run_smoke

    r = run_smoke(
        args.out,
        test_images=args.test_images,
        overrides1=args.set1,
        overrides2=args.set2,
        progress=not args.no_progress,
        method=args.method,
        stage1=args.stage1,
    )
    print("smoke: this demonstrates learning on synthetic data, not accuracy on real roads.")
    print(
        f"smoke: {r.seconds:.0f} s; {args.test_images} held-out scenes, obstacles of unseen kinds on the road; "
        f"model {r.model}, metrics {r.metrics}, meta classifier {r.meta or 'not fitted'}"
    )
    print(
        f"smoke: max-softmax AP {r.max_softmax_ap:.3f} on the same scenes; over the whole image (signs, poles, people "
        f"off the road count too): deployed-score AP {r.image_ap:.3f}, max-softmax AP {r.image_max_softmax_ap:.3f}"
    )
    summary = json.loads((r.out_dir / "smoke.json").read_text(encoding="utf-8"))
    if summary.get("baseline_ap") is not None:
        print(
            f"smoke: {summary['score']} AP before OoD training (stage-1 model, same scenes) "
            f"{summary['baseline_ap']:.3f}, after entropy maximisation {r.ap:.3f}"
        )
    print(f"synthetic AP: {r.ap:.3f}")
    return 0
