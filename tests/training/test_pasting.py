"""Outlier pasting: the outlier label is 1 exactly where pixels changed, inlier targets are void there,
the pasted area respects its bounds, and the COCO / synthetic sources give usable patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.errors import ConfigError
from training.datasets import CocoOutliers, Sample
from training.pasting import (
    CocoOutlierSource,
    OutlierPaster,
    PasteParams,
    SyntheticOutlierSource,
    crop_to_mask,
    paste_outlier,
)

COCO_TINY = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "coco_tiny"
H, W = 96, 192


def scene() -> Sample:
    """Grey scene (no patch pixel is this grey), road in the lower half, void top rows."""
    image = np.full((H, W, 3), 100, np.uint8)
    train_ids = np.full((H, W), 10, np.uint8)
    train_ids[H // 2 :] = 0
    train_ids[:4] = 255
    return Sample(image, "scene", train_ids=train_ids)


def disc_patch(size: int = 40) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size]
    mask = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 2.2) ** 2
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[..., 0] = 250
    rgb[..., 1] = (xx * 5).astype(np.uint8)
    return rgb, mask


class DiscSource:
    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return disc_patch(int(rng.integers(20, 80)))


@pytest.mark.parametrize("seed", range(12))
def test_label_is_one_exactly_where_pixels_changed(seed: int) -> None:
    base = scene()
    rgb, mask = disc_patch()
    result = paste_outlier(base, rgb, mask, np.random.default_rng(seed), (0.001, 0.1))
    assert result.pasted
    changed = np.any(result.sample.image != base.image, axis=-1)
    anomaly, train_ids = result.sample.anomaly, result.sample.train_ids
    assert anomaly is not None and train_ids is not None and base.train_ids is not None
    np.testing.assert_array_equal(result.mask, changed)
    np.testing.assert_array_equal(anomaly == 1, changed)
    np.testing.assert_array_equal(train_ids == 255, changed | (base.train_ids == 255))
    np.testing.assert_array_equal(train_ids[~changed], base.train_ids[~changed])
    # outside the paste the outlier target is 0 on inliers and void where the inlier target was void
    np.testing.assert_array_equal(anomaly[~changed], np.where(base.train_ids == 255, 255, 0)[~changed])
    x0, y0, x1, y1 = result.box_xyxy  # type: ignore[misc]
    ys, xs = np.nonzero(changed)
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
    assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H


@pytest.mark.parametrize("area_range", [(0.001, 0.1), (0.001, 0.002), (0.05, 0.1), (0.19, 0.2)])
def test_pasted_area_respects_bounds(area_range: tuple[float, float]) -> None:
    rng = np.random.default_rng(7)
    shares = []
    for _ in range(40):
        result = paste_outlier(scene(), *disc_patch(int(rng.integers(10, 120))), rng, area_range)
        if result.pasted:
            shares.append(result.mask.sum() / (H * W))
    assert len(shares) >= 36  # nothing-pasted is rare
    assert area_range[0] <= min(shares) and max(shares) <= area_range[1]


def test_area_shares_are_log_uniform() -> None:
    rng = np.random.default_rng(3)
    shares = np.array([paste_outlier(scene(), *disc_patch(64), rng).mask.sum() / (H * W) for _ in range(300)])
    below_1pct = np.mean(shares < 0.01)  # log-uniform on [0.1 %, 10 %]: half the mass below 1 %
    assert 0.4 < below_1pct < 0.6


def test_existing_outlier_target_is_kept_outside_the_paste() -> None:
    base = scene()
    anomaly = np.zeros((H, W), np.uint8)
    anomaly[60:70, 10:20] = 1
    anomaly[:4] = 255
    base.anomaly = anomaly
    result = paste_outlier(base, *disc_patch(), np.random.default_rng(0))
    assert result.sample.anomaly is not None
    expected = anomaly.copy()
    expected[result.mask] = 1
    np.testing.assert_array_equal(result.sample.anomaly, expected)


def test_paste_stays_out_of_void_padding() -> None:
    base = scene()
    assert base.train_ids is not None
    base.train_ids[:, W // 2 :] = 255  # right half is crop padding
    base.train_ids[H - 10 :] = 255  # and the bottom rows
    rng = np.random.default_rng(0)
    for _ in range(30):
        result = paste_outlier(base, *disc_patch(), rng, (0.001, 0.05))
        assert result.pasted
        ys, xs = np.nonzero(result.mask)
        assert xs.max() < W // 2 and ys.max() < H - 10


def test_paster_probability_and_determinism() -> None:
    paster = OutlierPaster(DiscSource(), PasteParams(probability=0.3), seed=0)
    rng = np.random.default_rng(0)
    results = [paster.paste(scene(), rng) for _ in range(200)]
    rate = np.mean([r.pasted for r in results])
    assert 0.2 < rate < 0.4
    for r in results:  # every sample gets an outlier target, pasted or not
        assert r.sample.anomaly is not None and r.sample.anomaly.shape == (H, W)
    a = OutlierPaster(DiscSource(), PasteParams(probability=1.0), seed=5)(scene())
    b = OutlierPaster(DiscSource(), PasteParams(probability=1.0), seed=5)(scene())
    np.testing.assert_array_equal(a.image, b.image)


def test_invalid_params_name_the_key() -> None:
    with pytest.raises(ConfigError, match="probability"):
        PasteParams(probability=2.0)
    with pytest.raises(ConfigError, match="area_range"):
        PasteParams(area_range=(0.2, 0.1))


def test_crop_to_mask() -> None:
    rgb, mask = disc_patch(30)
    big_rgb = np.zeros((50, 60, 3), np.uint8)
    big_mask = np.zeros((50, 60), bool)
    big_rgb[5:35, 20:50], big_mask[5:35, 20:50] = rgb, mask
    crop_rgb, crop_mask = crop_to_mask(big_rgb, big_mask)
    ys, xs = np.nonzero(mask)
    np.testing.assert_array_equal(crop_mask, mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    assert crop_rgb.shape[:2] == crop_mask.shape


def test_coco_source_gives_instance_pixels() -> None:
    if not COCO_TINY.is_dir():
        pytest.skip(f"shared COCO sample not found at {COCO_TINY}")
    source = CocoOutlierSource(CocoOutliers(COCO_TINY, "val2017", min_side=0))
    rng = np.random.default_rng(0)
    for _ in range(3):
        rgb, mask = source.draw(rng)
        assert rgb.shape[:2] == mask.shape and mask.dtype == bool
        assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()  # tight box
        assert paste_outlier(scene(), rgb, mask, rng).pasted


def test_synthetic_source_gives_obstacles() -> None:
    pytest.importorskip("anomaly_seg.synthetic.obstacles", reason="synthetic obstacle generator not available")
    source = SyntheticOutlierSource(size_range=(24, 48))
    rng = np.random.default_rng(0)
    rgb, mask = source.draw(rng)
    assert rgb.dtype == np.uint8 and mask.any() and rgb.shape[:2] == mask.shape
    assert paste_outlier(scene(), rgb, mask, rng).pasted


def test_contact_sheet_command_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("anomaly_seg.synthetic.scene", reason="synthetic scene generator not available")
    import cv2

    from training.__main__ import main

    out = tmp_path / "sheet.png"
    args = ["contact-sheet", "--out", str(out), "-n", "3", "--columns", "3", "--crop", "64x128"]
    assert main([*args, "--scene-size", "64x128", "--paste-prob", "1"]) == 0
    sheet = cv2.imread(str(out))
    assert sheet is not None and sheet.shape == (4 + 64 + 4, 4 + 3 * (3 * 128 + 4 + 4), 3)


def test_render_sample_panels() -> None:
    from training.contact_sheet import OUTLIER_COLORS, render_sample

    result = paste_outlier(scene(), *disc_patch(), np.random.default_rng(0))
    row = render_sample(result.sample, result.mask)
    assert row.shape == (H, 3 * W + 4, 3)
    outlier_panel = row[:, 2 * W + 4 :]
    ys, xs = np.nonzero(result.mask & (np.arange(H)[:, None] > 20))  # below the caption
    np.testing.assert_array_equal(outlier_panel[ys, xs], np.broadcast_to(OUTLIER_COLORS[1], (ys.size, 3)))
