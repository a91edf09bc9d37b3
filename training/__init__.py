"""Training, evaluation and export of anomaly_seg models (never imported at run time)."""
