"""obstacle_patch and the train / held-out split of obstacle kinds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from anomaly_seg.errors import ConfigError
from anomaly_seg.synthetic import HELDOUT_OBSTACLE_KINDS, OBSTACLE_KINDS, TRAIN_OBSTACLE_KINDS, obstacle_patch
from anomaly_seg.synthetic.obstacles import OBSTACLE_ASPECT

SIZES = [(1, 1), (2, 7), (5, 5), (37, 53), (120, 80)]


def test_heldout_kinds_are_disjoint_from_train_kinds() -> None:
    assert set(TRAIN_OBSTACLE_KINDS).isdisjoint(HELDOUT_OBSTACLE_KINDS)
    assert len(TRAIN_OBSTACLE_KINDS) >= 6 and len(HELDOUT_OBSTACLE_KINDS) >= 4
    assert OBSTACLE_KINDS == TRAIN_OBSTACLE_KINDS + HELDOUT_OBSTACLE_KINDS
    assert set(OBSTACLE_ASPECT) == set(OBSTACLE_KINDS)


@pytest.mark.parametrize("kind", OBSTACLE_KINDS)
def test_patch_shapes_mask_and_zero_background(kind: str) -> None:
    rng = np.random.default_rng(0)
    for h, w in SIZES:
        rgb, mask = obstacle_patch(kind, h, w, rng)
        assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
        assert mask.shape == (h, w) and mask.dtype == bool
        assert mask.any()
        assert not rgb[~mask].any()


@pytest.mark.parametrize("kind", OBSTACLE_KINDS)
def test_patch_is_deterministic_in_the_generator_state(kind: str) -> None:
    a = obstacle_patch(kind, 40, 60, np.random.default_rng(5))
    b = obstacle_patch(kind, 40, 60, np.random.default_rng(5))
    c = obstacle_patch(kind, 40, 60, np.random.default_rng(6))
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert a[0].tobytes() != c[0].tobytes()


@pytest.mark.parametrize("kind", OBSTACLE_KINDS)
def test_large_patch_is_one_solid_object(kind: str) -> None:
    """The object covers a good part of its box and is mostly one connected blob (pasteable as one outlier)."""
    rng = np.random.default_rng(1)
    for _ in range(3):
        _, mask = obstacle_patch(kind, 90, 110, rng)
        assert mask.mean() > 0.2
        _n, _labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        assert stats[1:, cv2.CC_STAT_AREA].max() >= 0.85 * mask.sum()


def test_patches_are_textured() -> None:
    rng = np.random.default_rng(2)
    for kind in OBSTACLE_KINDS:
        rgb, mask = obstacle_patch(kind, 64, 64, rng)
        assert rgb[mask].astype(np.float64).std(axis=0).max() > 3.0, kind


@pytest.mark.parametrize(("kind", "h", "w", "match"), [("ufo", 5, 5, "ufo"), ("crate", 0, 5, "size")])
def test_bad_arguments_raise_config_error(kind: str, h: int, w: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        obstacle_patch(kind, h, w, np.random.default_rng(0))
