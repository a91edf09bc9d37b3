"""The whole training chain on synthetic scenes with the tiny config on CPU, in a few minutes.

stage 1 (inlier segmentor on inlier-only scenes) -> stage 2 (UEM with pasted obstacle patches of TRAIN kinds) ->
evaluation on held-out scenes whose obstacles are of UNSEEN kinds -> prediction files -> meta classifier.
This demonstrates that the chain learns on synthetic data; it says nothing about accuracy on real roads.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.config import REPO_ROOT, TrainConfig
from training.trainers.data import TEST_SEED, EvalSamples, SyntheticScenes

CONFIG_DIR = REPO_ROOT / "training" / "configs"


@dataclass(frozen=True)
class SmokeResult:
    """Outputs and headline numbers of a smoke run."""

    out_dir: Path
    model: Path
    metrics: Path
    meta: Path | None
    ap: float
    max_softmax_ap: float
    seconds: float


def heldout_scenes(
    n: int, size: tuple[int, int], seed_offset: int = TEST_SEED, area_range: tuple[float, float] = (0.01, 0.06)
) -> EvalSamples:
    """``n`` unseen scenes (own seed range), each with one obstacle patch of a HELD-OUT kind (never used in training
    or validation) covering ``area_range`` of the image. Patches are pasted rather than placed by the scene
    generator because its obstacles are mostly a few pixels at the tiny network size."""
    from anomaly_seg.synthetic.obstacles import HELDOUT_OBSTACLE_KINDS
    from training.pasting import OutlierPaster, PasteParams, SyntheticOutlierSource

    paster = OutlierPaster(SyntheticOutlierSource(HELDOUT_OBSTACLE_KINDS), PasteParams(1.0, area_range), seed_offset)
    return EvalSamples(SyntheticScenes(n, size, seed_offset, cache=False), size, paster, seed_offset)


def run_smoke(
    out_dir: str | Path,
    *,
    test_images: int = 32,
    overrides1: Sequence[str] = (),
    overrides2: Sequence[str] = (),
    progress: bool = True,
) -> SmokeResult:
    """Run the chain into ``out_dir``: ``stage1/``, ``stage2/``, ``eval/`` and ``model.safetensors``,
    ``metrics.json``, ``meta.json`` at the top."""
    import torch

    from anomaly_seg.errors import DatasetError
    from anomaly_seg.network import load_checkpoint
    from anomaly_seg.segments import SegmentParams
    from training.evaluate import EvalOptions, evaluate
    from training.fit_meta import collect_samples, fit_meta_classifier, load_prediction, prediction_files
    from training.trainers import train

    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    logging = [f"logging.progress={str(progress).lower()}"]
    s1 = TrainConfig.from_yaml(CONFIG_DIR / "smoke_stage1.yaml", [*logging, *overrides1])
    r1 = train(s1, out / "stage1")
    s2 = TrainConfig.from_yaml(CONFIG_DIR / "smoke_stage2.yaml", [*logging, f"init={r1.best}", *overrides2])
    r2 = train(s2, out / "stage2")
    model_path = out / "model.safetensors"
    shutil.copyfile(r2.best, model_path)

    model, config = load_checkpoint(model_path)
    from anomaly_seg.network.checkpoint import read_checkpoint_metadata

    threshold = float(read_checkpoint_metadata(model_path)[1].get("score_threshold", 0.0))
    options = EvalOptions(
        dump_predictions=True,
        overlays=6,
        progress=progress,
        title="synthetic held-out kinds",
        extra={
            "dataset": "synthetic_heldout",
            "note": "learning on synthetic data, not accuracy",
            "stage1_val": r1.history[-1] if r1.history else {},
            "stage2_val": r2.history[-1] if r2.history else {},
        },
    )
    report = evaluate(model, heldout_scenes(test_images, config.input.size), out / "eval", options, threshold)
    metrics_path = out / "metrics.json"
    shutil.copyfile(out / "eval" / "metrics.json", metrics_path)

    meta_path: Path | None = None
    params = SegmentParams(threshold=threshold)
    try:
        files = prediction_files([out / "eval" / "predictions"])
        samples = collect_samples((load_prediction(f) for f in files), params)
        meta = fit_meta_classifier(samples, params=params, folds=3)
        meta_path = meta.save(out / "meta.json")
    except DatasetError as exc:
        print(f"smoke: meta classifier not fitted: {exc}")
    seconds = time.perf_counter() - start
    result = SmokeResult(out, model_path, metrics_path, meta_path, report.ap("llr"), report.ap("max_softmax"), seconds)
    summary = {"ap": result.ap, "max_softmax_ap": result.max_softmax_ap, "seconds": round(seconds, 1)}
    (out / "smoke.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return result
