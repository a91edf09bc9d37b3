"""anomaly_seg.bags."""
