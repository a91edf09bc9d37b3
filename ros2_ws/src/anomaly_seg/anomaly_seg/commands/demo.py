"""``anomaly-seg demo --out demo_output``: the whole chain on CPU without GPU, ROS or data.

synthetic Lost-and-Found-style scenes (obstacle kinds never seen in training) -> tiny model from the training
smoke run (cached) -> ONNX export -> rosbag2 -> replay through the node pipeline on ONNX Runtime CPU ->
evaluation report. Training and export run as ``python -m training ...`` subprocesses from the repository root:
the runtime package never imports ``training``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

SMOKE_FILES = ("training/configs/smoke_stage1.yaml", "training/configs/smoke_stage2.yaml", "models/configs/tiny.yaml")
EXPLANATION = """\
What the numbers mean: the scenes are synthetic and the model is a 4-block ViT trained from scratch for a few
minutes on CPU, evaluated on obstacle kinds it never saw in training. The report shows that the chain works end
to end (camera bag -> node pipeline -> ONNX Runtime -> outputs on the camera stamps -> pixel AP / FPR95 / AUROC,
obstacle segments TP/FP/FN, road miss rate, latency); it says nothing about accuracy on real roads.
The real thing: download Lost and Found (or Fishyscapes L&F), export a trained DINOv2 model, then
  anomaly-seg convert lostandfound <LAF root> --out laf_bag
  anomaly-seg replay laf_bag --model model.onnx --out laf_replayed   (--backend tensorrt on a GPU)
  anomaly-seg evaluate laf_replayed --report laf_report
(docs/evaluation.md has every step)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    parser.add_argument("--model-dir", type=Path, help="existing `python -m training smoke` output (skips training)")
    parser.add_argument("--frames", type=int, default=24, help="synthetic scenes in the bag")
    parser.add_argument("--size", default="224x448", help="camera image size HxW of the synthetic scenes")
    parser.add_argument("--test-images", type=int, default=64, help="held-out scenes of the smoke run's evaluation")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the scenes")
    parser.add_argument("--repo", type=Path, help="repository root holding training/ (default: found from the package)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def repo_root(explicit: Path | None) -> Path:
    """The checkout holding ``training/`` (training runs from there as a subprocess)."""
    from anomaly_seg.errors import ConfigError

    candidates = [explicit] if explicit else [Path(__file__).resolve().parents[4], Path.cwd()]
    for root in candidates:
        if root is not None and (root / "training" / "__main__.py").is_file():
            return root.resolve()
    raise ConfigError(
        f"the demo trains with `python -m training`, which lives in the repository checkout; none found at "
        f"{[str(c) for c in candidates]} (pass --repo or --model-dir)"
    )


def smoke_key(root: Path, test_images: int) -> str:
    """Hash of the smoke configs and settings: a cached model is reused only when they are unchanged."""
    digest = hashlib.sha256(f"test_images={test_images}".encode())
    for name in SMOKE_FILES:
        path = root / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"missing"))
    return digest.hexdigest()[:16]


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    from anomaly_seg.errors import ModelFileError

    print(f"demo: {what}: {' '.join(cmd)}", flush=True)
    if subprocess.run(cmd, cwd=cwd, check=False).returncode != 0:
        raise ModelFileError(f"{what} failed (command above, run in {cwd})")


