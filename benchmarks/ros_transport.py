"""DDS transport of camera-size images through the running node: frames lost and latency, per topic.

A real ``anomaly_seg_node`` process (contract ONNX model at the real-time network size 518x1036, every output
at the camera size, overlay and colours included because they are subscribed) gets rgb8 frames from a
best-effort publisher, as a camera driver sends them, at ``--rate`` Hz. This process subscribes (reliable) to
every output. Per run: frames lost in transport to the node (published - node's frames_in), frames the node
dropped (inference slower than the camera), outputs lost, and latencies:

* ``input``: stamp (= publish time) -> the node's subscription callback (the node's own
  ``input_transport_ms`` diagnostics over the run);
* ``publish (node)``: the node's time to publish one frame's outputs (``publish_ms``: serialisation in rclpy
  and the DDS write, all outputs one after the other);
* each output: outputs ready -> received by this process's DDS reader (``MessageInfo.received_timestamp``, so the
  backlog of this single Python subscriber does not count), with ready = stamp + pipeline_latency_ms of that frame
  (frames are paired in order; the debug topics carry no header): processing is excluded, the publishing of
  the outputs before it in the same frame is not (so later topics include earlier topics' publish time).

Each (profile, size) runs in a fresh subprocess, since Fast DDS reads its XML profile once per process:
``shipped`` = anomaly_seg's profile (what the node and launch files apply), ``default`` = Fast DDS defaults.

    .venv/bin/python benchmarks/ros_transport.py [--sizes 1280x720 2048x1024] [--rate 10] [--frames 50]

The closing lines: per size, camera stamp -> received p99 of every output (inference included), and the planner
outputs' (obstacles, mask) p99 after the frame's outputs were ready: negative since the node publishes them before
it builds the large images.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NET = (518, 1036)
PROFILES = ("shipped", "default")


def _environment(profile: str, domain: int) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_BUILTIN_TRANSPORTS")
    }
    env.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    if profile == "default":
        env["FASTDDS_BUILTIN_TRANSPORTS"] = "DEFAULT"  # counts as "configured": the node leaves Fast DDS alone
    else:
        from anomaly_seg.ros import dds

        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(dds.PROFILE_PATH)
    return env


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def run_one(
    profile: str, size: tuple[int, int], rate: float, frames: int, domain: int, network_topics: str | None = None
) -> dict[str, Any]:
    """One node + this process as camera and subscriber; returns the measurements (the environment is set)."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from anomaly_seg import messages as rm
    from anomaly_seg import vocabulary
    from anomaly_seg.ros.launch_plan import NodePlan, camera_nodes
    from tests.pipeline.fake_engine import grey_frame, write_contract_onnx

    tmp = Path(tempfile.mkdtemp(prefix="ros_transport_"))
    model = write_contract_onnx(tmp / "contract.onnx", NET)
    (plan,) = camera_nodes("/bench/image_raw", str(REPO / "launch/config/anomaly_seg.yaml"), model=str(model))
    overrides = {**plan.overrides, "model.backend": "onnxruntime", "segments.region": "all"}
    if network_topics is not None:
        overrides["output.network_topics"] = network_topics
    plan = NodePlan(plan.namespace, plan.name, plan.params_file, overrides, plan.remappings)
    node = subprocess.Popen(
        plan.command(BIN / "anomaly_seg_node", tmp / "overrides.yaml"),
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "node.log").open("wb"),
    )
    rclpy.init()
    client = rclpy.create_node("ros_transport_bench")
    f = rm.ros_factory()
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    arrivals: dict[str, list[tuple[int, int]]] = {t: [] for t in vocabulary.OUTPUT_TYPES}  # (stamp or -1, receive ns)
    debug: dict[str, list[float]] = {vocabulary.TOPIC_PROCESSING_TIME: [], vocabulary.TOPIC_PIPELINE_LATENCY: []}
    diagnostics: list[Any] = []

    def on_output(topic: str) -> Any:
        def callback(msg: Any, info: Any) -> None:
            # when this process's DDS reader received it, not when this one Python thread got to it (behind the
            # large images of the frames before: a planner is a process of its own)
            now = int(info.get("received_timestamp") or time.time_ns())
            if topic in debug:
                debug[topic].append(float(msg.data))
            else:
                arrivals[topic].append((rm.stamp_to_ns(msg.header.stamp), now))

        return callback

    for topic, type_name in vocabulary.OUTPUT_TYPES.items():
        client.create_subscription(getattr(f, type_name), f"{plan.full_name}/{topic}", on_output(topic), reliable)
    client.create_subscription(f.DiagnosticArray, vocabulary.TOPIC_DIAGNOSTICS, diagnostics.append, reliable)
    camera = client.create_publisher(
        f.Image, "/bench/image_raw", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    )

    def status() -> dict[str, str]:
        for array in reversed(diagnostics):
            for s in array.status:
                if s.name.startswith(plan.full_name + ":"):
                    return {kv.key: kv.value for kv in s.values}
        return {}

    def spin(seconds: float, until: Any = None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            rclpy.spin_once(client, timeout_sec=0.01)

    try:
        spin(60.0, lambda: bool(status()) or node.poll() is not None)
        if node.poll() is not None:
            raise RuntimeError(f"node exited: {(tmp / 'node.log').read_text()[-2000:]}")
        spin(2.0)  # every output subscription matched
        h, w = size
        image = rm.array_to_image(f, grey_frame(h, w, [(w // 3, h // 2, w // 3 + 80, h // 2 + 60)]), "rgb8", f.Header())
        start = time.monotonic()
        for i in range(frames):
            spin(start + i / rate - time.monotonic())
            image.header = rm.header_from_ns(f, time.time_ns(), "bench")
            camera.publish(image)

        def settled() -> bool:
            n = [
                int(status().get(k, "0")) for k in ("frames_in", "frames_processed", "frames_dropped", "frames_failed")
            ]
            return n[0] > 0 and n[0] == n[1] + n[2] + n[3] and len(arrivals[vocabulary.TOPIC_SEMANTIC]) == n[1]

        spin(10.0, settled)
        spin(1.5)
    finally:
        node.send_signal(signal.SIGINT)
        node.wait(20)
        client.destroy_node()
        rclpy.shutdown()
    s = status()
    processed = int(s.get("frames_processed", "0"))
    pipeline = debug[vocabulary.TOPIC_PIPELINE_LATENCY]
    processing = debug[vocabulary.TOPIC_PROCESSING_TIME]
    row: dict[str, Any] = {
        "profile": profile,
        "size": f"{size[1]}x{size[0]}",
        "published": frames,
        "node_frames_in": int(s.get("frames_in", "0")),
        "node_dropped": int(s.get("frames_dropped", "0")),
        "processed": processed,
        "processing_ms_p50": _percentiles(processing)[0],
        "latency": {
            "input": (float(s.get("input_transport_ms_p50", "nan")), float(s.get("input_transport_ms_p99", "nan"))),
            "publish (node)": (float(s.get("publish_ms_p50", "nan")), float(s.get("publish_ms_p99", "nan"))),
        },
        "outputs_lost": {},
        "end_to_end": {},
    }
    for topic, received in arrivals.items():
        if topic in debug:
            row["outputs_lost"][topic] = processed - len(debug[topic])
            continue
        row["outputs_lost"][topic] = processed - len(received)
        ready_ns = [stamp + ms * 1e6 for (stamp, _), ms in zip(arrivals[vocabulary.TOPIC_SEMANTIC], pipeline)]
        by_stamp = dict(zip([a[0] for a in arrivals[vocabulary.TOPIC_SEMANTIC]], ready_ns))
        row["latency"][topic] = _percentiles([(now - by_stamp[st]) / 1e6 for st, now in received if st in by_stamp])
        row["end_to_end"][topic] = _percentiles([(now - st) / 1e6 for st, now in received])
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "2048x1024"], help="camera sizes WxH")
    parser.add_argument("--rate", type=float, default=10.0, help="camera rate in Hz (default 10)")
    parser.add_argument("--frames", type=int, default=50, help="frames per run (default 50)")
    parser.add_argument("--profiles", nargs="+", choices=PROFILES, default=list(PROFILES))
    parser.add_argument(
        "--network-topics",
        metavar="YAML",
        help="the node's output.network_topics (default: the shipped parameter file's); '[]' = every image at the "
        "camera size",
    )
    parser.add_argument("--one", nargs=3, metavar=("PROFILE", "SIZE", "DOMAIN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        profile, size_text, domain = args.one
        w, h = (int(v) for v in size_text.split("x"))
        print(json.dumps(run_one(profile, (h, w), args.rate, args.frames, int(domain), args.network_topics)))
        return 0
    rows = []
    for i, (profile, size_text) in enumerate((p, s) for s in args.sizes for p in args.profiles):
        domain = 1 + (os.getpid() + i) % 200
        cmd = [sys.executable, __file__, "--one", profile, size_text, str(domain), "--rate", str(args.rate)]
        proc = subprocess.run(
            [*cmd, "--frames", str(args.frames)]
            + ([] if args.network_topics is None else [f"--network-topics={args.network_topics}"]),
            env={**_environment(profile, domain), "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    period_ms = 1000.0 / args.rate
    shown = "the shipped file's" if args.network_topics is None else args.network_topics
    print(
        f"ROS 2 transport through anomaly_seg_node, {args.frames} frames at {args.rate:g} Hz (frame period "
        f"{period_ms:.0f} ms), best-effort camera publisher, reliable output subscribers, localhost; "
        f"output.network_topics: {shown}\n"
    )
    print(
        f"{'profile':8} {'size':>9} {'sent':>5} {'in':>4} {'dropped':>7} {'done':>4} {'proc p50':>8} "
        f"{'topic':28} {'lost':>4} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for row in rows:
        head = (
            f"{row['profile']:8} {row['size']:>9} {row['published']:5d} {row['node_frames_in']:4d} "
            f"{row['node_dropped']:7d} {row['processed']:4d} {row['processing_ms_p50']:8.1f}"
        )
        for j, (topic, (p50, p99)) in enumerate(row["latency"].items()):
            lost = str(row["outputs_lost"].get(topic, "-"))
            print(f"{head if j == 0 else ' ' * len(head)} {topic:28} {lost:>4} {p50:7.1f} {p99:7.1f}")
    shipped = [r for r in rows if r["profile"] == "shipped"]
    transport = [v[1] for r in shipped for k, v in r["latency"].items() if k != "publish (node)"]
    worst = max(transport, default=float("nan"))
    lost = sum(r["published"] - r["node_frames_in"] + sum(r["outputs_lost"].values()) for r in shipped)
    for r in shipped:  # the camera's stamp (its publish time here) -> received: inference included
        e2e = ", ".join(f"{t.split('/')[-1]} {p99:.0f}" for t, (_, p99) in r["end_to_end"].items())
        print(f"\nshipped {r['size']}: camera stamp -> received p99 (ms): {e2e}")
    print(f"\nshipped profile: frames or outputs lost in transport: {lost}; worst p99 transport latency {worst:.1f} ms")
    print(f"shipped profile: worst p99 transport latency / 33 ms goal: {worst / 33.3:.2f}")
    from anomaly_seg import vocabulary

    planner = (vocabulary.TOPIC_OBSTACLES, vocabulary.TOPIC_ANOMALY_MASK)  # what a planner acts on, published first
    if shipped:
        largest = max(shipped, key=lambda r: int(r["size"].split("x")[0]) * int(r["size"].split("x")[1]))
        p99 = max((largest["latency"].get(t, (0.0, float("nan")))[1] for t in planner), default=float("nan"))
        print(f"planner outputs p99 at {largest['size']} (shipped profile): {p99:.1f} ms (goal 33 ms)")
        every = max((v[1] for k, v in largest["latency"].items() if k.startswith("output/")), default=float("nan"))
        print(f"every output p99 at {largest['size']} (shipped profile): {every:.1f} ms (goal 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
