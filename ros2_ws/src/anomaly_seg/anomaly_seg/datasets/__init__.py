"""Readers of the published dataset folder layouts (numpy + OpenCV only; training wraps them in torch datasets).

``open_layout(kind, root)`` gives a :class:`DatasetLayout` whose ``items`` list the files in a fixed order and
whose ``load(i)`` returns the RGB image with its trainIds and anomaly (0 inlier, 1 anomaly, 255 void) targets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from anomaly_seg.datasets.base import (
    IMAGE_EXTENSIONS,
    DatasetLayout,
    LabelledImage,
    LoadedFrame,
    check_values,
    read_label,
    read_rgb,
    require_dir,
)
from anomaly_seg.datasets.cityscapes import CityscapesLayout, inlier_or_void
from anomaly_seg.datasets.fishyscapes import FishyscapesLayout
from anomaly_seg.datasets.folder import FolderLayout
from anomaly_seg.datasets.lost_and_found import (
    CameraCalibration,
    Extrinsics,
    Intrinsics,
    LostAndFoundLayout,
    read_camera,
    read_disparity_depth,
    read_timestamp_ns,
)
from anomaly_seg.datasets.road_anomaly import RoadAnomalyLayout
from anomaly_seg.datasets.smiyc import SmiycLayout
from anomaly_seg.errors import DatasetError

__all__ = [
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "CameraCalibration",
    "CityscapesLayout",
    "DatasetLayout",
    "Extrinsics",
    "FishyscapesLayout",
    "FolderLayout",
    "Intrinsics",
    "LabelledImage",
    "LoadedFrame",
    "LostAndFoundLayout",
    "RoadAnomalyLayout",
    "SmiycLayout",
    "check_values",
    "inlier_or_void",
    "open_layout",
    "read_camera",
    "read_disparity_depth",
    "read_label",
    "read_rgb",
    "read_timestamp_ns",
    "require_dir",
]


def _single(build: Callable[[Path], DatasetLayout]) -> Callable[[Path, str | None], DatasetLayout]:
    def make(root: Path, split: str | None) -> DatasetLayout:
        if split is not None:
            raise DatasetError(f"{root}: this dataset layout has no splits, got split {split!r}")
        return build(root)

    return make


#: command-line kind -> (root, split or None) -> layout
LAYOUTS: dict[str, Callable[[Path, str | None], DatasetLayout]] = {
    "lostandfound": lambda root, split: LostAndFoundLayout(root, split or "test"),
    "fishyscapes": _single(FishyscapesLayout),
    "roadanomaly": _single(RoadAnomalyLayout),
    "smiyc-obstacle": _single(lambda root: SmiycLayout(root, "obstacle")),
    "smiyc-anomaly": _single(lambda root: SmiycLayout(root, "anomaly")),
    "cityscapes": lambda root, split: CityscapesLayout(root, split or "val"),
    "folder": _single(FolderLayout),
}


def open_layout(kind: str, root: str | Path, split: str | None = None) -> DatasetLayout:
    """The dataset at ``root`` read as layout ``kind`` (see :data:`LAYOUTS`); DatasetError for a wrong folder."""
    if kind not in LAYOUTS:
        raise DatasetError(f"unknown dataset kind {kind!r}; known: {', '.join(LAYOUTS)}")
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"dataset folder {root} does not exist")
    return LAYOUTS[kind](root, split)
