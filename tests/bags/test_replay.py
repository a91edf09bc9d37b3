"""Offline replay: frames in = frames out, input stamps on every output, ground truth copied, rejections counted."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg.bags import BagWriter, read_messages
from anomaly_seg.bags.convert import GROUND_TRUTH_TOPIC, camera_info_message
from anomaly_seg.cli import main
from anomaly_seg.datasets import Intrinsics
from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.offline.replay import replay_bag
from tests.pipeline.fake_engine import FakeEngine, grey_frame, write_contract_onnx

H, W = 64, 128
CAMERA = "/camera/image_raw"
T0 = 1_700_000_000_000_000_000
#: per frame: red squares (x0, y0, x1, y1); frame 3 is sent with a broken message
SQUARES = [[(10, 40, 20, 50)], [], [(60, 36, 80, 60), (100, 50, 110, 60)], [(5, 5, 9, 9)], [(30, 40, 50, 62)]]
BROKEN = 3


def make_bag(path: Path) -> list[int]:
    """Camera images (one broken), camera_info and mono8 ground truth on identical stamps; returns the stamps."""
    store = get_typestore()
    f = rm.rosbags_factory(store)
    stamps = [T0 + i * 66_000_000 for i in range(len(SQUARES))]
    with BagWriter(path, typestore=store) as bag:
        bag.add_topic(CAMERA, "sensor_msgs/msg/Image")
        bag.add_topic(GROUND_TRUTH_TOPIC, "sensor_msgs/msg/Image")
        bag.add_topic("/camera/camera_info", "sensor_msgs/msg/CameraInfo")
        bag.add_topic("/tf_unrelated", "std_msgs/msg/Float64")
        for i, (stamp, squares) in enumerate(zip(stamps, SQUARES)):
            header = rm.header_from_ns(f, stamp, "cam")
            image = rm.array_to_image(f, grey_frame(H, W, squares), "rgb8", header)
            if i == BROKEN:
                image.data = image.data[:-7]  # data no longer matches step x height
            gt = np.zeros((H, W), np.uint8)
            gt[: H // 2] = 255
            for x0, y0, x1, y1 in squares:
                gt[y0:y1, x0:x1] = 1
            bag.write(CAMERA, stamp, image)
            bag.write(GROUND_TRUTH_TOPIC, stamp, rm.array_to_image(f, gt, "mono8", header))
            bag.write("/camera/camera_info", stamp, camera_info_message(f, header, H, W, Intrinsics(100, 100, 64, 32)))
            bag.write("/tf_unrelated", stamp, f.Float64(data=1.0))
    return stamps


def params(**values: Any) -> NodeParams:
    base = {"segments.region": "all", "segments.min_area_px": 4, "anomaly.threshold": 0.0}
    return NodeParams.from_dict({**base, **values}, check_files=False)


def test_every_frame_is_processed_or_counted_and_outputs_carry_input_stamps(tmp_path: Path) -> None:
    stamps = make_bag(tmp_path / "in")
    summary = replay_bag(tmp_path / "in", tmp_path / "out", FakeEngine((H, W)), params(), progress=False)

    assert (summary.frames_in, summary.processed, summary.rejected) == (5, 4, {"bad_image": 1})
    assert summary.lines()[0] == "frames in: 5, processed: 4, rejected: 1"
    assert summary.copied == {GROUND_TRUTH_TOPIC: 5, "/camera/camera_info": 5}

    by_topic: dict[str, list[Any]] = defaultdict(list)
    for m in read_messages(tmp_path / "out"):
        by_topic[m.topic].append(m)
    good = [s for i, s in enumerate(stamps) if i != BROKEN]
    for topic in (
        "semantic",
        "semantic_color",
        "anomaly_score",
        "anomaly_mask",
        "obstacles",
        "obstacle_ids",
        "overlay",
    ):
        msgs = by_topic[f"/anomaly_seg/output/{topic}"]
        assert [rm.stamp_to_ns(m.msg.header.stamp) for m in msgs] == good, topic
        assert [m.timestamp_ns for m in msgs] == good and all(m.msg.header.frame_id == "cam" for m in msgs)
    for topic in ("processing_time_ms", "pipeline_latency_ms"):
        values = [m.msg.data for m in by_topic[f"/anomaly_seg/debug/{topic}"]]
        assert len(values) == 4 and all(v >= 0 for v in values)
    assert [m.timestamp_ns for m in by_topic[GROUND_TRUTH_TOPIC]] == stamps
    assert len(by_topic["/anomaly_seg/output/label_info"]) == 1 and by_topic["/diagnostics"]
    assert "/tf_unrelated" not in by_topic and CAMERA not in by_topic

    # the outputs are the engine's: FakeEngine scores (red - green) / 25.5 - 5, red squares are +5
    for k, i in enumerate(i for i in range(len(SQUARES)) if i != BROKEN):
        score = rm.image_to_array(by_topic["/anomaly_seg/output/anomaly_score"][k].msg)
        expected = np.full((H, W), -5.0, np.float32)
        for x0, y0, x1, y1 in SQUARES[i]:
            expected[y0:y1, x0:x1] = 5.0
        np.testing.assert_allclose(score, expected, atol=1e-5)
        dets = by_topic["/anomaly_seg/output/obstacles"][k].msg.detections
        assert len(dets) == len(SQUARES[i])


def test_cli_replays_on_onnxruntime_and_reports_rejections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_bag(tmp_path / "in")
    onnx = write_contract_onnx(tmp_path / "model.onnx", (H, W))
    code = main(["replay", str(tmp_path / "in"), "--model", str(onnx), "--backend", "onnxruntime",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[-2:] == ["frames in: 5, processed: 4, rejected: 1", "  rejected (bad_image): 1"]

    code = main(["replay", str(tmp_path / "in"), "--model", str(onnx), "--mode", "sliding",
                 "--out", str(tmp_path / "out2")])  # fmt: skip
    assert code == 2 and "exported with mode 'full'" in capsys.readouterr().err


def test_bag_errors_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx = write_contract_onnx(tmp_path / "model.onnx", (H, W))
    assert main(["replay", str(tmp_path / "missing"), "--model", str(onnx), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    make_bag(tmp_path / "in")
    assert main(["replay", str(tmp_path / "in"), "--model", str(onnx), "--camera-topic", "/nope",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "/nope" in capsys.readouterr().err


def test_every_processed_frame_gets_the_cameras_camera_info_at_the_output_resolution(tmp_path: Path) -> None:
    stamps = make_bag(tmp_path / "in")
    replay_bag(tmp_path / "in", tmp_path / "out", FakeEngine((H, W)), params(**{"output.resolution": "network"}),
               progress=False)  # fmt: skip
    infos = [m.msg for m in read_messages(tmp_path / "out", ["/anomaly_seg/output/camera_info"])]
    good = [s for i, s in enumerate(stamps) if i != BROKEN]
    assert [rm.stamp_to_ns(i.header.stamp) for i in infos] == good  # the first frame too: its own camera_info
    for info in infos:  # FakeEngine's network size equals the camera's here: K unchanged
        assert (info.height, info.width) == (H, W)
        np.testing.assert_allclose(info.k, [100, 0, 64, 0, 100, 32, 0, 0, 1])


def test_the_bags_camera_pose_places_the_obstacles_while_no_mounting_is_given(tmp_path: Path) -> None:
    """A converted Lost and Found bag carries the camera's pose on /tf: replay uses it as tf would on a vehicle."""
    import math

    from anomaly_seg.bags.convert import TF_TYPE, camera_pose
    from anomaly_seg.datasets import Extrinsics
    from anomaly_seg.pipeline.ground import Mounting, ground_obstacles
    from anomaly_seg.vocabulary import TF_TOPIC, TOPIC_OBSTACLE_IDS, TOPIC_OBSTACLES_3D

    stamps = make_bag(tmp_path / "plain")
    store = get_typestore()
    extrinsics = Extrinsics(baseline=0.2, x=1.5, y=0.2, z=1.3, yaw=0.02, pitch=0.15, roll=0.01)
    with BagWriter(tmp_path / "in", typestore=store) as bag:
        for m in read_messages(tmp_path / "plain", typestore=store):
            bag.add_topic(m.topic, m.msgtype)
            bag.write(m.topic, m.timestamp_ns, m.msg)
        bag.add_topic(TF_TOPIC, TF_TYPE)
        for stamp in stamps:
            bag.write(TF_TOPIC, stamp, camera_pose(store, stamp, "cam", extrinsics))

    def placed(**values: Any) -> tuple[list[float], list[float]]:
        out = tmp_path / f"out{len(values)}"
        replay_bag(tmp_path / "in", out, FakeEngine((H, W)), params(**values), progress=False)
        msgs = defaultdict(list)
        for m in read_messages(out):
            msgs[m.topic].append(m.msg)
        ids_image = rm.image_to_array(msgs[f"/anomaly_seg/{TOPIC_OBSTACLE_IDS}"][0])
        boxes = msgs[f"/anomaly_seg/{TOPIC_OBSTACLES_3D}"][0]
        return [d.bbox.center.position.x for d in boxes.detections], ids_image

    xs, ids_image = placed()
    e = extrinsics
    pitch, roll, yaw = (math.degrees(a) for a in (e.pitch, e.roll, e.yaw))
    mounting = Mounting(e.z, pitch, roll, e.x, e.y, 50.0, yaw)
    k = np.array([[100.0, 0, 64], [0, 100.0, 32], [0, 0, 1]])
    expected = ground_obstacles(ids_image, np.unique(ids_image)[1:], k, mounting)
    assert xs and np.allclose(xs, expected.centres[:, 0]), (xs, expected.centres)
    given, _ = placed(**{"ground.camera_height_m": 2.6, "ground.camera_pitch_deg": 8.6})  # the parameters win
    assert given and not np.allclose(given, xs)
