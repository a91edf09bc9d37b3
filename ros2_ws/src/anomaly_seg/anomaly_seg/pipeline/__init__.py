"""anomaly_seg.pipeline."""
