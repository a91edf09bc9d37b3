"""Distance of the obstacles against stereo depth: the Cityscapes disparity encoding, the camera pose in ``/tf``, the
per-obstacle comparison on an exact pinhole scene, and the whole path on synthetic Lost and Found (convert, node
outputs, evaluate)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg.bags import BagWriter, list_topics, read_messages
from anomaly_seg.bags.convert import convert_dataset
from anomaly_seg.datasets import Extrinsics, Intrinsics, open_layout, read_camera, read_disparity_depth
from anomaly_seg.errors import DatasetError
from anomaly_seg.evaluation.bag_source import evaluate_bag
from anomaly_seg.evaluation.distance import CameraModel, obstacle_distances
from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.offline.replay import replay_bag
from anomaly_seg.pipeline.ground import Mounting
from anomaly_seg.synthetic import write_lostandfound_layout
from anomaly_seg.synthetic.layouts import disparity_png
from anomaly_seg.vocabulary import GROUND_TRUTH_DEPTH_TOPIC, GROUND_TRUTH_TOPIC, TF_TOPIC, VEHICLE_FRAME
from tests.bags.test_replay import params
from tests.pipeline.fake_engine import FakeEngine


def test_disparity_png_follows_the_cityscapes_encoding(tmp_path: Path) -> None:
    fx, baseline = 2262.5, 0.209
    depth = np.array([[5.0, 20.0, np.nan], [80.0, 0.0, 300.0]], np.float32)
    path = tmp_path / "d.png"
    cv2.imwrite(str(path), disparity_png(depth, fx, baseline))
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw[0, 2] == 0 and raw[1, 1] == 0  # unknown
    expected = np.rint(256.0 * baseline * fx / np.array([5.0, 20.0, 80.0, 300.0])) + 1  # README: p = 256 d + 1
    np.testing.assert_array_equal(raw[[0, 0, 1, 1], [0, 1, 0, 2]], expected)
    back = read_disparity_depth(path, fx, baseline)
    assert np.isnan(back[0, 2]) and np.isnan(back[1, 1])
    known = np.isfinite(depth) & (depth > 0)
    np.testing.assert_allclose(back[known], depth[known], rtol=2e-3)  # 1/256 px of a 1.6 px disparity at 300 m


def test_extrinsics_are_read_or_named_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "c_camera.json"
    extrinsic = {"baseline": 0.21, "pitch": 0.05, "roll": 0.0, "x": 1.7, "y": 0.1, "yaw": -0.01, "z": 1.2}
    path.write_text(json.dumps({"extrinsic": extrinsic, "intrinsic": {"fx": 1, "fy": 1, "u0": 0, "v0": 0}}))
    assert read_camera(path).extrinsics == Extrinsics(**extrinsic)
    assert read_camera(path).intrinsics == Intrinsics(1.0, 1.0, 0.0, 0.0)
    intrinsic = {"fx": 1, "fy": 1, "u0": 0, "v0": 0}
    path.write_text(json.dumps({"intrinsic": intrinsic}))
    assert read_camera(path).extrinsics is None  # a camera file without a pose: intrinsics only
    path.write_text(json.dumps({"intrinsic": intrinsic, "extrinsic": {**extrinsic, "pitch": "0.05"}}))
    with pytest.raises(DatasetError, match=r"extrinsic\.pitch"):
        read_camera(path)
    path.write_text(json.dumps({"intrinsic": intrinsic, "extrinsic": {**extrinsic, "pitch": 5.0}}))
    with pytest.raises(DatasetError, match="radians"):
        read_camera(path)
    path.write_text(json.dumps({"extrinsic": extrinsic}))
    with pytest.raises(DatasetError, match="'intrinsic'"):
        read_camera(path)


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (4.0, -1.5, 2.0), (-10.0, 20.0, -35.0)])
def test_camera_pose_survives_tf_serialisation(angles: tuple[float, float, float]) -> None:
    pitch, roll, yaw = angles
    mounting = Mounting(1.3, pitch, roll, 1.7, -0.2, yaw_deg=yaw)
    store = get_typestore()
    pose = rm.FramePose(VEHICLE_FRAME, "cam", 123_000_000_456, mounting.centre, mounting.rotation)
    msg = rm.tf_message(store, [pose])
    back = store.deserialize_cdr(store.serialize_cdr(msg, "tf2_msgs/msg/TFMessage"), "tf2_msgs/msg/TFMessage")
    (read,) = rm.tf_poses(back)
    assert (read.parent, read.child, read.stamp_ns) == (VEHICLE_FRAME, "cam", 123_000_000_456)
    again = Mounting.from_pose(read.translation, read.rotation)
    got = (again.height_m, again.pitch_deg, again.roll_deg, again.x_m, again.y_m, again.yaw_deg)
    np.testing.assert_allclose(got, (1.3, pitch, roll, 1.7, -0.2, yaw), atol=1e-9)
    # the optical axis points where the angles say: forward, pitched down, turned left by the yaw
    axis = mounting.rotation[:, 2]
    np.testing.assert_allclose(axis[2], -math.sin(math.radians(pitch)), atol=1e-12)
    assert math.degrees(math.atan2(axis[1], axis[0])) == pytest.approx(yaw)


def test_bad_rotations_are_refused_by_name() -> None:
    store = get_typestore()
    pose = rm.FramePose(VEHICLE_FRAME, "cam", 0, np.zeros(3), np.eye(3))
    msg = rm.tf_message(store, [pose])
    msg.transforms[0].transform.rotation.w = float("nan")
    with pytest.raises(ValueError, match="base_link -> cam"):
        rm.tf_poses(msg)


def pinhole_box_scene(
    distance: float, mounting: Mounting, k: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(gt 0/1, optical depth) of a box face standing on flat ground ``distance`` ahead of the camera, 2 m wide and
    0.6 m high, seen by an exact pinhole: every pixel's ray meets the plane x = distance or the ground."""
    h, w = size
    v, u = np.mgrid[:h, :w]
    rays = np.linalg.solve(k, np.stack([u.ravel() + 0.5, v.ravel() + 0.5, np.ones(h * w)]))
    d = mounting.rotation @ rays
    with np.errstate(divide="ignore", invalid="ignore"):
        t = distance / d[0]
    hit = mounting.centre[:, None] + t * d
    face = (t > 0) & (np.abs(hit[1] - mounting.y_m) <= 1.0) & (hit[2] >= 0) & (hit[2] <= 0.6)
    gt = face.reshape(h, w).astype(np.uint8)
    depth = np.where(face, t, np.nan).reshape(h, w).astype(np.float32)
    return gt, depth


