"""``anomaly-seg build-engine``: build (or reuse) the TensorRT engine of an ONNX model on this GPU."""

from __future__ import annotations

import argparse
from pathlib import Path

from anomaly_seg.vocabulary import PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="exported .onnx file (the fp32 one; the fp16 / int8 models sit next to it)")
    parser.add_argument(
        "--precision", default="fp16", choices=PRECISIONS, help="which exported model to build (model.<precision>.onnx)"
    )
    parser.add_argument("--workspace-gb", type=float, default=None, help="TensorRT workspace limit (GiB)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the cached engine matches")


def run(args: argparse.Namespace) -> int:
    from anomaly_seg.engines.engine_cache import decide, engine_paths
    from anomaly_seg.engines.metadata import precision_onnx
    from anomaly_seg.engines.tensorrt_backend import current_fingerprint, ensure_engine, tensorrt_available
    from anomaly_seg.errors import EngineError

    ok, why = tensorrt_available()
    if not ok:
        raise EngineError(f"cannot build a TensorRT engine here: {why}")
    onnx_path = precision_onnx(Path(args.model), args.precision)
    engine_path, _ = engine_paths(onnx_path, args.precision)
    decision = decide(engine_path, current_fingerprint(onnx_path), force=args.force)
    print(f"{why}; {onnx_path.name} -> {engine_path.name}: {decision}")
    path = ensure_engine(onnx_path, args.precision, args.force, args.workspace_gb)
    print(f"engine ready: {path} (run `anomaly-seg selftest --model {path}` to verify it)")
    return 0
