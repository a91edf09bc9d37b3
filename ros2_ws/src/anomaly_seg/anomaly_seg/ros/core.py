"""NodeCore: one input image message -> the list of ``(topic, message)`` outputs of DESIGN.md §4. No rclpy.

The same object serves the live node (the rclpy shell prefixes topics with ``~/``), offline bag replay
(which prefixes ``/<node_name>/``) and the tests (rosbags message classes). ``process()`` never raises:
a bad frame is counted by error kind, logged (throttled) and produces no outputs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

from anomaly_seg.engines.base import Engine
from anomaly_seg.errors import AnomalySegError
from anomaly_seg.labels import CLASS_NAMES, colorize
from anomaly_seg.pipeline import FrameBuffers, Pipeline, PipelineConfig, Result
from anomaly_seg.ros import messages as rm
from anomaly_seg.ros.diagnostics import PERCENTILES, RateMeter, RollingWindow
from anomaly_seg.ros.overlay import render_overlay
from anomaly_seg.ros.params import NodeParams
from anomaly_seg.ros.throttle import ThrottledLogger

TOPIC_SEMANTIC = "output/semantic"
TOPIC_SEMANTIC_COLOR = "output/semantic_color"
TOPIC_ANOMALY_SCORE = "output/anomaly_score"
TOPIC_ANOMALY_MASK = "output/anomaly_mask"
TOPIC_OBSTACLES = "output/obstacles"
TOPIC_OBSTACLE_IDS = "output/obstacle_ids"
TOPIC_OVERLAY = "output/overlay"
TOPIC_PROCESSING_TIME = "debug/processing_time_ms"
TOPIC_PIPELINE_LATENCY = "debug/pipeline_latency_ms"
TOPIC_LABEL_INFO = "output/label_info"
TOPIC_DIAGNOSTICS = "/diagnostics"
TOPIC_INPUT = "input/image"
TOPIC_INPUT_COMPRESSED = "input/image/compressed"

#: per-frame output topic -> MessageFactory attribute of its type, in publishing order
OUTPUT_TYPES: dict[str, str] = {
    TOPIC_SEMANTIC: "Image",
    TOPIC_SEMANTIC_COLOR: "Image",
    TOPIC_ANOMALY_SCORE: "Image",
    TOPIC_ANOMALY_MASK: "Image",
    TOPIC_OBSTACLES: "Detection2DArray",
    TOPIC_OBSTACLE_IDS: "Image",
    TOPIC_OVERLAY: "Image",
    TOPIC_PROCESSING_TIME: "Float64",
    TOPIC_PIPELINE_LATENCY: "Float64",
}
#: published only while someone subscribes (the shell decides, see ``process(wanted=...)``)
OPTIONAL_TOPICS = frozenset({TOPIC_SEMANTIC_COLOR, TOPIC_OVERLAY})
CLASS_ID = "anomaly"

T = TypeVar("T")


@dataclass
class Frame:
    """One input message in flight through NodeCore's stages (begin -> infer -> finish)."""

    msg: Any
    buffers: FrameBuffers
    t_start: float  # perf_counter at begin()
    image: np.ndarray | None = None  # decoded pixels (the overlay at input resolution draws on them)
    bgr: bool = False
    decode_ms: float = 0.0


@dataclass(frozen=True)
class NodeStats:
    """Counters since start. ``frames_in = frames_processed + frames_failed + frames_dropped`` once the frames in
    flight are done; ``frames_lost_in_transport`` never reached the node (not in ``frames_in``)."""

    frames_in: int
    frames_processed: int
    frames_failed: int
    frames_dropped: int
    errors: dict[str, int] = field(default_factory=dict)
    frames_lost_in_transport: int = 0  # never reached the node (publisher sequence gaps)
    last_error: str = ""
    segments_published: int = 0
    segments_rejected: int = 0  # by the meta classifier
    segments_dropped: int = 0  # below min area or beyond max_segments


