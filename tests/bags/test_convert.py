"""Dataset folders -> rosbag2: synthetic layouts of each kind and the real Cityscapes sample, read back and compared."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg.bags import list_topics, read_messages
from anomaly_seg.bags.convert import GROUND_TRUTH_TOPIC, ConvertOptions, convert_dataset
from anomaly_seg.cli import main
from anomaly_seg.datasets import open_layout
from anomaly_seg.errors import ConfigError, DatasetError
from anomaly_seg.messages import compressed_to_rgb, image_to_array, stamp_to_ns
from anomaly_seg.synthetic import (
    write_fishyscapes_layout,
    write_lostandfound_layout,
    write_road_anomaly_layout,
)
from anomaly_seg.vocabulary import GROUND_TRUTH_DEPTH_TOPIC, TF_TOPIC, VEHICLE_FRAME

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cityscapes_sample"
H, W = 48, 96
CAMERA = "/camera/image_raw"


def by_topic(bag: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for m in read_messages(bag):
        out[m.topic].append(m)
    return out


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_lost_and_found_keeps_pixels_labels_timestamps_and_calibration(tmp_path: Path) -> None:
    root = tmp_path / "laf"
    images = write_lostandfound_layout(root, 4, height=H, width=W, seed=3, sequences=2)
    bag = tmp_path / "laf_bag"

    summary = convert_dataset(open_layout("lostandfound", root), bag, ConvertOptions(), progress=False)

    assert summary.frames == summary.ground_truth == summary.camera_info == summary.depth == 4
    assert summary.stamps == "dataset timestamps"
    msgs = by_topic(bag)
    assert set(msgs) == {CAMERA, "/camera/camera_info", GROUND_TRUTH_TOPIC, GROUND_TRUTH_DEPTH_TOPIC, TF_TOPIC}
    for i, image_path in enumerate(images):
        stem = image_path.name.removesuffix("_leftImg8bit.png")
        seq = image_path.parent.name
        stamp = int((root / "timestamp/test" / seq / f"{stem}_timestamp.txt").read_text())
        image, gt, info = msgs[CAMERA][i].msg, msgs[GROUND_TRUTH_TOPIC][i].msg, msgs["/camera/camera_info"][i].msg
        # identical headers, written at the dataset's timestamp
        for m in (msgs[CAMERA][i], msgs[GROUND_TRUTH_TOPIC][i], msgs["/camera/camera_info"][i]):
            assert stamp_to_ns(m.msg.header.stamp) == m.timestamp_ns == stamp
            assert m.msg.header.frame_id == "camera"
        assert image.encoding == "rgb8" and gt.encoding == "mono8"
        np.testing.assert_array_equal(image_to_array(image), read_rgb(image_path))
        raw = cv2.imread(str(root / "gtCoarse/test" / seq / f"{stem}_gtCoarse_labelIds.png"), cv2.IMREAD_UNCHANGED)
        expected = np.select([raw == 0, raw == 1], [255, 0], default=1).astype(np.uint8)
        np.testing.assert_array_equal(image_to_array(gt), expected)
        assert (expected == 1).any()  # every synthetic frame has an obstacle
        camera = json.loads((root / "camera/test" / seq / f"{stem}_camera.json").read_text())["intrinsic"]
        k = np.asarray(info.k).reshape(3, 3)
        np.testing.assert_allclose(k, [[camera["fx"], 0, camera["u0"]], [0, camera["fy"], camera["v0"]], [0, 0, 1]])
        assert (info.height, info.width) == (H, W) and not np.asarray(info.d).any()
        # the stereo depth and the camera's pose, with the image's stamp
        depth, (pose,) = msgs[GROUND_TRUTH_DEPTH_TOPIC][i], rm.tf_poses(msgs[TF_TOPIC][i].msg)
        assert depth.msg.encoding == "32FC1" and stamp_to_ns(depth.msg.header.stamp) == stamp == pose.stamp_ns
        extrinsic = json.loads((root / "camera/test" / seq / f"{stem}_camera.json").read_text())["extrinsic"]
        assert (pose.parent, pose.child) == (VEHICLE_FRAME, "camera")
        np.testing.assert_allclose(pose.translation, [extrinsic["x"], extrinsic["y"], extrinsic["z"]])
        known = np.isfinite(image_to_array(depth.msg))
        np.testing.assert_array_equal(known, expected == 1)  # synthetic stereo: the obstacles only


@pytest.mark.parametrize(
    ("kind", "writer", "label_of"),
    [
        ("fishyscapes", write_fishyscapes_layout, lambda p: p.parent.parent / "labels_masks" / p.name),
        ("roadanomaly", write_road_anomaly_layout, lambda p: p.with_suffix(".labels") / "labels_semantic.png"),
    ],
)
def test_fishyscapes_and_road_anomaly_ground_truth(tmp_path: Path, kind: str, writer: Any, label_of: Any) -> None:
    images = writer(tmp_path / kind, 3, height=H, width=W, seed=1)
    bag = tmp_path / "bag"
    summary = convert_dataset(open_layout(kind, tmp_path / kind), bag, ConvertOptions(rate_hz=5.0), progress=False)
    assert summary.stamps == "fixed 5 Hz" and summary.camera_info == 0
    msgs = by_topic(bag)
    assert len(msgs[CAMERA]) == len(msgs[GROUND_TRUTH_TOPIC]) == 3
    stamps = [m.timestamp_ns for m in msgs[CAMERA]]
    assert np.diff(stamps).tolist() == [200_000_000, 200_000_000]
    for i, path in enumerate(images):
        raw = cv2.imread(str(label_of(path)), cv2.IMREAD_UNCHANGED)
        expected = (raw == 2).astype(np.uint8) if kind == "roadanomaly" else raw
        np.testing.assert_array_equal(image_to_array(msgs[GROUND_TRUTH_TOPIC][i].msg), expected)
        assert msgs[GROUND_TRUTH_TOPIC][i].timestamp_ns == stamps[i]


def test_compressed_sqlite3_and_limit(tmp_path: Path) -> None:
    write_fishyscapes_layout(tmp_path / "fs", 3, height=H, width=W, seed=2)
    bag = tmp_path / "bag"
    options = ConvertOptions(storage="sqlite3", compressed=True, limit=2, camera_topic="/cam/front/image")
    convert_dataset(open_layout("fishyscapes", tmp_path / "fs"), bag, options, progress=False)
    assert list_topics(bag) == {
        "/cam/front/image/compressed": "sensor_msgs/msg/CompressedImage",
        GROUND_TRUTH_TOPIC: "sensor_msgs/msg/Image",
    }
    msgs = by_topic(bag)
    assert len(msgs["/cam/front/image/compressed"]) == 2
    original = cv2.imread(str(tmp_path / "fs/images/0000_synth.png"), cv2.IMREAD_COLOR)
    _, jpeg = cv2.imencode(".jpg", original, [cv2.IMWRITE_JPEG_QUALITY, 95])
    expected = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(compressed_to_rgb(msgs["/cam/front/image/compressed"][0].msg), expected)


def test_real_cityscapes_sample_as_cityscapes_and_as_folder(tmp_path: Path) -> None:
    if not SAMPLE.is_dir():
        pytest.skip(f"shared Cityscapes sample not found at {SAMPLE}")
    bag = tmp_path / "cs"
    convert_dataset(open_layout("cityscapes", SAMPLE), bag, progress=False)
    msgs = by_topic(bag)
    train_ids = cv2.imread(
        str(SAMPLE / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png"), cv2.IMREAD_UNCHANGED
    )
    gt = image_to_array(msgs[GROUND_TRUTH_TOPIC][0].msg)
    np.testing.assert_array_equal(gt, np.where(train_ids == 255, 255, 0))  # no anomalies in Cityscapes
    image = read_rgb(SAMPLE / "leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png")
    np.testing.assert_array_equal(image_to_array(msgs[CAMERA][0].msg), image)

    folder_bag = tmp_path / "folder"
    summary = convert_dataset(open_layout("folder", SAMPLE / "leftImg8bit"), folder_bag, progress=False)
    assert summary.frames == 1 and summary.ground_truth == 0
    assert list_topics(folder_bag) == {CAMERA: "sensor_msgs/msg/Image"}
    np.testing.assert_array_equal(image_to_array(by_topic(folder_bag)[CAMERA][0].msg), image)


def test_cli_converts_and_names_a_wrong_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_road_anomaly_layout(tmp_path / "ra", 2, height=H, width=W, seed=0)
    assert main(["convert", "roadanomaly", str(tmp_path / "ra"), "--out", str(tmp_path / "bag")]) == 0
    assert "wrote 2 frames (2 with ground truth" in capsys.readouterr().out
    assert main(["convert", "lostandfound", str(tmp_path / "ra"), "--out", str(tmp_path / "bag2")]) == 2
    err = capsys.readouterr().err
    assert "leftImg8bit/test" in err and "does not exist" in err
    assert not (tmp_path / "bag2").exists()


def test_bad_options_and_existing_output_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--rate"):
        ConvertOptions(rate_hz=0.0)
    with pytest.raises(ConfigError, match="--camera-topic"):
        ConvertOptions(camera_topic="camera")
    with pytest.raises(DatasetError, match="unknown dataset kind"):
        open_layout("kitti", tmp_path)


def test_a_conversion_stopped_by_a_signal_closes_a_complete_bag_of_the_frames_written(tmp_path: Path) -> None:
    import signal

    from rosbags.rosbag2 import Reader

    write_lostandfound_layout(tmp_path / "laf", 6, height=H, width=W, seed=3, sequences=1)
    layout = open_layout("lostandfound", tmp_path / "laf")
    load = layout.load

    def load_then_signal(index: int) -> Any:
        if index == 2:
            signal.raise_signal(signal.SIGTERM)  # arrives while frame 2 is converted: it is still written
        return load(index)

    layout.load = load_then_signal  # type: ignore[method-assign]
    summary = convert_dataset(layout, tmp_path / "bag", ConvertOptions(), progress=False)
    assert (summary.interrupted, summary.exit_status) == ("interrupted (SIGTERM)", 143)
    assert 1 <= summary.frames < 6 and summary.line().startswith("interrupted (SIGTERM): wrote")
    with Reader(tmp_path / "bag") as reader:  # closed properly: metadata.yaml and index
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts[CAMERA] == counts[GROUND_TRUTH_TOPIC] == summary.frames
