"""``anomaly-seg check-onnx``: checks of an exported ONNX model that need no GPU.

Structure (onnx.checker, static shapes, I/O contract, opset), operators against the TensorRT parser
table, parity (torch vs ONNX Runtime with --checkpoint/--torch-config, else the stored golden outputs),
and with --fp16 the activation ranges that decide whether an fp16 engine is safe. An fp16 or int8 export
(``model.fp16.onnx``, ``model.int8.onnx``) is compared with the fp32 export's golden outputs within its precision's
tolerance (score error relative to the largest |score|, uncertainty error, class agreement).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from anomaly_seg.artifacts.onnx_checks import ActivationStat, CheckResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="exported .onnx file")
    parser.add_argument("--torch-config", help="model config YAML to rebuild the torch model for parity")
    parser.add_argument("--checkpoint", help=".safetensors checkpoint for torch parity (config inside)")
    parser.add_argument("--golden", help="golden set folder (default: <model>.golden)")
    parser.add_argument("--fp16", action="store_true", help="check activation ranges for fp16 engines")
    parser.add_argument("--trt", nargs="+", default=["10.x"], choices=["8.6", "10.x"], help="TensorRT targets")
    parser.add_argument("--memory-gb", type=float, default=1.0, help="activation memory per probe run (--fp16)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0 = default)")


def _parity_rows(args: argparse.Namespace, model: Path) -> list[CheckResult]:
    from anomaly_seg.artifacts.golden import check_against_golden, default_golden_dir, golden_images
    from anomaly_seg.artifacts.parity import TOLERANCES, compare, merge
    from anomaly_seg.engines.metadata import KEY_EXPORT_PARITY, KEY_PRECISION, read_onnx_props
    from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine

    rows = []
    props = read_onnx_props(model)
    precision = props.get(KEY_PRECISION, "fp32")
    tol = TOLERANCES[precision]
    stored = props.get(KEY_EXPORT_PARITY)
    if stored and precision == "fp32":
        rec = json.loads(stored)
        status = "PASS" if rec.get("passed") else "FAIL"
        rows.append(CheckResult("export parity (metadata)", status, _fmt(rec) + f", vs {rec.get('reference', '?')}"))
    engine = OnnxRuntimeEngine(model, ["CPUExecutionProvider"], args.threads, check_finite=False)
    if args.torch_config and not args.checkpoint:
        rows.append(
            CheckResult(
                "torch parity",
                "SKIP",
                "config without checkpoint = new random weights, not "
                "comparable; parity was verified at export (metadata) and via the golden set",
            )
        )
    elif args.checkpoint:
        from anomaly_seg.engines.torch_backend import TorchEngine

        source = Path(args.checkpoint)
        reference = TorchEngine.from_file(source)
        if args.checkpoint and args.torch_config:
            rows.append(CheckResult("torch parity", "WARN", "--checkpoint given: its own config is used"))
        if reference.input_size != engine.input_size:
            return [
                *rows,
                CheckResult("torch parity", "FAIL", f"torch size {reference.input_size} != {engine.input_size}"),
            ]
        images = golden_images(engine.input_size, engine.batch_size, seed=1)
        result = merge([compare(reference.infer(x), engine.infer(x)) for x in images.values()])
        status = "PASS" if result.passed(tol) else "FAIL"
        rows.append(CheckResult("torch parity", status, _fmt(result.to_dict()) + f", {source.name}"))
    golden = Path(args.golden) if args.golden else default_golden_dir(model)
    if golden.is_dir():
        result = merge([c for _, c in check_against_golden(engine, golden)])
        status = "PASS" if result.passed(tol) else "FAIL"
        label = "golden outputs (ORT CPU)" if precision == "fp32" else f"{precision} vs fp32 golden outputs (ORT CPU)"
        limits = f"; limits: score {tol.score_rel:g} x max|score|, agreement >= {100 * tol.min_agreement:g} %"
        rows.append(CheckResult(label, status, _fmt(result.to_dict()) + f", {golden.name}" + limits))
    else:
        rows.append(CheckResult("golden outputs", "SKIP", f"no golden set at {golden}"))
    return rows


def _fmt(rec: dict[str, float]) -> str:
    return (
        f"score max abs {rec['score_max_abs']:.2e} (scale {rec['score_scale']:.3g}), "
        f"uncertainty {rec['uncertainty_max_abs']:.2e}, agreement {100 * rec['semantic_agreement']:.3f} %"
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from anomaly_seg.artifacts.golden import golden_images
    from anomaly_seg.artifacts.onnx_checks import fp16_checks, structure_checks, tensorrt_checks
    from anomaly_seg.artifacts.report import format_table
    from anomaly_seg.engines.metadata import ModelMetadata, read_onnx_props

    model = Path(args.model)
    meta = ModelMetadata.from_props(read_onnx_props(model), str(model))
    steps = ["structure", "tensorrt", "parity", *(["fp16"] if args.fp16 else [])]
    rows: list[CheckResult] = []
    flagged: list[ActivationStat] = []
    for step in tqdm(steps, desc="check-onnx", unit="check", leave=False):
        if step == "structure":
            rows += structure_checks(model)
        elif step == "tensorrt":
            rows += tensorrt_checks(model, tuple(args.trt))
        elif step == "parity":
            rows += _parity_rows(args, model)
        else:
            images = golden_images(meta.network_size, meta.batch_size, seed=2)
            probe = [images["random_smooth"], images["constant_extremes"]]
            fp16_rows, flagged = fp16_checks(model, probe, int(args.memory_gb * (1 << 30)))
            rows += fp16_rows
    print(format_table(["check", "status", "detail"], [(r.check, r.status, r.detail) for r in rows]))
    if flagged:
        print("\nactivations to watch in fp16 (largest first):")
        top = [(s.name, s.op_type, s.node, f"{s.max_abs:.4g}", s.non_finite) for s in flagged[:15]]
        print(format_table(["tensor", "op", "node", "max |x|", "non-finite"], top))
    failed = [r for r in rows if r.failed]
    verdict = f"FAILED ({len(failed)} checks)" if failed else "all checks passed"
    print(
        f"check-onnx {model}: {verdict} ({meta.mode}, {meta.network_size[0]}x{meta.network_size[1]}, "
        f"batch {meta.batch_size}, weights {meta.checkpoint or '?'})"
    )
    return 1 if failed else 0
