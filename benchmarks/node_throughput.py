"""Node throughput: serial vs pipelined stages, 1 vs 2 cores, one shared engine vs one engine per camera.

Frames are offered at ``--rate`` Hz (2048x1024 rgb8 or jpeg, ``sensor_msgs`` built with the rosbags factory) to
NodeCore + FrameRunner exactly as the node's subscription callback offers them (newest frame wins, drops
counted); outputs are built as for publishing (no DDS: ``benchmarks/ros_transport.py`` measures that). The
engine is a stand-in of fixed latency L at the real-time network size 518x1036 that waits without holding the
GIL, as a GPU sync does, or the real tiny model on ONNX Runtime (CPU, 1 thread). Each run is a subprocess pinned
to ``--cores`` with ``sched_setaffinity``.

With several cameras, "per-camera engines" are N engine instances that share one device (a lock: one GPU runs
one engine at a time), "shared" is one engine (SharedEngine) in round robin, and "batched" one engine of batch N
whose call costs L * (0.6 + 0.4 N) -- an assumed GPU cost model for batching, not a measurement.

    .venv/bin/python benchmarks/node_throughput.py [--seconds 4] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NET = (518, 1036)
CAMERA = (1024, 2048)


def _engine(kind: str, latency_ms: float, batch: int, device: threading.Lock | None) -> Any:
    from tests.pipeline.fake_engine import FixedLatencyEngine

    if kind == "tiny-ort":
        from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
        from training.export import build_export_source, export_onnx

        source = build_export_source(REPO / "models" / "configs" / "tiny.yaml", None)
        path = export_onnx(source.module, Path(tempfile.mkdtemp()) / "tiny.onnx", source.size, metadata=source.metadata)
        return OnnxRuntimeEngine(path, ["CPUExecutionProvider"], 1)

    class DeviceEngine(FixedLatencyEngine):
        def _run(self, images: np.ndarray) -> Any:
            if device is None:
                return super()._run(images)
            with device:  # one GPU: engines of different cameras take turns on it
                return super()._run(images)

    cost = latency_ms * (0.6 + 0.4 * batch) if batch > 1 else latency_ms
    engine = DeviceEngine(NET, cost)
    engine._batch = batch
    return engine


def run_one(config: dict[str, Any]) -> dict[str, Any]:
    """One configuration in this (pinned) process."""
    from anomaly_seg import messages as rm
    from anomaly_seg import vocabulary
    from anomaly_seg.engines.shared import SharedEngine
    from anomaly_seg.messages.typestore import get_typestore
    from anomaly_seg.node_core import core
    from anomaly_seg.node_core.params import NodeParams
    from anomaly_seg.node_core.runner import FrameRunner
    from tests.pipeline.fake_engine import grey_frame

    os.sched_setaffinity(0, set(range(config["cores"])))
    factory = rm.rosbags_factory(get_typestore())
    params = NodeParams.from_dict({"segments.region": "all"}, check_files=False)
    n, sharing = config["cameras"], config["sharing"]
    device = threading.Lock()
    if sharing == "per-camera":
        engines = [_engine(config["engine"], config["latency_ms"], 1, device) for _ in range(n)]
    else:
        shared = SharedEngine(
            _engine(config["engine"], config["latency_ms"], n if sharing == "batched" else 1, None),
            "batched" if sharing == "batched" else "round_robin",
            max_wait_ms=5.0,
        )
        shared.engine.warmup()
        engines = [shared.view() for _ in range(n)]
    offered: dict[int, float] = {}
    done: list[tuple[float, float]] = []  # (offered at, done at)
    lock = threading.Lock()

    def publish(outputs: list[tuple[str, Any]]) -> None:
        now = time.perf_counter()
        stamp = rm.stamp_to_ns(outputs[0][1].header.stamp)
        with lock:
            done.append((offered[stamp], now))

    stage_ms: dict[str, list[float]] = {"begin": [], "infer": [], "finish": []}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stage_ms[name].append(1e3 * (time.perf_counter() - t0))

        return wrapper

    wanted = set(vocabulary.OUTPUT_TYPES) - vocabulary.OPTIONAL_TOPICS  # no RViz subscribed: no overlay, no colours
    cores, runners = [], []
    for engine in engines:
        engine.warmup()
        node = core.NodeCore(params, engine, factory, clock=time.time_ns)
        for name in stage_ms:
            setattr(node, name, timed(name, getattr(node, name)))
        cores.append(node)
        runners.append(FrameRunner(node, publish, wanted=lambda: wanted, pipelined=config["mode"] == "pipelined"))
    rgb = grey_frame(*CAMERA, [(900, 600, 1000, 680)])
    header = rm.header_from_ns(factory, 0, "cam")
    if config["encoding"] == "jpeg":
        template = rm.rgb_to_compressed(factory, rgb, header, "jpeg", 90)
    else:
        template = rm.array_to_image(factory, rgb, "rgb8", header)
    period = 1.0 / config["rate"]
    start = time.perf_counter()
    frames = int(config["seconds"] * config["rate"])
    stamp = 0
    for i in range(frames):
        time.sleep(max(0.0, start + i * period - time.perf_counter()))
        for runner in runners:
            stamp += 1
            msg = dataclasses.replace(template, header=rm.header_from_ns(factory, stamp, "cam"))
            with lock:
                offered[stamp] = time.perf_counter()
            runner.submit(msg)
    time.sleep(0.5)
    for runner in runners:
        runner.close()
    window = [d for d in done if d[0] >= start + 0.5]  # after warm-up
    elapsed = config["seconds"] - 0.5
    stats = [c.stats() for c in cores]
    latency = [1e3 * (b - a) for a, b in window]
    return {
        **config,
        "fps": len(window) / elapsed / n,
        "dropped": sum(s.frames_dropped for s in stats),
        "offered": frames * n,
        "p50": float(np.percentile(latency, 50)) if latency else float("nan"),
        "p99": float(np.percentile(latency, 99)) if latency else float("nan"),
        "stages_ms": [float(np.median(v)) if v else float("nan") for v in stage_ms.values()],
    }


def configs(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = {"rate": args.rate, "seconds": args.seconds, "cameras": 1, "sharing": "shared", "engine": "fixed"}
    out = []
    latencies = [25.0] if args.quick else [10.0, 25.0, 40.0]
    encodings = ["rgb8"] if args.quick else ["rgb8", "jpeg"]
    for cores in (1, 2):
        for latency in latencies:
            for encoding in encodings:
                for mode in ("serial", "pipelined"):
                    out.append({**base, "cores": cores, "latency_ms": latency, "encoding": encoding, "mode": mode})
    if not args.quick:
        for cores in (1, 2):
            for mode in ("serial", "pipelined"):
                out.append(
                    {**base, "engine": "tiny-ort", "latency_ms": 0.0, "cores": cores, "encoding": "rgb8", "mode": mode}
                )
    for n in (2,) if args.quick else (2, 4):
        for sharing in ("per-camera", "shared", "batched"):
            out.append(
                {
                    **base,
                    "cores": 2,
                    "latency_ms": 25.0,
                    "encoding": "rgb8",
                    "mode": "pipelined",
                    "cameras": n,
                    "sharing": sharing,
                }
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=30.0, help="camera rate, Hz (default 30)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per run (default 4)")
    parser.add_argument("--quick", action="store_true", help="a few configurations (CI)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return 0
    usable = len(os.sched_getaffinity(0))
    rows = []
    for config in configs(args):
        if config["cores"] > usable:
            continue
        proc = subprocess.run(
            [sys.executable, __file__, "--one", json.dumps(config)],
            env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"Node throughput, frames offered at {args.rate:g} Hz per camera, camera 2048x1024, network 518x1036\n")
    print(
        f"{'engine':14} {'cams':>4} {'sharing':10} {'input':5} {'cores':>5} {'mode':9} {'fps/cam':>7} "
        f"{'dropped':>9} {'p50 ms':>7} {'p99 ms':>7}  stage ms (median): decode+resize / engine / post+pack"
    )
    for r in rows:
        engine = "tiny ORT" if r["engine"] == "tiny-ort" else f"L={r['latency_ms']:g} ms"
        print(
            f"{engine:14} {r['cameras']:4d} {r['sharing']:10} {r['encoding']:5} {r['cores']:5d} {r['mode']:9} "
            f"{r['fps']:7.1f} {r['dropped']:4d}/{r['offered']:<4d} {r['p50']:7.1f} {r['p99']:7.1f}  "
            + " / ".join(f"{v:.1f}" for v in r["stages_ms"])
        )

    def fps(**match: Any) -> float:
        (row,) = [r for r in rows if all(r[k] == v for k, v in match.items())]
        return float(row["fps"])

    key = {"engine": "fixed", "latency_ms": 25.0, "cameras": 1, "encoding": "rgb8", "cores": min(2, usable)}
    ratio = fps(mode="pipelined", **key) / fps(mode="serial", **key)
    (serial,) = [r for r in rows if r["mode"] == "serial" and all(r[k] == v for k, v in key.items())]
    bound = min(args.rate, 1000.0 / max(serial["stages_ms"]))
    print(
        f"\nbound min(rate, 1000 / slowest stage, stages timed serially) at L=25 ms: {bound:.1f} fps; pipelined "
        f"reaches {fps(mode='pipelined', **key) / bound:.2f} of it (goal >= 0.9)"
    )
    print(f"throughput pipelined/serial (L=25 ms, {key['cores']} cores, 1 camera): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
