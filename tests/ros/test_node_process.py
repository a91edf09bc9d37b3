"""anomaly_seg_node as a real process over Fast DDS, started exactly as camera.launch.py starts it.

The command line comes from the launch file's own plan (:mod:`anomaly_seg.ros.launch_plan`: the shipped
parameter file, the launch overrides, the camera remap); an rclpy client in its own domain publishes frames
and records what the node publishes. The model is the tiny contract ONNX (red pixels anomalous), so the
expected outputs are known.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.ros.harness import (
    BIN,
    SHIPPED_PARAMS,
    RosClient,
    RosProcess,
    latest_status,
    new_domain_id,
    require_ros,
    ros_environment,
    ros_processes,
)

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from anomaly_seg.ros.launch_plan import NodePlan, camera_nodes  # noqa: E402
from tests.pipeline.fake_engine import grey_frame, write_contract_onnx  # noqa: E402

pytestmark = pytest.mark.ros

NET = (64, 128)
CAMERA = (96, 160)  # height, width of the published camera image
SQUARE = (40, 50, 80, 90)
STARTUP_S = 60.0
#: what camera.launch.py's arguments become in these tests; anomaly.threshold is an integer on purpose (README: "0")
OVERRIDES: dict[str, Any] = {"anomaly.threshold": 0, "segments.min_area_px": 4, "segments.region": "all"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_contract_onnx(tmp_path_factory.mktemp("model") / "contract.onnx", NET, nan_when_blue=True)


@pytest.fixture
def client() -> Any:
    domain = new_domain_id()
    c = RosClient(domain)
    c.domain = domain
    yield c
    c.close()


def plans(model: Path, cameras: str = "/cam_test/image_raw", compressed: str = "", **overrides: Any) -> list[NodePlan]:
    """camera.launch.py's nodes for ``cameras:=`` with ``model:=``, ``backend:=onnxruntime`` and ``compressed:=``,
    plus parameter overrides (as a parameter file given with ``params_file:=`` would add them)."""
    base = camera_nodes(cameras, str(SHIPPED_PARAMS), model=str(model), backend="onnxruntime", compressed=compressed)
    merged = {**base[0].overrides, **OVERRIDES, **overrides}
    return [NodePlan(p.namespace, p.name, p.params_file, merged, p.remappings, p.log_level) for p in base]


def start(procs: list[RosProcess], plan: NodePlan, client: Any, tmp_path: Path) -> RosProcess:
    name = plan.full_name.strip("/").replace("/", "_")
    tmp_path.mkdir(parents=True, exist_ok=True)
    cmd = plan.command(BIN / "anomaly_seg_node", tmp_path / f"{name}.overrides.yaml")
    process = RosProcess(cmd, ros_environment(client.domain), tmp_path, name)
    procs.append(process)
    return process


def wait_ready(client: RosClient, process: RosProcess, node: str) -> list[Any]:
    """Spin until the node's first /diagnostics (published once a second after start); returns the list that
    records the /diagnostics messages from then on."""
    diagnostics = client.subscribe(vocabulary.TOPIC_DIAGNOSTICS, rm.ros_factory().DiagnosticArray)
    ok = client.spin_until(
        lambda: latest_status(diagnostics, node) is not None or process.proc.poll() is not None, STARTUP_S
    )
    assert ok and process.proc.poll() is None, f"{node} did not come up:\n{process.output[-3000:]}"
    return diagnostics


def frame(factory: Any, index: int, frame_id: str, size: tuple[int, int] = CAMERA, encoding: str = "rgb8") -> Any:
    header = rm.header_from_ns(factory, 1_700_000_000_000_000_000 + index * 100_000_000, frame_id)
    rgb = grey_frame(*size, [SQUARE])
    pixels = rgb[..., ::-1].copy() if encoding == "bgr8" else rgb
    return rm.array_to_image(factory, pixels, encoding, header)


def stamp(msg: Any) -> int:
    return rm.stamp_to_ns(msg.header.stamp)


def serve(procs: list[RosProcess], plan: NodePlan, client: RosClient, tmp_path: Path) -> tuple[RosProcess, Any, Any]:
    """Start the node of ``plan``, subscribe to all its outputs, wait until it is up; returns (process, outputs
    by topic, a publisher on the camera topic)."""
    process = start(procs, plan, client, tmp_path)
    outputs = subscribe_outputs(client, plan.full_name)
    wait_ready(client, process, plan.full_name)
    return process, outputs, client.publisher("/cam_test/image_raw", rm.ros_factory().Image)


def subscribe_outputs(client: RosClient, prefix: str) -> dict[str, list[Any]]:
    f = rm.ros_factory()
    return {
        topic: client.subscribe(f"{prefix}/{topic}", getattr(f, type_name))
        for topic, type_name in vocabulary.OUTPUT_TYPES.items()
    }


@pytest.mark.parametrize("resolution", ["input", "network"])
def test_every_output_arrives_with_the_input_header_at_the_configured_size(
    model: Path, client: RosClient, tmp_path: Path, resolution: str
) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model, **{"output.resolution": resolution})
    with ros_processes() as procs:
        process, outputs, pub = serve(procs, plan, client, tmp_path)
        sent: dict[int, str] = {}

        def publish() -> None:  # again until late-matched optional outputs (overlay, colours) have arrived too
            i = len(sent)
            msg = frame(f, i, f"cam_test_optical_{i}", encoding="bgr8" if i % 2 else "rgb8")
            sent[stamp(msg)] = msg.header.frame_id
            pub.publish(msg)

        assert client.spin_until(lambda: all(outputs.values()), 30.0, step=publish), {
            t: len(m) for t, m in outputs.items()
        }
        for topic, messages in outputs.items():
            # output.network_topics' default keeps the RViz-only images at network resolution
            at_network = resolution == "network" or topic.split("/")[-1] in ("overlay", "semantic_color")
            for msg in messages:
                if hasattr(msg, "header"):  # every output that has a header carries its input's
                    assert sent.get(stamp(msg)) == msg.header.frame_id, topic
                if hasattr(msg, "encoding"):
                    assert (msg.height, msg.width) == (NET if at_network else CAMERA), topic
                    assert msg.encoding == {
                        "semantic_color": "rgb8",
                        "overlay": "bgr8",
                        "anomaly_score": "32FC1",
                        "obstacle_ids": "mono16",
                    }.get(topic.split("/")[-1], "mono8"), topic
        for topic in (vocabulary.TOPIC_PROCESSING_TIME, vocabulary.TOPIC_PIPELINE_LATENCY):
            assert all(np.isfinite(m.data) and m.data > 0 for m in outputs[topic]), topic
        ids = {stamp(m): m for m in outputs[vocabulary.TOPIC_OBSTACLE_IDS]}
        for det in outputs[vocabulary.TOPIC_OBSTACLES]:
            if stamp(det) in ids:
                id_image = rm.image_to_array(ids[stamp(det)])
                assert {int(d.id) for d in det.detections} == set(np.unique(id_image).tolist()) - {0}
                assert len(det.detections) == 1 and det.detections[0].results[0].hypothesis.class_id == "anomaly"
        mask = rm.image_to_array(outputs[vocabulary.TOPIC_ANOMALY_MASK][0])
        x0, y0, x1, y1 = SQUARE
        if resolution == "input":
            assert mask[y0:y1, x0:x1].min() == 255 and mask[: y0 - 3].max() == 0

        # a subscriber that comes late still gets the (transient-local) label info
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

        latched = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        label_info = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_LABEL_INFO}", f.LabelInfo, latched)
        assert client.spin_until(lambda: bool(label_info), 10.0)
        assert len(label_info[0].class_map) == 19 and label_info[0].threshold == 0.0
        assert process.interrupt() == 0


def _bad_frames(f: Any) -> dict[str, Any]:
    """One message per DESIGN.md §7 kind of broken raw frame (kind -> message)."""
    good = frame(f, 0, "bad")

    def raw(index: int, **fields: Any) -> Any:
        msg = frame(f, index, "bad")
        for key, value in fields.items():
            setattr(msg, key, value)
        return msg

    blue = frame(f, 5, "bad")
    pixels = rm.image_to_array(blue).copy()
    pixels[:8, :8] = (0, 0, 255)  # the test model answers NaN on pure blue
    return {
        "unknown encoding": raw(1, encoding="bayer_weird8"),
        "step x height != data": raw(2, data=bytes(good.data)[:-7]),
        "zero size": raw(3, height=0, width=0, step=0, data=b""),
        "absurdly large": raw(4, height=20000, width=20000, step=60000),
        "NaN from the engine": rm.array_to_image(f, pixels, "rgb8", blue.header),
    }


def test_broken_frames_are_counted_in_diagnostics_and_give_no_output(
    model: Path, client: RosClient, tmp_path: Path
) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model, **{"input.qos": "reliable"})
    with ros_processes() as procs:
        process = start(procs, plan, client, tmp_path)
        semantic = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_SEMANTIC}", f.Image)
        diagnostics = wait_ready(client, process, plan.full_name)
        pub = client.publisher("/cam_test/image_raw", f.Image)
        bad = _bad_frames(f)
        for msg in bad.values():  # one at a time: each must reach the node (its slot holds one frame)
            before = int((latest_status(diagnostics, plan.full_name) or {}).get("frames_in", "0"))
            pub.publish(msg)
            client.spin_until(
                lambda b=before: int((latest_status(diagnostics, plan.full_name) or {})["frames_in"]) > b, 10.0
            )
        good = frame(f, 9, "good")
        pub.publish(good)

        def counted() -> bool:
            status = latest_status(diagnostics, plan.full_name) or {}
            return status.get("frames_processed") == "1" and status.get("frames_failed") == str(len(bad))

        assert client.spin_until(counted, 15.0), latest_status(diagnostics, plan.full_name)
        status = latest_status(diagnostics, plan.full_name)
        assert status is not None
        assert status["errors.bad_image"] == "4" and status["errors.engine"] == "1", status
        assert "engine" in process.output and "bad_image" in process.output  # logged, with the kind
        assert [stamp(m) for m in semantic] == [stamp(good)]  # outputs for the good frame only
        assert process.interrupt() == 0


def test_compressed_input_gives_outputs_and_corrupt_data_is_counted(
    model: Path, client: RosClient, tmp_path: Path
) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model, compressed="true", **{"input.qos": "reliable"})
    assert plan.remappings == (("~/input/image/compressed", "/cam_test/image_raw/compressed"),)
    with ros_processes() as procs:
        process = start(procs, plan, client, tmp_path)
        scores = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_ANOMALY_SCORE}", f.Image)
        diagnostics = wait_ready(client, process, plan.full_name)
        pub = client.publisher("/cam_test/image_raw/compressed", f.CompressedImage)
        header = rm.header_from_ns(f, 42, "cam_jpeg")
        corrupt = rm.rgb_to_compressed(f, grey_frame(*CAMERA, [SQUARE]), rm.header_from_ns(f, 41, "cam_jpeg"))
        corrupt.data = bytes(corrupt.data)[:64] + bytes(200)
        pub.publish(corrupt)
        client.spin_until(lambda: (latest_status(diagnostics, plan.full_name) or {}).get("frames_in") == "1", 10.0)
        pub.publish(rm.rgb_to_compressed(f, grey_frame(*CAMERA, [SQUARE]), header, "png"))

        assert client.spin_until(lambda: bool(scores), 15.0), process.output[-2000:]
        assert [stamp(m) for m in scores] == [42] and scores[0].header.frame_id == "cam_jpeg"
        score = rm.image_to_array(scores[0])
        x0, y0, x1, y1 = SQUARE
        assert score.shape == CAMERA and score[y0:y1, x0:x1].min() > 0 > score[:y0].max()
        assert client.spin_until(
            lambda: (latest_status(diagnostics, plan.full_name) or {}).get("errors.bad_image") == "1", 5.0
        )
        assert process.interrupt() == 0


def test_frames_offered_faster_than_inference_are_dropped_and_counted(
    model: Path, client: RosClient, tmp_path: Path
) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model, **{"input.qos": "reliable"})
    with ros_processes() as procs:
        process = start(procs, plan, client, tmp_path)
        semantic = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_SEMANTIC}", f.Image)
        diagnostics = wait_ready(client, process, plan.full_name)
        pub = client.publisher("/cam_test/image_raw", f.Image, depth=50)
        big = (1024, 2048)  # camera-size frames back to back: far faster than even the pipelined node's slowest stage
        messages = [frame(f, i, "burst", big) for i in range(20)]
        pub.publish(messages[0])  # matched and received: from here on every sequence gap is seen
        assert client.spin_until(lambda: bool(semantic), 20.0)
        for msg in messages[1:]:
            pub.publish(msg)

        def counts() -> dict[str, int]:
            s = latest_status(diagnostics, plan.full_name) or {}
            keys = ("frames_in", "frames_processed", "frames_dropped", "frames_failed", "frames_lost_in_transport")
            return {k: int(s.get(k, "0")) for k in keys}

        def settled() -> bool:
            n = counts()
            done = n["frames_processed"] + n["frames_dropped"] + n["frames_failed"]
            return n["frames_in"] > 0 and n["frames_in"] == done and len(semantic) == n["frames_processed"]

        assert client.spin_until(settled, 30.0), counts()
        client.spin_for(1.5)  # a later diagnostics message must not change the balance
        n = counts()
        assert settled() and n["frames_failed"] == 0, n
        # every frame offered is accounted for: replaced in the node's slot, or lost before it (DDS replaced it in
        # the depth-1 reader queue: the publisher's sequence numbers show the gap); none silently
        assert n["frames_in"] + n["frames_lost_in_transport"] == len(messages), n
        assert n["frames_dropped"] + n["frames_lost_in_transport"] > 0 and n["frames_processed"] < len(messages), n
        # the newest frame wins: the last frame offered is always processed
        assert stamp(semantic[-1]) == stamp(messages[-1])
        assert process.interrupt() == 0


def test_two_cameras_get_two_nodes_with_their_own_outputs(model: Path, client: RosClient, tmp_path: Path) -> None:
    f = rm.ros_factory()
    both = plans(model, "['/cam_a/image_raw', '/cam_b/image_raw']")
    assert [p.full_name for p in both] == ["/cam_a/anomaly_seg", "/cam_b/anomaly_seg"]
    with ros_processes() as procs:
        processes = [start(procs, p, client, tmp_path) for p in both]
        outputs = {
            p.full_name: client.subscribe(f"{p.full_name}/{vocabulary.TOPIC_OBSTACLES}", f.Detection2DArray)
            for p in both
        }
        for p, process in zip(both, processes, strict=True):
            wait_ready(client, process, p.full_name)
        # sensor-data QoS (the shipped default): best-effort camera publishers, as camera drivers use
        pubs = {cam: client.publisher(f"/{cam}/image_raw", f.Image, reliable=False) for cam in ("cam_a", "cam_b")}
        count = [0]

        def publish() -> None:
            count[0] += 1
            for cam, pub in pubs.items():
                pub.publish(frame(f, count[0], f"{cam}_optical"))

        assert client.spin_until(lambda: all(len(o) >= 3 for o in outputs.values()), 30.0, step=publish)
        for p in both:
            cam = p.namespace.strip("/")
            assert {m.header.frame_id for m in outputs[p.full_name]} == {f"{cam}_optical"}
        assert [p.interrupt() for p in processes] == [0, 0]


def test_reliable_input_qos_matches_reliable_publishers_only(model: Path, client: RosClient, tmp_path: Path) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model, **{"input.qos": "reliable"})
    with ros_processes() as procs:
        process = start(procs, plan, client, tmp_path)
        semantic = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_SEMANTIC}", f.Image)
        wait_ready(client, process, plan.full_name)
        best_effort = client.publisher("/cam_test/image_raw", f.Image, reliable=False)
        client.spin_until(lambda: False, 1.0, step=lambda: best_effort.publish(frame(f, 1, "be")))
        assert best_effort.get_subscription_count() == 0 and semantic == []  # incompatible QoS: never matched
        reliable = client.publisher("/cam_test/image_raw", f.Image)
        assert client.spin_until(lambda: bool(semantic), 15.0, step=lambda: reliable.publish(frame(f, 2, "rel")))
        assert semantic[0].header.frame_id == "rel"
        assert process.interrupt() == 0


def test_best_effort_outputs_reach_best_effort_subscribers_only(model: Path, client: RosClient, tmp_path: Path) -> None:
    """``output.qos: best_effort``: a reliable subscriber is incompatible (never matched), a best-effort one gets
    the frames; the publisher's QoS as the graph reports it says so."""
    from rclpy.qos import ReliabilityPolicy

    f = rm.ros_factory()
    (plan,) = plans(model, **{"output.qos": "best_effort"})
    with ros_processes() as procs:
        process = start(procs, plan, client, tmp_path)
        topic = f"{plan.full_name}/{vocabulary.TOPIC_OBSTACLES}"
        reliable = client.subscribe(topic, f.Detection2DArray)
        best_effort = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_ANOMALY_MASK}", f.Image, reliable=False)
        wait_ready(client, process, plan.full_name)
        pub = client.publisher("/cam_test/image_raw", f.Image, reliable=False)
        assert client.spin_until(lambda: bool(best_effort), 15.0, step=lambda: pub.publish(frame(f, 1, "be")))
        client.spin_until(lambda: False, 0.5, step=lambda: pub.publish(frame(f, 2, "be")))
        assert reliable == []  # incompatible QoS: never matched
        (info,) = client.node.get_publishers_info_by_topic(topic)
        assert info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
        assert process.interrupt() == 0


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"anomaly.treshold": 0.1}, "anomaly.treshold"),  # misspelt: refused, not silently ignored
        ({"segments.min_area_px": "many"}, "segments.min_area_px"),
        ({"model.backend": "cuda"}, "model.backend"),
        ({"model.onnx_path": "/nonexistent/model.onnx"}, "model.onnx_path"),
        ({"output.overlay_alpha": 3.0}, "output.overlay_alpha"),
    ],
)
def test_invalid_parameters_exit_1_naming_the_parameter(
    model: Path, client: RosClient, tmp_path: Path, override: dict[str, Any], named: str
) -> None:
    (plan,) = plans(model, **override)
    with ros_processes() as procs:
        process = start(procs, plan, client, tmp_path)
        assert process.wait(60.0) == 1, process.output[-2000:]
        assert named in process.stderr and "Traceback" not in process.stderr, process.stderr


