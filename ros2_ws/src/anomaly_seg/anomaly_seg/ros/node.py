"""The rclpy shell (``anomaly_seg_node``): parameters, topics, a worker thread and timers around :class:`NodeCore`.

Everything that decides something lives in :mod:`anomaly_seg.node_core.core`; this module only wires ROS to it.
The subscription callback hands the frame to a :class:`~anomaly_seg.node_core.runner.FrameRunner` and returns at once:
the runner keeps the newest frame in a one-element slot and runs NodeCore's stages in its own threads (pipelined
by default), so the executor never blocks and older frames are dropped (and counted) when the node is behind.

Parameters: every override given to the node (parameter files, ``-p``) is read, validated by
:meth:`NodeParams.from_dict` exactly as offline replay validates a YAML (an integer for a double is taken,
an unknown key is refused), then declared with its descriptor (type, range, read-only).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.utilities import ok as rclpy_ok
from rclpy.utilities import try_shutdown

from anomaly_seg import vocabulary
from anomaly_seg.errors import AnomalySegError
from anomaly_seg.node_core import core
from anomaly_seg.node_core.naming import camera_prefix
from anomaly_seg.node_core.params import PARAMETERS, SPECS, TUNABLE, NodeParams
from anomaly_seg.node_core.runner import FrameRunner
from anomaly_seg.ros import dds
from anomaly_seg.ros.declare import descriptor

#: depth of the per-frame output publishers (a camera-size frame is ~28 MB of outputs at 2048x1024)
OUTPUT_DEPTH = 2

DIAGNOSTICS_PERIOD_S = 1.0


def named_qos(name: str, depth: int = 1) -> QoSProfile:
    """QoS of an ``input.qos`` / ``output.qos`` value (vocabulary.QOS_PROFILES), keep last ``depth``."""
    if name == "sensor_data":
        profile = QoSProfile(depth=depth)
        profile.reliability = qos_profile_sensor_data.reliability
        profile.durability = qos_profile_sensor_data.durability
        return profile
    reliability = ReliabilityPolicy.RELIABLE if name == "reliable" else ReliabilityPolicy.BEST_EFFORT
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=reliability)


def input_qos(name: str) -> QoSProfile:
    """Image subscription QoS for the ``input.qos`` parameter (always depth 1: the newest frame wins)."""
    return named_qos(name, 1)


class _RosLogHandler(logging.Handler):
    """Forwards :mod:`logging` records of NodeCore to the node's rclpy logger."""

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self._ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.levelno >= logging.ERROR:
            self._ros_logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._ros_logger.warning(text)
        elif record.levelno >= logging.INFO:
            self._ros_logger.info(text)
        else:
            self._ros_logger.debug(text)


