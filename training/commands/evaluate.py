"""``python -m training evaluate``: all anomaly scores of a checkpoint on a dataset, with plots and a report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from anomaly_seg.vocabulary import MODES

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from training.datasets.base import Sample


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``evaluate``."""
    parser.add_argument("--checkpoint", type=Path, required=True, help="model .safetensors (config inside)")
    parser.add_argument(
        "--config", type=Path, default=None, help="model config YAML; must match the checkpoint's (optional check)"
    )
    parser.add_argument(
        "--dataset",
        required=True,
        help="lost_and_found, fishyscapes_laf, road_anomaly, smiyc_anomaly, smiyc_obstacle (aliases laf, fs_laf, "
        "ra21, ro21) or synthetic_heldout (generated scenes with unseen obstacle kinds; --root unused)",
    )
    parser.add_argument("--root", type=Path, default=None, help="dataset root folder")
    parser.add_argument("--split", default=None, help="dataset split (default: its evaluation split)")
    parser.add_argument("--mode", choices=MODES, default="full", help="full frame or sliding window")
    parser.add_argument("--out", type=Path, required=True, help="report folder")
    parser.add_argument("--dump-predictions", action="store_true", help="write OUT/predictions/*.npz for fit-meta")
    parser.add_argument(
        "--segment-thresholds",
        type=float,
        nargs="+",
        default=None,
        help="LLR thresholds for segment metrics (default: the checkpoint's validation threshold at 95%% TPR)",
    )
    parser.add_argument("--min-area-px", type=int, default=0, help="segments smaller than this are removed")
    parser.add_argument("--meta", type=Path, default=None, help="meta-classifier JSON to evaluate segments with")
    parser.add_argument(
        "--meta-protocol",
        action="store_true",
        help="also run Chan et al.'s meta-classification protocol on these frames (cross-validated Table 2 / "
        "Table 3 / LARS: OUT/meta_protocol.json, .md, meta_lars.png); the operating point is --meta's (chosen on "
        "validation) when it has one, else chosen here and labelled so",
    )
    parser.add_argument("--overlays", type=int, default=8, help="number of example overlay PNGs")
    parser.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images")
    parser.add_argument("--synthetic-n", type=int, default=64, help="scenes for --dataset synthetic_heldout")
    parser.add_argument(
        "--synthetic-protocol",
        default="road",
        help="synthetic_heldout inliers: road (the rest of the road, Lost and Found protocol) or image (every "
        "labelled pixel); checked by training.smoke.HeldoutScenes",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    from anomaly_seg.evaluation.accumulator import add_rule_arguments

    add_rule_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the per-score AP table and where the report is."""
    import torch

    from anomaly_seg.errors import ConfigError
    from anomaly_seg.network import ModelConfig, load_checkpoint
    from anomaly_seg.network.checkpoint import read_checkpoint_metadata
    from anomaly_seg.segments import MetaClassifier
    from training.evaluate import EvalOptions, evaluate

    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    if device == "auto":
        device = "cpu"
    model, config = load_checkpoint(args.checkpoint, device)
    _, extra = read_checkpoint_metadata(args.checkpoint)
    if args.config is not None and ModelConfig.from_yaml(args.config).to_dict() | {"name": config.name} != (
        config.to_dict()
    ):
        raise ConfigError(f"--config {args.config} does not describe the network stored in {args.checkpoint}")
    dataset = build_eval_dataset(
        args.dataset, args.root, args.split, config.input.size, args.synthetic_n, args.synthetic_protocol
    )
    options = EvalOptions(
        mode=args.mode,
        segment_thresholds=args.segment_thresholds,
        min_area_px=args.min_area_px,
        protocol=args.protocol,
        size_filter=args.component_size_filter,
        meta=MetaClassifier.load(args.meta) if args.meta else None,
        dump_predictions=args.dump_predictions or args.meta_protocol,
        overlays=args.overlays,
        max_images=args.max_images,
        title=args.dataset,
        extra={"dataset": args.dataset, "checkpoint": str(args.checkpoint)},
    )
    threshold = extra.get("score_threshold")
    if args.segment_thresholds is None and threshold is not None and "component_threshold" in extra:
        # the checkpoint's validation choices: pixel-F1-optimal and SMIYC-mean-F1-optimal (never chosen on test)
        options.segment_thresholds = [float(threshold), float(extra["component_threshold"])]
    report = evaluate(model, dataset, args.out, options, float(threshold) if threshold is not None else None)
    for name, m in report.metrics["pixel"].items():
        print(f"{name:12s} AP {_pct(m['ap'])}  FPR95 {_pct(m['fpr95'])}  AUROC {_pct(m['auroc'])}")
    from anomaly_seg.evaluation.accumulator import component_summary

    for line in component_summary(report.metrics["components"]):
        print(line)
    if args.meta_protocol:
        _meta_protocol(args, options.meta, float(threshold) if threshold is not None else 0.0)
    images = report.metrics["frames"]["evaluated"]
    print(f"evaluate: {images} images of {args.dataset}; LLR AP {_pct(report.ap())}; report in {args.out}")
    return 0


def _meta_protocol(args: argparse.Namespace, meta: object, threshold: float) -> None:
    from anomaly_seg.segments import MetaClassifier, SegmentParams
    from training import meta_protocol
    from training.predictions import prediction_files

    deployed = meta if isinstance(meta, MetaClassifier) and meta.operating_point is not None else None
    result, _ = meta_protocol.run_on_predictions(
        prediction_files([args.out / "predictions"]),
        reference_threshold=threshold,
        thresholds=args.segment_thresholds,
        params=SegmentParams(threshold=threshold, min_area_px=args.min_area_px),
        protocol=args.protocol,
        deployed=deployed,
        note=""
        if deployed is not None
        else "No --meta with an operating point: the point below is chosen on these frames (optimistic).",
    )
    meta_protocol.write(result.document, args.out, report=True)
    op = result.document["operating_point"]
    print(f"evaluate: meta protocol: operating point FP {op['fp']} FN {op['fn']} F1 {op['f1']:.3f} ({op['source']})")


def _pct(v: float | None) -> str:
    return "  n/a" if v is None or v != v else f"{100 * v:5.1f}"


def build_eval_dataset(
    name: str, root: Path | None, split: str | None, size: tuple[int, int], n: int, protocol: str = "road"
) -> Dataset[Sample]:
    """Registry dataset ``name`` at ``root``, or ``n`` ``synthetic_heldout`` scenes of ``size`` with unseen obstacle
    kinds evaluated with ``protocol`` (see :class:`training.smoke.HeldoutScenes`)."""
    from anomaly_seg.errors import DatasetError

    if name == "synthetic_heldout":
        from training.smoke import heldout_scenes

        return heldout_scenes(n, size, protocol=protocol)
    if root is None:
        raise DatasetError(f"--root is required for dataset {name!r}")
    from training.datasets import build_anomaly_dataset

    return build_anomaly_dataset(name, root, split)
