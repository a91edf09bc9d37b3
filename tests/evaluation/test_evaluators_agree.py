"""``python -m training evaluate`` and ``anomaly-seg evaluate`` report identical numbers on identical predictions.

A bookkeeping test: the tiny model has random weights (its numbers mean nothing; only their agreement matters).
It evaluates synthetic Fishyscapes-layout frames with ``--dump-predictions``. The same frames are converted to a
bag and replayed through the node's core with an engine that serves exactly the dumped predictions, so the output
bag holds them on the node's topics and encodings (``output/semantic`` mono8, ``output/anomaly_score`` 32FC1,
``output/obstacle_ids`` mono16, ``output/obstacles``, ``output/label_info``) next to ``/ground_truth/anomaly`` on
identical stamps. ``evaluate_bag`` reads that bag; both ``metrics.json`` files must agree number for number.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from anomaly_seg import messages as rm
from anomaly_seg.bags import read_messages
from anomaly_seg.bags.convert import ConvertOptions, convert_dataset
from anomaly_seg.datasets.fishyscapes import FishyscapesLayout
from anomaly_seg.engines.base import EngineOutputs
from anomaly_seg.engines.contract import EngineBase
from anomaly_seg.evaluation.bag_evaluator import EvalSettings
from anomaly_seg.evaluation.bag_source import evaluate_bag
from anomaly_seg.network import AnomalySegmenter, ModelConfig, build_model
from anomaly_seg.network.scores import compute_score
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.offline.replay import replay_bag
from anomaly_seg.synthetic import write_fishyscapes_layout
from training.config import REPO_ROOT
from training.datasets import FishyscapesLaF
from training.evaluate import PRIMARY_SCORE, EvalOptions, evaluate, logits_at
from training.predictions import Prediction, load_prediction, prediction_files

FRAMES = 3
NODE = "/anomaly_seg"
COUNTS = ("tp", "fp", "fn", "ignored", "gt_objects")


class PredictionEngine(EngineBase):
    """Engine contract stand-in that answers each camera image with the prediction dumped for it (keyed by the
    image's bytes, so a frame mix-up fails loudly instead of comparing the wrong frames)."""

    def __init__(self, size: tuple[int, int], by_image: dict[bytes, Prediction]) -> None:
        self._size = size
        self._batch = 1
        self._metadata = {"anomaly_seg.network_size": f"{size[0]}x{size[1]}"}
        self._check_finite = True
        self.by_image = by_image

    @property
    def name(self) -> str:
        return "dumped-predictions"

    def _run(self, images: np.ndarray) -> EngineOutputs:
        p = self.by_image[_key(images[0])]
        return EngineOutputs(p.semantic[None], p.anomaly_score[None], p.uncertainty[None])

    def warmup(self) -> None:
        pass


def _key(image: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(image, np.uint8).tobytes()).digest()


@pytest.fixture(scope="module")
def model() -> AnomalySegmenter:
    torch.manual_seed(0)
    return build_model(ModelConfig.from_yaml(REPO_ROOT / "models" / "configs" / "tiny.yaml")).eval()


def _llr_quantiles(model: AnomalySegmenter, data: FishyscapesLaF, q: list[float]) -> list[float]:
    """Thresholds inside this model's LLR range (float64: the node's LabelInfo rounds them to float32)."""
    llr = []
    for i in range(len(data)):
        image = torch.from_numpy(data[i].image[None])
        llr.append(compute_score(PRIMARY_SCORE, *logits_at(model, image, model.input_size)).numpy().ravel())
    return [float(v) for v in np.quantile(np.concatenate(llr).astype(np.float64), q)]


def _close(a: Any, b: Any) -> bool:
    return a is b is None or abs(float(a) - float(b)) <= 1e-12


def test_training_and_bag_evaluators_agree_on_the_same_predictions(model: AnomalySegmenter, tmp_path: Path) -> None:
    height, width = model.input_size  # camera size = network size: the node passes the predictions through as is
    root = tmp_path / "fs_laf"
    write_fishyscapes_layout(root, FRAMES, height=height, width=width, seed=7, n_obstacles=(2, 4))
    data = FishyscapesLaF(root)
    thresholds = _llr_quantiles(model, data, [0.5, 0.9, 0.97, 0.995])
    node_threshold = thresholds[2]

    # training evaluator, with prediction dump
    # deployed protocol: the node's segment rule, so that the published segments equal the rescored ones below
    options = EvalOptions(
        segment_thresholds=thresholds, dump_predictions=True, overlays=0, progress=False, protocol="deployed"
    )
    evaluate(model, data, tmp_path / "train", options, score_threshold=node_threshold)
    predictions = [load_prediction(f) for f in prediction_files([tmp_path / "train" / "predictions"])]
    assert len(predictions) == FRAMES

    # exactly those predictions, published by the node's core into an output bag, evaluated from the bag
    engine = PredictionEngine((height, width), {_key(data[i].image): p for i, p in enumerate(predictions)})
    convert_dataset(FishyscapesLayout(root), tmp_path / "in", ConvertOptions(), progress=False)
    params = NodeParams.from_dict(
        {"anomaly.threshold": node_threshold, "segments.region": "all", "segments.min_area_px": 1},  # = no minimum
        check_files=False,
    )
    summary = replay_bag(tmp_path / "in", tmp_path / "out", engine, params, progress=False)
    assert (summary.frames_in, summary.processed) == (FRAMES, FRAMES)
    scores = [rm.image_to_array(m.msg) for m in read_messages(tmp_path / "out", [f"{NODE}/output/anomaly_score"])]
    for published, dumped in zip(scores, predictions, strict=True):
        np.testing.assert_array_equal(published, dumped.anomaly_score)  # the bag holds the dumped scores bit for bit
    evaluate_bag(
        tmp_path / "out",
        tmp_path / "report",
        EvalSettings(segment_thresholds=tuple(thresholds), protocol="deployed"),
        progress=False,
    )

    train = json.loads((tmp_path / "train" / "metrics.json").read_text())
    bag = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert bag["frames"] == {
        "evaluated": FRAMES,
        "ground_truth_without_outputs": 0,
        "outputs_without_ground_truth": 0,
        "outputs_resized_to_ground_truth": 0,
    }
    applied = [float(np.float32(t)) for t in thresholds]  # what a float32 score is compared with, in both
    assert applied != thresholds  # the float64 thresholds are not float32 values: rounding is exercised
    assert train["score_threshold"] == bag["score_threshold"] == applied[2]

    assert train["components"] == bag["components"] and train["segment_rules"] == bag["segment_rules"]
    train_px, bag_px = train["pixel"][PRIMARY_SCORE], bag["pixel"][PRIMARY_SCORE]
    assert (train_px["anomaly_px"], train_px["inlier_px"]) == (bag_px["anomaly_px"], bag_px["inlier_px"])
    assert train_px["anomaly_px"] > 0 and train_px["inlier_px"] > 0
    for key in ("ap", "fpr95", "auroc"):
        assert _close(train_px[key], bag_px[key]), (key, train_px[key], bag_px[key])

    rescored = [r for r in bag["segments"] if r["source"] == "rescored"]
    assert [r["threshold"] for r in train["segments"]] == [r["threshold"] for r in rescored] == applied
    for t_row, b_row in zip(train["segments"], rescored, strict=True):
        assert [t_row[k] for k in COUNTS] == [b_row[k] for k in COUNTS], (t_row, b_row)
        assert _close(t_row["road_miss_rate"], b_row["road_miss_rate"]) and _close(t_row["f1"], b_row["f1"])
    assert sum(r["tp"] + r["fp"] for r in rescored) > 0 and rescored[0]["gt_objects"] > 0  # not vacuous
    # the segments the node published at its threshold (no meta classifier, no cap hit) are the rescored ones
    (published,) = [r for r in bag["segments"] if r["source"] == "published"]
    at_node = train["segments"][2]
    assert [published[k] for k in COUNTS] == [at_node[k] for k in COUNTS]

    # and AP is scikit-learn's on all non-void pixels of the dumped predictions
    gt = np.concatenate([p.anomaly_gt.ravel() for p in predictions])
    score = np.concatenate([p.anomaly_score.ravel() for p in predictions]).astype(np.float64)
    valid = gt != 255
    assert abs(bag_px["ap"] - average_precision_score(gt[valid] == 1, score[valid])) <= 1e-12
