"""generate_scene: determinism, shapes, label consistency, class coverage, obstacle sizes, layout variety."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import CLASS_NAMES, NAME_TO_ID, NAME_TO_TRAIN_ID, VOID, label_ids_to_train_ids
from anomaly_seg.synthetic import HELDOUT_OBSTACLE_KINDS, TRAIN_OBSTACLE_KINDS, Scene, generate_scene

FIELDS = ("image", "label_ids", "train_ids", "anomaly", "instance_ids", "obstacle_ids")


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    """Forty small scenes with 1-4 obstacles each: the sample the statistical tests look at."""
    return [generate_scene(96, 192, seed, n_obstacles=(1, 4)) for seed in range(40)]


def test_same_seed_gives_byte_identical_scene() -> None:
    a, b = generate_scene(80, 160, 7), generate_scene(80, 160, 7)
    for name in FIELDS:
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    assert a.obstacles == b.obstacles
    assert a.camera == b.camera


def test_different_seeds_give_different_scenes() -> None:
    images = [generate_scene(80, 160, seed).image for seed in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.mean(images[i] != images[j]) > 0.5


@pytest.mark.parametrize(("height", "width"), [(16, 16), (64, 128), (67, 129), (101, 203), (50, 300), (224, 448)])
def test_shapes_and_dtypes(height: int, width: int) -> None:
    scene = generate_scene(height, width, 3)
    assert scene.image.shape == (height, width, 3)
    assert scene.image.dtype == np.uint8
    for name, dtype in (
        ("label_ids", np.uint8),
        ("train_ids", np.uint8),
        ("anomaly", np.uint8),
        ("instance_ids", np.uint16),
        ("obstacle_ids", np.uint8),
    ):
        array = getattr(scene, name)
        assert array.shape == (height, width), name
        assert array.dtype == dtype, name
        assert array.flags.c_contiguous, name


def test_labels_are_consistent(scenes: list[Scene]) -> None:
    for scene in scenes:
        obstacle = scene.obstacle_ids > 0
        np.testing.assert_array_equal(scene.train_ids, label_ids_to_train_ids(scene.label_ids))
        np.testing.assert_array_equal(scene.anomaly == 1, obstacle)
        assert np.all(scene.label_ids[obstacle] == 0)
        assert np.all(scene.train_ids[obstacle] == VOID)
        np.testing.assert_array_equal(scene.anomaly == VOID, (scene.train_ids == VOID) & ~obstacle)
        np.testing.assert_array_equal(scene.anomaly == 0, scene.train_ids != VOID)
        assert set(np.unique(scene.anomaly)) <= {0, 1, VOID}
        assert set(np.unique(scene.train_ids)) <= set(range(19)) | {VOID}


def test_instance_ids_follow_cityscapes_convention(scenes: list[Scene]) -> None:
    things = {NAME_TO_ID[n] for n in ("person", "rider", "car", "truck", "bus", "bicycle")}
    for scene in scenes:
        inst = scene.instance_ids.astype(np.int64)
        is_thing = np.isin(scene.label_ids, list(things))
        np.testing.assert_array_equal(inst[is_thing] // 1000, scene.label_ids[is_thing])
        np.testing.assert_array_equal(inst[~is_thing], scene.label_ids[~is_thing])


def test_obstacle_records_match_the_masks(scenes: list[Scene]) -> None:
    for scene in scenes:
        ids = np.unique(scene.obstacle_ids)
        assert list(ids[ids > 0]) == list(range(1, len(scene.obstacles) + 1))  # visible ones only, compact ids
        for i, obstacle in enumerate(scene.obstacles, start=1):
            ys, xs = np.nonzero(scene.obstacle_ids == i)
            assert obstacle.area == len(ys) > 0
            assert obstacle.box_xyxy == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert obstacle.kind in TRAIN_OBSTACLE_KINDS + HELDOUT_OBSTACLE_KINDS


def test_obstacles_stand_on_the_road(scenes: list[Scene]) -> None:
    road = NAME_TO_ID["road"]
    on_road = 0
    for scene in scenes:
        for obstacle in scene.obstacles:
            x0, _, x1, y1 = obstacle.box_xyxy
            below = scene.label_ids[min(y1, scene.label_ids.shape[0] - 1), x0:x1]
            on_road += bool(np.any(below == road) or y1 >= scene.label_ids.shape[0] - 1)
    total = sum(len(s.obstacles) for s in scenes)
    assert on_road >= 0.8 * total


def test_every_inlier_class_appears_over_a_few_seeds(scenes: list[Scene]) -> None:
    presence = np.zeros(len(CLASS_NAMES))
    for scene in scenes:
        presence[np.unique(scene.train_ids[scene.train_ids != VOID])] += 1
    presence /= len(scenes)
    common = ("road", "sidewalk", "building", "vegetation", "terrain", "sky", "pole", "car", "traffic sign")
    for name in common:
        assert presence[NAME_TO_TRAIN_ID[name]] >= 0.5, (name, presence[NAME_TO_TRAIN_ID[name]])
    for name in ("wall", "fence", "traffic light", "person", "rider", "truck", "bus", "bicycle"):
        assert presence[NAME_TO_TRAIN_ID[name]] >= 0.05, (name, presence[NAME_TO_TRAIN_ID[name]])
    assert presence[NAME_TO_TRAIN_ID["train"]] == 0 and presence[NAME_TO_TRAIN_ID["motorcycle"]] == 0


def test_classes_are_textured_not_flat(scenes: list[Scene]) -> None:
    scene = scenes[0]
    grey = scene.image.astype(np.float64).mean(axis=2)
    for name in ("road", "sky", "vegetation", "building"):
        pixels = grey[scene.label_ids == NAME_TO_ID[name]]
        if pixels.size > 200:
            assert pixels.std() > 2.0, name


def test_class_colours_differ(scenes: list[Scene]) -> None:
    """Mean colours over all scenes: the big stuff classes are told apart by colour alone (learnable)."""
    names = ("road", "sidewalk", "building", "vegetation", "terrain", "sky")
    means = []
    for name in names:
        lid = NAME_TO_ID[name]
        means.append(np.concatenate([s.image[s.label_ids == lid] for s in scenes]).astype(np.float64).mean(axis=0))
    dist = np.linalg.norm(np.array(means)[:, None] - np.array(means)[None], axis=-1)
    assert dist[~np.eye(len(names), dtype=bool)].min() > 8.0


def test_obstacle_sizes_span_tiny_to_large(scenes: list[Scene]) -> None:
    areas = np.array([o.area for s in scenes for o in s.obstacles])
    assert len(areas) > 40
    assert areas.min() <= 12  # a few pixels
    assert areas.max() >= 0.03 * 96 * 192  # a large part of the road
    assert np.median(areas) < 0.01 * 96 * 192


def test_layout_varies_between_seeds(scenes: list[Scene]) -> None:
    horizons = np.array([s.camera.horizon_y for s in scenes])
    curvatures = np.array([s.camera.curvature for s in scenes])
    rolls = np.array([s.camera.roll_deg for s in scenes])
    road_share = np.array([np.mean(s.label_ids == NAME_TO_ID["road"]) for s in scenes])
    assert np.ptp(horizons) > 0.1 * 96
    assert (curvatures > 1e-3).any() and (curvatures < -1e-3).any()
    assert (rolls == 0).any() and (rolls != 0).any()
    assert np.ptp(road_share) > 0.15
    counts = np.array([len(np.unique(s.instance_ids[s.instance_ids >= 1000])) for s in scenes])
    assert np.ptp(counts) >= 3


def test_void_regions_ego_vehicle_and_rectification_border(scenes: list[Scene]) -> None:
    ego, border = NAME_TO_ID["ego vehicle"], NAME_TO_ID["rectification border"]
    with_ego = [s for s in scenes if np.any(s.label_ids == ego)]
    assert 0 < len(with_ego) < len(scenes)
    for s in with_ego:  # the bonnet is at the bottom of the image
        assert np.any(s.label_ids[-1] == ego)
    for s in scenes:
        if np.any(s.label_ids == border):
            assert s.camera.roll_deg != 0
        if abs(s.camera.roll_deg) >= 1.5:
            assert np.any(s.label_ids == border)


def test_obstacle_count_and_kinds_follow_the_arguments() -> None:
    for seed in range(5):
        plain = generate_scene(64, 128, seed, n_obstacles=(0, 0))
        assert not np.any(plain.anomaly == 1) and plain.obstacles == ()
        restricted = generate_scene(64, 128, seed, obstacle_kinds=("barrel",), n_obstacles=(3, 3))
        assert {o.kind for o in restricted.obstacles} <= {"barrel"}
        assert len(restricted.obstacles) <= 3
    assert not np.any(generate_scene(64, 128, 1, obstacle_kinds=(), n_obstacles=(2, 2)).anomaly == 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height": 8, "width": 64}, "size"),
        ({"height": 64, "width": 10_000}, "size"),
        ({"obstacle_kinds": ("crate", "ufo")}, "ufo"),
        ({"n_obstacles": (3, 1)}, "n_obstacles"),
    ],
)
def test_invalid_arguments_name_the_problem(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"height": 64, "width": 128, "seed": 0, **kwargs}
    with pytest.raises(ConfigError, match=match):
        generate_scene(**args)  # type: ignore[arg-type]
