"""``python -m training compare``: every seed method and the plain baselines of each model on the same frames.

One model per method (trained here from one shared stage-1 model, or loaded with ``--checkpoint METHOD=PATH``):
the UEM (likelihood ratio; Nayal et al.), entropy maximisation (Chan et al.) and the outlier head (Bevandic et
al.). Each model is scored on the same held-out frames with its own score and the baselines it has (maximum
softmax, entropy, max logit, and the UEM ratio / outlier probability alone). Every score's threshold for segments
and components is its pixel-F1-optimal one on separate **validation** frames (never the test frames). Rows
(``compare.json``): ``{"method", "score", "deployed", "ap", "fpr95", "auroc", "mean_f1", "siou", "ppv", "fp", "fn",
"f1", "threshold", "miou", "tflop"}``; ``compare.md`` is the leaderboard (best AP first); ``compare_pr.png`` the
precision-recall curves of all rows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from anomaly_seg.errors import ConfigError
from anomaly_seg.network import AnomalySegmenter, load_checkpoint
from anomaly_seg.network.scores import compute_score
from training.config import METHODS
from training.datasets.base import Sample

#: the scores each method's model is judged by: its own (first) and the baselines it has
METHOD_SCORES: dict[str, tuple[str, ...]] = {
    "uem": ("llr", "uem_only", "max_softmax", "entropy", "max_logit"),
    "entropy_max": ("entropy", "max_softmax", "max_logit"),
    "outlier_head": ("op_msm", "outlier_probability", "max_softmax", "entropy", "max_logit"),
}
ROW_KEYS = (
    "method", "score", "deployed", "ap", "fpr95", "auroc", "mean_f1", "siou", "ppv", "fp", "fn", "f1", "threshold",
    "miou", "tflop",
)  # fmt: skip


@dataclass
class CompareOptions:
    """What :func:`run_compare` trains, loads and scores."""

    methods: tuple[str, ...] = METHODS
    checkpoints: dict[str, Path] = field(default_factory=dict)
    test_images: int = 64
    val_images: int = 64
    #: recipes: ``<prefix>_stage1.yaml``, then ``<prefix>_stage2.yaml`` (UEM) / ``<prefix>_<method>.yaml``; ``smoke``
    #: (synthetic scenes, CPU minutes) or ``realtime`` (Cityscapes + COCO, GPU)
    recipes: str = "smoke"
    overrides1: Sequence[str] = ()
    overrides2: Sequence[str] = ()
    test: Dataset[Sample] | None = None  # None: synthetic held-out scenes
    test_name: str = "synthetic held-out scenes (unseen obstacle kinds)"
    synthetic: bool = True
    progress: bool = True


def train_methods(out: Path, options: CompareOptions) -> dict[str, Path]:
    """Best checkpoint of every method not given: one stage-1 model, then each method's stage 2 from it (the recipes
    of ``options.recipes``, with ``overrides1`` / ``overrides2``)."""
    from training.config import TrainConfig
    from training.smoke import CONFIG_DIR
    from training.trainers import train

    paths = dict(options.checkpoints)
    missing = [m for m in options.methods if m not in paths]
    if not missing:
        return paths
    logging = [f"logging.progress={str(options.progress).lower()}"]
    prefix = options.recipes
    s1 = TrainConfig.from_yaml(CONFIG_DIR / f"{prefix}_stage1.yaml", [*logging, *options.overrides1])
    stage1 = train(s1, out / "stage1").best
    for method in missing:
        recipe = f"{prefix}_stage2.yaml" if method == "uem" else f"{prefix}_{method}.yaml"
        s2 = TrainConfig.from_yaml(CONFIG_DIR / recipe, [*logging, f"init={stage1}", *options.overrides2])
        paths[method] = train(s2, out / method).best
    return paths


@torch.no_grad()
def scored_frames(
    model: AnomalySegmenter, dataset: Dataset[Sample], names: Sequence[str]
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, Sample]]:
    """Per frame: every score in ``names``, the semantic map and the anomaly ground truth, at the ground-truth size
    (full-frame mode), and the sample."""
    from training.evaluate import _to_network_size, logits_at

    model.eval()
    device = next(model.parameters()).device
    for i in range(len(dataset)):  # type: ignore[arg-type]
        sample = dataset[i]
        if sample.anomaly is None:
            raise ConfigError(f"{sample.name}: frame without anomaly ground truth")
        gt = sample.anomaly
        net = _to_network_size(sample, model.input_size)
        class_logits, uem = logits_at(model, torch.from_numpy(net.image[None]).to(device), gt.shape)
        scores = {n: compute_score(n, class_logits, uem)[0].cpu().numpy().astype(np.float32) for n in names}
        yield scores, class_logits.argmax(1)[0].to(torch.uint8).cpu().numpy(), gt, sample


def validation_thresholds(model: AnomalySegmenter, dataset: Dataset[Sample], names: Sequence[str]) -> dict[str, float]:
    """Each score's pixel-F1-optimal threshold on ``dataset`` (validation frames)."""
    from anomaly_seg.metrics.pixel import PixelAnomalyMetrics
    from training.trainers.threshold import max_f1_operating_point

    metrics = {n: PixelAnomalyMetrics() for n in names}
    for scores, _, gt, _ in scored_frames(model, dataset, names):
        for n in names:
            metrics[n].update(scores[n], gt)
    out = {}
    for n in names:
        point = max_f1_operating_point(metrics[n])
        out[n] = float(point["threshold"]) if point and math.isfinite(point["threshold"]) else 0.0
    return out


