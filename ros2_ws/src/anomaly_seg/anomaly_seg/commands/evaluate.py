"""``anomaly-seg evaluate OUTBAG --report DIR``: pixel and segment metrics, latency, plots and a contact sheet."""

from __future__ import annotations

import argparse

from anomaly_seg.vocabulary import GROUND_TRUTH_TOPIC, REGION_ALL, REGIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", metavar="OUTBAG", help="bag with node outputs and ground truth (`anomaly-seg replay`)")
    parser.add_argument("--report", required=True, metavar="DIR", help="report folder (created)")
    parser.add_argument("--threshold", type=float, help="anomaly score threshold (default: the node's, from LabelInfo)")
    parser.add_argument(
        "--segment-thresholds",
        type=float,
        nargs="+",
        default=[],
        metavar="T",
        help="rescore segments at each of these score thresholds (the paper's table; default: --threshold only)",
    )
    parser.add_argument("--min-area-px", type=int, default=0, help="smallest rescored segment, at ground-truth size")
    parser.add_argument(
        "--region", choices=REGIONS, default=REGION_ALL, help="rescored segments anywhere or on predicted road only"
    )
    parser.add_argument("--node-name", help="node whose outputs to evaluate (default: the bag's only one)")
    parser.add_argument("--ground-truth-topic", default=GROUND_TRUTH_TOPIC, help="mono8 0/1/255 ground truth")
    parser.add_argument("--sheet-frames", type=int, default=12, help="frames in the overlay contact sheet")
    from anomaly_seg.evaluation.accumulator import add_rule_arguments

    add_rule_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import math

    from anomaly_seg.evaluation.bag_evaluator import EvalSettings
    from anomaly_seg.evaluation.bag_source import evaluate_bag
    from anomaly_seg.segments import SegmentParams

    rule = SegmentParams.for_region(args.region, threshold=0.0, min_area_px=args.min_area_px)
    settings = EvalSettings(
        threshold=args.threshold,
        min_area_px=rule.min_area_px,
        region=rule.region,
        region_dilation_px=rule.region_dilation_px,
        sheet_frames=args.sheet_frames,
        segment_thresholds=tuple(args.segment_thresholds),
        protocol=args.protocol,
        size_filter=args.component_size_filter,
    )
    result = evaluate_bag(
        args.bag, args.report, settings, node_name=args.node_name, ground_truth_topic=args.ground_truth_topic
    )
    m = result.evaluator.metrics(result.matcher)
    px = m["pixel"]["llr"]

    def pct(v: float | None) -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f} %"

    frames = m["frames"]
    print(
        f"frames evaluated: {frames['evaluated']}, ground truth without outputs: "
        f"{frames['ground_truth_without_outputs']}, "
        f"outputs without ground truth: {frames['outputs_without_ground_truth']}"
    )
    print(f"pixel AP {pct(px['ap'])}, FPR95 {pct(px['fpr95'])}, AUROC {pct(px['auroc'])}")
    for row in m["segments"]:
        print(
            f"segments {row['source']} (meta {'yes' if row['meta'] else 'no'}): TP {row['tp']} FP {row['fp']} "
            f"FN {row['fn']} F1 {row['f1']:.3f}, road miss rate {pct(row['road_miss_rate'])}"
        )
    from anomaly_seg.evaluation.accumulator import component_summary

    for line in component_summary(m["components"]):
        print(line)
    print(f"report: {args.report}/report.md ({len(result.files)} files)")
    return 0