class AnomalySegNode(Node):
    """Subscribes to ``~/input/image[/compressed]`` and publishes the outputs of DESIGN.md §4 under ``~/``; with
    ``cameras.topics``, the same for every listed camera topic under ``/<camera ns>/anomaly_seg/``, all cameras
    on one engine (:class:`~anomaly_seg.engines.shared.SharedEngine`)."""

    def __init__(self, node_name: str = "anomaly_seg") -> None:
        # Overrides are declared as given so that every key is seen (and unknown ones refused) in _read_parameters.
        super().__init__(node_name, automatically_declare_parameters_from_overrides=True)
        self.log: Any = Node.get_logger(self)  # via the base class: rclpy leaves it unannotated
        self.params = self._read_parameters()

        from anomaly_seg.engines import load_engine
        from anomaly_seg.messages import ros_factory

        m = self.params.model
        self.log.info(f"loading model {m.path} (backend {m.backend}, precision {m.precision})")
        self.engine = load_engine(
            m.path,
            backend=m.backend,
            precision=m.precision,
            force_engine_update=m.force_engine_update,
            log=self.log.info,
        )
        if m.build_only:
            return
        self.factory = ros_factory()
        self.engine.warmup()
        self._diagnostics_pub = self.create_publisher(self.factory.DiagnosticArray, vocabulary.TOPIC_DIAGNOSTICS, 10)
        topics = self.params.cameras.topics
        if topics:  # one engine for every camera; outputs named as with one node per camera
            from anomaly_seg.engines.shared import SharedEngine

            c = self.params.cameras
            self.shared_engine = SharedEngine(self.engine, c.engine_sharing, max_wait_ms=c.batch_wait_ms)
            self.cameras = [
                _Camera(self, camera_prefix(topic, self.get_namespace(), i), topic, self.shared_engine.view())
                for i, topic in enumerate(topics)
            ]
        else:
            self.cameras = [_Camera(self, "~", f"~/{vocabulary.TOPIC_INPUT}", self.engine)]
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        for camera in self.cameras:
            self.log.info(
                f"ready: {camera.core.engine.name}, network {self.engine.input_size}, listening on "
                f"{camera.input_topic} ({self.params.input.qos}), outputs under {camera.prefix}/"
            )

    def _read_parameters(self) -> NodeParams:
        given = {name: self.get_parameter(name).value for name in self.list_parameters([], 0).names}
        params = NodeParams.from_dict(given)  # ConfigError naming the key for anything invalid or unknown
        values = params.to_dict()
        for spec in PARAMETERS:
            value = values[spec.name]
            if self.has_parameter(spec.name):
                self.undeclare_parameter(spec.name)  # declared untyped from the override; redeclare typed
            self.declare_parameter(spec.name, value, descriptor(spec), ignore_override=True)
        return params

    def _on_set_parameters(self, parameters: list[Any]) -> Any:
        """``ros2 param set`` on a running node: the tunable parameters (``node_core.params.TUNABLE``) are
        validated by the start-up rules and applied from the next frame of every camera; anything else is refused
        with the reason (read-only ones by rclpy itself, from their descriptor)."""
        result = importlib.import_module("rcl_interfaces.msg").SetParametersResult
        values: dict[str, Any] = self.params.to_dict()
        changed = []
        for parameter in parameters:
            if parameter.name not in SPECS:
                continue  # ROS's own (use_sim_time, ...)
            if parameter.name not in TUNABLE:
                return result(successful=False, reason=f"parameter '{parameter.name}' is read-only: restart the node")
            values[parameter.name] = parameter.value
            changed.append(f"{parameter.name}={parameter.value!r}")
        if not changed:
            return result(successful=True)
        try:
            given = self.params.given | {p.name for p in parameters if p.name in SPECS}
            params = NodeParams.from_dict(values, check_files=False, given=given)
        except AnomalySegError as exc:
            return result(successful=False, reason=str(exc))
        for camera in self.cameras:
            camera.core.update_params(params)
            camera.label_info.publish(camera.core.label_info_message())
        self.params = params
        self.log.info(f"parameters changed at run time: {', '.join(changed)}")
        return result(successful=True)

    def _publish_failed(self, exc: BaseException) -> bool:
        if not self.context.ok():  # shut down (SIGINT) while frames were in flight: stop quietly
            return False
        self.log.error(f"publishing a frame's outputs failed: {exc!r}")
        return True

    def _publish_diagnostics(self) -> None:
        try:
            for camera in self.cameras:
                publishers = camera.subscription.get_publisher_count()
                self._diagnostics_pub.publish(camera.core.diagnostics(publishers=publishers))
        except Exception as exc:  # rclpy errors once SIGINT has shut the context down mid-callback
            self._publish_failed(exc)

    def stop(self) -> None:
        """Stop taking frames, let those in flight finish, and wait for the runners' threads."""
        for camera in getattr(self, "cameras", []):
            camera.runner.close()


