"""Cityscapes reader: hand-written layout and the real downscaled sample in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import label_ids_to_train_ids
from training.datasets import Cityscapes

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cityscapes_sample"


def write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def test_prefers_label_train_ids_and_falls_back_to_mapped_label_ids(tmp_path: Path) -> None:
    label_ids = np.array([[7, 8, 26, 0], [24, 33, 5, 23]], dtype=np.uint8)
    for stem in ("aachen_000000_000019", "aachen_000001_000019"):
        write(tmp_path / f"leftImg8bit/train/aachen/{stem}_leftImg8bit.png", np.zeros((2, 4, 3), np.uint8))
        write(tmp_path / f"gtFine/train/aachen/{stem}_gtFine_labelIds.png", label_ids)
    # Only the first frame has a labelTrainIds file (deliberately different, to see which one is read).
    write(tmp_path / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png", np.full((2, 4), 3, np.uint8))

    dataset = Cityscapes(tmp_path, split="train")

    assert [s.name for s in dataset.items] == ["aachen_000000_000019", "aachen_000001_000019"]
    assert dataset[0].train_ids is not None and (dataset[0].train_ids == 3).all()
    np.testing.assert_array_equal(dataset[1].train_ids, [[0, 1, 13, 255], [11, 18, 255, 10]])


def test_missing_labels_and_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"leftImg8bit/val"):
        Cityscapes(tmp_path, split="val")
    write(tmp_path / "leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png", np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "gtFine/val").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"lindau_000000_000019_gtFine_labelTrainIds\.png"):
        Cityscapes(tmp_path, split="val")


def test_real_sample_label_ids_map_to_label_train_ids() -> None:
    if not SAMPLE.is_dir():
        pytest.skip(f"shared Cityscapes sample not found at {SAMPLE}")
    sample = Cityscapes(SAMPLE, split="val")[0]
    gt = sample.train_ids
    label_ids = cv2.imread(
        str(SAMPLE / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"), cv2.IMREAD_UNCHANGED
    )
    assert label_ids is not None and gt is not None and sample.image.shape == (128, 256, 3) and gt.shape == (128, 256)
    agreement = (label_ids_to_train_ids(label_ids) == gt).mean()
    assert agreement >= 0.99, f"labelIds -> trainIds agrees with labelTrainIds on only {agreement:.2%} of pixels"
    assert {0, 2, 8, 10, 13} <= set(np.unique(gt).tolist())  # road, building, vegetation, sky, car
