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
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="anomaly-score threshold that makes segments; with --meta-protocol the plain baseline's reference (the "
        "pixel-F1 threshold chosen on validation, the checkpoint's score_threshold)",
    )
    parser.add_argument(
        "--meta-protocol",
        action="store_true",
        help="Chan et al.'s protocol on these (validation) frames: one classifier per segment threshold, "
        "cross-validated over frames, meta_protocol.json/.md + meta_lars.png beside --out, and the operating point "
        "chosen by the rule in training/meta_protocol.py; --out is then the classifier of that point",
    )
    parser.add_argument(
        "--segment-thresholds",
        type=float,
        nargs="+",
        default=None,
        help="with --meta-protocol: anomaly-score thresholds to form segments at (default: 0.1 ... 0.7 for "
        "--score entropy, else score quantiles of these frames; --threshold is always added)",
    )
    parser.add_argument("--score", default="llr", help="name of the score in the prediction files (report label)")
    from anomaly_seg.vocabulary import PROTOCOLS

    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="benchmark",
        help="segment rule, as in evaluate: benchmark (void zeroed first, every segment) or deployed (the node's)",
    )
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
    from training.fit_meta import collect_samples, fit_meta_classifier
    from training.predictions import load_prediction, prediction_files

    params = SegmentParams(
        threshold=args.threshold,
        min_area_px=args.min_area_px,
        max_segments=args.max_segments,
        region=tuple(args.region) if args.region else None,
        region_dilation_px=args.region_dilation_px,
    )
    files = prediction_files(args.predictions)
    if args.meta_protocol:
        return _run_protocol(args, files, params)
    frames = (load_prediction(f) for f in tqdm(files, desc="segments", unit="frame"))
    samples = collect_samples(frames, params, args.protocol)
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


def _run_protocol(args: argparse.Namespace, files: list[Path], params: object) -> int:
    from anomaly_seg.segments import SegmentParams
    from training import meta_protocol

    assert isinstance(params, SegmentParams)
    result, data = meta_protocol.run_on_predictions(
        files,
        reference_threshold=args.threshold,
        score=args.score,
        thresholds=args.segment_thresholds,
        params=params,
        protocol=args.protocol,
        folds=args.folds,
        c=args.c,
        seed=args.seed,
        note="Operating point chosen on these frames (use validation frames, never the test set).",
    )
    op = result.document["operating_point"]
    meta = meta_protocol.fit_deployed(
        data, op, c=args.c, seed=args.seed, predictions=[str(p) for p in args.predictions], frames=len(files)
    )
    path = meta.save(args.out)
    written = meta_protocol.write(result.document, args.out.parent)
    ref = result.document["reference"]
    print(meta_protocol.markdown(result.document))
    print(
        f"fit-meta: operating point threshold {op['threshold']:.4g}, meta threshold {op['meta_threshold']:.2f} "
        f"(FP {op['fp']} FN {op['fn']} F1 {op['f1']:.3f}; plain baseline FP {ref['fp']} FN {ref['fn']} "
        f"F1 {ref['f1']:.3f}); wrote {path}, {', '.join(str(w) for w in written)}"
    )
    return 0
