"""NodeCore: one input image message -> typed :class:`NodeOutputs` -> ``(topic, message)`` pairs. No rclpy.

The same object serves the live node (the rclpy shell prefixes topics with ``~/``), offline bag replay
(which prefixes ``/<node_name>/``) and the tests (rosbags message classes). ``process()`` never raises:
a bad frame is counted by error kind, logged (throttled) and produces no outputs. Counters and diagnostics
live in :class:`~anomaly_seg.node_core.health.NodeHealth`, message types in
:class:`~anomaly_seg.node_core.outputs.MessageBuilder`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from anomaly_seg import messages as rm
from anomaly_seg.engines.base import Engine
from anomaly_seg.engines.metadata import ModelMetadata
from anomaly_seg.errors import AnomalySegError, ModelFileError
from anomaly_seg.node_core.health import HealthExpectations, NodeHealth, NodeStats
from anomaly_seg.node_core.outputs import MessageBuilder, NodeOutputs, OutputMessage
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.node_core.throttle import ThrottledLogger
from anomaly_seg.pipeline import FrameBuffers, Pipeline, Result
from anomaly_seg.pipeline.ground import Mounting, ground_obstacles

__all__ = ["Early", "Frame", "NodeCore", "NodeStats"]

Early = Callable[[list[OutputMessage]], None]
"""Receives a frame's planner-facing messages before the rest is built (see :meth:`NodeCore.finish`)."""


@dataclass
class Frame:
    """One input message in flight through NodeCore's stages (begin -> infer -> finish)."""

    msg: Any
    buffers: FrameBuffers
    t_start: float  # perf_counter at begin()
    image: np.ndarray | None = None  # decoded pixels (the overlay at input resolution draws on them)
    bgr: bool = False
    decode_ms: float = 0.0


