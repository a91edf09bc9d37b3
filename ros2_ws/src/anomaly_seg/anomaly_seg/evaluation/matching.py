"""Pairing the node's outputs with the ground truth of the same header stamp (bounded memory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from anomaly_seg.evaluation.distance import CameraModel
from anomaly_seg.pipeline.ground import Mounting


@dataclass
class FrameOutputs:
    """What the node published for one stamp (images at the output size) and its ground truth."""

    stamp_ns: int
    gt: np.ndarray | None = None
    score: np.ndarray | None = None
    semantic: np.ndarray | None = None
    obstacle_ids: np.ndarray | None = None
    overlay_bgr: np.ndarray | None = None
    boxes: np.ndarray | None = None  # float [N, 4] xyxy of the published obstacles
    box_scores: np.ndarray | None = None
    #: stereo depth (m, NaN unknown), the camera's intrinsics and its mounting where the bag has them
    depth: np.ndarray | None = None
    camera: CameraModel | None = None
    mounting: Mounting | None = None


class StampMatcher:
    """Groups messages by header stamp; a frame is complete when the ground truth and every ``required`` part arrived.

    At most ``max_pending`` incomplete stamps are held, none older than ``max_pending_ns`` behind the newest
    stamp; evicted ones are counted as ground truth without outputs (the node dropped or rejected the frame) or
    outputs without ground truth.
    """

    def __init__(self, required: set[str], max_pending: int = 64, max_pending_ns: int = 10_000_000_000) -> None:
        self.required = set(required) | {"gt"}
        self.max_pending = max_pending
        self.max_pending_ns = max_pending_ns
        self._pending: dict[int, FrameOutputs] = {}
        self._newest = -(2**63)
        self.gt_without_outputs = 0
        self.outputs_without_gt = 0

    def add(self, part: str, stamp_ns: int, value: Any) -> list[FrameOutputs]:
        """Store ``value`` as ``part`` (a FrameOutputs field) of frame ``stamp_ns``; returns the finished frames."""
        frame = self._pending.setdefault(stamp_ns, FrameOutputs(stamp_ns))
        setattr(frame, part, value)
        done = []
        if all(getattr(frame, name) is not None for name in self.required):
            done.append(self._pending.pop(stamp_ns))
        self._newest = max(self._newest, stamp_ns)
        while self._pending and (
            len(self._pending) > self.max_pending or min(self._pending) < self._newest - self.max_pending_ns
        ):
            self._evict(min(self._pending))
        return done

    def add_boxes(self, stamp_ns: int, boxes: np.ndarray, scores: np.ndarray) -> list[FrameOutputs]:
        """The published Detection2DArray of ``stamp_ns`` (boxes xyxy and meta probabilities)."""
        self._pending.setdefault(stamp_ns, FrameOutputs(stamp_ns)).box_scores = scores
        return self.add("boxes", stamp_ns, boxes)

    def _evict(self, stamp_ns: int) -> None:
        frame = self._pending.pop(stamp_ns)
        if frame.gt is not None:
            self.gt_without_outputs += 1
        else:
            self.outputs_without_gt += 1

    def flush(self) -> None:
        """Count every incomplete frame as unmatched (end of the bag or shutdown)."""
        for stamp in sorted(self._pending):
            self._evict(stamp)

    @property
    def pending(self) -> int:
        """Incomplete frames held now."""
        return len(self._pending)
