"""anomaly_seg: segmenting what a road-scene segmentation network was never trained on."""

__version__ = "0.1.0"
