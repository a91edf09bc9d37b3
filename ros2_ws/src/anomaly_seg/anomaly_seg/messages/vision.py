"""vision_msgs builders and readers: ``Detection2DArray`` for obstacle segments, ``LabelInfo`` for the class map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from anomaly_seg.messages.factory import MessageFactory, copy_header
from anomaly_seg.vocabulary import ANOMALY_CLASS_ID


def _hypothesis(factory: MessageFactory, class_id: str, score: float, position: tuple[float, float, float]) -> Any:
    """One ``ObjectHypothesisWithPose``: ``class_id`` with ``score`` at ``position`` (identity orientation)."""
    x, y, z = position
    return factory.ObjectHypothesisWithPose(
        hypothesis=factory.ObjectHypothesis(class_id=class_id, score=score),
        pose=factory.PoseWithCovariance(
            pose=factory.Pose(
                position=factory.Point(x=x, y=y, z=z), orientation=factory.Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)
            ),
            covariance=np.zeros(36, np.float64),
        ),
    )


def detection2d_array(
    factory: MessageFactory,
    header: Any,
    ids: Sequence[int] | np.ndarray,
    boxes_xyxy: Sequence[Sequence[float]] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    class_id: str = ANOMALY_CLASS_ID,
) -> Any:
    """``vision_msgs/Detection2DArray`` with one Detection2D per segment.

    Boxes are ``(x0, y0, x1, y1)`` in pixel-edge coordinates (x1 = x0 + width). Each detection gets
    ``id = str(segment id)``, an axis-aligned bbox (centre, size_x, size_y, theta 0), and one hypothesis
    ``class_id`` with ``score`` (the meta-classifier probability).
    """
    seg_ids = np.asarray(ids).reshape(-1)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    probs = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not len(seg_ids) == len(boxes) == len(probs):
        raise ValueError(f"ids, boxes and scores differ in length: {len(seg_ids)}, {len(boxes)}, {len(probs)}")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    sizes = boxes[:, 2:] - boxes[:, :2]
    detections = [
        factory.Detection2D(
            header=copy_header(factory, header),
            results=[_hypothesis(factory, class_id, float(score), (0.0, 0.0, 0.0))],
            bbox=factory.BoundingBox2D(
                center=factory.Pose2D(position=factory.Point2D(x=float(cx), y=float(cy)), theta=0.0),
                size_x=float(sx),
                size_y=float(sy),
            ),
            id=str(int(seg_id)),
        )
        for seg_id, (cx, cy), (sx, sy), score in zip(seg_ids, centres, sizes, probs)
    ]
    return factory.Detection2DArray(header=copy_header(factory, header), detections=detections)


def detections_to_arrays(msg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids int64 [N], boxes_xyxy float64 [N, 4], scores float64 [N]) from a ``Detection2DArray``.

    The inverse of :func:`detection2d_array`; the score is that of the first hypothesis (0 if none).
    """
    dets = list(msg.detections)
    ids = np.array([int(d.id) for d in dets], dtype=np.int64)
    centre = np.array([(d.bbox.center.position.x, d.bbox.center.position.y) for d in dets], np.float64)
    size = np.array([(d.bbox.size_x, d.bbox.size_y) for d in dets], np.float64)
    scores = np.array([d.results[0].hypothesis.score if len(d.results) else 0.0 for d in dets], np.float64)
    boxes = np.concatenate([centre - size / 2.0, centre + size / 2.0], axis=1) if dets else np.zeros((0, 4))
    return ids, boxes, scores


def label_info(
    factory: MessageFactory, header: Any, class_names: Sequence[str] | Mapping[int, str], threshold: float
) -> Any:
    """``vision_msgs/LabelInfo``: class map (index or mapping key -> name) and the confidence threshold."""
    items = class_names.items() if isinstance(class_names, Mapping) else enumerate(class_names)
    class_map = [factory.VisionClass(class_id=int(key), class_name=str(name)) for key, name in items]
    # Rounded to float32 here so the message holds exactly the value it serialises to.
    threshold32 = float(np.float32(threshold))
    return factory.LabelInfo(header=copy_header(factory, header), class_map=class_map, threshold=threshold32)


def detection3d_array(
    factory: MessageFactory,
    header: Any,
    ids: Sequence[int] | np.ndarray,
    centres: np.ndarray,
    sizes: np.ndarray,
    scores: Sequence[float] | np.ndarray,
    class_id: str = ANOMALY_CLASS_ID,
) -> Any:
    """``vision_msgs/Detection3DArray``: one axis-aligned box per obstacle (centre and size in metres, in the frame
    of ``header``), ``id = str(segment id)`` as in the 2D detections, one hypothesis ``class_id`` with ``score``."""
    centres = np.asarray(centres, np.float64).reshape(-1, 3)
    sizes = np.asarray(sizes, np.float64).reshape(-1, 3)
    identity = factory.Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)
    detections = [
        factory.Detection3D(
            header=copy_header(factory, header),
            results=[_hypothesis(factory, class_id, float(score), (float(c[0]), float(c[1]), float(c[2])))],
            bbox=factory.BoundingBox3D(
                center=factory.Pose(
                    position=factory.Point(x=float(c[0]), y=float(c[1]), z=float(c[2])), orientation=identity
                ),
                size=factory.Vector3(x=float(s[0]), y=float(s[1]), z=float(s[2])),
            ),
            id=str(int(seg_id)),
        )
        for seg_id, c, s, score in zip(np.asarray(ids).reshape(-1), centres, sizes, np.asarray(scores).reshape(-1))
    ]
    return factory.Detection3DArray(header=copy_header(factory, header), detections=detections)
