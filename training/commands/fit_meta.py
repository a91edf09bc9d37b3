"""``python -m training fit-meta``: fit the logistic meta classifier on a dataset's obstacle segments."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fit-meta``."""
    parser.add_argument(
        "--predictions",
        nargs="+",
        required=True,
        metavar="DIR|NPZ",
        help="prediction .npz files or folders of them (arrays semantic, anomaly_score, uncertainty, "
        "anomaly_gt; see training/fit_meta.py)",
    )
    parser.add_argument("--out", type=Path, required=True, help="meta-classifier JSON to write")
    parser.add_argument("--threshold", type=float, default=0.0, help="anomaly score threshold that makes segments")
    parser.add_argument("--min-area-px", type=int, default=0, help="smaller segments are removed")
    parser.add_argument("--max-segments", type=int, default=64, help="segment cap per frame (largest kept)")
    parser.add_argument(
        "--region",
        type=int,
        nargs="*",
        default=None,
        metavar="TRAIN_ID",
        help="restrict segments to these predicted trainIds (default: everywhere)",
    )
    parser.add_argument("--region-dilation-px", type=int, default=0, help="growth of the region in pixels")
    parser.add_argument("--C", dest="c", type=float, default=1.0, help="inverse L2 regularisation strength")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (grouped by frame)")
    parser.add_argument(
        "--decision-threshold", type=float, default=0.5, help="probability at or above which a segment is kept"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the solver")


def run(args: argparse.Namespace) -> int:
    """Collect segment features, cross-validate, fit, write JSON; prints the scores and where the file is."""
    from tqdm import tqdm

    from anomaly_seg.segments import SegmentParams
    from training.fit_meta import collect_samples, fit_meta_classifier, load_prediction, prediction_files

    params = SegmentParams(
        threshold=args.threshold,
        min_area_px=args.min_area_px,
        max_segments=args.max_segments,
        region=tuple(args.region) if args.region else None,
        region_dilation_px=args.region_dilation_px,
    )
    files = prediction_files(args.predictions)
    frames = (load_prediction(f) for f in tqdm(files, desc="segments", unit="frame"))
    samples = collect_samples(frames, params)
    meta = fit_meta_classifier(
        samples, c=args.c, seed=args.seed, decision_threshold=args.decision_threshold, folds=args.folds, params=params
    )
    meta.training["predictions"] = [str(p) for p in args.predictions]
    path = meta.save(args.out)
    print(
        json.dumps(
            {k: meta.training[k] for k in ("segments", "true_positives", "false_positives", "cross_validation")},
            indent=1,
        )
    )
    cv = meta.training["cross_validation"]
    scores = ", ".join(f"{k} {v:.3f}" for k, v in cv.items() if k != "folds") or "no cross-validation (< 2 frames)"
    print(f"fit-meta: {len(files)} frames, {samples.labels.size} segments; CV {scores}; wrote {path}")
    return 0
