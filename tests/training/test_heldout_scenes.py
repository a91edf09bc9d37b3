"""Held-out test scenes of the smoke run: one pasted obstacle of an unseen kind on the road, evaluated with the
Lost and Found protocol (road and obstacle pixels) or over the whole image, with identical pastes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_seg.datasets.lost_and_found import ROAD_TRAIN_ID
from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from anomaly_seg.network import ModelConfig, build_model
from anomaly_seg.network.checkpoint import save_checkpoint
from anomaly_seg.synthetic.obstacles import HELDOUT_OBSTACLE_KINDS
from training.__main__ import main as training_main
from training.config import REPO_ROOT
from training.pasting import SyntheticOutlierSource
from training.smoke import heldout_scenes
from training.trainers.data import TEST_SEED, SyntheticScenes

SIZE = (112, 224)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_road_protocol_labels_the_patch_and_the_rest_of_the_road_only(index: int) -> None:
    scene = SyntheticScenes(4, SIZE, TEST_SEED, cache=False)[index]
    sample = heldout_scenes(4, SIZE)[index]
    assert scene.train_ids is not None and sample.anomaly is not None
    pasted = np.any(sample.image != scene.image, axis=-1)
    obstacle = sample.anomaly == 1
    assert obstacle.sum() >= 0.01 * SIZE[0] * SIZE[1] * 0.9
    # every changed pixel is labelled obstacle (a pasted pixel may equal the scene's by chance, not the converse)
    assert not (pasted & ~obstacle).any()
    road = scene.train_ids == ROAD_TRAIN_ID
    np.testing.assert_array_equal(sample.anomaly == 0, road & ~obstacle)
    np.testing.assert_array_equal(sample.anomaly == VOID, ~road & ~obstacle)
    # the patch lands within the road's bounding box
    ys, xs = np.nonzero(obstacle)
    rys, rxs = np.nonzero(road)
    assert ys.min() >= rys.min() and ys.max() <= rys.max() and xs.min() >= rxs.min() and xs.max() <= rxs.max()


def test_image_protocol_has_the_same_pastes_and_counts_every_labelled_pixel() -> None:
    road, image = heldout_scenes(3, SIZE), heldout_scenes(3, SIZE, protocol="image")
    scenes = SyntheticScenes(3, SIZE, TEST_SEED, cache=False)
    for i in range(3):
        a, b, scene = road[i], image[i], scenes[i]
        assert a.anomaly is not None and b.anomaly is not None and scene.train_ids is not None
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.anomaly == 1, b.anomaly == 1)
        labelled = (scene.train_ids != VOID) & (b.anomaly != 1)
        np.testing.assert_array_equal(b.anomaly == 0, labelled)
        assert (b.anomaly == 0).sum() > (a.anomaly == 0).sum()


def test_heldout_scenes_use_only_heldout_kinds_and_are_deterministic() -> None:
    data = heldout_scenes(2, SIZE)
    source = data.paster.source
    assert isinstance(source, SyntheticOutlierSource) and source.kinds == HELDOUT_OBSTACLE_KINDS
    np.testing.assert_array_equal(data[1].image, heldout_scenes(2, SIZE)[1].image)
    with pytest.raises(ConfigError, match="protocol"):
        heldout_scenes(2, SIZE, protocol="sky")


def test_evaluate_command_scores_both_protocols_and_names_an_unknown_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    config = ModelConfig.from_yaml(REPO_ROOT / "models" / "configs" / "tiny.yaml")
    checkpoint = save_checkpoint(tmp_path / "tiny.safetensors", build_model(config), config)
    common = ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "synthetic_heldout", "--synthetic-n", "2"]
    common += ["--overlays", "0", "--device", "cpu"]
    pixels = {}
    for protocol in ("road", "image"):
        out = tmp_path / protocol
        assert training_main([*common, "--out", str(out), "--synthetic-protocol", protocol]) == 0
        pixels[protocol] = json.loads((out / "metrics.json").read_text())["pixel"]["llr"]
    assert pixels["image"]["anomaly_px"] == pixels["road"]["anomaly_px"] > 0
    assert pixels["image"]["inlier_px"] > pixels["road"]["inlier_px"] > 0
    capsys.readouterr()
    assert training_main([*common, "--out", str(tmp_path / "x"), "--synthetic-protocol", "sky"]) == 2
    assert "protocol 'sky' is unknown; known: road, image" in capsys.readouterr().err
