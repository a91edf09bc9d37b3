"""anomaly_seg.metrics."""
