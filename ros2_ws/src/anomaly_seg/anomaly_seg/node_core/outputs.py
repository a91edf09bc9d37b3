"""What the node publishes for one frame, typed (:class:`NodeOutputs`), and the builder that turns it into messages.

NodeCore computes :class:`NodeOutputs` (arrays, obstacles, stamps, the decoded image for the overlay); only
:class:`MessageBuilder` knows message types. The same outputs become rclpy messages in the node and rosbags
dataclasses in replay, depending on the factory.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from anomaly_seg import messages as rm
from anomaly_seg.labels import CLASS_NAMES, colorize
from anomaly_seg.pipeline import Result
from anomaly_seg.pipeline.ground import GroundObstacles
from anomaly_seg.pipeline.overlay import render_overlay
from anomaly_seg.vocabulary import (
    ANOMALY_CLASS_ID,
    TOPIC_ANOMALY_MASK,
    TOPIC_ANOMALY_POINTS,
    TOPIC_ANOMALY_SCORE,
    TOPIC_CAMERA_INFO,
    TOPIC_NETWORK_CAMERA_INFO,
    TOPIC_OBSTACLE_IDS,
    TOPIC_OBSTACLES,
    TOPIC_OBSTACLES_3D,
    TOPIC_OVERLAY,
    TOPIC_PIPELINE_LATENCY,
    TOPIC_PROCESSING_TIME,
    TOPIC_SEMANTIC,
    TOPIC_SEMANTIC_COLOR,
)

OutputMessage = tuple[str, Any]
"""``(topic relative to the node, message)``."""


@dataclass(frozen=True)
class NodeOutputs:
    """One processed frame: the pipeline's result and what the messages need besides it.

    ``image`` is the decoded camera frame (RGB, or BGR when ``bgr``) and ``network_input`` the RGB network input
    of the same frame; both are only read by the overlay. ``header`` is the input message's header.
    """

    header: Any
    stamp_ns: int
    result: Result
    image: np.ndarray
    bgr: bool
    network_input: np.ndarray
    #: the camera's CameraInfo for this frame (same stamp, else the latest), None before one arrived
    camera_info: Any = None
    #: the kept obstacles on the ground (needs camera_info and the mounting), and the frame they are in
    ground: GroundObstacles | None = None
    ground_frame_id: str = ""

    @property
    def segment_counts(self) -> tuple[int, int, int]:
        """(published, rejected by the meta classifier, dropped below min area or over the cap)."""
        published = int(np.count_nonzero(self.result.obstacles.kept))
        return published, len(self.result.obstacles) - published, self.result.dropped_segments


class MessageBuilder:
    """Maps :class:`NodeOutputs` to the per-frame messages of DESIGN.md §4, in publishing order (``OUTPUT_TYPES``:
    planner-facing messages first, so they leave before the large debug images are even serialised)."""

    def __init__(
        self, factory: rm.MessageFactory, overlay_alpha: float, network_topics: Collection[str] = frozenset()
    ) -> None:
        self.factory = factory
        self.overlay_alpha = overlay_alpha
        #: of ``NETWORK_RESOLUTION_TOPICS``: published at network resolution (``output.network_topics``)
        self.network_topics = frozenset(network_topics)

    def frame_messages(self, outputs: NodeOutputs, wanted: Collection[str] | None = None) -> list[OutputMessage]:
        """Images and detections of one frame; ``wanted=None`` means every topic."""
        return self.planner_messages(outputs, wanted) + self.image_messages(outputs, wanted)

    def planner_messages(self, outputs: NodeOutputs, wanted: Collection[str] | None = None) -> list[OutputMessage]:
        """What a planner acts on (small): obstacles in 2D and 3D, the ground points and the mask."""
        factory, result = self.factory, outputs.result
        header = rm.copy_header(factory, outputs.header)
        kept = result.obstacles.kept_only()
        messages: list[OutputMessage] = []

        def add(topic: str, build: Any) -> None:
            if wanted is None or topic in wanted:
                messages.append((topic, build()))

        add(
            TOPIC_OBSTACLES,
            lambda: rm.detection2d_array(
                factory, header, kept.ids, kept.boxes_xyxy, kept.probabilities, ANOMALY_CLASS_ID
            ),
        )
        if outputs.ground is not None:
            g = outputs.ground
            vehicle = rm.header_from_ns(factory, outputs.stamp_ns, outputs.ground_frame_id)
            scores = dict(zip(kept.ids.tolist(), kept.probabilities.tolist()))
            probabilities = [scores.get(int(i), 1.0) for i in g.ids]
            add(
                TOPIC_OBSTACLES_3D,
                lambda: rm.detection3d_array(factory, vehicle, g.ids, g.centres, g.sizes, probabilities),
            )
            add(TOPIC_ANOMALY_POINTS, lambda: rm.xyz_cloud(factory, vehicle, g.points))
        add(TOPIC_ANOMALY_MASK, lambda: rm.array_to_image(factory, result.anomaly_mask, "mono8", header))
        return messages

    def image_messages(self, outputs: NodeOutputs, wanted: Collection[str] | None = None) -> list[OutputMessage]:
        """The rest of a frame: camera_info, the id, score and class images, colours and the overlay."""
        factory, result = self.factory, outputs.result
        header = rm.copy_header(factory, outputs.header)
        messages: list[OutputMessage] = []

        def add(topic: str, build: Any) -> None:
            if wanted is None or topic in wanted:
                messages.append((topic, build()))

        def at(topic: str) -> Result:
            return result.at_network() if topic in self.network_topics else result

        if outputs.camera_info is not None:
            h, w = result.output_size
            add(TOPIC_CAMERA_INFO, lambda: rm.scaled_camera_info(outputs.camera_info, header, h, w))
            if result.network is not None and self.network_topics:
                nh, nw = result.network_size
                add(TOPIC_NETWORK_CAMERA_INFO, lambda: rm.scaled_camera_info(outputs.camera_info, header, nh, nw))
        add(TOPIC_OBSTACLE_IDS, lambda: rm.array_to_image(factory, result.obstacle_ids, "mono16", header))
        add(
            TOPIC_ANOMALY_SCORE,
            lambda: rm.array_to_image(factory, at(TOPIC_ANOMALY_SCORE).anomaly_score, "32FC1", header),
        )
        add(TOPIC_SEMANTIC, lambda: rm.array_to_image(factory, at(TOPIC_SEMANTIC).semantic, "mono8", header))
        add(
            TOPIC_SEMANTIC_COLOR,
            lambda: rm.array_to_image(factory, colorize(at(TOPIC_SEMANTIC_COLOR).semantic), "rgb8", header),
        )
        add(TOPIC_OVERLAY, lambda: rm.array_to_image(factory, self.overlay(outputs, at(TOPIC_OVERLAY)), "bgr8", header))
        return messages

    def timing_messages(
        self, processing_ms: float, latency_ms: float, wanted: Collection[str] | None = None
    ) -> list[OutputMessage]:
        """The two debug timings of one frame (``std_msgs/Float64``)."""
        return [
            (topic, self.factory.Float64(data=float(value)))
            for topic, value in ((TOPIC_PROCESSING_TIME, processing_ms), (TOPIC_PIPELINE_LATENCY, latency_ms))
            if wanted is None or topic in wanted
        ]

    def overlay(self, outputs: NodeOutputs, result: Result | None = None) -> np.ndarray:
        """The RViz overlay (BGR) of ``result`` (default: the frame's, at the output resolution)."""
        result = outputs.result if result is None else result
        if result.resolution == "network":
            base = cv2.cvtColor(outputs.network_input[0], cv2.COLOR_RGB2BGR)
        else:
            base = outputs.image if outputs.bgr else cv2.cvtColor(outputs.image, cv2.COLOR_RGB2BGR)
        obstacles = result.obstacles.kept_only()
        return render_overlay(base, result.semantic, result.anomaly_mask, obstacles, self.overlay_alpha)

    def label_info(self, stamp_ns: int, threshold: float) -> Any:
        """``vision_msgs/LabelInfo`` with the Cityscapes trainId class map and the anomaly threshold."""
        header = rm.header_from_ns(self.factory, stamp_ns, "")
        return rm.label_info(self.factory, header, list(CLASS_NAMES), float(threshold))
