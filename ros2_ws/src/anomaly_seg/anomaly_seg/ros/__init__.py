"""anomaly_seg.ros."""
