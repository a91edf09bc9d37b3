"""COCO outlier filter and masks on the real coco_tiny sample, checked against pycocotools directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from anomaly_seg.errors import DatasetError
from training.datasets import ROAD_CATEGORIES, CocoOutliers

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")

COCO_TINY = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "coco_tiny"


@pytest.fixture(scope="module")
def coco_json() -> dict[str, Any]:
    path = COCO_TINY / "annotations" / "instances_val2017.json"
    if not path.is_file():
        pytest.skip(f"shared COCO sample not found at {COCO_TINY}")
    with path.open() as f:
        data: dict[str, Any] = json.load(f)
    return data


def expected_ids(coco_json: dict[str, Any], min_side: int) -> list[int]:
    road = {c["id"] for c in coco_json["categories"] if c["name"] in ROAD_CATEGORIES}
    cats: dict[int, set[int]] = {}
    for a in coco_json["annotations"]:
        cats.setdefault(a["image_id"], set()).add(a["category_id"])
    return sorted(
        im["id"]
        for im in coco_json["images"]
        if im["id"] in cats and not cats[im["id"]] & road and min(im["width"], im["height"]) >= min_side
    )


@pytest.mark.parametrize("min_side", [0, 480])
def test_filter_keeps_exactly_images_without_road_classes(coco_json: dict[str, Any], min_side: int) -> None:
    dataset = CocoOutliers(COCO_TINY, "val2017", min_side=min_side)
    assert dataset.image_ids == expected_ids(coco_json, min_side)
    assert len(dataset) > 0


def test_mask_is_union_of_all_instances(coco_json: dict[str, Any]) -> None:
    dataset = CocoOutliers(COCO_TINY, "val2017", min_side=0)
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in coco_json["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    for index in range(0, len(dataset), max(1, len(dataset) // 6)):
        image_id = dataset.image_ids[index]
        info = next(im for im in coco_json["images"] if im["id"] == image_id)
        h, w = info["height"], info["width"]
        expected = np.zeros((h, w), dtype=bool)
        for a in by_image[image_id]:
            seg = a["segmentation"]
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            elif isinstance(seg["counts"], list):
                rle = mask_utils.frPyObjects(seg, h, w)
            else:
                rle = seg
            expected |= mask_utils.decode(rle).astype(bool)
        sample = dataset[index]
        assert sample.image.shape == (h, w, 3) and sample.image.dtype == np.uint8
        assert sample.mask.dtype == np.uint8 and set(np.unique(sample.mask)) <= {0, 1}
        np.testing.assert_array_equal(sample.mask.astype(bool), expected)
        assert sample.mask.any()


def test_missing_annotation_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "val2017").mkdir()
    with pytest.raises(DatasetError, match=r"instances_val2017\.json"):
        CocoOutliers(tmp_path, "val2017")


def test_filter_with_nothing_left_says_so() -> None:
    if not COCO_TINY.is_dir():
        pytest.skip(f"shared COCO sample not found at {COCO_TINY}")
    with pytest.raises(DatasetError, match="passes the outlier filter"):
        CocoOutliers(COCO_TINY, "val2017", min_side=100_000)