def score_rows(
    method: str,
    model: AnomalySegmenter,
    test: Dataset[Sample],
    thresholds: Mapping[str, float],
    progress: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of one model on the test frames, and per row its pixel curves and results (for the plot)."""
    from tqdm import tqdm

    from anomaly_seg.evaluation.accumulator import FrameAccumulator, pixel_row
    from anomaly_seg.metrics.pixel import MeanIoU
    from anomaly_seg.network.flops import frame_flops
    from anomaly_seg.segments import SegmentParams

    names = METHOD_SCORES[method]
    acc = {n: FrameAccumulator([thresholds[n]], SegmentParams(threshold=thresholds[n])) for n in names}
    miou = MeanIoU(model.num_classes)
    has_ids = False
    frames = scored_frames(model, test, names)
    for scores, semantic, gt, sample in tqdm(frames, total=len(test), desc=method, disable=not progress):  # type: ignore[arg-type]
        for n in names:
            acc[n].add(scores[n], semantic, gt)
        if sample.train_ids is not None:
            has_ids = True
            miou.update(semantic, sample.train_ids)
    tflop = frame_flops(model.config).total / 1e12
    rows, plots = [], {}
    for n in names:
        pixel = pixel_row(acc[n].pixel_result())
        seg = acc[n].segment_results()[0].counts
        comp = acc[n].component_rows()[0]
        rows.append(
            {
                "method": method,
                "score": n,
                "deployed": n == model.config.score,
                "ap": pixel["ap"],
                "fpr95": pixel["fpr95"],
                "auroc": pixel["auroc"],
                "mean_f1": comp["mean_f1"],
                "siou": comp["siou"],
                "ppv": comp["ppv"],
                "fp": seg.fp,
                "fn": seg.fn,
                "f1": seg.f1,
                "threshold": thresholds[n],
                "miou": float(miou.compute().miou) if has_ids else None,
                "tflop": tflop,
            }
        )
        plots[f"{method} / {n}"] = (acc[n].pixel.curves(), acc[n].pixel_result())
    return rows, plots


def markdown(doc: dict[str, Any]) -> str:
    """The leaderboard, best AP first."""

    def pct(v: Any) -> str:
        return "n/a" if v is None or v != v else f"{100 * v:.1f}"

    rows = sorted(doc["methods"], key=lambda r: -(r["ap"] if r["ap"] is not None else -1))
    lines = [
        f"# Seed methods compared on {doc['frames']['name']}",
        "",
        doc["note"],
        "",
        f"{doc['frames']['test']} test frames; thresholds (segments, components) pixel-F1-optimal on "
        f"{doc['frames']['validation']} validation frames. **deployed** = the model's own engine score. AP, FPR95, "
        "AUROC, mean F1 (SMIYC component F1 over tau), sIoU, PPV and mIoU in %; FP / FN / F1 of obstacle segments.",
        "",
        "| # | method | score | deployed | AP | FPR95 | AUROC | mean F1 | sIoU | PPV | FP | FN | F1 | mIoU | TFLOP |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        lines.append(
            f"| {i} | {r['method']} | `{r['score']}` | {'yes' if r['deployed'] else ''} | {pct(r['ap'])} | "
            f"{pct(r['fpr95'])} | {pct(r['auroc'])} | {pct(r['mean_f1'])} | {pct(r['siou'])} | {pct(r['ppv'])} | "
            f"{r['fp']} | {r['fn']} | {r['f1']:.3f} | {pct(r['miou'])} | {r['tflop']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def run_compare(out_dir: str | Path, options: CompareOptions) -> dict[str, Any]:
    """Train or load, score, write ``compare.json``, ``compare.md``, ``compare_pr.png``; returns the document."""
    from anomaly_seg.evaluation.plots import save_curves
    from anomaly_seg.files import write_json
    from training.smoke import META_VAL_SEED, heldout_scenes

    unknown = sorted(set(options.methods) - set(METHOD_SCORES)) + sorted(set(options.checkpoints) - set(METHODS))
    if unknown:
        raise ConfigError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = train_methods(out, options)
    rows: list[dict[str, Any]] = []
    plots: dict[str, Any] = {}
    for method in options.methods:
        model, config = load_checkpoint(paths[method])
        names = METHOD_SCORES[method]
        if config.score != names[0]:
            raise ConfigError(
                f"--checkpoint {method}={paths[method]}: its score is {config.score!r}, a {method} model deploys "
                f"{names[0]!r}"
            )
        val = heldout_scenes(options.val_images, config.input.size, seed_offset=META_VAL_SEED)
        thresholds = validation_thresholds(model, val, names)
        test = options.test if options.test is not None else heldout_scenes(options.test_images, config.input.size)
        method_rows, method_plots = score_rows(method, model, test, thresholds, options.progress)
        rows += method_rows
        plots.update(method_plots)
    note = (
        "Synthetic scenes and tiny models trained for minutes on CPU: this compares the methods' mechanics on "
        "synthetic data, not their accuracy on real roads."
        if options.synthetic
        else "Numbers on the dataset named above."
    )
    doc = {
        "methods": rows,
        "frames": {
            "name": options.test_name,
            "test": len(options.test) if options.test is not None else options.test_images,  # type: ignore[arg-type]
            "validation": options.val_images,
        },
        "checkpoints": {m: str(p) for m, p in paths.items()},
        "synthetic": options.synthetic,
        "note": note,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(out / "compare.json", doc)
    (out / "compare.md").write_text(markdown(doc), encoding="utf-8")
    curves = {k: v[0] for k, v in plots.items()}
    results = {k: v[1] for k, v in plots.items()}
    save_curves(out / "compare_pr.png", out / "compare_roc.png", curves, results, "seed methods")
    return doc
