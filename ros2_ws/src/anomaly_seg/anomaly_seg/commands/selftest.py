"""``anomaly-seg selftest``: run a backend on the golden inputs stored at export and compare.

This is what to run on the target (e.g. a Jetson) after building the engine: it proves the engine
computes what the exported model computed on the export machine, within the precision's tolerance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from anomaly_seg.vocabulary import BACKENDS, PRECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=".onnx or .engine (or .safetensors/.yaml for torch)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS)
    parser.add_argument("--precision", default="fp16", choices=PRECISIONS, help="TensorRT/torch-CUDA precision")
    parser.add_argument("--golden", help="golden set folder (default: <onnx>.golden)")
    parser.add_argument("--device", help="torch device (cpu, cuda)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from anomaly_seg.artifacts.golden import default_golden_dir, iter_golden, read_manifest
    from anomaly_seg.artifacts.parity import TOLERANCES, compare, merge
    from anomaly_seg.artifacts.report import format_table
    from anomaly_seg.engines import load_engine
    from anomaly_seg.errors import ModelFileError

    model = Path(args.model)
    golden = Path(args.golden) if args.golden else default_golden_dir(model)
    manifest = read_manifest(golden)
    engine = load_engine(model, args.backend, args.precision, device=args.device)
    # fp32 tolerances only where the whole run is fp32: ORT (fp32 graph), TensorRT/torch asked for fp32
    fp32 = engine.name.startswith("onnxruntime") or args.precision == "fp32" or "fp32" in engine.name
    tol = TOLERANCES["fp32" if fp32 else "fp16"]
    rows, comparisons = [], []
    for case in tqdm(iter_golden(golden), total=len(manifest["cases"]), desc="selftest", unit="case", leave=False):
        if case.image.shape != (engine.batch_size, *engine.input_size, 3):
            raise ModelFileError(
                f"{golden}: case '{case.name}' is {list(case.image.shape)}, the engine takes "
                f"[{engine.batch_size}, {engine.input_size[0]}, {engine.input_size[1]}, 3]"
            )
        c = compare(case.reference, engine.infer(case.image))
        comparisons.append(c)
        rows.append(
            (
                case.name,
                f"{c.score_max_abs:.3e}",
                f"{c.score_max_abs / c.score_scale:.2e}",
                f"{c.uncertainty_max_abs:.3e}",
                f"{100 * c.semantic_agreement:.3f} %",
                "PASS" if c.passed(tol) else "FAIL",
            )
        )
    total = merge(comparisons)
    ok = total.passed(tol)
    print(
        format_table(["case", "score max abs", "relative", "uncertainty max abs", "semantic agreement", "status"], rows)
    )
    print(
        f"thresholds ({'fp32' if fp32 else 'fp16'}): score <= {tol.score_rel:g} x max|score|, uncertainty <= "
        f"{tol.uncertainty_abs:g}, agreement >= {100 * tol.min_agreement:g} %; reference: "
        f"{manifest.get('reference_backend', '?')}"
    )
    print(f"selftest {engine.name} on {model}: {'PASS' if ok else 'FAIL'} ({len(rows)} cases from {golden})")
    return 0 if ok else 1
