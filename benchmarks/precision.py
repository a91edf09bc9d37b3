"""Accuracy of the fp16 and int8 exports against fp32, in ONNX Runtime on the CPU (what TensorRT builds from).

For a model (``--checkpoint`` trained weights, or ``--config`` for random weights in a layout) it exports fp32,
writes the fp16 model (fp32 islands) and the int8 model (Q/DQ, calibrated on ``--calibration`` frames or on
synthetic training-like scenes), and runs all three on held-out synthetic scenes (obstacle kinds never trained
on): LLR error against fp32, class agreement, pixel AP / FPR95 of the LLR and SMIYC component mean F1, weight
bytes by type, and CPU time per frame. The numbers are for the model given; random weights only show that the
conversion is sound, not what accuracy a trained model keeps.

    .venv/bin/python benchmarks/precision.py --checkpoint demo_output/model/<hash>/model.safetensors
    .venv/bin/python benchmarks/precision.py --config models/configs/tiny.yaml --images 16
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.metrics.components import ComponentMetrics
from anomaly_seg.metrics.pixel import PixelAnomalyMetrics

REPO = Path(__file__).resolve().parents[1]


def weight_bytes(path: Path) -> dict[str, float]:
    """MB of initializer data per element type (float32, float16, int8, ...)."""
    import onnx

    model = onnx.load(str(path))
    out: dict[str, float] = {}
    for init in model.graph.initializer:
        name = onnx.TensorProto.DataType.Name(init.data_type).lower()
        out[name] = out.get(name, 0.0) + onnx.numpy_helper.to_array(init).nbytes / 1e6
    return out


def synthetic_frames(size: tuple[int, int], n: int) -> list[np.ndarray]:
    """Training-distribution scenes (no held-out obstacle kinds) as calibration frames."""
    from training.trainers.data import SyntheticScenes

    scenes = SyntheticScenes(n, size, 1000, cache=False)
    return [np.ascontiguousarray(scenes[i].image[None]) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="trained .safetensors (its config inside)")
    parser.add_argument("--config", help="model config YAML (random weights)")
    parser.add_argument("--size", help="network input HxW (default: the config's)")
    parser.add_argument("--images", type=int, default=32, help="held-out scenes")
    parser.add_argument("--calibration", help="image folder or bag for int8 (default: synthetic scenes)")
    parser.add_argument("--calibration-frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.checkpoint or args.config):
        parser.error("give --checkpoint or --config")
    sys.path.insert(0, str(REPO))  # training/ lives at the repository root

    from training.export import build_export_source, export_model, parse_size
    from training.smoke import heldout_scenes

    size = parse_size(args.size) if args.size else None
    source = build_export_source(args.config, args.checkpoint, size, "full", None)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx"
        if args.calibration:
            from training.calibration import calibration_frames

            frames = list(calibration_frames(args.calibration, source.size, 1, args.calibration_frames))
        else:
            frames = synthetic_frames(source.size, args.calibration_frames)
        quiet = lambda line: None  # noqa: E731
        export_model(source.module, fp32, source.size, source.metadata, log=quiet, precision="fp16")
        export_model(source.module, fp32.with_name("m8.onnx"), source.size, source.metadata, log=quiet,
                     precision="int8", calibration=iter(frames))  # fmt: skip
        paths = {"fp32": fp32, "fp16": fp32.with_name("model.fp16.onnx"), "int8": fp32.with_name("m8.int8.onnx")}
        engines = {k: OnnxRuntimeEngine(p, ["CPUExecutionProvider"], args.threads) for k, p in paths.items()}
        data = heldout_scenes(args.images, source.size)
        pixel = {k: PixelAnomalyMetrics() for k in paths}
        components = {k: ComponentMetrics(0.0) for k in paths}
        err = dict.fromkeys(paths, 0.0)
        agree = dict.fromkeys(paths, 0)
        seconds = dict.fromkeys(paths, 0.0)
        pixels = 0
        for i in range(len(data)):
            sample = data[i]
            image = np.ascontiguousarray(sample.image[None])
            outs = {}
            for k, engine in engines.items():
                t0 = time.perf_counter()
                outs[k] = engine.infer(image)
                seconds[k] += time.perf_counter() - t0
            ref = outs["fp32"]
            pixels += ref.semantic.size
            assert sample.anomaly is not None
            for k, out in outs.items():
                err[k] = max(err[k], float(np.abs(out.anomaly_score - ref.anomaly_score).max()))
                agree[k] += int(np.count_nonzero(out.semantic == ref.semantic))
                pixel[k].update(out.anomaly_score[0], sample.anomaly)
                components[k].update(out.anomaly_score[0], sample.anomaly)
        weights = "random weights" if source.random_weights else Path(args.checkpoint).name
        print(f"precision vs fp32, ONNX Runtime CPU ({args.threads} threads), {source.size[0]}x{source.size[1]}, "
              f"{weights}, {len(data)} held-out synthetic scenes, int8 calibrated on "
              f"{args.calibration or 'synthetic scenes'} ({len(frames)} frames)")  # fmt: skip
        print(f"{'model':>5} | {'weights MB by type':<34} | {'LLR max abs err':>15} | {'class agree %':>13} | "
              f"{'AP %':>6} | {'FPR95 %':>7} | {'mean F1 %':>9} | {'ms/frame':>8}")  # fmt: skip
        for k in paths:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = pixel[k].compute()
            f1 = components[k].compute()["mean_f1"]
            wb = ", ".join(f"{t} {mb:.2f}" for t, mb in sorted(weight_bytes(paths[k]).items(), key=lambda x: -x[1]))
            print(f"{k:>5} | {wb:<34} | {err[k]:15.4f} | {100 * agree[k] / pixels:13.3f} | {100 * r.ap:6.2f} | "
                  f"{100 * r.fpr95:7.2f} | {100 * f1:9.2f} | {1e3 * seconds[k] / len(data):8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
