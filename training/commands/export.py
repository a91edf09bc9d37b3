"""``python -m training export``: ONNX with the engine I/O contract, parity check and golden outputs."""

from __future__ import annotations

import argparse
import sys

from anomaly_seg.vocabulary import MODES, PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="model config YAML (random weights unless --checkpoint)")
    parser.add_argument("--checkpoint", help="trained .safetensors checkpoint (its config is used without --config)")
    parser.add_argument("--size", help="input HxW: network size (full) or camera size (sliding); default from config")
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument("--mode", choices=MODES, default="full", help="full frame or sliding window")
    parser.add_argument("--batch", type=int, default=1, help="fixed batch size of the exported graph")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (17 converts down for TensorRT 8.6)")
    parser.add_argument("--golden", help="golden set folder (default: <out>.golden)")
    parser.add_argument("--score-threshold", type=float, help="suggested anomaly threshold stored in the metadata")
    parser.add_argument(
        "--meta",
        help="meta classifier JSON whose operating point (fit-meta --meta-protocol) goes into the metadata",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the golden inputs")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="also write <out stem>.fp16.onnx (fp32 islands) or .int8.onnx (Q/DQ) next to the fp32 model",
    )
    parser.add_argument("--calibration", metavar="DIR_OR_BAG", help="int8: camera frames (image folder or bag)")
    parser.add_argument("--calibration-frames", type=int, default=64, help="int8: how many frames to calibrate on")


def run(args: argparse.Namespace) -> int:
    from training.export import build_export_source, export_model, parse_size

    if args.batch < 1:
        print("--batch must be >= 1", file=sys.stderr)
        return 2
    size = parse_size(args.size) if args.size else None
    source = build_export_source(args.config, args.checkpoint, size, args.mode, args.score_threshold)
    if args.meta:
        from dataclasses import replace

        from training.export import operating_point_metadata

        source = replace(source, metadata=replace(source.metadata, operating_point=operating_point_metadata(args.meta)))
    if source.random_weights:
        banner = "!" * 78
        print(
            f"{banner}\n!! NO CHECKPOINT: exporting RANDOM WEIGHTS. Outputs are meaningless; use this only\n"
            f"!! for plumbing, engine builds and benchmarks.\n{banner}",
            file=sys.stderr,
        )
    calibration = None
    if args.calibration:
        from training.calibration import calibration_frames

        calibration = calibration_frames(args.calibration, source.size, args.batch, args.calibration_frames)
    result = export_model(
        source.module,
        args.out,
        source.size,
        source.metadata,
        args.batch,
        args.opset,
        args.golden,
        args.seed,
        precision=args.precision,
        calibration=calibration,
    )
    p = result.parity
    print(
        f"parity torch vs onnxruntime: score max abs {p.score_max_abs:.2e} (scale {p.score_scale:.3g}), "
        f"uncertainty max abs {p.uncertainty_max_abs:.2e}, semantic agreement {100 * p.semantic_agreement:.3f} %"
        f" -> {'PASS' if result.parity_passed else 'FAIL'}"
    )
    ln = result.node_counts.get("LayerNormalization", 0)
    print(
        f"graph: {sum(result.node_counts.values())} nodes, {ln} LayerNormalization, "
        f"{result.node_counts.get('Resize', 0)} Resize"
    )
    weights = "RANDOM weights" if source.random_weights else source.metadata.checkpoint
    print(
        f"exported {result.onnx_path} ({source.metadata.mode}, {source.size[0]}x{source.size[1]}, batch "
        f"{args.batch}, {weights}); golden set in {result.golden_dir}"
    )
    if result.precision_path is not None and result.precision_parity is not None:
        q = result.precision_parity
        print(
            f"{args.precision} model {result.precision_path}: vs fp32 golden outputs score max abs "
            f"{q.score_max_abs:.2e} (scale {q.score_scale:.3g}), uncertainty max abs {q.uncertainty_max_abs:.2e}, "
            f"class agreement {100 * q.semantic_agreement:.3f} % -> {'PASS' if result.precision_passed else 'FAIL'}"
        )
    return 0 if result.parity_passed and result.precision_passed else 1