def run(args: argparse.Namespace) -> int:
    from anomaly_seg.bags.convert import ConvertOptions, convert_dataset
    from anomaly_seg.datasets import LostAndFoundLayout
    from anomaly_seg.engines import load_engine
    from anomaly_seg.engines.metadata import ModelMetadata
    from anomaly_seg.errors import ConfigError, ModelFileError
    from anomaly_seg.evaluation.bag_evaluator import EvalSettings
    from anomaly_seg.evaluation.bag_source import evaluate_bag
    from anomaly_seg.node_core.params import NodeParams
    from anomaly_seg.offline.replay import replay_bag
    from anomaly_seg.segments import MetaClassifier
    from anomaly_seg.synthetic import write_lostandfound_layout

    start = time.perf_counter()
    progress = not args.no_progress
    try:
        height, width = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must be HxW, e.g. 224x448, got {args.size!r}") from None
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # 1. model: the smoke run's checkpoint (cached by config hash) and its ONNX export
    if args.model_dir is not None:
        model_dir = args.model_dir.resolve()
        root = repo_root(args.repo) if not (model_dir / "model.onnx").is_file() else None
    else:
        root = repo_root(args.repo)
        model_dir = out / "model" / smoke_key(root, args.test_images)
    checkpoint = model_dir / "model.safetensors"
    if not checkpoint.is_file() and not (model_dir / "model.onnx").is_file():
        if args.model_dir is not None:
            raise ModelFileError(
                f"--model-dir {model_dir} holds no model.safetensors (a `python -m training smoke` output)"
            )
        assert root is not None
        cmd = [
            sys.executable,
            "-m",
            "training",
            "smoke",
            "--out",
            str(model_dir),
            "--test-images",
            str(args.test_images),
        ]
        _run([*cmd, *(["--no-progress"] if not progress else [])], root, "training the tiny model (smoke run, cached)")
    else:
        print(f"demo: reusing the model in {model_dir}")
    onnx_path = model_dir / "model.onnx"
    if args.model_dir is not None and not onnx_path.is_file():
        # never write into the user's folder: export next to the demo outputs, keyed by the checkpoint
        key = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
        onnx_path = out / "model" / f"export-{key}" / "model.onnx"
    if not onnx_path.is_file():
        assert root is not None
        _run([sys.executable, "-m", "training", "export", "--checkpoint", str(checkpoint), "--out", str(onnx_path)],
             root, "exporting to ONNX")  # fmt: skip
    meta = model_dir / "meta.json"

    # 2. data: synthetic Lost-and-Found-style scenes with held-out obstacle kinds -> bag
    for stale in ("data", "bags", "report"):
        shutil.rmtree(out / stale, ignore_errors=True)
    laf = out / "data" / "lostandfound"
    write_lostandfound_layout(laf, args.frames, height=height, width=width, seed=args.seed)
    bag = out / "bags" / "lostandfound"
    converted = convert_dataset(LostAndFoundLayout(laf), bag, ConvertOptions(), progress=progress)
    print(f"demo: {converted.line()}")

    # 3. replay on ONNX Runtime CPU through the node pipeline, 4. evaluate
    engine = load_engine(onnx_path, backend="onnxruntime", log=lambda line: print(f"demo: {line}"))
    # the plain baseline's threshold: pixel-F1-optimal on validation (in the ONNX); the node runs at the meta
    # classifier's operating point (chosen on validation with it) when meta.json has one
    suggested = ModelMetadata.from_props(dict(engine.metadata), str(onnx_path)).score_threshold
    threshold = suggested if suggested is not None else 0.0
    values: dict[str, object] = {"model.onnx_path": str(onnx_path), "model.backend": "onnxruntime"}
    if meta.is_file():  # anomaly.threshold unset: the node takes the model's (the baseline's threshold)
        values["segments.meta_classifier_path"] = str(meta)
    params = NodeParams.from_dict(values)
    replayed = out / "bags" / "lostandfound_replayed"
    summary = replay_bag(bag, replayed, engine, params, progress=progress)
    for line in summary.lines():
        print(f"demo: {line}")
    report = out / "report"
    evaluation = evaluate_bag(replayed, report, EvalSettings(threshold=threshold), progress=progress)
    m = evaluation.evaluator.metrics(evaluation.matcher)
    px = m["pixel"]["llr"]
    (out / "demo.json").write_text(
        json.dumps({"frames_in": summary.frames_in, "processed": summary.processed, "rejected": summary.rejected,
                    "pixel": px, "seconds": round(time.perf_counter() - start, 1)}, indent=1),
        encoding="utf-8",
    )  # fmt: skip

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f} %"

    print()
    print(EXPLANATION)
    print()
    for row in m["segments"]:
        print(
            f"demo: segments {row['source']} (meta classifier {'yes' if row['meta'] else 'no'}): TP {row['tp']} "
            f"FP {row['fp']} FN {row['fn']}, F1 {row['f1']:.2f}, road miss rate {pct(row['road_miss_rate'])}"
        )
    op = MetaClassifier.load(meta).operating_point if meta.is_file() else None
    if op is not None:
        print(
            f"demo: rescored = the plain baseline at the pixel-F1 threshold {threshold:.3g}, no meta classifier; "
            f"published = the node, mask at {threshold:.3g}, segments at the operating point chosen on validation "
            f"(threshold {op['threshold']:.3g}, meta threshold {op['meta_threshold']:.2f})"
        )
    print(f"demo: pixel AP {pct(px['ap'])}, FPR95 {pct(px['fpr95'])}, AUROC {pct(px['auroc'])}")
    distance = m["distance"]
    if distance.get("obstacles"):
        *bands, overall = distance["bands"]
        per_band = ", ".join(f"{b['band_m']} m: {pct(b['median_abs_relative'])}" for b in bands if b["obstacles"])
        print(
            f"demo: obstacle distance against the synthetic stereo depth, {distance['obstacles']} published obstacles: "
            f"median error {pct(overall['median_abs_relative'])} ({per_band})"
        )
    else:
        print(f"demo: obstacle distance not evaluated: {distance.get('off', 'no published obstacle on an obstacle')}")
    print(f"demo: frames in: {summary.frames_in}, processed: {summary.processed}, rejected: {summary.rejected_total}")
    print(
        f"demo: done in {time.perf_counter() - start:.0f} s. output bag: {replayed}; report: {report / 'report.md'}; "
        f"overlay sheet: {report / 'contact_sheet.png'}; model: {onnx_path}"
    )
    return 0
