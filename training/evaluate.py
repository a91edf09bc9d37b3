"""Evaluation of a trained model on an anomaly dataset: every score side by side, streaming pixel metrics, segment
metrics, mIoU where trainIds exist, and the report files (``metrics.json``, ``report.md``, PR/ROC PNGs, overlays,
optionally per-frame prediction ``.npz`` files for ``python -m training fit-meta``).

Modes: ``full`` (the image is resized to the network size, logits upsampled to the label size; the real-time
default) and ``sliding`` (windows of the network size over the original image, logits averaged; the accuracy mode).
Scores and metrics are computed at the label resolution. The LLR's pixel and segment metrics go through
:class:`anomaly_seg.evaluation.accumulator.FrameAccumulator`, the accumulation ``anomaly-seg evaluate`` uses on a
replayed bag, so both report identical numbers on identical predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from anomaly_seg.interrupts import StopRequests
from anomaly_seg.metrics.pixel import MeanIoU, PixelAnomalyMetrics
from anomaly_seg.network import AnomalySegmenter
from anomaly_seg.network.heads import GMMHead
from anomaly_seg.network.scores import SCORE_NAMES, compute_score, uncertainty_maps
from anomaly_seg.segments import MetaClassifier, SegmentParams
from anomaly_seg.vocabulary import MODES
from training.datasets.base import Sample, collate_samples, resize_image

PRIMARY_SCORE = "llr"
"""The default deployed score; a model's own is ``model.config.score`` (the engine's ``anomaly_score``)."""


def score_names(model: AnomalySegmenter) -> tuple[str, ...]:
    """All scores that apply to ``model``: the GMM density only with a GMM inlier head; with an outlier head its
    probability and OP x MSM, not the UEM's ratios (its slot holds the outlier logit); without one, the UEM ratio
    (``uem_only``; its sigmoid would rank identically) and the OP x MSM variant."""
    skip = {"llr", "uem_only"} if model.outlier is not None else {"outlier_probability"}
    if not isinstance(model.head, GMMHead):
        skip.add("gmm_density")
    return tuple(s for s in SCORE_NAMES if s not in skip)


@torch.no_grad()
def logits_at(
    model: AnomalySegmenter, images: Tensor, size: tuple[int, int], mode: str = "full"
) -> tuple[Tensor, Tensor]:
    """Class and UEM logits of uint8 ``images`` [B, h, w, 3] upsampled (bilinear) to ``size``.

    ``full``: ``images`` must already be at the network size. ``sliding``: windows of the network size over them.
    """
    if mode == "sliding":
        from anomaly_seg.network.sliding import SlidingWindowSegmenter

        seg = SlidingWindowSegmenter(model, (images.shape[1], images.shape[2])).to(images.device)
        class_logits, uem_logits = seg.stitched_logits(images)
    else:
        class_logits, uem_logits = model.logits(model.normalize(images))
    if tuple(class_logits.shape[-2:]) != tuple(size):
        class_logits = F.interpolate(class_logits, size=size, mode="bilinear", align_corners=False)
    if tuple(uem_logits.shape[-2:]) != tuple(size):
        uem_logits = F.interpolate(uem_logits, size=size, mode="bilinear", align_corners=False)
    return class_logits.float(), uem_logits.float()


def _device(model: AnomalySegmenter) -> torch.device:
    return next(model.parameters()).device


def validate_model(
    model: AnomalySegmenter, dataset: Dataset[Sample], stage: int, batch_size: int = 4
) -> dict[str, float]:
    """Model-selection metrics: ``miou`` (+ pixel accuracy) in stage 1; LLR ``ap``, ``fpr95``, ``auroc`` and the
    LLR ``score_threshold`` at 95 % TPR in stage 2. Leaves the model in eval mode."""
    model.eval()
    device = _device(model)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_samples)
    miou = MeanIoU(model.num_classes)
    pixel = PixelAnomalyMetrics()
    for batch in loader:
        key = "train_ids" if stage == 1 else "anomaly"
        size = (batch[key].shape[1], batch[key].shape[2])
        class_logits, uem_logits = logits_at(model, batch["image"].to(device), size)
        if stage == 1:
            miou.update(class_logits.argmax(1).cpu().numpy(), batch["train_ids"].numpy())
        else:
            score = compute_score(model.config.score, class_logits, uem_logits)
            pixel.update(score.cpu().numpy(), batch["anomaly"].numpy())
    if stage == 1:
        r = miou.compute()
        return {"miou": float(r.miou), "pixel_accuracy": float(r.pixel_accuracy)}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = pixel.compute()
        threshold = pixel.threshold_at_tpr(0.95)
    out = {"ap": p.ap, "fpr95": p.fpr95, "auroc": p.auroc}
    if math.isfinite(threshold):
        out["score_threshold"] = threshold
    return {k: float(v) for k, v in out.items()}


@dataclass
class EvalOptions:
    """What :func:`evaluate` computes and writes."""

    mode: str = "full"
    segment_thresholds: Sequence[float] | None = None  # None: the checkpoint's score_threshold, else 0
    min_area_px: int = 0
    protocol: str = "benchmark"  # segment counting rule: benchmark (SMIYC / meta-ood) or deployed (the node's)
    size_filter: str = "none"  # of the SMIYC component metrics: none, obstacle_track, anomaly_track
    meta: MetaClassifier | None = None
    dump_predictions: bool = False
    overlays: int = 8
    max_images: int | None = None
    progress: bool = True
    title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalReport:
    """What :func:`evaluate` measured and where it wrote it."""

    metrics: dict[str, Any]
    out_dir: Path
    files: list[Path]

    def ap(self, score: str | None = None) -> float:
        """Pixel AP of ``score`` (default: the model's deployed score)."""
        return float(self.metrics["pixel"][score or self.metrics.get("score", PRIMARY_SCORE)]["ap"])


def _to_network_size(sample: Sample, size: tuple[int, int]) -> Sample:
    return Sample(resize_image(sample.image, size), sample.name, sample.train_ids, sample.anomaly)


@torch.no_grad()
def evaluate(
    model: AnomalySegmenter,
    dataset: Dataset[Sample],
    out_dir: str | Path,
    options: EvalOptions | None = None,
    score_threshold: float | None = None,
) -> EvalReport:
    """Evaluate every score of ``model`` on ``dataset`` (samples with an ``anomaly`` target, one image at a time).

    ``score_threshold`` is the LLR threshold for segments and overlays (e.g. the checkpoint's validation one).
    """
    from tqdm import tqdm

    from anomaly_seg.evaluation.accumulator import FrameAccumulator, as_float32, pixel_row, resolve_thresholds
    from anomaly_seg.evaluation.plots import save_overlay
    from anomaly_seg.evaluation.report import metrics_document, write_report

    opts = options or EvalOptions()
    if opts.mode not in MODES:
        from anomaly_seg.errors import ConfigError

        raise ConfigError(f"--mode: {opts.mode!r} is not one of {', '.join(MODES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    device = _device(model)
    names = score_names(model)
    miou = MeanIoU(model.num_classes)
    has_train_ids = False
    threshold = as_float32(score_threshold if score_threshold is not None else 0.0)  # as the node's LabelInfo
    thresholds = resolve_thresholds(opts.segment_thresholds, threshold)
    primary = FrameAccumulator(
        thresholds,
        SegmentParams(threshold=thresholds[0], min_area_px=opts.min_area_px),
        opts.meta,
        protocol=opts.protocol,
        size_filter=opts.size_filter,
    )
    # the LLR's pixel metrics are the accumulator's; the baselines only get pixel metrics
    deployed = model.config.score
    pixel = {name: primary.pixel if name == deployed else PixelAnomalyMetrics() for name in names}
    n = len(dataset)  # type: ignore[arg-type]
    if opts.max_images is not None:
        n = min(n, opts.max_images)
    overlay_every = max(1, n // max(opts.overlays, 1))
    files: list[Path] = []
    evaluated = 0
    with StopRequests() as stop:
        for i in tqdm(range(n), desc="evaluate", unit="img", disable=not opts.progress):
            if stop.requested:
                break
            sample = dataset[i]
            if sample.anomaly is None:
                from anomaly_seg.errors import DatasetError

                raise DatasetError(f"{sample.name}: sample has no anomaly ground truth")
            gt = sample.anomaly
            net_sample = _to_network_size(sample, model.input_size) if opts.mode == "full" else sample
            images = torch.from_numpy(net_sample.image[None]).to(device)
            class_logits, uem_logits = logits_at(model, images, gt.shape, opts.mode)
            scores = {name: compute_score(name, class_logits, uem_logits)[0].cpu().numpy() for name in names}
            for name in names:
                if name != deployed:
                    pixel[name].update(scores[name], gt)
            semantic = class_logits.argmax(1)[0].to(torch.uint8).cpu().numpy()
            uncertainty = uncertainty_maps(class_logits)[0].cpu().numpy()
            llr = scores[deployed].astype(np.float32)  # the deployed score (LLR unless entropy maximisation)
            primary.add(llr, semantic, gt, uncertainty)
            if sample.train_ids is not None:
                has_train_ids = True
                miou.update(semantic, sample.train_ids)
            if opts.dump_predictions:
                from training.predictions import Prediction, save_prediction

                save_prediction(out / "predictions" / f"{i:06d}.npz", Prediction(semantic, llr, uncertainty, gt))
            if opts.overlays and i % overlay_every == 0 and i // overlay_every < opts.overlays:
                files.append(
                    save_overlay(out / "overlays" / f"{i:06d}.png", sample.image, semantic, llr, threshold, gt)
                )
            evaluated += 1
    n = evaluated
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {name: m.compute() for name, m in pixel.items()}
        curves = {name: m.curves() for name, m in pixel.items()}
    metrics = metrics_document(
        source=str(getattr(dataset, "root", type(dataset).__name__)),
        mode=opts.mode,
        frames=n,
        score_threshold=threshold,
        pixel={name: pixel_row(r) for name, r in results.items()},
        segments=primary.segment_rows("rescored"),
        segment_rules=primary.rules(),
        components=primary.component_rows(),
        size_bins=primary.size_rows(),
        miou=float(miou.compute().miou) if has_train_ids else None,
        extra={"score": deployed, **opts.extra, **({"interrupted": stop.describe()} if stop.requested else {})},
    )
    summary = (
        (f"{stop.describe()} after {n} images: the report covers those. " if stop.requested else "")
        + f"{n} images, {opts.mode} mode; scores at label resolution; void pixels ignored. Pixel metrics over all "
        "non-void pixels of all images (not averaged per image)."
        + (" Segments rescored with the meta classifier too." if opts.meta else "")
    )
    files += write_report(
        out, metrics, kind="Evaluation", title=opts.title, summary=summary, pixel_results=results, curves=curves
    )
    return EvalReport(metrics, out, files)