class NodeCore:
    """Turns camera image messages into output messages; owns the pipeline, counters and latency windows."""

    def __init__(
        self,
        params: NodeParams,
        engine: Engine,
        factory: rm.MessageFactory,
        clock: Callable[[], int] = time.time_ns,
        *,
        name: str = "anomaly_seg",
        logger: logging.Logger | None = None,
        window: int = 300,
    ) -> None:
        """``clock`` returns the node's time in nanoseconds (ROS time under ROS, sim time in replay)."""
        self.params = params
        self.engine = engine
        self.factory = factory
        self.clock = clock
        self.name = name
        meta = None
        if params.segments.meta_classifier_path:
            from anomaly_seg.segments import MetaClassifier

            meta = MetaClassifier.load(params.segments.meta_classifier_path)
        self.pipeline = Pipeline(
            engine,
            PipelineConfig(
                threshold=params.anomaly_threshold,
                min_area_px=params.segments.min_area_px,
                max_segments=params.segments.max_segments,
                region=params.segments.region,
                region_dilation_px=params.segments.region_dilation_px,
                meta_threshold=params.segments.meta_threshold,
                resolution=params.output.resolution,
            ),
            meta,
        )
        self.logger = logger or logging.getLogger("anomaly_seg.ros.core")
        self.log = ThrottledLogger(self.logger)
        self._lock = threading.Lock()
        self._frames_in = self._processed = self._failed = self._dropped = 0
        self._seg_published = self._seg_rejected = self._seg_dropped = 0
        self._errors: dict[str, int] = {}
        self._lost_in_transport = 0
        self._last_sequence: int | None = None
        self._last_error = ""
        self._last_input_size: tuple[int, int] | None = None
        self._processing_ms = RollingWindow(window)
        self._latency_ms = RollingWindow(window)
        self._engine_ms = RollingWindow(window)
        self._transport_ms = RollingWindow(window)
        self._publish_ms = RollingWindow(window)
        self._rate = RateMeter(min(window, 100))
        self._last_report: tuple[int, int] = (0, 0)  # (processed, failed) at the previous diagnostics()
        self.last_result: Result | None = None

    # ------------------------------------------------------------------ per frame
    def process(self, msg: Any, wanted: set[str] | frozenset[str] | None = None) -> list[tuple[str, Any]]:
        """Outputs for one ``sensor_msgs/Image`` or ``CompressedImage``; ``wanted=None`` means every topic.

        Never raises: a bad frame returns ``[]`` and is counted under its error kind. The same three stages as
        :meth:`begin`, :meth:`infer`, :meth:`finish`, on one set of buffers.
        """
        frame = self.begin(msg, self.pipeline.buffers)
        if frame is None or not self.infer(frame):
            return []
        return self.finish(frame, wanted)

    def new_buffers(self) -> FrameBuffers:
        """Buffers for one more frame in flight (a pipelined runner holds one set per stage)."""
        return self.pipeline.new_buffers()

    def begin(self, msg: Any, buffers: FrameBuffers) -> Frame | None:
        """Stage 1: count the frame, decode it and resize it into ``buffers``; None (counted) for a bad frame."""
        frame = Frame(msg, buffers, time.perf_counter())
        with self._lock:
            self._frames_in += 1

        def decode() -> None:
            t0 = time.perf_counter()
            frame.image, frame.bgr = self._decode(msg)
            frame.decode_ms = (time.perf_counter() - t0) * 1e3
            self.pipeline.preprocess(frame.image, buffers, bgr=frame.bgr)

        return frame if self._guarded(decode) else None

    def infer(self, frame: Frame) -> bool:
        """Stage 2: the engine on the frame's buffers; False (counted) when the engine fails."""
        return self._guarded(lambda: self.pipeline.infer(frame.buffers))

    def finish(self, frame: Frame, wanted: set[str] | frozenset[str] | None = None) -> list[tuple[str, Any]]:
        """Stage 3: segments, meta classifier and the output messages; ``[]`` (counted) on failure."""
        outputs: list[tuple[str, Any]] = []
        self._guarded(lambda: outputs.extend(self._finish(frame, wanted)))
        return outputs

    def _guarded(self, stage: Callable[[], object]) -> bool:
        """Run one stage; an exception is counted, logged (throttled) and turned into False. Never raises."""
        try:
            stage()
        except AnomalySegError as exc:
            self._count_error(exc.kind, str(exc))
            self.log.log(logging.ERROR, exc.kind, f"frame dropped ({exc.kind}): {exc}")
            return False
        except Exception as exc:  # the node must keep running; the traceback goes to the (throttled) log
            self._count_error("internal", f"{type(exc).__name__}: {exc}")
            self.log.log(logging.ERROR, "internal", f"internal error, frame dropped: {exc!r}", exc_info=True)
            return False
        return True

    def record_arrival(self, sequence: int | None, sent_ns: int | None, received_ns: int | None) -> None:
        """What the middleware says of one input message: the publisher's sequence number (a gap = frames lost
        before the node, e.g. replaced in the depth-1 reader queue; one publisher per topic assumed) and the
        send / receive times (input transport latency)."""
        with self._lock:
            if sequence is not None and sequence > 0:
                if self._last_sequence is not None and sequence > self._last_sequence + 1:
                    self._lost_in_transport += sequence - self._last_sequence - 1
                self._last_sequence = sequence  # smaller: a new or restarted publisher
        if sent_ns and received_ns:
            self._transport_ms.add((received_ns - sent_ns) / 1e6)

    def record_published(self, milliseconds: float) -> None:
        """Time the shell took to publish one frame's outputs (serialisation + DDS write), for diagnostics."""
        self._publish_ms.add(milliseconds)

    def record_dropped(self, n: int = 1) -> None:
        """Count frames replaced by a newer one before they were processed (the shell's latest-frame slot)."""
        with self._lock:
            self._frames_in += n
            self._dropped += n

    def _finish(self, frame: Frame, wanted: set[str] | frozenset[str] | None) -> list[tuple[str, Any]]:
        factory, msg, t_start = self.factory, frame.msg, frame.t_start
        image, bgr = frame.image, frame.bgr
        assert image is not None
        result = self.pipeline.postprocess(frame.buffers)
        result.timings.decode_ms = frame.decode_ms

        def want(topic: str) -> bool:
            return wanted is None or topic in wanted

        header = rm.copy_header(factory, msg.header)
        kept = result.obstacles.kept_only()
        outputs: list[tuple[str, Any]] = []
        if want(TOPIC_SEMANTIC):
            outputs.append((TOPIC_SEMANTIC, rm.array_to_image(factory, result.semantic, "mono8", header)))
        if want(TOPIC_SEMANTIC_COLOR):
            color = colorize(result.semantic)
            outputs.append((TOPIC_SEMANTIC_COLOR, rm.array_to_image(factory, color, "rgb8", header)))
        if want(TOPIC_ANOMALY_SCORE):
            outputs.append((TOPIC_ANOMALY_SCORE, rm.array_to_image(factory, result.anomaly_score, "32FC1", header)))
        if want(TOPIC_ANOMALY_MASK):
            outputs.append((TOPIC_ANOMALY_MASK, rm.array_to_image(factory, result.anomaly_mask, "mono8", header)))
        if want(TOPIC_OBSTACLES):
            det = rm.detection2d_array(factory, header, kept.ids, kept.boxes_xyxy, kept.probabilities, CLASS_ID)
            outputs.append((TOPIC_OBSTACLES, det))
        if want(TOPIC_OBSTACLE_IDS):
            outputs.append((TOPIC_OBSTACLE_IDS, rm.array_to_image(factory, result.obstacle_ids, "mono16", header)))
        if want(TOPIC_OVERLAY):
            overlay = self._overlay(image, bgr, result, frame.buffers.net_input)
            outputs.append((TOPIC_OVERLAY, rm.array_to_image(factory, overlay, "bgr8", header)))

        processing_ms = (time.perf_counter() - t_start) * 1e3
        latency_ms = (self.clock() - rm.stamp_to_ns(msg.header.stamp)) / 1e6
        if want(TOPIC_PROCESSING_TIME):
            outputs.append((TOPIC_PROCESSING_TIME, factory.Float64(data=float(processing_ms))))
        if want(TOPIC_PIPELINE_LATENCY):
            outputs.append((TOPIC_PIPELINE_LATENCY, factory.Float64(data=float(latency_ms))))

        self._processing_ms.add(processing_ms)
        self._latency_ms.add(latency_ms)
        self._engine_ms.add(result.timings.engine_ms)
        self._rate.tick(time.monotonic())
        with self._lock:
            self._processed += 1
            self._seg_published += len(kept)
            self._seg_rejected += len(result.obstacles) - len(kept)
            self._seg_dropped += result.dropped_segments
            self._last_input_size = result.input_size
        self.last_result = result
        return outputs

    def _decode(self, msg: Any) -> tuple[np.ndarray, bool]:
        """Pixels of ``msg`` as HxWx3 uint8 and whether they are BGR (left so: the pipeline swaps after resizing).

        Size limits, encodings and ``step x height`` are checked by :mod:`anomaly_seg.ros.messages`.
        """
        if hasattr(msg, "format") and not hasattr(msg, "encoding"):
            return rm.compressed_to_rgb(msg), False
        if msg.encoding == "bgr8":
            return rm.image_to_array(msg), True
        return rm.image_to_rgb(msg), False

    def _overlay(self, image: np.ndarray, bgr: bool, result: Result, net_input: np.ndarray) -> np.ndarray:
        if result.resolution == "network":
            base = cv2.cvtColor(net_input[0], cv2.COLOR_RGB2BGR)
        else:
            base = image if bgr else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        obstacles = result.obstacles.kept_only()
        alpha = self.params.output.overlay_alpha
        return render_overlay(base, result.semantic, result.anomaly_mask, obstacles, alpha)

    def _count_error(self, kind: str, reason: str) -> None:
        with self._lock:
            self._failed += 1
            self._errors[kind] = self._errors.get(kind, 0) + 1
            self._last_error = f"{kind}: {reason}"

    # ------------------------------------------------------------------ once / periodic
    def label_info_message(self) -> Any:
        """``vision_msgs/LabelInfo`` with the Cityscapes trainId class map and the anomaly threshold."""
        header = self._header_at(self.clock(), "")
        return rm.label_info(self.factory, header, list(CLASS_NAMES), float(self.params.anomaly_threshold))

    def stats(self) -> NodeStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return NodeStats(
                frames_in=self._frames_in,
                frames_processed=self._processed,
                frames_failed=self._failed,
                frames_dropped=self._dropped,
                errors=dict(self._errors),
                frames_lost_in_transport=self._lost_in_transport,
                last_error=self._last_error,
                segments_published=self._seg_published,
                segments_rejected=self._seg_rejected,
                segments_dropped=self._seg_dropped,
            )

    def diagnostics(self, stamp_ns: int | None = None) -> Any:
        """``diagnostic_msgs/DiagnosticArray`` with one status for this node (stamp defaults to ``clock()``).

        Level: ERROR when frames failed and none succeeded since the previous call, WARN when some failed,
        else OK. Frames replaced by newer ones (inference slower than the camera) are counted, not warned about.
        """
        f = self.factory
        stats = self.stats()
        processed_since = stats.frames_processed - self._last_report[0]
        failed_since = stats.frames_failed - self._last_report[1]
        self._last_report = (stats.frames_processed, stats.frames_failed)
        if failed_since and not processed_since:
            level, message = f.DiagnosticStatus.ERROR, f"every frame failed since the last report ({stats.last_error})"
        elif failed_since:
            level, message = f.DiagnosticStatus.WARN, f"{failed_since} frame(s) failed ({stats.last_error})"
        elif stats.frames_in == 0:
            level, message = f.DiagnosticStatus.OK, "waiting for images"
        else:
            level, message = f.DiagnosticStatus.OK, "ok"
        net_h, net_w = self.pipeline.network_size
        size = self._last_input_size
        values: dict[str, str] = {
            "backend": self.engine.name,
            "input_size": f"{size[1]}x{size[0]}" if size else "none yet",
            "network_size": f"{net_w}x{net_h}",
            "output_resolution": self.params.output.resolution,
            "anomaly_threshold": f"{self.params.anomaly_threshold:g}",
            "meta_classifier": self.params.segments.meta_classifier_path or "none",
            "fps": f"{self._rate.rate(time.monotonic()):.2f}",
        }
        for label, window in (
            ("processing_ms", self._processing_ms),
            ("pipeline_latency_ms", self._latency_ms),
            ("engine_ms", self._engine_ms),
            ("input_transport_ms", self._transport_ms),
            ("publish_ms", self._publish_ms),
        ):
            for q, v in window.percentiles(PERCENTILES).items():
                values[f"{label}_p{q}"] = f"{v:.2f}"
        values.update(
            frames_in=str(stats.frames_in),
            frames_processed=str(stats.frames_processed),
            frames_failed=str(stats.frames_failed),
            frames_dropped=str(stats.frames_dropped),
            frames_lost_in_transport=str(stats.frames_lost_in_transport),
            segments_published=str(stats.segments_published),
            segments_rejected=str(stats.segments_rejected),
            segments_dropped=str(stats.segments_dropped),
        )
        values.update({f"errors.{kind}": str(n) for kind, n in sorted(stats.errors.items())})
        if stats.last_error:
            values["last_error"] = stats.last_error
        header = self._header_at(self.clock() if stamp_ns is None else stamp_ns, "")
        status = f.DiagnosticStatus(
            level=level,
            name=f"{self.name}: anomaly segmentation",
            message=message,
            hardware_id=self.engine.name,
            values=[f.KeyValue(key=k, value=v) for k, v in values.items()],
        )
        return f.DiagnosticArray(header=header, status=[status])

    def _header_at(self, stamp_ns: int, frame_id: str) -> Any:
        return rm.header_from_ns(self.factory, stamp_ns, frame_id)


class LatestFrameSlot(Generic[T]):
    """A one-element queue where a new item replaces an untaken one (the node processes the latest frame)."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced an item nobody took or the slot is closed (a dropped frame)."""
        with self._cond:
            if self._closed:
                return True
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """Wait for and remove the item; None on timeout or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> bool:
        """Wake every waiter; later ``take()`` calls return None. True when an untaken item was discarded."""
        with self._cond:
            discarded = self._item is not None and not self._closed
            self._closed = True
            self._item = None
            self._cond.notify_all()
            return discarded
