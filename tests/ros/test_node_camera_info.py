"""camera_info in, camera_info out: the node reads the camera's CameraInfo (the image topic's sibling) and publishes
``~/output/camera_info`` for the outputs' resolution with each frame's header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.ros.harness import RosClient, require_ros, ros_processes

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from anomaly_seg.bags.convert import camera_info_message  # noqa: E402
from anomaly_seg.datasets import Intrinsics  # noqa: E402
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
        info_pub = client.publisher("/cam_test/camera_info", f.CameraInfo)
        sent = [0]

        def publish() -> None:
            sent[0] += 1
            image = frame(f, sent[0], "cam")
            info_pub.publish(camera_info_message(f, image.header, *CAMERA, Intrinsics(200.0, 210.0, 80.0, 48.0)))
            pub.publish(image)

        assert client.spin_until(lambda: bool(infos), 30.0, step=publish)
        h, w = CAMERA if resolution == "input" else NET
        sx, sy = w / CAMERA[1], h / CAMERA[0]
        frames = {stamp(frame(f, i, "cam")) for i in range(1, sent[0] + 1)}
        for info in infos:  # each with the header of a frame it goes with
            assert (info.height, info.width) == (h, w) and stamp(info) in frames and info.header.frame_id == "cam"
            np.testing.assert_allclose(info.k, [200 * sx, 0, 80 * sx, 0, 210 * sy, 48 * sy, 0, 0, 1])
