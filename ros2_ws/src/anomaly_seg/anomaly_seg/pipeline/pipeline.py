"""Frame -> Result: resize to the network size, engine call, segments + meta classifier, resize back.

Segments and their meta-classifier features are computed at network resolution, where the engine's
outputs live and where the meta classifier was fitted; only the published images are resized to the
camera size (nearest for labels and ids, linear for the score, the mask thresholds the resized score).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from anomaly_seg.engines.base import Engine, EngineOutputs
from anomaly_seg.errors import ConfigError, EngineError, ImageDecodeError
from anomaly_seg.pipeline.result import Obstacles, Result, Timings
from anomaly_seg.segments import SegmentParams, extract_segments, segment_features
from anomaly_seg.vocabulary import RESOLUTIONS, ROAD_DILATION_PX

if TYPE_CHECKING:
    from anomaly_seg.segments import MetaClassifier, Segments


@dataclass(frozen=True)
class PipelineConfig:
    """Post-processing settings (the node fills them from its parameters)."""

    threshold: float = 0.0
    #: segments' threshold when it differs from the mask's (a meta classifier's operating point); None: threshold
    segment_threshold: float | None = None
    min_area_px: int = 64
    max_segments: int = 64
    #: "road": segments only on predicted road/sidewalk grown by ``region_dilation_px``; "all": anywhere
    region: str = "road"
    region_dilation_px: int = ROAD_DILATION_PX
    #: keep segments with meta probability >= this; negative = the classifier's own threshold
    meta_threshold: float = -1.0
    resolution: str = "input"

    #: the segment rule of these settings, built (and validated) once by :meth:`SegmentParams.for_region`
    segments: SegmentParams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ConfigError(f"output resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        rule = SegmentParams.for_region(
            self.region,
            threshold=self.threshold if self.segment_threshold is None else self.segment_threshold,
            min_area_px=self.min_area_px,
            max_segments=self.max_segments,
            region_dilation_px=self.region_dilation_px,
        )
        object.__setattr__(self, "segments", rule)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


@dataclass
class FrameBuffers:
    """One frame in flight: its preallocated network input, and the engine's outputs once :meth:`Pipeline.infer` ran.

    The serial path uses one set; a pipelined runner gives each frame in flight its own set, so frame N+1 is
    resized while frame N runs. The outputs are the engine's own arrays: backends return outputs the caller owns
    (never a buffer they write again), so nothing is copied.
    """

    net_input: np.ndarray  # uint8 [1, H, W, 3] RGB
    swap: np.ndarray  # uint8 [H, W, 3], BGR staging
    outputs: EngineOutputs | None = None
    input_size: tuple[int, int] = (0, 0)
    timings: Timings | None = None

    @classmethod
    def allocate(cls, size: tuple[int, int]) -> FrameBuffers:
        """Zeroed input buffers for network size ``(H, W)``."""
        h, w = size
        return cls(np.zeros((1, h, w, 3), np.uint8), np.zeros((h, w, 3), np.uint8))


class Pipeline:
    """Runs one engine on camera frames of any size; allocates the network input once."""

    def __init__(self, engine: Engine, config: PipelineConfig, meta_classifier: MetaClassifier | None = None) -> None:
        self.engine = engine
        self.config = config
        self.meta_classifier = meta_classifier
        self.network_size: tuple[int, int] = tuple(engine.input_size)  # type: ignore[assignment]
        net_h, net_w = self.network_size
        if engine.batch_size != 1:
            raise ConfigError(f"the full-frame pipeline needs an engine with batch size 1, got {engine.batch_size}")
        self.buffers = FrameBuffers.allocate((net_h, net_w))  # the serial path's (process)

    def reconfigure(self, config: PipelineConfig) -> None:
        """Use ``config`` from the next frame on: one reference swap, so a frame being post-processed keeps the
        settings it started with (run-time tuning: threshold, segment rule, meta threshold)."""
        if config.resolution != self.config.resolution:
            raise ConfigError("the output resolution cannot change while the pipeline runs")
        self.config = config

    @property
    def meta_threshold(self) -> float:
        """Segments with meta probability >= this are kept (the classifier's own threshold unless configured)."""
        return self._meta_threshold(self.config)

    def _meta_threshold(self, config: PipelineConfig) -> float:
        if self.meta_classifier is None:
            return 0.0
        return float(self.meta_classifier.threshold) if config.meta_threshold < 0 else float(config.meta_threshold)

    @property
    def network_input(self) -> np.ndarray:
        """The preallocated ``[1, H, W, 3]`` RGB buffer of the last frame of :meth:`process` (read-only use)."""
        return self.buffers.net_input

    def process(self, image: np.ndarray, *, bgr: bool = False) -> Result:
        """Run one ``H x W x 3`` uint8 frame (RGB, or BGR with ``bgr=True``) through the network and post-processing.

        Raises ImageDecodeError for an image of the wrong shape/dtype and EngineError for a failing engine or
        outputs of the wrong shape (NaN/Inf is the engine contract's check, :func:`engines.contract.check_outputs`).
        The three stages (:meth:`preprocess`, :meth:`infer`, :meth:`postprocess`) are
        also callable one by one, each frame with its own :class:`FrameBuffers`, to overlap frames.
        """
        self.preprocess(image, self.buffers, bgr=bgr)
        self.infer(self.buffers)
        return self.postprocess(self.buffers)

    def new_buffers(self) -> FrameBuffers:
        """A set of buffers for one more frame in flight."""
        return FrameBuffers.allocate(self.network_size)

    def preprocess(self, image: np.ndarray, buffers: FrameBuffers, *, bgr: bool = False) -> None:
        """Stage 1: check and resize ``image`` into ``buffers.net_input`` (RGB); starts the frame's timings."""
        timings = Timings()
        t0 = time.perf_counter()
        if (
            image.ndim != 3
            or image.shape[2] != 3
            or image.dtype != np.uint8
            or image.shape[0] < 1
            or image.shape[1] < 1
        ):
            raise ImageDecodeError(f"pipeline expects an HxWx3 uint8 image, got {image.dtype} {image.shape}")
        self._preprocess(image, buffers, bgr)
        buffers.input_size = (int(image.shape[0]), int(image.shape[1]))
        timings.preprocess_ms = _ms(t0)
        buffers.timings = timings

    def infer(self, buffers: FrameBuffers) -> None:
        """Stage 2: the engine on ``buffers.net_input``; its outputs (shapes checked) kept in ``buffers``."""
        t0 = time.perf_counter()
        try:
            outputs = self.engine.infer(buffers.net_input)
        except EngineError:
            raise
        except Exception as exc:  # a backend's own exception type: report it as an engine failure
            raise EngineError(f"{self.engine.name}: inference failed: {type(exc).__name__}: {exc}") from exc
        self._check_shapes(outputs)
        buffers.outputs = outputs
        assert buffers.timings is not None
        buffers.timings.engine_ms = _ms(t0)

    def postprocess(self, buffers: FrameBuffers) -> Result:
        """Stage 3: segments, meta classifier and output images from the engine outputs in ``buffers``."""
        timings = buffers.timings or Timings()
        if buffers.outputs is None:
            raise EngineError(f"{self.engine.name}: postprocess() before infer()")
        semantic, score, uncertainty = (
            buffers.outputs.semantic[0],
            buffers.outputs.anomaly_score[0],
            buffers.outputs.uncertainty[0],
        )
        in_h, in_w = buffers.input_size
        config = self.config  # this frame's settings, whatever reconfigure() does meanwhile
        t0 = time.perf_counter()
        segments = extract_segments(score, semantic, config.segments)
        timings.segments_ms = _ms(t0)

        t0 = time.perf_counter()
        probabilities, kept = self._classify(segments, score, uncertainty, semantic, self._meta_threshold(config))
        timings.meta_ms = _ms(t0)

        t0 = time.perf_counter()
        result = self._to_output(
            semantic, score, segments, probabilities, kept, (in_h, in_w), config=config, timings=timings
        )
        timings.postprocess_ms = _ms(t0)
        return result

    def _preprocess(self, image: np.ndarray, buffers: FrameBuffers, bgr: bool) -> None:
        net_h, net_w = self.network_size
        target = buffers.swap if bgr else buffers.net_input[0]
        if image.shape[:2] == (net_h, net_w):
            np.copyto(target, image)
        else:
            shrinking = image.shape[0] >= net_h and image.shape[1] >= net_w
            interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
            cv2.resize(image, (net_w, net_h), dst=target, interpolation=interpolation)
        if bgr:
            cv2.cvtColor(buffers.swap, cv2.COLOR_BGR2RGB, dst=buffers.net_input[0])

    def _check_shapes(self, outputs: EngineOutputs) -> None:
        net_h, net_w = self.network_size
        expected = {
            "semantic": (1, net_h, net_w),
            "anomaly_score": (1, net_h, net_w),
            "uncertainty": (1, 3, net_h, net_w),
        }
        for name, shape in expected.items():
            array = getattr(outputs, name)
            if tuple(array.shape) != shape:
                raise EngineError(f"{self.engine.name}: output '{name}' has shape {array.shape}, expected {shape}")

    def _classify(
        self,
        segments: Segments,
        score: np.ndarray,
        uncertainty: np.ndarray,
        semantic: np.ndarray,
        meta_threshold: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = int(segments.count)
        if self.meta_classifier is None or n == 0:
            return np.ones(n, np.float32), np.ones(n, bool)
        features = segment_features(segments, score, uncertainty, semantic)
        probabilities = np.asarray(self.meta_classifier.predict_proba(features), np.float32).reshape(n)
        return probabilities, probabilities >= meta_threshold

    def _to_output(
        self,
        semantic: np.ndarray,
        score: np.ndarray,
        segments: Segments,
        probabilities: np.ndarray,
        kept: np.ndarray,
        input_size: tuple[int, int],
        *,
        config: PipelineConfig,
        timings: Timings,
    ) -> Result:
        n = int(segments.count)
        ids_net = np.asarray(segments.ids, np.uint16)
        if n and not kept.all():
            lut = np.zeros(n + 1, np.uint16)  # rejected segments vanish from the id image
            lut[1:] = np.where(kept, np.arange(1, n + 1), 0)
            ids_net = lut[ids_net]
        dropped = int(segments.dropped_over_cap + segments.removed_small)
        obstacles = (
            Obstacles(
                np.arange(1, n + 1, dtype=np.uint16),
                np.asarray(segments.boxes_xyxy, np.float32).reshape(n, 4),
                np.asarray(segments.areas, np.int64).reshape(n),
                probabilities,
                kept,
            )
            if n
            else Obstacles.empty()
        )
        # At network resolution the engine's arrays are this frame's own: no copies.
        network = self._result("network", semantic, score, ids_net, obstacles, input_size, config, dropped, timings)
        if config.resolution == "network":
            return network
        net_h, net_w = self.network_size
        out_h, out_w = input_size
        size = (out_w, out_h)
        result = self._result(
            "input",
            cv2.resize(semantic, size, interpolation=cv2.INTER_NEAREST),
            cv2.resize(score, size, interpolation=cv2.INTER_LINEAR),
            np.asarray(cv2.resize(ids_net, size, interpolation=cv2.INTER_NEAREST), np.uint16),
            obstacles.scaled(out_w / net_w, out_h / net_h),
            input_size,
            config,
            dropped,
            timings,
        )
        result.network = network
        return result

    def _result(
        self,
        resolution: str,
        semantic: np.ndarray,
        score: np.ndarray,
        ids: np.ndarray,
        obstacles: Obstacles,
        input_size: tuple[int, int],
        config: PipelineConfig,
        dropped: int,
        timings: Timings,
    ) -> Result:
        mask = np.greater_equal(score, np.float32(config.threshold)).view(np.uint8)
        mask *= 255
        return Result(
            semantic=semantic,
            anomaly_score=score,
            anomaly_mask=mask,
            obstacle_ids=ids,
            obstacles=obstacles,
            input_size=input_size,
            network_size=self.network_size,
            resolution=resolution,
            dropped_segments=dropped,
            timings=timings,
        )
