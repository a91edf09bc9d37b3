"""Obstacle segments: connected anomalous regions, their features and the meta classifier (numpy + OpenCV only).

``extract_segments`` turns a score map into :class:`Segments`; ``segment_features`` computes the
:data:`FEATURE_NAMES` columns for all segments at once; :class:`MetaClassifier` (from the JSON that
``python -m training fit-meta`` writes) says which segments are true obstacles. See ``docs/segments.md``.
"""

from anomaly_seg.segments.components import (
    SegmentParams,
    Segments,
    anomaly_mask,
    extract_segments,
    region_mask,
)
from anomaly_seg.segments.features import FEATURE_NAMES, RING_PX, segment_features
from anomaly_seg.segments.meta import META_FORMAT, META_VERSION, MetaClassifier

__all__ = [
    "FEATURE_NAMES",
    "META_FORMAT",
    "META_VERSION",
    "RING_PX",
    "MetaClassifier",
    "SegmentParams",
    "Segments",
    "anomaly_mask",
    "extract_segments",
    "region_mask",
    "segment_features",
]
