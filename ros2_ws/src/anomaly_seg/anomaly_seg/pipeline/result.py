"""What one frame through the pipeline produces: label, score and segment images, obstacles, timings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Timings:
    """Wall time per stage of one frame, in milliseconds (``decode_ms`` is filled in by the caller)."""

    decode_ms: float = 0.0
    preprocess_ms: float = 0.0
    engine_ms: float = 0.0
    segments_ms: float = 0.0
    meta_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        """Sum of the stages."""
        return (
            self.decode_ms + self.preprocess_ms + self.engine_ms + self.segments_ms + self.meta_ms + self.postprocess_ms
        )


@dataclass(frozen=True)
class Obstacles:
    """Every obstacle segment of a frame (kept or rejected by the meta classifier), coordinates at output size.

    Without a meta classifier every segment is kept and its ``probabilities`` entry is 1.0.
    """

    ids: np.ndarray  # uint16 [N], 1-based, as in Result.obstacle_ids
    boxes_xyxy: np.ndarray  # float32 [N, 4], pixel coordinates of the output images (x2/y2 exclusive)
    areas: np.ndarray  # int64 [N], pixels at the output size (scaled from network resolution)
    probabilities: np.ndarray  # float32 [N], meta-classifier probability of being a true obstacle
    kept: np.ndarray  # bool [N]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> Obstacles:
        """No segments."""
        return cls(
            ids=np.zeros(0, np.uint16),
            boxes_xyxy=np.zeros((0, 4), np.float32),
            areas=np.zeros(0, np.int64),
            probabilities=np.zeros(0, np.float32),
            kept=np.zeros(0, bool),
        )

    def scaled(self, sx: float, sy: float) -> Obstacles:
        """The same segments in images scaled by ``sx`` x ``sy`` (boxes scaled, areas rounded)."""
        boxes = self.boxes_xyxy * np.array([sx, sy, sx, sy], np.float32)
        areas = np.rint(self.areas.astype(np.float64) * (sx * sy)).astype(np.int64)
        return Obstacles(self.ids, boxes, areas, self.probabilities, self.kept)

    def kept_only(self) -> Obstacles:
        """The segments that are published."""
        k = self.kept
        return Obstacles(self.ids[k], self.boxes_xyxy[k], self.areas[k], self.probabilities[k], self.kept[k])


@dataclass
class Result:
    """Pipeline output for one frame. Images are at the output size (input or network, see ``resolution``)."""

    semantic: np.ndarray  # uint8 [H, W] Cityscapes trainIds
    anomaly_score: np.ndarray  # float32 [H, W] LLR
    anomaly_mask: np.ndarray  # uint8 [H, W] 255 where score >= threshold
    obstacle_ids: np.ndarray  # uint16 [H, W] kept segment id per pixel, 0 = none
    obstacles: Obstacles
    input_size: tuple[int, int]  # (height, width) of the camera image
    network_size: tuple[int, int]
    resolution: str  # "input" | "network"
    #: segments above the threshold that were not extracted (smaller than min area or beyond max_segments)
    dropped_segments: int = 0
    timings: Timings = field(default_factory=Timings)
    #: the same frame at network resolution (the engine's own arrays) when ``resolution`` is input, else None
    network: Result | None = None

    def at_network(self) -> Result:
        """This frame's images, boxes and areas at network resolution (itself when already there)."""
        return self if self.network is None else self.network

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the output images."""
        h, w = self.semantic.shape
        return int(h), int(w)
