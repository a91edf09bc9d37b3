"""Anomaly datasets by name, for the evaluation CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anomaly_seg.errors import DatasetError
from training.datasets.base import AnomalyDataset, Transform
from training.datasets.fishyscapes import FishyscapesLaF
from training.datasets.lost_and_found import LostAndFound
from training.datasets.road_anomaly import RoadAnomaly
from training.datasets.smiyc import SegmentMeIfYouCan


def _lost_and_found(root: Path, split: str | None, transform: Transform | None) -> AnomalyDataset:
    return LostAndFound(root, split or "test", transform)


def _single_split(
    cls: Callable[[Path, Transform | None], AnomalyDataset], split_name: str
) -> Callable[[Path, str | None, Transform | None], AnomalyDataset]:
    def build(root: Path, split: str | None, transform: Transform | None) -> AnomalyDataset:
        if split not in (None, split_name):
            raise DatasetError(f"{cls.__name__} has only the {split_name!r} split, got {split!r}")
        return cls(root, transform)

    return build


def _smiyc(track: str) -> Callable[[Path, str | None, Transform | None], AnomalyDataset]:
    def build(root: Path, split: str | None, transform: Transform | None) -> AnomalyDataset:
        if split not in (None, "val"):
            raise DatasetError(f"SegmentMeIfYouCan has public labels for the 'val' split only, got {split!r}")
        return SegmentMeIfYouCan(root, track, transform)

    return build


ANOMALY_DATASETS: dict[str, Callable[[Path, str | None, Transform | None], AnomalyDataset]] = {
    "lost_and_found": _lost_and_found,
    "fishyscapes_laf": _single_split(FishyscapesLaF, "val"),
    "road_anomaly": _single_split(RoadAnomaly, "test"),
    "smiyc_anomaly": _smiyc("anomaly"),
    "smiyc_obstacle": _smiyc("obstacle"),
}
ALIASES = {"laf": "lost_and_found", "fs_laf": "fishyscapes_laf", "ra21": "smiyc_anomaly", "ro21": "smiyc_obstacle"}


def build_anomaly_dataset(
    name: str, root: str | Path, split: str | None = None, transform: Transform | None = None
) -> AnomalyDataset:
    """Anomaly dataset ``name`` (see ``ANOMALY_DATASETS``; aliases laf, fs_laf, ra21, ro21) read from ``root``.

    ``split=None`` picks the dataset's evaluation split (Lost and Found: ``test``).
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ANOMALY_DATASETS:
        raise DatasetError(f"unknown anomaly dataset {name!r}; known: {', '.join([*ANOMALY_DATASETS, *ALIASES])}")
    return ANOMALY_DATASETS[key](Path(root), split, transform)
