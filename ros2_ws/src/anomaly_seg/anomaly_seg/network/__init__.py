"""anomaly_seg.network."""
