"""Evaluation metrics (numpy only, usable at deploy time): streaming pixel metrics in :mod:`.pixel`."""

from anomaly_seg.metrics.pixel import (
    IoUResult,
    MeanIoU,
    PixelAnomalyMetrics,
    PixelCurves,
    PixelMetricsResult,
    UndefinedMetricWarning,
)

__all__ = [
    "IoUResult",
    "MeanIoU",
    "PixelAnomalyMetrics",
    "PixelCurves",
    "PixelMetricsResult",
    "UndefinedMetricWarning",
]