class _Camera:
    """One camera inside the node: its subscription, NodeCore, runner and publishers (``prefix``/output/...)."""

    def __init__(self, node: AnomalySegNode, prefix: str, input_topic: str, engine: Any) -> None:
        self.node = node
        self.prefix = node.resolve_topic_name(prefix) if prefix != "~" else node.get_fully_qualified_name()
        params, factory = node.params, node.factory
        logger = logging.getLogger(f"anomaly_seg.node{self.prefix.replace('/', '.')}")
        logger.propagate = False
        logger.addHandler(_RosLogHandler(node.log))
        logger.setLevel(logging.DEBUG)
        self.core = core.NodeCore(
            params,
            engine,
            factory,
            clock=lambda: int(node.get_clock().now().nanoseconds),
            name=self.prefix,
            logger=logger,
        )
        types = {**vocabulary.OUTPUT_TYPES, **vocabulary.CONDITIONAL_OUTPUT_TYPES}
        self.outputs: dict[str, Publisher] = {
            topic: node.create_publisher(
                getattr(factory, type_name), f"{prefix}/{topic}", named_qos(params.output.qos, OUTPUT_DEPTH)
            )
            for topic, type_name in types.items()
        }
        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        self.label_info = node.create_publisher(factory.LabelInfo, f"{prefix}/{vocabulary.TOPIC_LABEL_INFO}", latched)
        self.label_info.publish(self.core.label_info_message())
        self.runner = FrameRunner(
            self.core,
            self._publish,
            wanted=self._wanted,
            pipelined=params.execution.pipelined,
            name=self.prefix.strip("/").replace("/", "-") or "anomaly_seg",
            on_error=node._publish_failed,
            early=self._publish_early,  # obstacles, 3D, ground points and mask leave before the images are built
        )
        compressed = params.input.compressed
        msg_type = factory.CompressedImage if compressed else factory.Image
        if compressed:
            input_topic = f"{input_topic}/compressed" if prefix != "~" else f"~/{vocabulary.TOPIC_INPUT_COMPRESSED}"
        qos = input_qos(params.input.qos)
        # rclpy passes MessageInfo to two-argument callbacks; its type hints only know the one-argument form
        self.subscription = node.create_subscription(msg_type, input_topic, self._on_image, qos)  # type: ignore[arg-type]
        self.input_topic = node.resolve_topic_name(input_topic)
        # the camera's camera_info is the image topic's sibling (/cam/image_raw[/compressed] -> /cam/camera_info)
        camera_ns = self.input_topic.removesuffix("/compressed").rsplit("/", 1)[0]
        self.camera_info_topic = f"{camera_ns}/{vocabulary.INPUT_CAMERA_INFO}"
        self.camera_info = node.create_subscription(
            factory.CameraInfo, self.camera_info_topic, self.core.record_camera_info, qos
        )

    def _on_image(self, msg: Any, info: dict[str, Any]) -> None:
        self.core.record_arrival(
            info.get("publication_sequence_number"), info.get("source_timestamp"), info.get("received_timestamp")
        )
        self.runner.submit(msg)

    def _wanted(self) -> set[str]:
        if not self.node.context.ok():  # shutting down: nothing will be published
            return set()
        return {
            topic
            for topic, pub in self.outputs.items()
            if topic not in vocabulary.OPTIONAL_TOPICS or pub.get_subscription_count() > 0
        }

    def _publish(self, outputs: list[tuple[str, Any]]) -> None:
        t0 = time.perf_counter()
        for topic, out in outputs:
            self.outputs[topic].publish(out)
        self.core.record_published((time.perf_counter() - t0) * 1e3)

    def _publish_early(self, outputs: list[tuple[str, Any]]) -> None:
        """A frame's planner-facing messages (small; ``publish_ms`` measures the rest)."""
        for topic, out in outputs:
            self.outputs[topic].publish(out)


#: how long an exception out of the executor waits for a shutdown under way to show before it counts as an error
SHUTDOWN_GRACE_S = 1.0


def _context_stays_up(seconds: float) -> bool:
    """Whether rclpy's context is still up after ``seconds`` (False as soon as it goes down)."""
    deadline = time.monotonic() + seconds
    while rclpy_ok():
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.02)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``anomaly_seg_node``; exits non-zero on a bad parameter or model file."""
    profile = dds.apply_default_profile(os.environ)
    rclpy.init(args=list(argv) if argv is not None else None)
    node: AnomalySegNode | None = None
    code = 0
    try:
        node = AnomalySegNode()
        if profile is not None:
            node.log.info(f"Fast DDS profile for large images: {profile} (FASTRTPS_DEFAULT_PROFILES_FILE overrides)")
        if node.params.model.build_only:
            node.log.info(f"model.build_only: engine ready ({node.engine.name}), exiting")
            return 0
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except AnomalySegError as exc:
        print(f"anomaly_seg_node: error ({exc.kind}): {exc}", file=sys.stderr)
        code = 1
    except ParameterException as exc:  # a value that violates a declared type or range
        print(f"anomaly_seg_node: error (config): {exc}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # rclpy shuts the context down on SIGINT from its own thread, so a call already under way in the executor
        # can fail (RCLError "context is invalid"; once, a pybind11 "Unable to convert call argument" from
        # take_message) just before the context reports the shutdown: that is a clean shutdown. Anything raised
        # while the context stays up is a real error.
        if _context_stays_up(SHUTDOWN_GRACE_S):
            raise
    finally:
        if node is not None:
            node.stop()
            Node.destroy_node(node)
        try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
