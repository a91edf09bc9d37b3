"""Anomaly dataset readers on tiny hand-written layouts of each published format."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from anomaly_seg.errors import DatasetError
from training.datasets import (
    FishyscapesLaF,
    LostAndFound,
    RoadAnomaly,
    Sample,
    SegmentMeIfYouCan,
    build_anomaly_dataset,
    collate_samples,
)

H, W = 6, 8


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def write_label(path: Path, label: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), label)


def gradient_image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def raw_label(values: list[int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(np.array(values, dtype=np.uint8), size=(H, W))


def test_lost_and_found_maps_free_space_obstacles_and_void(tmp_path: Path) -> None:
    image = gradient_image(0)
    label = raw_label([0, 1, 2, 7, 42], 1)
    stem = "04_Maurener_Weg_8_000002_000140"
    write_rgb(tmp_path / "leftImg8bit/test/04_Maurener_Weg_8" / f"{stem}_leftImg8bit.png", image)
    write_label(tmp_path / "gtCoarse/test/04_Maurener_Weg_8" / f"{stem}_gtCoarse_labelIds.png", label)

    dataset = LostAndFound(tmp_path, split="test")
    sample = dataset[0]

    assert len(dataset) == 1 and sample.name == stem
    np.testing.assert_array_equal(sample.image, image)
    expected = np.select([label == 0, label == 1], [255, 0], default=1)
    np.testing.assert_array_equal(sample.anomaly, expected)
    assert sample.train_ids is not None
    np.testing.assert_array_equal(sample.train_ids, np.where(label == 1, 0, 255))


def test_lost_and_found_names_the_missing_label_file(tmp_path: Path) -> None:
    write_rgb(tmp_path / "leftImg8bit/test/seq/seq_000000_000010_leftImg8bit.png", gradient_image(0))
    (tmp_path / "gtCoarse/test").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"seq_000000_000010_gtCoarse_labelIds\.png"):
        LostAndFound(tmp_path)


def test_lost_and_found_names_the_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"leftImg8bit/train"):
        LostAndFound(tmp_path, split="train")


def test_fishyscapes_reads_01_255_masks(tmp_path: Path) -> None:
    label = raw_label([0, 1, 255], 2)
    write_rgb(tmp_path / "images/0007.png", gradient_image(1))
    write_label(tmp_path / "labels_masks/0007.png", label)
    sample = FishyscapesLaF(tmp_path)[0]
    assert sample.name == "0007" and sample.train_ids is None
    np.testing.assert_array_equal(sample.anomaly, label)


def test_fishyscapes_rejects_unexpected_label_values(tmp_path: Path) -> None:
    write_rgb(tmp_path / "images/a.png", gradient_image(1))
    write_label(tmp_path / "labels_masks/a.png", raw_label([0, 3], 2))
    with pytest.raises(DatasetError, match=r"a\.png holds values \[3\]"):
        FishyscapesLaF(tmp_path)[0]


def test_road_anomaly_marks_value_2_as_anomaly(tmp_path: Path) -> None:
    label = raw_label([0, 1, 2], 3)
    write_rgb(tmp_path / "frames/animals01.jpg", np.full((H, W, 3), 128, np.uint8))
    write_label(tmp_path / "frames/animals01.labels/labels_semantic.png", label)
    sample = RoadAnomaly(tmp_path)[0]
    np.testing.assert_array_equal(sample.anomaly, (label == 2).astype(np.uint8))
    assert np.abs(sample.image.astype(int) - 128).max() <= 2  # JPEG round trip


@pytest.mark.parametrize(
    ("track", "folder", "ext"),
    [("anomaly", "dataset_AnomalyTrack", ".jpg"), ("obstacle", "dataset_ObstacleTrack", ".webp")],
)
def test_smiyc_uses_only_labelled_images(tmp_path: Path, track: str, folder: str, ext: str) -> None:
    label = raw_label([0, 1, 255], 4)
    base = tmp_path / folder
    write_rgb(base / "images" / f"validation0001{ext}", gradient_image(2))
    write_rgb(base / "images" / f"test0001{ext}", gradient_image(3))  # test images have no public label
    write_label(base / "labels_masks/validation0001_labels_semantic.png", label)

    from_parent = SegmentMeIfYouCan(tmp_path, track=track)
    from_track_folder = SegmentMeIfYouCan(base, track=track)

    assert [it.name for it in from_parent.items] == ["validation0001"] == [it.name for it in from_track_folder.items]
    np.testing.assert_array_equal(from_parent[0].anomaly, label)


def test_registry_builds_each_dataset_and_rejects_unknown_names(tmp_path: Path) -> None:
    write_rgb(tmp_path / "images/x.png", gradient_image(0))
    write_label(tmp_path / "labels_masks/x.png", raw_label([0, 1], 0))
    assert isinstance(build_anomaly_dataset("fs_laf", tmp_path), FishyscapesLaF)
    assert isinstance(build_anomaly_dataset("fishyscapes_laf", tmp_path, split="val"), FishyscapesLaF)
    with pytest.raises(DatasetError, match="only the 'val' split"):
        build_anomaly_dataset("fishyscapes_laf", tmp_path, split="train")
    with pytest.raises(DatasetError, match=r"unknown anomaly dataset 'streethazards'.*lost_and_found"):
        build_anomaly_dataset("streethazards", tmp_path)
    with pytest.raises(DatasetError, match="frames"):
        build_anomaly_dataset("road_anomaly", tmp_path)


def test_label_image_size_mismatch_is_reported(tmp_path: Path) -> None:
    write_rgb(tmp_path / "images/x.png", gradient_image(0))
    write_label(tmp_path / "labels_masks/x.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(DatasetError, match=r"labels_masks/x\.png"):
        FishyscapesLaF(tmp_path)[0]


def test_corrupt_image_is_reported(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images/x.png").write_bytes(b"not a png")
    write_label(tmp_path / "labels_masks/x.png", np.zeros((H, W), np.uint8))
    with pytest.raises(DatasetError, match=r"cannot read image .*x\.png"):
        FishyscapesLaF(tmp_path)[0]


def test_transform_is_applied(tmp_path: Path) -> None:
    write_rgb(tmp_path / "images/x.png", gradient_image(0))
    write_label(tmp_path / "labels_masks/x.png", np.zeros((H, W), np.uint8))

    def flip(sample: Sample) -> Sample:
        assert sample.anomaly is not None
        return Sample(sample.image[:, ::-1], sample.name, None, sample.anomaly[:, ::-1])

    np.testing.assert_array_equal(FishyscapesLaF(tmp_path, transform=flip)[0].image, gradient_image(0)[:, ::-1])


def test_collate_stacks_and_fills_missing_targets_with_void() -> None:
    a = Sample(gradient_image(0), "a", train_ids=np.zeros((H, W), np.uint8), anomaly=None)
    b = Sample(gradient_image(1), "b", train_ids=None, anomaly=np.ones((H, W), np.uint8))
    batch = collate_samples([a, b])
    assert tuple(batch["image"].shape) == (2, H, W, 3) and batch["name"] == ["a", "b"]
    assert batch["train_ids"][1].eq(255).all() and batch["anomaly"][0].eq(255).all()
    assert batch["anomaly"][1].eq(1).all()
