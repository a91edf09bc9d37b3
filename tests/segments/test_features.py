"""Tests of anomaly_seg/segments/features.py: equal to the slow per-segment reference, and hand-checked values."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from anomaly_seg.labels import CLASS_NAMES, NUM_CLASSES, VOID
from anomaly_seg.segments import FEATURE_NAMES, SegmentParams, Segments, extract_segments, segment_features
from anomaly_seg.segments.features import GEOMETRY_NAMES, HEATMAP_NAMES, HEATMAP_STATS, SIZE_NAMES
from anomaly_seg.segments.reference import reference_segment_features


def _maps(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.0) * 8 + 3
    uncertainty = rng.random((3, h, w)).astype(np.float32)
    semantic = rng.integers(0, NUM_CLASSES, (h, w)).astype(np.uint8)
    semantic[rng.random((h, w)) < 0.1] = VOID
    return score, uncertainty, semantic


def test_feature_names_are_unique_and_documented() -> None:
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == 89
    doc = Path(__file__).parents[2] / "docs" / "segments.md"
    text = doc.read_text(encoding="utf-8")
    parts = (*HEATMAP_NAMES, *HEATMAP_STATS, *SIZE_NAMES, *GEOMETRY_NAMES, *(n.replace(" ", "_") for n in CLASS_NAMES))
    assert [p for p in parts if f"`{p}`" not in text] == []
    assert len(FEATURE_NAMES) == len(HEATMAP_NAMES) * len(HEATMAP_STATS) + 5 + 6 + 2 * NUM_CLASSES


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ring_px", [1, 3])
def test_features_equal_the_reference_on_random_maps(seed: int, ring_px: int) -> None:
    score, uncertainty, semantic = _maps(64, 96, seed)
    seg = extract_segments(score, semantic, SegmentParams(threshold=3.5))
    assert seg.count > 5
    fast = segment_features(seg, score, uncertainty, semantic, ring_px=ring_px)
    ref = reference_segment_features(seg, score, uncertainty, semantic, ring_px=ring_px)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)


def test_touching_segments_and_image_border_match_the_reference() -> None:
    rng = np.random.default_rng(5)
    score, uncertainty, semantic = _maps(30, 40, 5)
    ids = rng.integers(0, 6, (30, 40)).astype(np.uint16)  # every segment touches others and the border
    ids[10:20, 10:25] = 3
    seg = Segments.from_ids(ids)
    for ring_px in (1, 2):
        fast = segment_features(seg, score, uncertainty, semantic, ring_px=ring_px)
        ref = reference_segment_features(seg, score, uncertainty, semantic, ring_px=ring_px)
        np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)


def test_hand_checked_square() -> None:
    ids = np.zeros((8, 8), np.uint16)
    ids[2:6, 2:6] = 1  # 4x4 square: 4 interior pixels, 12 boundary pixels, ring of 20 pixels
    score = np.zeros((8, 8), np.float32)
    score[3:5, 3:5] = 2.0  # interior
    uncertainty = np.zeros((3, 8, 8), np.float32)
    semantic = np.zeros((8, 8), np.uint8)
    semantic[2:6, 2:6] = 13  # car inside, road around
    semantic[1, 1] = VOID
    f = dict(zip(FEATURE_NAMES, segment_features(Segments.from_ids(ids), score, uncertainty, semantic)[0]))
    assert (f["size"], f["size_in"], f["size_bd"]) == (16, 4, 12)
    assert f["size_rel"] == pytest.approx(16 / 12) and f["size_rel_in"] == pytest.approx(4 / 12)
    assert f["anomaly_score_mean"] == pytest.approx(0.5)
    assert f["anomaly_score_var"] == pytest.approx(0.75)  # 4 x 2, 12 x 0: E[x^2] - E[x]^2 = 1 - 0.25
    assert f["anomaly_score_mean_in"] == 2.0 and f["anomaly_score_var_in"] == 0.0
    assert f["anomaly_score_mean_bd"] == 0.0
    assert f["anomaly_score_mean_rel_in"] == pytest.approx(2.0 * 4 / 12)
    assert f["class_car"] == 1.0 and f["class_road"] == 0.0
    assert f["ring_road"] == pytest.approx(19 / 20)  # one ring pixel is void
    assert f["centroid_x"] == pytest.approx(3.5 / 8) and f["box_x1"] == pytest.approx(6 / 8)


def test_no_segments_gives_an_empty_matrix() -> None:
    score, uncertainty, semantic = _maps(10, 12, 0)
    out = segment_features(Segments.empty(10, 12), score, uncertainty, semantic)
    assert out.shape == (0, len(FEATURE_NAMES))


def test_shape_mismatch_is_refused() -> None:
    score, uncertainty, semantic = _maps(10, 12, 0)
    seg = Segments.empty(10, 12)
    with pytest.raises(ValueError, match="uncertainty"):
        segment_features(seg, score, uncertainty[:2], semantic)
