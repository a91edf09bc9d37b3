"""COCO images usable as outliers: no road-scene class in them, all instance pixels form the outlier mask."""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from anomaly_seg.errors import DatasetError
from training.datasets.base import read_rgb, require_dir

#: COCO categories that also occur in road scenes; images containing any of them are not outliers (METHOD.md).
ROAD_CATEGORIES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "stop sign",
)  # fmt: skip


@dataclass
class OutlierSample:
    """A COCO image (HxWx3 uint8 RGB) and its outlier mask (HxW uint8, 1 on any instance pixel)."""

    image: np.ndarray
    mask: np.ndarray
    name: str


class CocoOutliers(Dataset[OutlierSample]):
    """``root/<split>/*.jpg`` + ``root/annotations/instances_<split>.json``, filtered as in METHOD.md.

    Kept: images with at least one instance, none of ``excluded_categories``, and both sides >= ``min_side``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train2017",
        *,
        annotation_file: str | Path | None = None,
        min_side: int = 480,
        excluded_categories: tuple[str, ...] = ROAD_CATEGORIES,
    ) -> None:
        from pycocotools.coco import COCO

        self.root = Path(root)
        self.image_dir = require_dir(self.root / split, f"COCO images of split {split!r}")
        ann = Path(annotation_file) if annotation_file else self.root / "annotations" / f"instances_{split}.json"
        if not ann.is_file():
            raise DatasetError(f"COCO: annotation file {ann} does not exist")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
                self.coco = COCO(str(ann))
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"COCO: cannot parse annotation file {ann}: {exc}") from exc
        names = {c["name"]: c["id"] for c in self.coco.loadCats(self.coco.getCatIds())}
        unknown = sorted(set(excluded_categories) - set(names))
        if unknown:
            raise DatasetError(f"COCO: {ann} has no categories {unknown}; cannot apply the outlier filter")
        excluded = {names[n] for n in excluded_categories}
        self.image_ids: list[int] = []
        for image_id in sorted(self.coco.getImgIds()):
            info = self.coco.imgs[image_id]
            anns = self.coco.imgToAnns.get(image_id, [])
            if (
                anns
                and min(info["width"], info["height"]) >= min_side
                and not any(a["category_id"] in excluded for a in anns)
            ):
                self.image_ids.append(image_id)
        if not self.image_ids:
            raise DatasetError(f"COCO: no image in {ann} passes the outlier filter (min side {min_side})")

    def __len__(self) -> int:
        return len(self.image_ids)

    def annotations(self, index: int) -> list[dict[str, Any]]:
        """COCO annotation dicts of sample ``index`` (crowd regions included)."""
        anns: list[dict[str, Any]] = self.coco.imgToAnns[self.image_ids[index]]
        return anns

    def __getitem__(self, index: int) -> OutlierSample:
        info = self.coco.imgs[self.image_ids[index]]
        path = self.image_dir / info["file_name"]
        image = read_rgb(path)
        if image.shape[:2] != (info["height"], info["width"]):
            raise DatasetError(
                f"COCO: image {path} is {image.shape[1]}x{image.shape[0]} but the annotations say "
                f"{info['width']}x{info['height']}"
            )
        mask = np.zeros(image.shape[:2], dtype=np.uint8)
        with warnings.catch_warnings():  # pycocotools' numpy-2 copy= DeprecationWarning, harmless
            warnings.simplefilter("ignore", DeprecationWarning)
            for ann in self.annotations(index):
                mask |= self.coco.annToMask(ann).astype(np.uint8)
        return OutlierSample(image=image, mask=mask, name=Path(info["file_name"]).stem)

    def __repr__(self) -> str:
        return f"CocoOutliers(root={str(self.root)!r}, n={len(self)})"
