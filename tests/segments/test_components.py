"""Tests of anomaly_seg/segments/components.py against SciPy labelling and hand-made cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from anomaly_seg.errors import ConfigError
from anomaly_seg.segments import SegmentParams, Segments, extract_segments, region_mask


def _blobs(h: int, w: int, seed: int, sigma: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)


def test_segments_are_the_8_connected_components_in_raster_order() -> None:
    score = _blobs(70, 90, 0)
    seg = extract_segments(score, None, SegmentParams(threshold=0.05))
    ref, n = ndimage.label(score >= 0.05, structure=np.ones((3, 3)))
    assert seg.count == n and seg.ids.dtype == np.uint16
    # same partition, and ids numbered by the raster position of the first pixel (scipy labels that way too)
    np.testing.assert_array_equal(seg.ids, ref)
    for i in range(n):
        ys, xs = np.nonzero(ref == i + 1)
        assert seg.areas[i] == ys.size
        np.testing.assert_array_equal(seg.boxes_xyxy[i], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_allclose(seg.centroids[i], [xs.mean(), ys.mean()])


def test_diagonal_pixels_connect_and_boxes_are_exclusive() -> None:
    score = np.zeros((6, 6), np.float32)
    score[1, 1] = score[2, 2] = score[3, 3] = 1.0  # diagonal chain: one 8-connected segment
    score[1, 4] = 1.0
    seg = extract_segments(score, None, SegmentParams(threshold=0.5))
    assert seg.count == 2
    np.testing.assert_array_equal(seg.boxes_xyxy, [[1, 1, 4, 4], [4, 1, 5, 2]])
    np.testing.assert_array_equal(seg.areas, [3, 1])


def test_min_area_and_cap_keep_the_largest_and_count_the_rest() -> None:
    score = np.zeros((20, 40), np.float32)
    sizes = {(1, 1): 1, (1, 10): 9, (10, 1): 16, (10, 10): 4, (10, 20): 25}
    for (y, x), area in sizes.items():
        s = int(np.sqrt(area))
        score[y : y + s, x : x + s] = 1.0
    seg = extract_segments(score, None, SegmentParams(threshold=0.5, min_area_px=2, max_segments=2))
    assert seg.removed_small == 1 and seg.dropped_over_cap == 2
    assert sorted(seg.areas.tolist()) == [16, 25]
    assert set(np.unique(seg.ids)) == {0, 1, 2}
    # kept ids stay in raster order of their first pixel
    np.testing.assert_array_equal(seg.boxes_xyxy[:, :2], [[1, 10], [20, 10]])


def test_region_restricts_pixels_with_dilation() -> None:
    score = np.ones((10, 10), np.float32)
    semantic = np.full((10, 10), 10, np.uint8)  # sky
    semantic[6:, :] = 0  # road at the bottom
    mask = region_mask(semantic, (0,), 2)
    assert mask[4:, :].all() and not mask[:4, :].any()
    seg = extract_segments(score, semantic, SegmentParams(threshold=0.5, region=(0,), region_dilation_px=2))
    assert seg.count == 1 and seg.areas[0] == 60
    everywhere = extract_segments(score, semantic, SegmentParams(threshold=0.5))
    assert everywhere.areas[0] == 100


def test_empty_frame_and_nan_scores() -> None:
    score = np.full((5, 7), np.nan, np.float32)
    seg = extract_segments(score, None, SegmentParams(threshold=0.0))
    assert seg.count == 0 and seg.ids.shape == (5, 7) and seg.boxes_xyxy.shape == (0, 4)


def test_noisy_mask_beyond_16_bit_labels_falls_back() -> None:
    score = np.zeros((520, 520), np.float32)
    score[::2, ::2] = 1.0  # 67600 isolated pixels, more than uint16 cc labels allow
    seg = extract_segments(score, None, SegmentParams(threshold=0.5, max_segments=100))
    assert seg.count == 100 and seg.dropped_over_cap == 67600 - 100


def test_select_and_from_ids_round_trip() -> None:
    seg = extract_segments(_blobs(40, 50, 3), None, SegmentParams(threshold=0.1))
    keep = np.arange(seg.count) % 2 == 0
    sub = seg.select(keep)
    assert sub.count == keep.sum()
    np.testing.assert_array_equal(sub.areas, seg.areas[keep])
    for new, old in enumerate(np.flatnonzero(keep)):
        np.testing.assert_array_equal(sub.ids == new + 1, seg.ids == old + 1)
    again = Segments.from_ids(sub.ids)
    np.testing.assert_array_equal(again.pixel_index, sub.pixel_index)
    np.testing.assert_array_equal(again.boxes_xyxy, sub.boxes_xyxy)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": 0.0, "min_area_px": -1}, "min_area_px"),
        ({"threshold": 0.0, "max_segments": 0}, "max_segments"),
        ({"threshold": 0.0, "region": (0, 19)}, "region"),
        ({"threshold": 0.0, "region_dilation_px": 1.5}, "region_dilation_px"),
    ],
)
def test_invalid_params_name_the_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        SegmentParams(**kwargs)  # type: ignore[arg-type]
