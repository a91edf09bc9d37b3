"""Which node output topics the evaluator reads, and the routing of one message into matcher and evaluator (shared
by the bag evaluator and the live evaluator node)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from anomaly_seg import messages as rm
from anomaly_seg.evaluation.bag_evaluator import ReplayEvaluator
from anomaly_seg.evaluation.distance import CameraModel
from anomaly_seg.evaluation.matching import FrameOutputs, StampMatcher
from anomaly_seg.pipeline.ground import Mounting
from anomaly_seg.vocabulary import (
    TOPIC_ANOMALY_SCORE,
    TOPIC_LABEL_INFO,
    TOPIC_OBSTACLE_IDS,
    TOPIC_OBSTACLES,
    TOPIC_OVERLAY,
    TOPIC_PIPELINE_LATENCY,
    TOPIC_PROCESSING_TIME,
    TOPIC_SEMANTIC,
    VEHICLE_FRAME,
)

#: topic suffix under the node's namespace -> how the evaluator uses it
OUTPUT_SUFFIXES: Final = {
    TOPIC_ANOMALY_SCORE: "score",
    TOPIC_SEMANTIC: "semantic",
    TOPIC_OBSTACLE_IDS: "obstacle_ids",
    TOPIC_OVERLAY: "overlay_bgr",
    TOPIC_OBSTACLES: "boxes",
    TOPIC_LABEL_INFO: "label_info",
    TOPIC_PROCESSING_TIME: "latency",
    TOPIC_PIPELINE_LATENCY: "latency",
}


def required_parts(available_suffixes: set[str]) -> set[str]:
    """Parts a frame needs before it is evaluated, given the node output topics that exist."""
    parts = {"score", "semantic"}
    for suffix in (TOPIC_OBSTACLE_IDS, TOPIC_OVERLAY, TOPIC_OBSTACLES):
        if suffix in available_suffixes:
            parts.add(OUTPUT_SUFFIXES[suffix])
    return parts


DISTANCE_PARTS: Final = ("depth", "camera", "mounting")
"""Frame parts for the distance evaluation: stereo depth, the camera's camera_info and its ``/tf`` pose."""


def feed(
    matcher: StampMatcher, evaluator: ReplayEvaluator, part: str, msg: Any, suffix: str = ""
) -> list[FrameOutputs]:
    """Route one message (``part`` from :data:`OUTPUT_SUFFIXES`, ``gt``, ``diagnostics`` or one of
    :data:`DISTANCE_PARTS`) into the matcher and evaluator; completed frames are evaluated and returned. Shared by
    the bag evaluator and the live node."""
    if part == "latency":
        evaluator.add_latency(suffix.rsplit("/", 1)[-1], float(msg.data))
        return []
    if part == "label_info":
        evaluator.set_node_threshold(float(msg.threshold))
        return []
    if part == "diagnostics":
        for status in msg.status:
            evaluator.add_diagnostics({kv.key: kv.value for kv in status.values})
        return []
    if part == "mounting":
        try:
            poses = rm.tf_poses(msg, parent=VEHICLE_FRAME)
        except ValueError as exc:
            evaluator.add_bad_calibration(str(exc))
            return []
        done = []
        for pose in poses:
            done += matcher.add("mounting", pose.stamp_ns, Mounting.from_pose(pose.translation, pose.rotation))
    elif part == "camera":
        k = np.asarray(msg.k, np.float64).reshape(3, 3)
        done = matcher.add(
            "camera", rm.stamp_to_ns(msg.header.stamp), CameraModel(k, (int(msg.height), int(msg.width)))
        )
    elif part == "boxes":
        _, boxes, scores = rm.detections_to_arrays(msg)
        done = matcher.add_boxes(rm.stamp_to_ns(msg.header.stamp), boxes, scores)
    else:
        done = matcher.add(part, rm.stamp_to_ns(msg.header.stamp), rm.image_to_array(msg))
    for frame in done:
        evaluator.add_frame(frame)
    return done
