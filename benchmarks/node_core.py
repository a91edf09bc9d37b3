"""Host time per frame of NodeCore around the engine call (DESIGN.md §6 budget), engine time excluded.

An instant fake engine at the real-time network size (518x1036) returns fixed outputs with a few anomalous
blobs, so everything else is measured: decode, resize, segments, message packing, latency bookkeeping.
The always-on outputs are produced (semantic_color and overlay are only made for subscribers; excluded, as
in the budget). Reference line: one cv2.resize (INTER_AREA) of the same frame to the network size.

    .venv/bin/python benchmarks/node_core.py [--frames 50] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from anomaly_seg import messages as rm
from anomaly_seg import vocabulary
from anomaly_seg.engines.base import EngineOutputs
from anomaly_seg.node_core import core
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.pipeline import Timings

SAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cityscapes_sample" / "fullres"
NET = (518, 1036)


class InstantEngine:
    """Engine protocol; returns preallocated outputs at once (so the benchmark measures only host work)."""

    def __init__(self, size: tuple[int, int]) -> None:
        h, w = size
        self._size = size
        score = np.full((1, h, w), -4.0, np.float32)
        semantic = np.full((1, h, w), 10, np.uint8)
        semantic[:, h // 2 :] = 0
        rng = np.random.default_rng(0)
        for _ in range(6):  # a few obstacles on the road
            y, x = int(rng.integers(h // 2, h - 40)), int(rng.integers(0, w - 60))
            score[:, y : y + int(rng.integers(8, 40)), x : x + int(rng.integers(8, 60))] = 3.0
        uncertainty = np.repeat(1.0 / (1.0 + np.exp(-score[:, None])), 3, axis=1).astype(np.float32)
        self._outputs = EngineOutputs(semantic, score, uncertainty)

    name = "instant"
    batch_size = 1

    @property
    def metadata(self) -> dict[str, str]:
        return {}

    @property
    def input_size(self) -> tuple[int, int]:
        return self._size

    def infer(self, images: np.ndarray) -> EngineOutputs:
        return self._outputs

    def warmup(self) -> None:
        pass


def camera_frame(height: int, width: int) -> np.ndarray:
    """The real Cityscapes frame (from ../shared/data when present, else a synthetic one), resized to HxW."""
    files = sorted(SAMPLE.glob("*.png")) if SAMPLE.is_dir() else []
    if files:
        bgr = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"cannot read {files[0]}")
        return cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    rng = np.random.default_rng(1)
    return cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (9, 9), 3)


def measure(fn: object, frames: int) -> np.ndarray:
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1e3)
    return np.asarray(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=50, help="timed frames per case (after 5 warm-up frames)")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (the budget is single-threaded)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    factory = rm.rosbags_factory()
    params = NodeParams.from_dict({}, check_files=False)
    wanted = set(vocabulary.OUTPUT_TYPES) - vocabulary.OPTIONAL_TOPICS
    rows: list[tuple[str, str, np.ndarray, Timings | None]] = []
    for width, height in ((2048, 1024), (1280, 720)):
        rgb = camera_frame(height, width)
        header = rm.make_header(factory, 1, 0, "camera")
        inputs = {
            "rgb8": rm.array_to_image(factory, rgb, "rgb8", header),
            "bgr8": rm.array_to_image(factory, np.ascontiguousarray(rgb[..., ::-1]), "bgr8", header),
            "jpeg q90": rm.rgb_to_compressed(factory, rgb, header, fmt="jpeg", quality=90),
        }
        ref = measure(lambda rgb=rgb: cv2.resize(rgb, NET[::-1], interpolation=cv2.INTER_AREA), args.frames)
        rows.append((f"{width}x{height}", "reference: 1 x cv2.resize", ref, None))
        for resolution in ("input", "network"):
            node = core.NodeCore(
                NodeParams.from_dict({**params.to_dict(), "output.resolution": resolution}, check_files=False),
                InstantEngine(NET),
                factory,
            )
            for name, msg in inputs.items():
                for _ in range(5):
                    node.process(msg, wanted)
                times = measure(lambda node=node, msg=msg: node.process(msg, wanted), args.frames)
                stats = node.stats()
                assert stats.frames_failed == 0, stats.errors
                timings = node.last_result.timings if node.last_result else None
                rows.append((f"{width}x{height}", f"{name}, output={resolution}", times, timings))
    print(
        f"NodeCore host time per frame, instant engine at {NET[1]}x{NET[0]}, cv2 threads={args.threads}, "
        f"{args.frames} frames (ms)"
    )
    print(f"{'input':>10} | {'case':<28} | {'median':>7} | {'p90':>7} | {'x resize':>8} | last frame: stages")
    ref_median = 1.0
    for size, case, times, timings in rows:
        median, p90 = float(np.median(times)), float(np.percentile(times, 90))
        if timings is None:
            ref_median = median
        stages = (
            f"decode {timings.decode_ms:.1f}, pre {timings.preprocess_ms:.1f}, seg {timings.segments_ms:.1f}, "
            f"post {timings.postprocess_ms:.1f}"
            if timings
            else ""
        )
        print(f"{size:>10} | {case:<28} | {median:7.2f} | {p90:7.2f} | {median / ref_median:8.1f} | {stages}")


if __name__ == "__main__":
    main()
