"""Held-out test scenes of the smoke run: one pasted obstacle of an unseen kind on the road, evaluated with the
Lost and Found protocol (road and obstacle pixels) or over the whole image, with identical pastes."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_seg.datasets.lost_and_found import ROAD_TRAIN_ID
from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from anomaly_seg.synthetic.obstacles import HELDOUT_OBSTACLE_KINDS
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
