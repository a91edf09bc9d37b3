"""Median latency per available backend for the tiny and the real-time default configs (random weights).

    .venv/bin/python benchmarks/engines.py [--configs tiny realtime_vits14_dd] [--threads N] [--runs 10]

Exports each config to ONNX in a temporary folder, then times ``Engine.infer`` (after a warm-up) for:
torch eager fp32 CPU, ONNX Runtime CPU and, where a GPU is present, torch CUDA fp16, ONNX Runtime CUDA and
TensorRT fp16. Both CPU backends use the same number of intra-op threads. Prints one table and the
ONNX Runtime / torch eager speed ratio per config.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def median_ms(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``fn`` in milliseconds over ``runs`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["tiny", "realtime_vits14_dd"])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads for torch and ORT")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    import torch
    from tqdm import tqdm

    from anomaly_seg.artifacts.report import format_table
    from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine, available_providers
    from anomaly_seg.engines.tensorrt_backend import tensorrt_available
    from anomaly_seg.engines.torch_backend import TorchEngine
    from training.export import build_export_source, export_onnx

    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available()
    rows = []
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in tqdm(args.configs, desc="configs"):
            cfg = REPO / "models" / "configs" / f"{name}.yaml"
            source = build_export_source(cfg, None)
            onnx_path = export_onnx(source.module, Path(tmp) / f"{name}.onnx", source.size, metadata=source.metadata)
            image = np.random.default_rng(0).integers(0, 256, (1, *source.size, 3), dtype=np.uint8)
            size = f"{source.size[0]}x{source.size[1]}"
            engines: list[tuple[str, Callable[[], object]]] = []
            eager = TorchEngine(source.module, source.size)
            engines.append((f"torch eager fp32 cpu ({args.threads} thr)", partial(eager.infer, image)))
            ort = OnnxRuntimeEngine(onnx_path, ["CPUExecutionProvider"], args.threads)
            engines.append((f"onnxruntime cpu ({args.threads} thr)", partial(ort.infer, image)))
            if gpu:
                cuda_eager = TorchEngine(source.module, source.size, device="cuda", precision="fp16")
                engines.append(("torch eager fp16 cuda", partial(cuda_eager.infer, image)))
            if "CUDAExecutionProvider" in available_providers():
                ort_cuda = OnnxRuntimeEngine(onnx_path, ["CUDAExecutionProvider", "CPUExecutionProvider"])
                engines.append(("onnxruntime cuda fp32", partial(ort_cuda.infer, image)))
            if tensorrt_available()[0]:
                from anomaly_seg.engines.tensorrt_backend import TensorRTEngine, ensure_engine
                from training.export import write_precision

                write_precision(onnx_path, "fp16", None, log=lambda _: None)
                trt_engine = TensorRTEngine(ensure_engine(onnx_path, "fp16"))
                engines.append(("tensorrt fp16 (strongly typed)", partial(trt_engine.infer, image)))
            timings = {}
            for label, fn in engines:
                timings[label] = median_ms(fn, args.runs)
                rows.append((name, size, label, f"{timings[label]:.1f}"))
            eager_ms, ort_ms = list(timings.values())[:2]
            ratios.append(f"{name}: onnxruntime cpu is {eager_ms / ort_ms:.2f}x torch eager")
    print(format_table(["config", "input", "backend", "median ms"], rows))
    print("\n".join(ratios))
    print(
        f"benchmark: {len(rows)} timings, {args.runs} runs each, torch {torch.__version__}, {args.threads} CPU threads"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
