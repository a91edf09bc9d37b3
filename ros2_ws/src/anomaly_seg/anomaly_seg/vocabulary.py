"""The package's one word list: topic names, ground-truth codes, backends, precisions, modes, regions, resolutions.

Parameters, argparse choices, launch files, message routing and metrics import these names; nothing else in the
package spells them out. Output topics are relative to the node (the rclpy shell prefixes ``~/``, offline replay
``/<node name>/``).
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------------------------------------- topics
TOPIC_INPUT: Final = "input/image"
TOPIC_INPUT_COMPRESSED: Final = "input/image/compressed"
TOPIC_SEMANTIC: Final = "output/semantic"
TOPIC_SEMANTIC_COLOR: Final = "output/semantic_color"
TOPIC_ANOMALY_SCORE: Final = "output/anomaly_score"
TOPIC_ANOMALY_MASK: Final = "output/anomaly_mask"
TOPIC_OBSTACLES: Final = "output/obstacles"
TOPIC_OBSTACLE_IDS: Final = "output/obstacle_ids"
TOPIC_OVERLAY: Final = "output/overlay"
TOPIC_LABEL_INFO: Final = "output/label_info"
TOPIC_CAMERA_INFO: Final = "output/camera_info"
"""The camera's intrinsics at the outputs' resolution, per frame, once the camera's own camera_info arrived."""
TOPIC_NETWORK_CAMERA_INFO: Final = "output/network/camera_info"
"""The same at network resolution, for the images of ``output.network_topics`` (when the rest are at input size)."""
TOPIC_OBSTACLES_3D: Final = "output/obstacles_3d"
TOPIC_ANOMALY_POINTS: Final = "output/anomaly_points"
INPUT_CAMERA_INFO: Final = "camera_info"
"""The camera's CameraInfo: a sibling of its image topic (``/cam/image_raw`` -> ``/cam/camera_info``)."""
TOPIC_PROCESSING_TIME: Final = "debug/processing_time_ms"
TOPIC_PIPELINE_LATENCY: Final = "debug/pipeline_latency_ms"
TOPIC_DIAGNOSTICS: Final = "/diagnostics"
GROUND_TRUTH_TOPIC: Final = "/ground_truth/anomaly"
"""Ground truth in converted bags: mono8, codes :data:`GT_INLIER` / :data:`GT_ANOMALY` / :data:`GT_VOID`."""
GROUND_TRUTH_DEPTH_TOPIC: Final = "/ground_truth/depth"
"""Stereo depth in converted bags (Lost and Found's disparity): 32FC1 metres along the optical axis, NaN unknown
(REP 118), with the image's header."""
TF_TOPIC: Final = "/tf"
"""Per-frame camera calibration in converted bags: :data:`VEHICLE_FRAME` -> the image's frame, with its stamp."""
VEHICLE_FRAME: Final = "base_link"
"""The vehicle frame (REP 103: x forward, y left, z up): ``ground.frame_id``'s default, the parent of ``/tf``."""

OUTPUT_TYPES: Final[dict[str, str]] = {
    TOPIC_OBSTACLES: "Detection2DArray",
    TOPIC_ANOMALY_MASK: "Image",
    TOPIC_OBSTACLE_IDS: "Image",
    TOPIC_ANOMALY_SCORE: "Image",
    TOPIC_SEMANTIC: "Image",
    TOPIC_SEMANTIC_COLOR: "Image",
    TOPIC_OVERLAY: "Image",
    TOPIC_PROCESSING_TIME: "Float64",
    TOPIC_PIPELINE_LATENCY: "Float64",
}
"""Per-frame output topic -> ``MessageFactory`` attribute of its type, in publishing order: what a planner acts on
(obstacles, mask) first, the large debug images last."""
OPTIONAL_TOPICS: Final = frozenset({TOPIC_SEMANTIC_COLOR, TOPIC_OVERLAY})
"""Published only while someone subscribes (the shell decides)."""
NETWORK_RESOLUTION_TOPICS: Final = (TOPIC_ANOMALY_SCORE, TOPIC_SEMANTIC, TOPIC_SEMANTIC_COLOR, TOPIC_OVERLAY)
"""Debug images that ``output.network_topics`` may put at network resolution (a quarter of the bytes at
2048x1024) while the planner's mask and the obstacle ids keep ``output.resolution``."""
CONDITIONAL_OUTPUT_TYPES: Final[dict[str, str]] = {
    TOPIC_OBSTACLES_3D: "Detection3DArray",
    TOPIC_ANOMALY_POINTS: "PointCloud2",
    TOPIC_CAMERA_INFO: "CameraInfo",
    TOPIC_NETWORK_CAMERA_INFO: "CameraInfo",
}
"""Per-frame outputs that exist only when their inputs do: camera_info needs the camera's own (its network twin
also some of ``output.network_topics`` at input resolution), the ground-plane outputs need it and the mounting
(``ground.camera_height_m`` > 0)."""
ANOMALY_CLASS_ID: Final = "anomaly"
"""``ObjectHypothesis.class_id`` of every published obstacle."""

# ---------------------------------------------------------------------------------------------- ground truth
GT_INLIER: Final = 0
GT_ANOMALY: Final = 1
GT_VOID: Final = 255
"""Ground-truth codes (Lost and Found / SMIYC convention): void pixels are never scored."""

# ---------------------------------------------------------------------------------------------- engines
BACKEND_AUTO: Final = "auto"
RUNTIME_BACKENDS: Final = ("tensorrt", "onnxruntime", "torch")
BACKENDS: Final = (BACKEND_AUTO, *RUNTIME_BACKENDS)
"""``model.backend`` / ``--backend``: auto = TensorRT if available, else ONNX Runtime."""
PRECISIONS: Final = ("fp16", "fp32", "int8")
"""Model precision: the types of the exported ONNX (``model.onnx`` fp32, ``model.fp16.onnx``, ``model.int8.onnx``),
which the strongly typed TensorRT engine built from it keeps."""
MODES: Final = ("full", "sliding")
"""Full frame (resize to the network size, the real-time default) or sliding window (the accuracy mode)."""
ENGINE_SHARING: Final = ("round_robin", "batched")
"""How one engine serves several cameras (``cameras.engine_sharing``)."""

# ---------------------------------------------------------------------------------------------- node settings
QOS_PROFILES: Final = ("sensor_data", "reliable", "best_effort")
RESOLUTIONS: Final = ("input", "network")
"""Size of the output images: the camera's or the network's."""
REGION_ROAD: Final = "road"
REGION_ALL: Final = "all"
REGIONS: Final = (REGION_ROAD, REGION_ALL)
"""Where anomalous pixels may form segments (``segments.region``)."""
ROAD_TRAIN_IDS: Final[tuple[int, ...]] = (0, 1)
"""The road region preset: Cityscapes trainIds road and sidewalk."""
ROAD_DILATION_PX: Final = 24
"""Default growth of the road region (network pixels) so that obstacles standing on the road stay inside."""

# ---------------------------------------------------------------------------------------------- evaluation
PROTOCOLS: Final = ("benchmark", "deployed")
"""Evaluation protocol: the benchmark's segments (void zeroed first, every segment counted) or the node's rule."""
