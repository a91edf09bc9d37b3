"""Pipeline (anomaly_seg/pipeline/pipeline.py): resizing, engine-output checks, segments, meta classifier, geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from anomaly_seg.engines.base import EngineOutputs
from anomaly_seg.errors import ConfigError, EngineError, ImageDecodeError
from anomaly_seg.pipeline import Pipeline, PipelineConfig
from tests.pipeline.fake_engine import FakeEngine, grey_frame

NET = (64, 128)
CFG = PipelineConfig(threshold=0.0, min_area_px=4, max_segments=8, region="all")


class StubMeta:
    """Meta classifier stand-in: probability = 0.9 for segments wider than 10 px (feature-free), else 0.1."""

    threshold = 0.5

    def __init__(self) -> None:
        self.features_seen: np.ndarray | None = None

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        self.features_seen = features
        return np.array([0.9, 0.1][: len(features)], np.float32)


def test_shrinking_uses_area_interpolation_into_the_preallocated_buffer() -> None:
    engine = FakeEngine(NET)
    pipe = Pipeline(engine, CFG)
    buffer = pipe.network_input
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (256, 512, 3), dtype=np.uint8)
    pipe.process(frame)
    expected = cv2.resize(frame, (NET[1], NET[0]), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(engine.last_input[0], expected)
    assert pipe.network_input is buffer  # no per-frame reallocation

    small = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
    pipe.process(small)
    np.testing.assert_array_equal(
        engine.last_input[0], cv2.resize(small, (NET[1], NET[0]), interpolation=cv2.INTER_LINEAR)
    )


def test_bgr_input_gives_the_same_network_input_as_rgb() -> None:
    engine = FakeEngine(NET)
    pipe = Pipeline(engine, CFG)
    frame = np.random.default_rng(1).integers(0, 256, (100, 300, 3), dtype=np.uint8)
    pipe.process(frame)
    from_rgb = engine.last_input.copy()
    pipe.process(np.ascontiguousarray(frame[..., ::-1]), bgr=True)
    np.testing.assert_array_equal(engine.last_input, from_rgb)


def test_outputs_at_input_size_follow_the_engine_outputs() -> None:
    engine = FakeEngine(NET)
    pipe = Pipeline(engine, CFG)
    frame = grey_frame(256, 512, [(100, 160, 164, 224)])
    result = pipe.process(frame)
    assert result.output_size == (256, 512) and result.input_size == (256, 512)
    outs = engine.infer(engine.last_input)
    ref_score = cv2.resize(outs.anomaly_score[0], (512, 256), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(result.anomaly_score, ref_score, rtol=0, atol=1e-5)
    ref_sem = cv2.resize(outs.semantic[0], (512, 256), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(result.semantic, ref_sem)
    np.testing.assert_array_equal(result.anomaly_mask, np.where(result.anomaly_score >= 0.0, 255, 0))
    assert result.anomaly_mask.dtype == np.uint8 and result.obstacle_ids.dtype == np.uint16
    # one square -> one segment whose box, scaled back to the input, is the painted square
    assert len(result.obstacles) == 1 and result.obstacles.kept.all()
    np.testing.assert_allclose(result.obstacles.boxes_xyxy[0], [100, 160, 164, 224], atol=4)
    assert result.obstacles.probabilities[0] == 1.0  # no meta classifier: every segment kept at 1.0
    assert abs(int(result.obstacles.areas[0]) - 64 * 64) <= 64 * 4 * 4
    ids_in_square = result.obstacle_ids[170:214, 110:154]
    assert (ids_in_square == 1).all() and (result.obstacle_ids[:100] == 0).all()
    assert result.timings.engine_ms >= 0 and result.timings.total_ms >= result.timings.engine_ms


def test_network_resolution_keeps_engine_size_and_copies_outputs() -> None:
    pipe = Pipeline(FakeEngine(NET), PipelineConfig(min_area_px=1, region="all", resolution="network"))
    result = pipe.process(grey_frame(256, 512, [(256, 128, 320, 192)]))
    assert result.output_size == NET and result.resolution == "network"
    np.testing.assert_allclose(result.obstacles.boxes_xyxy[0], [64, 32, 80, 48])
    assert result.obstacles.areas[0] == 16 * 16


def test_meta_classifier_rejects_segments_and_clears_their_ids() -> None:
    meta = StubMeta()
    pipe = Pipeline(FakeEngine(NET), PipelineConfig(min_area_px=4, region="all"), meta)  # type: ignore[arg-type]
    # two squares; segments are numbered in raster order: the upper-left one is id 1
    result = pipe.process(grey_frame(128, 256, [(20, 20, 60, 60), (150, 70, 190, 110)]))
    assert meta.features_seen is not None and len(meta.features_seen) == 2
    np.testing.assert_allclose(result.obstacles.probabilities, [0.9, 0.1])
    np.testing.assert_array_equal(result.obstacles.kept, [True, False])
    assert set(np.unique(result.obstacle_ids)) == {0, 1}
    assert (result.anomaly_mask[80:100, 160:180] == 255).all()  # the pixel mask is not filtered by the meta classifier
    kept = result.obstacles.kept_only()
    assert list(kept.ids) == [1]


def test_meta_threshold_parameter_overrides_the_classifier_threshold() -> None:
    pipe = Pipeline(FakeEngine(NET), PipelineConfig(region="all", meta_threshold=0.05), StubMeta())  # type: ignore[arg-type]
    assert pipe.meta_threshold == 0.05
    pipe = Pipeline(FakeEngine(NET), PipelineConfig(region="all"), StubMeta())  # type: ignore[arg-type]
    assert pipe.meta_threshold == 0.5


def test_road_region_ignores_anomalies_in_the_sky() -> None:
    pipe = Pipeline(FakeEngine(NET), PipelineConfig(min_area_px=4, region="road", region_dilation_px=0))
    result = pipe.process(grey_frame(64, 128, [(10, 5, 30, 20), (60, 40, 80, 60)]))  # sky square, road square
    assert len(result.obstacles) == 1
    np.testing.assert_allclose(result.obstacles.boxes_xyxy[0], [60, 40, 80, 60])


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (FakeEngine(NET, nan=True), "NaN/Inf"),
        (FakeEngine(NET, error=RuntimeError("CUDA out of memory")), "CUDA out of memory"),
    ],
)
def test_engine_failures_become_engine_errors(engine: FakeEngine, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        Pipeline(engine, CFG).process(grey_frame(64, 128))


class HalfSizeEngine(FakeEngine):
    """Claims one input size but answers at half of it (a mis-exported model)."""

    def infer(self, images: np.ndarray) -> EngineOutputs:
        outs = super().infer(images)
        return EngineOutputs(
            outs.semantic[:, ::2, ::2], outs.anomaly_score[:, ::2, ::2], outs.uncertainty[..., ::2, ::2]
        )


def test_wrong_output_shape_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="shape"):
        Pipeline(HalfSizeEngine(NET), CFG).process(grey_frame(64, 128))


@pytest.mark.parametrize("image", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3))])
def test_bad_frames_are_image_errors(image: np.ndarray) -> None:
    with pytest.raises(ImageDecodeError):
        Pipeline(FakeEngine(NET), CFG).process(image)


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ConfigError, match="resolution"):
        PipelineConfig(resolution="full")
    with pytest.raises(ConfigError, match="region"):
        PipelineConfig(region="sidewalk")


def test_reconfigure_applies_from_the_next_frame_and_keeps_the_resolution() -> None:
    pipe = Pipeline(FakeEngine(NET), CFG)
    image = grey_frame(*NET, [(10, 10, 30, 30)])
    assert pipe.process(image).anomaly_mask.max() == 255 and len(pipe.process(image).obstacles) == 1
    pipe.reconfigure(PipelineConfig(threshold=100.0, min_area_px=4, max_segments=8, region="all"))
    result = pipe.process(image)
    assert not result.anomaly_mask.any() and len(result.obstacles) == 0
    with pytest.raises(ConfigError, match="resolution"):
        pipe.reconfigure(PipelineConfig(region="all", resolution="network"))


def test_input_resolution_keeps_the_frame_at_network_resolution_too() -> None:
    """``Result.at_network()`` is what a network-resolution pipeline gives for the same frame (one engine call)."""
    frame = grey_frame(256, 512, [(100, 160, 164, 224), (300, 40, 340, 80)])
    at_input = Pipeline(FakeEngine(NET), PipelineConfig(min_area_px=1, region="all")).process(frame)
    at_network = Pipeline(FakeEngine(NET), PipelineConfig(min_area_px=1, region="all", resolution="network")).process(
        frame
    )
    view = at_input.at_network()
    assert view is not at_input and view.resolution == "network" and view.output_size == NET
    assert at_network.at_network() is at_network
    for name in ("semantic", "anomaly_score", "anomaly_mask", "obstacle_ids"):
        np.testing.assert_array_equal(getattr(view, name), getattr(at_network, name), err_msg=name)
    np.testing.assert_allclose(view.obstacles.boxes_xyxy, at_network.obstacles.boxes_xyxy)
    np.testing.assert_array_equal(view.obstacles.areas, at_network.obstacles.areas)
    sx, sy = 512 / NET[1], 256 / NET[0]
    np.testing.assert_allclose(at_input.obstacles.boxes_xyxy, view.obstacles.boxes_xyxy * [sx, sy, sx, sy])