class NodeCore:
    """Turns camera image messages into outputs; owns the pipeline, the message builder and the node's health."""

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
        self.meta = meta
        self.logger = logger or logging.getLogger("anomaly_seg.node_core.core")
        model = _model_metadata(engine, self.logger)
        threshold = model.score_threshold if model is not None else None
        self.model_threshold = threshold if threshold is not None and math.isfinite(threshold) else None
        self.model_operating_point = model.operating_point if model is not None else None
        self.params = params = params.resolved(meta, self.model_threshold, self.model_operating_point)
        self.pipeline = Pipeline(engine, params.pipeline_config(), meta)
        self.builder = MessageBuilder(factory, params.output.overlay_alpha, params.output.network_topics)
        self._mounting = params.ground.mounting()  # the camera over the ground (None: no 3D outputs)
        self._pose_mounting: Mounting | None = None  # from tf (offline replay): used while the parameters give none
        d = params.diagnostics
        self.health = NodeHealth(window, HealthExpectations(d.expected_fps, d.max_transport_loss, d.stale_after_s))
        self.last_result: Result | None = None  # of the last processed frame, for inspection
        self._camera_infos: dict[int, Any] = {}  # stamp -> the camera's CameraInfo (the latest few)
        self._camera_lock = threading.Lock()  # written by the shell's callback, read by the runner's last stage
        self.log = ThrottledLogger(self.logger)
        if meta is not None and self.model_operating_point is not None:
            from anomaly_seg.files import sha256_file

            chosen_with = self.model_operating_point.get("meta_sha256")
            if chosen_with != sha256_file(params.segments.meta_classifier_path):
                self.logger.warning(
                    "the model's operating point was chosen with another meta classifier file (sha256 %s); the "
                    "node uses %s",
                    chosen_with,
                    "that file's own point" if meta.score_threshold is not None else "the model's point anyway",
                )

    def _threshold_source(self) -> str:
        if "anomaly.threshold" in self.params.given:
            return "parameter"
        return "model's score_threshold" if self.model_threshold is not None else "default"

    def _segment_threshold(self) -> str:
        t = self.params.segment_threshold
        if t is None:
            return "anomaly_threshold"
        own = self.meta is not None and self.meta.score_threshold is not None
        return f"{t:g} (meta classifier's operating point{'' if own else ', from the model metadata'})"

    def update_params(self, params: NodeParams) -> None:
        """Take run-time-tunable settings (threshold, segment rule, meta threshold, overlay alpha) from ``params``,
        already validated, from the next frame on; the rest (model, execution, resolution) must be unchanged."""
        params = params.resolved(self.meta, self.model_threshold, self.model_operating_point)
        self.pipeline.reconfigure(params.pipeline_config())
        self.builder.overlay_alpha = params.output.overlay_alpha
        self._mounting = params.ground.mounting()
        self.params = params

    # ------------------------------------------------------------------ per frame
    def process(
        self, msg: Any, wanted: Collection[str] | None = None, early: Early | None = None
    ) -> list[OutputMessage]:
        """Output messages for one ``sensor_msgs/Image`` or ``CompressedImage``; ``wanted=None`` means every topic.

        Never raises: a bad frame returns ``[]`` and is counted under its error kind. The same three stages as
        :meth:`begin`, :meth:`infer`, :meth:`finish`, on the pipeline's own buffers.
        """
        frame = self.begin(msg, self.pipeline.buffers)
        if frame is None or not self.infer(frame):
            return []
        return self.finish(frame, wanted, early)

    def new_buffers(self) -> FrameBuffers:
        """Buffers for one more frame in flight (a pipelined runner holds one set per stage)."""
        return self.pipeline.new_buffers()

    def begin(self, msg: Any, buffers: FrameBuffers) -> Frame | None:
        """Stage 1: count the frame, decode it and resize it into ``buffers``; None (counted) for a bad frame."""
        frame = Frame(msg, buffers, time.perf_counter())
        self.health.frame_in()

        def decode() -> None:
            t0 = time.perf_counter()
            frame.image, frame.bgr = self._decode(msg)
            frame.decode_ms = (time.perf_counter() - t0) * 1e3
            self.pipeline.preprocess(frame.image, buffers, bgr=frame.bgr)

        return frame if self._guarded(decode) else None

    def infer(self, frame: Frame) -> bool:
        """Stage 2: the engine on the frame's buffers; False (counted) when the engine fails."""
        return self._guarded(lambda: self.pipeline.infer(frame.buffers))

    def finish(
        self, frame: Frame, wanted: Collection[str] | None = None, early: Early | None = None
    ) -> list[OutputMessage]:
        """Stage 3: :meth:`outputs`, then their messages; ``[]`` (counted) on failure. With ``early``, the
        planner-facing messages go to it as soon as they exist, before the large images are built (the shell
        publishes them at once); the rest is returned."""
        messages: list[OutputMessage] = []

        def stage() -> None:
            outputs = self.outputs(frame)
            planner = self.builder.planner_messages(outputs, wanted)
            if early is not None:
                early(planner)
            else:
                messages.extend(planner)
            messages.extend(self.builder.image_messages(outputs, wanted))
            processing_ms = (time.perf_counter() - frame.t_start) * 1e3
            latency_ms = (self.clock() - outputs.stamp_ns) / 1e6
            messages.extend(self.builder.timing_messages(processing_ms, latency_ms, wanted))
            result = self.last_result = outputs.result
            self.health.processed(
                processing_ms=processing_ms,
                latency_ms=latency_ms,
                engine_ms=result.timings.engine_ms,
                segments=outputs.segment_counts,
                input_size=result.input_size,
            )

        self._guarded(stage)
        return messages

    def outputs(self, frame: Frame) -> NodeOutputs:
        """Segments, meta classifier and output images of a frame that went through :meth:`infer` (typed)."""
        assert frame.image is not None
        result = self.pipeline.postprocess(frame.buffers)
        result.timings.decode_ms = frame.decode_ms
        header = frame.msg.header
        stamp_ns = rm.stamp_to_ns(header.stamp)
        info = self._camera_info_for(stamp_ns)
        mounting = self._mounting if self._mounting is not None else self._pose_mounting
        ground = None
        if info is not None and mounting is not None and int(info.width) > 0 and int(info.height) > 0:
            k = rm.scaled_k(np.asarray(info.k, np.float64), (int(info.height), int(info.width)), result.output_size)
            ground = ground_obstacles(result.obstacle_ids, result.obstacles.kept_only().ids, k, mounting)
        return NodeOutputs(
            header,
            stamp_ns,
            result,
            frame.image,
            frame.bgr,
            frame.buffers.net_input,
            camera_info=info,
            ground=ground,
            ground_frame_id=self.params.ground.frame_id,
        )

    def _guarded(self, stage: Callable[[], object]) -> bool:
        """Run one stage; an exception is counted, logged (throttled) and turned into False. Never raises."""
        try:
            stage()
        except AnomalySegError as exc:
            self.health.error(exc.kind, str(exc))
            self.log.log(logging.ERROR, exc.kind, f"frame dropped ({exc.kind}): {exc}")
            return False
        except Exception as exc:  # the node must keep running; the traceback goes to the (throttled) log
            self.health.error("internal", f"{type(exc).__name__}: {exc}")
            self.log.log(logging.ERROR, "internal", f"internal error, frame dropped: {exc!r}", exc_info=True)
            return False
        return True

    def record_camera_info(self, msg: Any) -> None:
        """The camera's ``sensor_msgs/CameraInfo`` (its sibling topic); frames use the one with their stamp, else
        the latest. Bounded: the last 16 are kept."""
        with self._camera_lock:
            self._camera_infos[rm.stamp_to_ns(msg.header.stamp)] = msg
            while len(self._camera_infos) > 16:
                del self._camera_infos[min(self._camera_infos)]

    def record_camera_pose(self, mounting: Mounting) -> None:
        """The camera's pose on the vehicle from tf (offline replay reads a converted bag's ``/tf``): the 3D outputs
        use it while ``ground.camera_height_m`` is unset, with ``ground.max_range_m``."""
        self._pose_mounting = replace(mounting, max_range_m=self.params.ground.max_range_m)

    def _ground_state(self) -> str:
        """Whether the 3D outputs are published, and why not."""
        if self._mounting is None and self._pose_mounting is None:
            return "off: ground.camera_height_m unset"
        source = "" if self._mounting is not None else " (camera pose from tf)"
        with self._camera_lock:
            return f"on{source}" if self._camera_infos else "off: no camera_info received"

    def _camera_info_for(self, stamp_ns: int) -> Any:
        with self._camera_lock:
            infos = self._camera_infos
            if not infos:
                return None
            return infos.get(stamp_ns) or infos[max(infos)]

    def record_arrival(self, sequence: int | None, sent_ns: int | None, received_ns: int | None) -> None:
        """What the middleware says of one input message (see :meth:`NodeHealth.arrival`)."""
        self.health.arrival(sequence, sent_ns, received_ns)

    def record_published(self, milliseconds: float) -> None:
        """Time the shell took to publish one frame's outputs (serialisation + DDS write), for diagnostics."""
        self.health.windows["publish_ms"].add(milliseconds)

    def record_dropped(self, n: int = 1) -> None:
        """Count frames replaced by a newer one before they were processed (the shell's latest-frame slot)."""
        self.health.frame_in(n, dropped=True)

    @staticmethod
    def _decode(msg: Any) -> tuple[np.ndarray, bool]:
        """Pixels of ``msg`` as HxWx3 uint8 and whether they are BGR (left so: the pipeline swaps after resizing).

        Size limits, encodings and ``step x height`` are checked by :mod:`anomaly_seg.messages`.
        """
        if hasattr(msg, "format") and not hasattr(msg, "encoding"):
            return rm.compressed_to_rgb(msg), False
        if msg.encoding == "bgr8":
            return rm.image_to_array(msg), True
        return rm.image_to_rgb(msg), False

    # ------------------------------------------------------------------ once / periodic
    def label_info_message(self) -> Any:
        """``vision_msgs/LabelInfo`` with the Cityscapes trainId class map and the anomaly threshold."""
        return self.builder.label_info(self.clock(), self.params.anomaly_threshold)

    def stats(self) -> NodeStats:
        """A consistent snapshot of the counters."""
        return self.health.stats()

    def diagnostics(self, stamp_ns: int | None = None, publishers: int | None = None) -> Any:
        """``diagnostic_msgs/DiagnosticArray`` with one status for this node (stamp defaults to ``clock()``);
        ``publishers``: matched publishers of the input topic, when the shell knows. A WARN or ERROR is also
        logged (throttled per message kind)."""
        level, message = self.health.assess(publishers)
        if level:
            self.log.log(logging.ERROR if level == 2 else logging.WARNING, message.split(" ")[0], message)
        net_h, net_w = self.pipeline.network_size
        size = self.health.last_input_size
        settings = {
            "backend": self.engine.name,
            "input_size": f"{size[1]}x{size[0]}" if size else "none yet",
            "network_size": f"{net_w}x{net_h}",
            "output_resolution": self.params.output.resolution,
            "anomaly_threshold": f"{self.params.anomaly_threshold:g} ({self._threshold_source()})",
            "segment_threshold": self._segment_threshold(),
            "meta_classifier": self.params.segments.meta_classifier_path or "none",
            "ground_3d": self._ground_state(),
        }
        header = rm.header_from_ns(self.factory, self.clock() if stamp_ns is None else stamp_ns, "")
        return self.health.diagnostic_array(
            self.factory,
            header,
            name=f"{self.name}: anomaly segmentation",
            hardware_id=self.engine.name,
            settings=settings,
            assessed=(level, message),
        )


def _model_metadata(engine: Engine, logger: logging.Logger) -> ModelMetadata | None:
    """The model's exported metadata (suggested threshold, operating point); None, with a warning, when it has none
    or it is malformed: the node then runs on its parameters alone."""
    try:
        return ModelMetadata.from_props(dict(engine.metadata), engine.name)
    except ModelFileError as exc:
        logger.warning("model metadata not used: %s", exc)
        return None
