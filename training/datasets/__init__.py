"""Training and evaluation datasets, each reading its published folder layout."""

from training.datasets.base import AnomalyDataset, Sample, collate_samples, read_label, read_rgb
from training.datasets.cityscapes import Cityscapes
from training.datasets.coco import ROAD_CATEGORIES, CocoOutliers, OutlierSample
from training.datasets.fishyscapes import FishyscapesLaF
from training.datasets.lost_and_found import LostAndFound
from training.datasets.registry import ANOMALY_DATASETS, build_anomaly_dataset
from training.datasets.road_anomaly import RoadAnomaly
from training.datasets.smiyc import SegmentMeIfYouCan

__all__ = [
    "ANOMALY_DATASETS",
    "ROAD_CATEGORIES",
    "AnomalyDataset",
    "Cityscapes",
    "CocoOutliers",
    "FishyscapesLaF",
    "LostAndFound",
    "OutlierSample",
    "RoadAnomaly",
    "Sample",
    "SegmentMeIfYouCan",
    "build_anomaly_dataset",
    "collate_samples",
    "read_label",
    "read_rgb",
]