def test_sigint_while_frames_stream_exits_0_without_a_traceback(model: Path, client: RosClient, tmp_path: Path) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model)
    pub = client.publisher("/cam_test/image_raw", f.Image, reliable=False)
    big = frame(f, 1, "stream", (1024, 2048))
    for attempt in range(3):
        with ros_processes() as procs:
            process = start(procs, plan, client, tmp_path / str(attempt))
            semantic = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_SEMANTIC}", f.Image)
            wait_ready(client, process, plan.full_name)
            stop = threading.Event()

            def stream(stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    pub.publish(big)  # camera-size: the worker is busy with a frame most of the time
                    time.sleep(1 / 30)

            streamer = threading.Thread(target=stream)
            streamer.start()
            try:
                assert client.spin_until(lambda s=semantic: len(s) >= 3, 20.0)
                code = process.interrupt()
            finally:
                stop.set()
                streamer.join()
            assert code == 0, process.stderr[-3000:]
            for sign in ("Traceback", "RCLError", "Exception"):
                assert sign not in process.stderr, process.stderr[-3000:]


def test_one_shared_engine_serves_several_cameras_with_per_camera_outputs(
    model: Path, client: RosClient, tmp_path: Path
) -> None:
    f = rm.ros_factory()
    cameras = "['/cam_a/image_raw', '/cam_b/image_raw', '/cam_c/image_raw']"
    launched = camera_nodes(cameras, str(SHIPPED_PARAMS), model=str(model), backend="onnxruntime", shared_engine=True)
    assert len(launched) == 1 and launched[0].remappings == () and launched[0].full_name == "/anomaly_seg_shared"
    overrides = {**launched[0].overrides, **OVERRIDES, "input.qos": "reliable"}
    shared = NodePlan(launched[0].namespace, launched[0].name, launched[0].params_file, overrides, ())
    per_camera = [p.full_name for p in plans(model, cameras)]  # the names one node per camera would use
    with ros_processes() as procs:
        process = start(procs, shared, client, tmp_path)
        outputs = {
            name: client.subscribe(f"{name}/{vocabulary.TOPIC_OBSTACLES}", f.Detection2DArray) for name in per_camera
        }
        scores = {name: client.subscribe(f"{name}/{vocabulary.TOPIC_ANOMALY_SCORE}", f.Image) for name in per_camera}
        diagnostics = client.subscribe(vocabulary.TOPIC_DIAGNOSTICS, f.DiagnosticArray)
        assert client.spin_until(lambda: all(latest_status(diagnostics, n) for n in per_camera), 60.0), process.output
        pubs = {name: client.publisher(f"/{name.split('/')[1]}/image_raw", f.Image) for name in per_camera}
        count = [0]

        def publish() -> None:
            count[0] += 1
            for name, pub in pubs.items():
                pub.publish(frame(f, count[0], name.split("/")[1]))

        assert client.spin_until(lambda: all(len(o) >= 3 for o in outputs.values()), 30.0, step=publish)
        for name in per_camera:
            assert {m.header.frame_id for m in outputs[name]} == {name.split("/")[1]}
            assert all((m.height, m.width) == CAMERA for m in scores[name])
            status = latest_status(diagnostics, name)
            assert status is not None and "shared, round_robin" in status["backend"], status
        assert process.interrupt() == 0, process.output[-4000:]
        assert process.output.count("ready: ") == 3
