"""anomaly_seg.engines."""
