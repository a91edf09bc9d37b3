"""Augmentation: geometry keeps image and targets aligned, padding is void, determinism, colour jitter bounds."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_seg.errors import ConfigError
from training.augment import Augment, AugmentParams, augment, color_jitter, hflip, random_crop, rescale
from training.datasets import Sample


def block_scene(h: int = 48, w: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Labels in 8x8 blocks; the red channel encodes the label so alignment can be checked after resampling."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 19, size=(h // 8, w // 8)).astype(np.uint8)
    label = np.kron(blocks, np.ones((8, 8), np.uint8))
    image = np.stack([label * 12, np.full_like(label, 50), np.full_like(label, 200)], axis=-1).astype(np.uint8)
    return image, label


def uniform_3x3(label: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood has one label (interpolation cannot mix labels there)."""
    pad = np.pad(label.astype(int), 1, constant_values=-1)  # crop borders saw pixels outside the crop
    shifted = [
        pad[1 + dy : 1 + dy + label.shape[0], 1 + dx : 1 + dx + label.shape[1]]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    uniform: np.ndarray = np.logical_and.reduce([s == label for s in shifted])
    return uniform


@pytest.mark.parametrize("seed", range(6))
def test_augment_keeps_image_and_targets_aligned(seed: int) -> None:
    image, label = block_scene()
    params = AugmentParams(crop_size=(40, 72), scale_range=(0.5, 2.0), jitter_prob=0.0)
    out_image, (out_label, out_copy) = augment(image, [label, label.copy()], np.random.default_rng(seed), params)
    assert out_image.shape == (40, 72, 3) and out_label.shape == (40, 72)
    np.testing.assert_array_equal(out_label, out_copy)
    assert set(np.unique(out_label)) <= set(np.unique(label)) | {255}  # nearest: no new label values
    inside = uniform_3x3(out_label) & (out_label != 255)
    assert inside.sum() > 100
    np.testing.assert_allclose(out_image[..., 0][inside], out_label[inside].astype(int) * 12, atol=2)
    np.testing.assert_array_equal(out_image[out_label == 255][:, 0] <= 2, True)  # padding is black


def test_rescale_sizes_and_nearest_targets() -> None:
    image, label = block_scene()
    small, (small_label,) = rescale(image, [label], 0.5)
    big, (big_label,) = rescale(image, [label], 2.0)
    assert small.shape == (24, 48, 3) and small_label.shape == (24, 48)
    assert big.shape == (96, 192, 3)
    np.testing.assert_array_equal(big_label, np.kron(label, np.ones((2, 2), np.uint8)))
    np.testing.assert_array_equal(small_label, label[::2, ::2])


def test_crop_pads_with_void_and_black() -> None:
    image = np.full((10, 20, 3), 77, np.uint8)
    label = np.full((10, 20), 3, np.uint8)
    out, (out_label,) = random_crop(image, [label], (16, 24), np.random.default_rng(0))
    assert out.shape == (16, 24, 3)
    np.testing.assert_array_equal(out_label[:10, :20], 3)
    assert (out_label[10:] == 255).all() and (out_label[:, 20:] == 255).all()
    assert (out[10:] == 0).all() and (out[:, 20:] == 0).all() and (out[:10, :20] == 77).all()


def test_crop_covers_all_offsets_uniformly() -> None:
    image = np.arange(10, dtype=np.uint8)[None, :, None].repeat(3, axis=2)
    rng = np.random.default_rng(0)
    starts = [int(random_crop(image, [], (1, 4), rng)[0][0, 0, 0]) for _ in range(700)]
    counts = np.bincount(starts, minlength=7)
    assert counts.size == 7 and counts.min() > 60  # 7 offsets, ~100 each


def test_hflip_mirrors_both() -> None:
    image, label = block_scene()
    out, (out_label,) = hflip(image, [label])
    np.testing.assert_array_equal(out, image[:, ::-1])
    np.testing.assert_array_equal(out_label, label[:, ::-1])


def test_color_jitter_identity_and_brightness_factor() -> None:
    image = np.random.default_rng(0).integers(0, 200, size=(8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(color_jitter(image, np.random.default_rng(0), 0, 0, 0, 0), image)
    # brightness only: output / input is one factor within [0.75, 1.25] (up to rounding)
    out = color_jitter(image, np.random.default_rng(3), brightness=0.25, contrast=0, saturation=0, hue=0)
    mask = image > 40
    ratio = out[mask] / image[mask]
    assert ratio.min() >= 0.75 - 0.02 and ratio.max() <= 1.25 + 0.02 and np.ptp(ratio) < 0.05


def test_hue_shift_keeps_grey_and_changes_colours() -> None:
    image = np.array([[[128, 128, 128], [200, 30, 30]]], np.uint8)
    out = color_jitter(image, np.random.default_rng(1), brightness=0, contrast=0, saturation=0, hue=0.5)
    np.testing.assert_array_equal(out[0, 0], [128, 128, 128])
    assert not np.array_equal(out[0, 1], image[0, 1])


def test_augment_is_deterministic_given_the_seed() -> None:
    image, label = block_scene()
    params = AugmentParams(crop_size=(32, 32))
    a = augment(image, [label], np.random.default_rng(42), params)
    b = augment(image, [label], np.random.default_rng(42), params)
    c = augment(image, [label], np.random.default_rng(43), params)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1][0], b[1][0])
    assert not np.array_equal(a[0], c[0])


def test_augment_transform_on_samples_keeps_missing_targets_missing() -> None:
    image, label = block_scene()
    transform = Augment(AugmentParams(crop_size=(16, 24)), seed=1)
    out = transform(Sample(image, "x", train_ids=label, anomaly=None))
    assert out.image.shape == (16, 24, 3) and out.train_ids is not None and out.train_ids.shape == (16, 24)
    assert out.anomaly is None and out.name == "x"
    again = Augment(AugmentParams(crop_size=(16, 24)), seed=1)(Sample(image, "x", train_ids=label))
    np.testing.assert_array_equal(out.image, again.image)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"crop_size": (0, 10)}, "crop_size"),
        ({"scale_range": (2.0, 1.0)}, "scale_range"),
        ({"hflip_prob": 1.5}, "hflip_prob"),
        ({"hue": 0.7}, "hue"),
    ],
)
def test_invalid_params_name_the_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        AugmentParams(**kwargs)  # type: ignore[arg-type]
