"""anomaly_seg.segments."""