def test_a_box_at_a_known_distance_is_measured_there_by_both() -> None:
    size = (480, 960)
    k = np.array([[700.0, 0, 480.0], [0, 700.0, 240.0], [0, 0, 1]])
    mounting = Mounting(1.4, 3.0, 0.5, 1.7, 0.1, yaw_deg=1.0)
    camera = CameraModel(k, size)
    for distance in (8.0, 20.0, 45.0):
        gt, depth = pinhole_box_scene(distance, mounting, k, size)
        assert gt.sum() > 20
        ids = gt.astype(np.uint16)
        pairs, skipped = obstacle_distances(ids, gt, depth, camera, mounting)
        assert skipped == dict.fromkeys(skipped, 0)
        (reference, estimate), *_ = pairs
        assert reference == pytest.approx(distance, rel=1e-5)  # every stereo pixel is on the face
        # the lowest pixel's lower edge touches the ground at most one pixel row beyond the base
        row_step = distance * distance / (700.0 * 1.4)
        assert abs(estimate - distance) <= row_step + 1e-6, (distance, estimate)
        # a camera mounted 20 % higher than assumed: flat ground puts the obstacle 20 % too near, stereo does not care
        low = Mounting(1.4 / 1.2, 3.0, 0.5, 1.7, 0.1, yaw_deg=1.0)
        (reference_low, estimate_low), *_ = obstacle_distances(ids, gt, depth, camera, low)[0]
        assert reference_low == pytest.approx(distance, rel=1e-5)
        assert estimate_low == pytest.approx(estimate / 1.2, rel=1e-6)


def test_segments_without_a_reference_are_counted_not_compared() -> None:
    size = (240, 480)
    k = np.array([[350.0, 0, 240.0], [0, 350.0, 120.0], [0, 0, 1]])
    mounting = Mounting(1.4, 2.0)
    gt, depth = pinhole_box_scene(12.0, mounting, k, size)
    ids = gt.astype(np.uint16)
    ids[200:210, 10:20] = 2  # a false positive: no ground-truth obstacle under it
    ids[10:20, 10:20] = 3  # above the horizon, on a ground-truth obstacle without depth
    gt[10:20, 10:20] = 1
    pairs, skipped = obstacle_distances(ids, gt, depth, CameraModel(k, size), mounting)
    assert len(pairs) == 1
    assert skipped == {**dict.fromkeys(skipped, 0), "no_ground_truth_obstacle": 1, "no_stereo_depth": 1}


def oracle_outputs(converted: Path, out: Path, ns: str = "/anomaly_seg") -> int:
    """The converted bag plus node outputs that find every ground-truth obstacle exactly (connected components):
    the distance then measures the flat-ground rule and the calibration, not a network."""
    store = get_typestore()
    f = rm.rosbags_factory(store)
    topics = list_topics(converted)
    frames = 0
    with BagWriter(out, typestore=store) as bag:
        for topic, msgtype in topics.items():
            bag.add_topic(topic, msgtype)
        for name in ("anomaly_score", "semantic", "obstacle_ids"):
            bag.add_topic(f"{ns}/output/{name}", "sensor_msgs/msg/Image")
        for message in read_messages(converted, list(topics), typestore=store):
            bag.write(message.topic, message.timestamp_ns, message.msg)
            if message.topic != GROUND_TRUTH_TOPIC:
                continue
            gt = rm.image_to_array(message.msg)
            header = message.msg.header
            _, labels = cv2.connectedComponents((gt == 1).view(np.uint8), connectivity=8)
            score = (gt == 1).astype(np.float32)
            bag.write(f"{ns}/output/anomaly_score", message.timestamp_ns, rm.array_to_image(f, score, "32FC1", header))
            semantic = np.zeros(gt.shape, np.uint8)
            bag.write(f"{ns}/output/semantic", message.timestamp_ns, rm.array_to_image(f, semantic, "mono8", header))
            ids = labels.astype(np.uint16)
            bag.write(f"{ns}/output/obstacle_ids", message.timestamp_ns, rm.array_to_image(f, ids, "mono16", header))
            frames += 1
    return frames


