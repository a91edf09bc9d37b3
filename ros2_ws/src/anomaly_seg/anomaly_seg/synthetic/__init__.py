"""Synthetic road scenes with Cityscapes labels and anomaly masks, and writers of the published dataset layouts.

``generate_scene(height, width, seed)`` is deterministic in its arguments; ``obstacle_patch`` draws one obstacle
of a kind that no inlier class looks like (``TRAIN_OBSTACLE_KINDS`` for training negatives, the disjoint
``HELDOUT_OBSTACLE_KINDS`` for evaluation on unseen kinds).
"""

from anomaly_seg.synthetic.camera import Camera
from anomaly_seg.synthetic.layouts import (
    LOSTANDFOUND_CLASS_IDS,
    LOSTANDFOUND_FREE_SPACE,
    ROAD_ANOMALY_ID,
    frame_seed,
    write_cityscapes_layout,
    write_fishyscapes_layout,
    write_lostandfound_layout,
    write_road_anomaly_layout,
    write_smiyc_layout,
)
from anomaly_seg.synthetic.obstacles import (
    HELDOUT_OBSTACLE_KINDS,
    OBSTACLE_KINDS,
    TRAIN_OBSTACLE_KINDS,
    obstacle_patch,
)
from anomaly_seg.synthetic.scene import ObstacleInstance, Scene, generate_scene

__all__ = [
    "HELDOUT_OBSTACLE_KINDS",
    "LOSTANDFOUND_CLASS_IDS",
    "LOSTANDFOUND_FREE_SPACE",
    "OBSTACLE_KINDS",
    "ROAD_ANOMALY_ID",
    "TRAIN_OBSTACLE_KINDS",
    "Camera",
    "ObstacleInstance",
    "Scene",
    "frame_seed",
    "generate_scene",
    "obstacle_patch",
    "write_cityscapes_layout",
    "write_fishyscapes_layout",
    "write_lostandfound_layout",
    "write_road_anomaly_layout",
    "write_smiyc_layout",
]
