"""Dataset-layout writers: published file names, lossless labels that read back equal, side files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from anomaly_seg.errors import DatasetError
from anomaly_seg.labels import NAME_TO_ID
from anomaly_seg.synthetic import (
    HELDOUT_OBSTACLE_KINDS,
    LOSTANDFOUND_CLASS_IDS,
    frame_seed,
    generate_scene,
    write_cityscapes_layout,
    write_fishyscapes_layout,
    write_lostandfound_layout,
    write_road_anomaly_layout,
    write_smiyc_layout,
)

H, W, SEED = 48, 96, 11
ROAD = NAME_TO_ID["road"]


def _read(path: Path) -> np.ndarray:
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert array is not None, path
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB) if array.ndim == 3 else array


def _relative(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_cityscapes_layout_reads_back_exactly(tmp_path: Path) -> None:
    paths = write_cityscapes_layout(tmp_path, 3, height=H, width=W, seed=SEED, split="val", city="synthcity")
    pattern = re.compile(r"^leftImg8bit/val/synthcity/synthcity_\d{6}_\d{6}_leftImg8bit\.png$")
    assert all(pattern.match(p) for p in _relative(paths, tmp_path))
    assert len(set(paths)) == 3
    for i, path in enumerate(paths):
        scene = generate_scene(H, W, frame_seed(SEED, i), obstacle_kinds=(), n_obstacles=(0, 0))
        stem = path.name.removesuffix("_leftImg8bit.png")
        gt = tmp_path / "gtFine" / "val" / "synthcity"
        np.testing.assert_array_equal(_read(path), scene.image)
        labels = _read(gt / f"{stem}_gtFine_labelIds.png")
        assert labels.dtype == np.uint8
        np.testing.assert_array_equal(labels, scene.label_ids)
        np.testing.assert_array_equal(_read(gt / f"{stem}_gtFine_labelTrainIds.png"), scene.train_ids)
        instances = _read(gt / f"{stem}_gtFine_instanceIds.png")
        assert instances.dtype == np.uint16
        np.testing.assert_array_equal(instances, scene.instance_ids)


def test_lostandfound_layout(tmp_path: Path) -> None:
    paths = write_lostandfound_layout(tmp_path, 5, height=H, width=W, seed=SEED, split="test", sequences=2)
    rel = _relative(paths, tmp_path)
    pattern = re.compile(r"^leftImg8bit/test/(?P<seq>\d\d_\w+)/(?P=seq)_\d{6}_\d{6}_leftImg8bit\.png$")
    assert all(pattern.match(p) for p in rel), rel
    sequences = sorted({p.parent.name for p in paths})
    assert len(sequences) == 2
    obstacle_ids = {LOSTANDFOUND_CLASS_IDS[k] for k in HELDOUT_OBSTACLE_KINDS}
    for i, path in enumerate(paths):
        scene = generate_scene(H, W, frame_seed(SEED, i), obstacle_kinds=HELDOUT_OBSTACLE_KINDS, n_obstacles=(1, 3))
        np.testing.assert_array_equal(_read(path), scene.image)
        seq, stem = path.parent.name, path.name.removesuffix("_leftImg8bit.png")
        gt = _read(tmp_path / "gtCoarse" / "test" / seq / f"{stem}_gtCoarse_labelIds.png")
        assert gt.dtype == np.uint8 and gt.shape == (H, W)
        np.testing.assert_array_equal(gt == 1, scene.label_ids == ROAD)
        np.testing.assert_array_equal(gt >= 2, scene.anomaly == 1)
        assert set(np.unique(gt[gt >= 2])) <= obstacle_ids
        for k, obstacle in enumerate(scene.obstacles, start=1):
            assert np.all(gt[scene.obstacle_ids == k] == LOSTANDFOUND_CLASS_IDS[obstacle.kind])
        camera = json.loads((tmp_path / "camera" / "test" / seq / f"{stem}_camera.json").read_text())
        assert set(camera["intrinsic"]) == {"fx", "fy", "u0", "v0"}
        assert camera["extrinsic"]["z"] == pytest.approx(scene.camera.height_m)
    for seq in sequences:
        stamps = [int(p.read_text()) for p in sorted((tmp_path / "timestamp" / "test" / seq).glob("*_timestamp.txt"))]
        steps = np.diff(stamps)
        assert len(stamps) >= 2
        assert np.all(steps >= 50_000_000) and np.all(steps <= 100_000_000)  # 10-20 Hz


def test_fishyscapes_layout_masks(tmp_path: Path) -> None:
    paths = write_fishyscapes_layout(tmp_path, 3, height=H, width=W, seed=SEED)
    assert all(re.match(r"^images/\w+\.png$", p) for p in _relative(paths, tmp_path))
    for i, path in enumerate(paths):
        scene = generate_scene(H, W, frame_seed(SEED, i), obstacle_kinds=HELDOUT_OBSTACLE_KINDS, n_obstacles=(1, 3))
        np.testing.assert_array_equal(_read(path), scene.image)
        mask = _read(tmp_path / "labels_masks" / path.name)
        expected = np.full((H, W), 255, np.uint8)
        expected[scene.label_ids == ROAD] = 0
        expected[scene.anomaly == 1] = 1
        np.testing.assert_array_equal(mask, expected)


def test_road_anomaly_layout(tmp_path: Path) -> None:
    paths = write_road_anomaly_layout(tmp_path, 3, height=H, width=W, seed=SEED)
    assert all(re.match(r"^frames/\w+\.jpg$", p) for p in _relative(paths, tmp_path))
    for i, path in enumerate(paths):
        scene = generate_scene(H, W, frame_seed(SEED, i), obstacle_kinds=HELDOUT_OBSTACLE_KINDS, n_obstacles=(1, 3))
        image = _read(path)
        assert image.shape == (H, W, 3)
        assert np.abs(image.astype(np.int16) - scene.image).mean() < 6  # JPEG, quality 95
        labels = _read(tmp_path / "frames" / f"{path.stem}.labels" / "labels_semantic.png")
        np.testing.assert_array_equal(labels, np.where(scene.anomaly == 1, 2, 0).astype(np.uint8))


@pytest.mark.parametrize(
    ("track", "folder", "ext"),
    [("obstacle", "dataset_ObstacleTrack", "webp"), ("anomaly", "dataset_AnomalyTrack", "png")],
)
def test_smiyc_layout(tmp_path: Path, track: str, folder: str, ext: str) -> None:
    paths = write_smiyc_layout(
        tmp_path, 2, height=H, width=W, seed=SEED, track=track, extension=ext if ext == "png" else ""
    )
    assert all(re.match(rf"^{folder}/images/\w+\.{ext}$", p) for p in _relative(paths, tmp_path))
    for i, path in enumerate(paths):
        scene = generate_scene(H, W, frame_seed(SEED, i), obstacle_kinds=HELDOUT_OBSTACLE_KINDS, n_obstacles=(1, 3))
        assert _read(path).shape == (H, W, 3)
        mask = _read(tmp_path / folder / "labels_masks" / f"{path.stem}_labels_semantic.png")
        assert set(np.unique(mask)) <= {0, 1, 255}
        np.testing.assert_array_equal(mask == 1, scene.anomaly == 1)
        if track == "anomaly":
            np.testing.assert_array_equal(mask, scene.anomaly)
            np.testing.assert_array_equal(_read(path), scene.image)


def test_writer_reports_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetError, match="a_file"):
        write_fishyscapes_layout(blocker / "fs", 1, height=H, width=W, seed=SEED)


def test_progress_bar_only_for_large_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_fishyscapes_layout(tmp_path / "small", 2, height=16, width=32, seed=SEED)
    assert "fishyscapes" not in capsys.readouterr().err
    write_fishyscapes_layout(tmp_path / "large", 51, height=16, width=32, seed=SEED)
    assert "fishyscapes" in capsys.readouterr().err
