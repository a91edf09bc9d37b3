"""The whole training chain on synthetic scenes with the tiny config on CPU, in a few minutes.

stage 1 (inlier segmentor on inlier-only scenes) -> stage 2 (UEM with pasted obstacle patches of TRAIN kinds) ->
evaluation on held-out scenes whose obstacles are of UNSEEN kinds (Lost and Found protocol: road and obstacle
pixels; the whole-image AP is reported beside it) -> prediction files -> meta classifier by Chan et al.'s protocol
on separate validation scenes (same unseen kinds, other seeds: the operating point is never chosen on the test
frames), measured on the test frames (``meta_protocol.json``).
This demonstrates that the chain learns on synthetic data; it says nothing about accuracy on real roads.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch.utils.data import Dataset

from anomaly_seg.datasets.lost_and_found import ROAD_TRAIN_ID
from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from training.config import METHODS, REPO_ROOT, TrainConfig
from training.datasets.base import Sample
from training.pasting import OutlierPaster, PasteParams, SyntheticOutlierSource
from training.trainers.data import TEST_SEED, SyntheticScenes

if TYPE_CHECKING:
    from anomaly_seg.network import AnomalySegmenter
    from training.evaluate import EvalOptions

CONFIG_DIR = REPO_ROOT / "training" / "configs"


@dataclass(frozen=True)
class SmokeResult:
    """Outputs and headline numbers of a smoke run."""

    out_dir: Path
    model: Path
    metrics: Path
    meta: Path | None
    ap: float  # the deployed score (LLR; entropy for entropy_max), road protocol (Lost and Found)
    max_softmax_ap: float
    image_ap: float  # the deployed score, whole-image protocol
    image_max_softmax_ap: float
    seconds: float


#: Evaluation protocols of the held-out scenes (see :func:`heldout_scenes`).
PROTOCOLS = ("road", "image")


class HeldoutScenes(Dataset[Sample]):
    """Unseen scenes, each with one pasted obstacle patch of a HELD-OUT kind on the road, at the network size.

    ``protocol="road"`` (Lost and Found): inlier = the rest of the road (free space), void elsewhere.
    ``protocol="image"``: the same scenes and pastes, inlier = every labelled pixel, so signs, poles and people
    off the road count as false positives too.
    """

    def __init__(self, scenes: SyntheticScenes, paster: OutlierPaster, seed: int, protocol: str = "road") -> None:
        if protocol not in PROTOCOLS:
            raise ConfigError(f"held-out protocol {protocol!r} is unknown; known: {', '.join(PROTOCOLS)}")
        self.scenes, self.paster, self.seed, self.protocol = scenes, paster, seed, protocol

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> Sample:
        scene = self.scenes[index]
        assert scene.train_ids is not None
        road = np.where(scene.train_ids == ROAD_TRAIN_ID, np.uint8(0), np.uint8(VOID))
        sample = self.paster.paste(replace(scene, anomaly=road), np.random.default_rng([self.seed, index])).sample
        if self.protocol == "image":
            assert sample.anomaly is not None and sample.train_ids is not None
            known = np.where(sample.train_ids == VOID, np.uint8(VOID), np.uint8(0))
            sample = replace(sample, anomaly=np.where(sample.anomaly == 1, np.uint8(1), known))
        return sample


def heldout_scenes(
    n: int,
    size: tuple[int, int],
    seed_offset: int = TEST_SEED,
    area_range: tuple[float, float] = (0.01, 0.06),
    protocol: str = "road",
) -> HeldoutScenes:
    """``n`` unseen scenes (own seed range) of the network ``size``, each with one obstacle patch of a HELD-OUT kind
    (never used in training or validation) covering ``area_range`` of the image, pasted on the road. Patches are
    pasted rather than placed by the scene generator because its obstacles are mostly a few pixels at the tiny
    network size. ``protocol``: see :class:`HeldoutScenes`."""
    from anomaly_seg.synthetic.obstacles import HELDOUT_OBSTACLE_KINDS

    paster = OutlierPaster(SyntheticOutlierSource(HELDOUT_OBSTACLE_KINDS), PasteParams(1.0, area_range), seed_offset)
    return HeldoutScenes(SyntheticScenes(n, size, seed_offset, cache=False), paster, seed_offset, protocol)


def run_smoke(
    out_dir: str | Path,
    *,
    test_images: int = 64,
    overrides1: Sequence[str] = (),
    overrides2: Sequence[str] = (),
    progress: bool = True,
    method: str = "uem",
    stage1: str | Path | None = None,
) -> SmokeResult:
    """Run the chain into ``out_dir``: ``stage1/``, ``stage2/``, ``eval/`` (road protocol, the headline),
    ``eval_image/`` (whole-image protocol) and ``model.safetensors``, ``metrics.json``, ``meta.json`` at the top.

    ``method``: ``uem`` (stage 2 trains the UEM; score LLR) or ``entropy_max`` (stage 2 fine-tunes the segmentation
    head by Chan et al.'s entropy maximisation; score the normalised entropy; ``metrics.json`` gains
    ``baseline_pixel``: the stage-1 model's pixel metrics on the same scenes, before OoD training). ``stage1``:
    reuse this stage-1 checkpoint instead of training one."""
    import torch

    from anomaly_seg.network import load_checkpoint
    from training.evaluate import EvalOptions, evaluate
    from training.trainers import train

    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    logging = [f"logging.progress={str(progress).lower()}"]
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    stage1_val: dict[str, float] = {}
    if stage1 is None:
        s1 = TrainConfig.from_yaml(CONFIG_DIR / "smoke_stage1.yaml", [*logging, *overrides1])
        r1 = train(s1, out / "stage1")
        stage1, stage1_val = r1.best, (r1.history[-1] if r1.history else {})
    recipe = {"uem": "smoke_stage2.yaml", "entropy_max": "smoke_entropy_max.yaml"}.get(method, f"smoke_{method}.yaml")
    s2 = TrainConfig.from_yaml(CONFIG_DIR / recipe, [*logging, f"init={stage1}", *overrides2])
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
        title="synthetic held-out kinds, road (Lost and Found protocol)",
        extra={
            "dataset": "synthetic_heldout",
            "protocol": "road",
            "note": "learning on synthetic data, not accuracy",
            "method": method,
            "stage1_val": stage1_val,
            "stage2_val": r2.history[-1] if r2.history else {},
        },
    )
    report = evaluate(model, heldout_scenes(test_images, config.input.size), out / "eval", options, threshold)
    image_options = replace(
        options,
        dump_predictions=False,
        overlays=0,
        title="synthetic held-out kinds, whole image",
        extra={**options.extra, "protocol": "image"},
    )
    image_scenes = heldout_scenes(test_images, config.input.size, protocol="image")
    image = evaluate(model, image_scenes, out / "eval_image", image_options, threshold)
    metrics_path = out / "metrics.json"
    shutil.copyfile(out / "eval" / "metrics.json", metrics_path)
    baseline_ap = None
    if method == "entropy_max":  # the same model before OoD training (Chan et al., Table 1)
        base_model, _ = load_checkpoint(stage1)
        base_options = replace(options, dump_predictions=False, overlays=0, title="before OoD training (stage 1)")
        base = evaluate(base_model, heldout_scenes(test_images, config.input.size), out / "eval_baseline", base_options)
        doc = json.loads(metrics_path.read_text(encoding="utf-8"))
        doc["baseline_pixel"] = base.metrics["pixel"]
        metrics_path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        baseline_ap = base.ap(config.score)

    meta_path = _fit_meta(model, config.input.size, out, threshold, options, progress, config.score)
    seconds = time.perf_counter() - start
    result = SmokeResult(
        out,
        model_path,
        metrics_path,
        meta_path,
        report.ap(),
        report.ap("max_softmax"),
        image.ap(),
        image.ap("max_softmax"),
        seconds,
    )
    summary = {
        "method": method,
        "score": config.score,
        "baseline_ap": baseline_ap,
        "protocol": "road",
        "ap": result.ap,
        "max_softmax_ap": result.max_softmax_ap,
        "image_ap": result.image_ap,
        "image_max_softmax_ap": result.image_max_softmax_ap,
        "test_images": test_images,
        "seconds": round(seconds, 1),
    }
    (out / "smoke.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return result


#: Seed offset and number of the validation scenes the meta classifier and its operating point are chosen on
#: (128: with 32 the rule's "no more misses" constraint rests on a few dozen objects and picks the plain baseline)
META_VAL_SEED = TEST_SEED + 500_000
META_VAL_SCENES = 128


def _fit_meta(
    model: AnomalySegmenter,
    size: tuple[int, int],
    out: Path,
    threshold: float,
    options: EvalOptions,
    progress: bool,
    score: str,
) -> Path | None:
    """Meta classifier + operating point on validation scenes, then the protocol on the test predictions."""
    from anomaly_seg.errors import DatasetError
    from anomaly_seg.segments import MetaClassifier
    from training import meta_protocol
    from training.evaluate import evaluate
    from training.predictions import prediction_files

    val_options = replace(
        options, overlays=0, title="synthetic validation scenes (meta classifier)", extra={"dataset": "meta_val"}
    )
    val_scenes = heldout_scenes(META_VAL_SCENES, size, seed_offset=META_VAL_SEED)
    evaluate(model, val_scenes, out / "meta_val", val_options, threshold)
    note = "Synthetic scenes and a tiny smoke-trained model: learning on synthetic data, not accuracy."
    try:
        chosen, data = meta_protocol.run_on_predictions(
            prediction_files([out / "meta_val" / "predictions"]),
            reference_threshold=threshold,
            score=score,
            folds=5,
            note=note + " Validation frames: the operating point is chosen here.",
            progress=progress,
        )
        meta_protocol.write(chosen.document, out / "meta_val")
        meta = meta_protocol.fit_deployed(data, chosen.document["operating_point"], frames=len(data[0].frames))
    except DatasetError as exc:
        print(f"smoke: meta classifier not fitted: {exc}")
        return None
    meta_path = meta.save(out / "meta.json")
    meta = MetaClassifier.load(meta_path)  # measured as the node loads it (and named by its file)
    measured, _ = meta_protocol.run_on_predictions(
        prediction_files([out / "eval" / "predictions"]),
        reference_threshold=threshold,
        score=score,
        deployed=meta,
        folds=5,
        note=note + " Test frames; the operating point's classifier was fitted on the validation scenes.",
        progress=progress,
    )
    meta_protocol.write(measured.document, out / "eval", report=True)
    shutil.copyfile(out / "eval" / "meta_protocol.json", out / "meta_protocol.json")
    return meta_path
