"""The rclpy shell of live replay evaluation (``anomaly_seg_eval``): node outputs + ground truth -> report.

``ros2 bag play`` publishes the camera and ``/ground_truth/anomaly``; the anomaly_seg node publishes its outputs
with the camera stamps. This node subscribes to both, matches them by header stamp and feeds the same
:class:`~anomaly_seg.evaluation.bag_evaluator.ReplayEvaluator` as ``anomaly-seg evaluate``; at shutdown it writes
the same report. Ground-truth stamps without outputs (frames the node dropped because inference was slower than
playback, or rejected) are counted and reported. Only wiring lives here.
"""

from __future__ import annotations

import importlib
import math
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.utilities import try_shutdown

from anomaly_seg.errors import AnomalySegError
from anomaly_seg.evaluation.bag_evaluator import EvalSettings, ReplayEvaluator
from anomaly_seg.evaluation.matching import StampMatcher
from anomaly_seg.evaluation.routing import OUTPUT_SUFFIXES, feed, required_parts
from anomaly_seg.metrics.components import SIZE_FILTERS
from anomaly_seg.parameters import ParamSpec, validate_values
from anomaly_seg.ros.declare import declare_table
from anomaly_seg.segments import SegmentParams
from anomaly_seg.vocabulary import GROUND_TRUTH_TOPIC, PROTOCOLS, REGION_ALL, REGIONS, TOPIC_DIAGNOSTICS

#: every parameter of the evaluator node (the same table machinery as the node's)
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("outputs_namespace", "/camera/anomaly_seg", "namespace of the node's output/ and debug/ topics"),
    ParamSpec("image_topic", "/camera/image_raw", "camera topic (for the log only; outputs carry its stamps)"),
    ParamSpec("ground_truth_topic", GROUND_TRUTH_TOPIC, "mono8 ground truth (0 inlier, 1 anomaly, 255 void)"),
    ParamSpec("report_dir", "replay_report", "report folder written at shutdown"),
    ParamSpec(
        "threshold", float("nan"), "anomaly score threshold; NaN = the node's (from its LabelInfo)", nan_allowed=True
    ),
    ParamSpec("min_area_px", 0, "smallest rescored segment, in ground-truth pixels", min_value=0),
    ParamSpec("region", REGION_ALL, "where rescored segments may lie", choices=REGIONS),
    ParamSpec("sheet_frames", 12, "frames in the overlay contact sheet", min_value=0),
    ParamSpec(
        "protocol",
        "benchmark",
        "segment counting: benchmark (void zeroed first, all segments) or deployed (the node)",
        choices=PROTOCOLS,
    ),
    ParamSpec("component_size_filter", "none", "SMIYC component size filter", choices=tuple(SIZE_FILTERS)),
)
#: evaluation must not lose messages: reliable and deep (the player's QoS overrides match)
RELIABLE_DEEP = QoSProfile(depth=200, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


class EvalNode(Node):
    """Subscribes to ground truth and node outputs; ``finish()`` writes the report."""

    def __init__(self, node_name: str = "anomaly_seg_eval") -> None:
        super().__init__(node_name)
        self.log: Any = Node.get_logger(self)
        declare_table(self, PARAMETERS)
        given = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        values: dict[str, Any] = validate_values(PARAMETERS, given)  # ConfigError naming the parameter
        threshold = float(values["threshold"])
        rule = SegmentParams.for_region(values["region"], threshold=0.0, min_area_px=values["min_area_px"])
        settings = EvalSettings(
            threshold=None if math.isnan(threshold) else threshold,
            min_area_px=rule.min_area_px,
            region=rule.region,
            region_dilation_px=rule.region_dilation_px,
            sheet_frames=int(values["sheet_frames"]),
            protocol=values["protocol"],
            size_filter=values["component_size_filter"],
        )
        self.report_dir = str(values["report_dir"])
        self.evaluator = ReplayEvaluator(settings)
        self.evaluator.source = f"live: {values['image_topic']}"
        namespace = str(values["outputs_namespace"]).rstrip("/")
        self.namespace = namespace
        self.gt_topic = str(values["ground_truth_topic"])
        self.matcher = StampMatcher(required_parts(set(OUTPUT_SUFFIXES)), settings.max_pending, settings.max_pending_ns)
        self._lock = threading.Lock()
        self._finished = False
        sensor = importlib.import_module("sensor_msgs.msg")
        vision = importlib.import_module("vision_msgs.msg")
        std = importlib.import_module("std_msgs.msg")
        diagnostic = importlib.import_module("diagnostic_msgs.msg")
        part_types = {"boxes": vision.Detection2DArray, "latency": std.Float64, "label_info": vision.LabelInfo}
        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        for suffix, part in OUTPUT_SUFFIXES.items():
            qos = latched if part == "label_info" else RELIABLE_DEEP
            self._subscribe(part_types.get(part, sensor.Image), f"{namespace}/{suffix}", part, suffix, qos)
        self._subscribe(sensor.Image, str(values["ground_truth_topic"]), "gt", "", RELIABLE_DEEP)
        self._subscribe(diagnostic.DiagnosticArray, TOPIC_DIAGNOSTICS, "diagnostics", "", RELIABLE_DEEP)
        self.log.info(f"evaluating {namespace}/output/* against {values['ground_truth_topic']} -> {self.report_dir}")

    def _subscribe(self, msg_type: Any, topic: str, part: str, suffix: str, qos: QoSProfile) -> None:
        # rclpy keeps the subscription (Node.subscriptions); a list of our own named _subscriptions would shadow
        # rclpy's and make destroy_node() fail.
        self.create_subscription(msg_type, topic, self._callback(part, suffix), qos)

    def _callback(self, part: str, suffix: str) -> Callable[[Any], None]:
        def on_message(msg: Any) -> None:
            with self._lock:
                if self._finished:
                    return
                try:
                    feed(self.matcher, self.evaluator, part, msg, suffix)
                except (AnomalySegError, ValueError) as exc:
                    self.log.error(f"cannot evaluate a {part} message: {exc}")

        return on_message

    def finish(self) -> int:
        """Count the unmatched frames and write the report (once); 0, or 1 when no frame could be evaluated."""
        with self._lock:
            if self._finished:
                return 0 if self.evaluator.frames else 1
            self._finished = True
            self.matcher.flush()
            files = self.evaluator.write_report(self.report_dir, self.matcher, title="live replay")
        m = self.matcher
        print(
            f"anomaly_seg_eval: {self.evaluator.frames} frames evaluated, {m.gt_without_outputs} ground-truth frames "
            f"without outputs (dropped by the node), {m.outputs_without_gt} without ground truth; "
            f"report: {files[-1]}",
            file=sys.stderr,
        )
        if not self.evaluator.frames:
            print(
                f"anomaly_seg_eval: error: no frame evaluated (no ground truth on {self.gt_topic} or no outputs "
                f"under {self.namespace}/output/ with matching stamps)",
                file=sys.stderr,
            )
            return 1
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``anomaly_seg_eval``: spin until shutdown, then write the report."""
    rclpy.init(args=list(argv) if argv is not None else None)
    node: EvalNode | None = None
    code = 0
    try:
        node = EvalNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except AnomalySegError as exc:
        print(f"anomaly_seg_eval: error ({exc.kind}): {exc}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            code = node.finish() or code
            Node.destroy_node(node)
        try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