def test_lost_and_found_distance_in_the_report(tmp_path: Path) -> None:
    """Synthetic Lost and Found with disparity and calibration -> bag (depth, camera_info, /tf) -> the node's
    obstacles -> the report's distance table; the error bounds are those of the synthetic geometry test."""
    write_lostandfound_layout(tmp_path / "laf", 16, height=256, width=512, seed=5, sequences=2, n_obstacles=(2, 3))
    summary = convert_dataset(open_layout("lostandfound", tmp_path / "laf"), tmp_path / "in", progress=False)
    assert summary.depth == 16 and "16 depth" in summary.line()
    topics = list_topics(tmp_path / "in")
    assert topics[GROUND_TRUTH_DEPTH_TOPIC] == "sensor_msgs/msg/Image" and topics[TF_TOPIC] == "tf2_msgs/msg/TFMessage"
    assert oracle_outputs(tmp_path / "in", tmp_path / "out") == 16

    result = evaluate_bag(tmp_path / "out", tmp_path / "report", progress=False)
    distance = result.evaluator.metrics()["distance"]
    assert distance["frames"] == 16 and distance["obstacles"] >= 20, distance
    overall = distance["bands"][-1]
    assert overall["band_m"] == "all" and overall["obstacles"] == distance["obstacles"]
    # 60 scenes at 512x1024 give 5.5 % (0-15 m 6 %, 15-30 m 2.4 %, 30-60 m 6 %): the generator draws a level camera
    # whose JSON says pitched and yawed (its rows map to distance a little differently: too far above the image
    # centre, too near below), and obstacles whose base is hidden behind another one stand on the horizon (the tail)
    assert overall["median_abs_relative"] < 0.10, overall
    assert sum(b["obstacles"] for b in distance["bands"][:-1]) == distance["obstacles"]
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## Obstacle distance (flat ground vs stereo)" in report and (tmp_path / "report" / "distance.png").is_file()
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())["distance"]
    assert saved["obstacles"] == distance["obstacles"]


def test_without_stereo_depth_the_report_says_why(tmp_path: Path) -> None:
    write_lostandfound_layout(tmp_path / "laf", 2, height=128, width=256, seed=1, sequences=1)
    for png in (tmp_path / "laf" / "disparity").rglob("*.png"):
        png.unlink()
    convert_dataset(open_layout("lostandfound", tmp_path / "laf"), tmp_path / "in", progress=False)
    oracle_outputs(tmp_path / "in", tmp_path / "out")
    result = evaluate_bag(tmp_path / "out", tmp_path / "report", progress=False)
    assert "no stereo depth" in result.evaluator.metrics()["distance"]["off"]
    assert "Not evaluated: the bag has no stereo depth" in (tmp_path / "report" / "report.md").read_text()


def test_replay_copies_depth_and_pose_through_to_the_evaluation(tmp_path: Path) -> None:
    write_lostandfound_layout(tmp_path / "laf", 3, height=128, width=256, seed=2, sequences=1)
    convert_dataset(open_layout("lostandfound", tmp_path / "laf"), tmp_path / "in", progress=False)
    summary = replay_bag(tmp_path / "in", tmp_path / "out", FakeEngine((64, 128)), params(), progress=False)
    assert summary.copied[GROUND_TRUTH_DEPTH_TOPIC] == summary.copied[TF_TOPIC] == 3
    distance = evaluate_bag(tmp_path / "out", tmp_path / "report", progress=False).evaluator.metrics()["distance"]
    assert "off" not in distance and distance["frames"] == 3


def test_quaternions_agree_with_scipy() -> None:
    from scipy.spatial.transform import Rotation

    from anomaly_seg.messages.transforms import matrix_from_quaternion, quaternion_from_matrix

    rotations = Rotation.random(200, random_state=0)
    special = Rotation.from_euler("xyz", [[180, 0, 0], [0, 180, 0], [0, 0, 180], [0, 0, 0], [90, 90, 0]], degrees=True)
    for r in [*rotations, *special]:
        q = np.array(quaternion_from_matrix(r.as_matrix()))
        expected = r.as_quat()
        assert np.allclose(q, expected, atol=1e-9) or np.allclose(q, -expected, atol=1e-9)  # q and -q: one rotation
        np.testing.assert_allclose(matrix_from_quaternion(expected * 3.0), r.as_matrix(), atol=1e-12)
