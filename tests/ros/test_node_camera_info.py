"""camera_info in, camera_info out: the node reads the camera's CameraInfo (the image topic's sibling) and publishes
``~/output/camera_info`` for the outputs' resolution with each frame's header."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.ros.harness import RosClient, require_ros, ros_processes

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from anomaly_seg.bags.convert import camera_info_message  # noqa: E402
from anomaly_seg.datasets import Intrinsics  # noqa: E402
from tests.pipeline.fake_engine import grey_frame  # noqa: E402
from tests.ros.test_node_process import CAMERA, NET, frame, plans, serve, stamp  # noqa: E402
from tests.ros.test_node_process import client as client  # noqa: E402  (the fixture)
from tests.ros.test_node_process import model as model  # noqa: E402  (the fixture)

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("resolution", ["input", "network"])
def test_camera_info_matches_each_output_resolution(
    model: Path, client: RosClient, tmp_path: Path, resolution: str
) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model, **{"output.resolution": resolution})
    with ros_processes() as procs:
        _, _outputs, pub = serve(procs, plan, client, tmp_path)
        infos = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_CAMERA_INFO}", f.CameraInfo)
        network_infos = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_NETWORK_CAMERA_INFO}", f.CameraInfo)
        info_pub = client.publisher("/cam_test/camera_info", f.CameraInfo)
        sent = [0]

        def publish() -> None:
            sent[0] += 1
            image = frame(f, sent[0], "cam")
            info_pub.publish(camera_info_message(f, image.header, *CAMERA, Intrinsics(200.0, 210.0, 80.0, 48.0)))
            pub.publish(image)

        twin = resolution == "input"  # the default output.network_topics puts the overlay at network size
        assert client.spin_until(lambda: bool(infos) and (bool(network_infos) or not twin), 30.0, step=publish)
        size = CAMERA if resolution == "input" else NET
        frames = {stamp(frame(f, i, "cam")) for i in range(1, sent[0] + 1)}
        for (h, w), received in ((size, infos), (NET, network_infos)):
            sx, sy = w / CAMERA[1], h / CAMERA[0]
            for info in received:  # each with the header of a frame it goes with
                assert (info.height, info.width) == (h, w) and stamp(info) in frames and info.header.frame_id == "cam"
                np.testing.assert_allclose(info.k, [200 * sx, 0, 80 * sx, 0, 210 * sy, 48 * sy, 0, 0, 1])
        assert bool(network_infos) == twin


def test_an_obstacle_at_a_known_distance_comes_out_there_in_3d_and_in_the_cloud(
    model: Path, client: RosClient, tmp_path: Path
) -> None:
    f = rm.ros_factory()
    h_m, pitch, fy, cy = 1.4, 12.0, 100.0, 48.0
    v_bottom = 80  # the square's lowest row ends here: its ground contact by plain trigonometry
    expected = h_m / math.tan(math.radians(pitch) + math.atan((v_bottom - cy) / fy))
    ground = {"ground.camera_height_m": h_m, "ground.camera_pitch_deg": pitch, "ground.frame_id": "base_link"}
    (plan,) = plans(model, **ground)
    with ros_processes() as procs:
        _, _outputs, pub = serve(procs, plan, client, tmp_path)
        boxes = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_OBSTACLES_3D}", f_detections3d())
        clouds = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_ANOMALY_POINTS}", f.PointCloud2)
        info_pub = client.publisher("/cam_test/camera_info", f.CameraInfo)
        sent = [0]

        def publish() -> None:
            sent[0] += 1
            image = red_square_frame(f, sent[0], (60, v_bottom - 12, 100, v_bottom))
            info_pub.publish(camera_info_message(f, image.header, *CAMERA, Intrinsics(100.0, fy, 80.0, cy)))
            pub.publish(image)

        assert client.spin_until(lambda: bool(boxes) and bool(clouds), 30.0, step=publish)
        (det,) = boxes[-1].detections
        x = det.bbox.center.position.x
        assert boxes[-1].header.frame_id == "base_link" and abs(x - expected) < 0.04 * expected, (x, expected)
        assert abs(det.bbox.center.position.y) < 0.1 and det.results[0].hypothesis.class_id == "anomaly"
        points = rm.cloud_points(clouds[-1])
        assert 38 <= len(points) <= 42 and np.allclose(points[:, 0], expected, rtol=0.04) and not points[:, 2].any()


def f_detections3d() -> type:
    return rm.ros_factory().Detection3DArray  # type: ignore[no-any-return]


def red_square_frame(f: object, index: int, box: tuple[int, int, int, int]) -> object:
    header = rm.header_from_ns(f, 1_700_000_000_000_000_000 + index * 100_000_000, "cam")  # type: ignore[arg-type]
    return rm.array_to_image(f, grey_frame(*CAMERA, [box]), "rgb8", header)  # type: ignore[arg-type]
