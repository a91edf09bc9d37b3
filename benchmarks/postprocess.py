"""Host cost of the post-processing after the engine call, single-threaded, against one ``cv2.resize``.

Run: ``.venv/bin/python benchmarks/postprocess.py``. A synthetic road scene at network size (518x1036) with its
obstacles and tens of false-positive blobs gives realistic engine outputs; each stage is timed on its own (median
of ``--repeats`` frames): outputs resized to the camera size (nearest for labels, linear for score and
uncertainty), connected components, features, meta classification, message packing. Two orders are timed:
A finds segments at the camera size (every map resized first); B, what ``anomaly_seg.pipeline`` runs, finds
segments and features at network size (where the meta classifier is fitted) and resizes only the semantic map,
the score and the id image to the camera size. The last line is ``postprocess/resize ratio: X`` for B =
total / one ``cv2.resize`` of the 2048x1024 BGR frame to 1036x518 (target <= 6).
The naive row times the per-segment reference implementation of the features (MetaSeg-style loops with full-image
boolean masks).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from anomaly_seg.segments import (  # noqa: E402
    FEATURE_NAMES,
    MetaClassifier,
    SegmentParams,
    Segments,
    extract_segments,
    segment_features,
)
from anomaly_seg.segments.reference import reference_segment_features  # noqa: E402

NET_H, NET_W = 518, 1036


def engine_outputs(seed: int, blobs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """semantic u8, LLR score f32, uncertainty f32 [3] at network size: obstacles + ``blobs`` false positives."""
    rng = np.random.default_rng(seed)
    try:
        from anomaly_seg.synthetic import generate_scene

        scene = generate_scene(NET_H, NET_W, seed, n_obstacles=(6, 10))
        semantic = np.where(scene.train_ids == 255, 0, scene.train_ids).astype(np.uint8)
        obstacle = scene.anomaly == 1
    except ImportError:  # the generator is optional for this benchmark
        semantic = np.zeros((NET_H, NET_W), np.uint8)
        semantic[: NET_H // 2] = 10
        obstacle = np.zeros((NET_H, NET_W), bool)
        for _ in range(8):
            y, x = rng.integers(NET_H // 2, NET_H - 30), rng.integers(0, NET_W - 30)
            obstacle[y : y + rng.integers(8, 30), x : x + rng.integers(8, 30)] = True
    noise = cv2.GaussianBlur(rng.standard_normal((NET_H, NET_W)).astype(np.float32), (0, 0), 4)
    score = -4.0 + noise / noise.std()
    centers = np.stack([rng.integers(0, NET_H, blobs), rng.integers(0, NET_W, blobs)], 1)
    bumps: np.ndarray = np.zeros((NET_H, NET_W), np.float32)
    bumps[centers[:, 0], centers[:, 1]] = 1.0
    bumps = cv2.GaussianBlur(bumps, (0, 0), 3)
    score += 6.0 * bumps / bumps.max() + 7.0 * cv2.GaussianBlur(obstacle.astype(np.float32), (0, 0), 1.5)
    uncertainty = np.stack(
        [
            np.clip(cv2.GaussianBlur(rng.random((NET_H, NET_W)).astype(np.float32), (0, 0), 3) * 2, 0, 1)
            for _ in range(3)
        ]
    )
    return semantic, score.astype(np.float32), uncertainty


def interleaved_ms(stages: dict[str, Callable[[], object]], repeats: int) -> dict[str, np.ndarray]:
    """Per-frame wall times (ms) of each stage; stages run in turn every frame so machine load hits all alike."""
    for fn in stages.values():
        fn()  # warm-up
    times = {name: np.zeros(repeats) for name in stages}
    for i in range(repeats):
        for name, fn in stages.items():
            start = time.perf_counter()
            fn()
            times[name][i] = 1e3 * (time.perf_counter() - start)
    return times


def report(title: str, times: dict[str, np.ndarray], reference: np.ndarray) -> float:
    """Print one table (medians); returns total / reference."""
    total = np.sum(list(times.values()), axis=0)
    ref = float(np.median(reference))
    print(f"\n{title}")
    print(f"| {'stage':<44} | {'ms':>8} | {'x resize':>8} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 10}|")
    for name, t in [*times.items(), ("total", total), ("reference: cv2.resize 2048x1024 BGR -> 1036x518", reference)]:
        ms = float(np.median(t))
        print(f"| {name:<44} | {ms:8.3f} | {ms / ref:8.2f} |")
    return float(np.median(total)) / ref


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--height", type=int, default=1024, help="camera image height")
    parser.add_argument("--width", type=int, default=2048, help="camera image width")
    parser.add_argument("--repeats", type=int, default=50, help="timed frames")
    parser.add_argument("--naive-repeats", type=int, default=2, help="timed frames for the naive reference")
    parser.add_argument("--blobs", type=int, default=30, help="false-positive blobs in the score map")
    parser.add_argument("--threshold", type=float, default=0.0, help="anomaly score threshold")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    size = (args.width, args.height)
    scale = (args.width / NET_W) * (args.height / NET_H)

    semantic_n, score_n, uncertainty_n = engine_outputs(args.seed, args.blobs)
    rng = np.random.default_rng(args.seed)
    camera = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    params = SegmentParams(threshold=args.threshold, min_area_px=32, max_segments=64)
    params_n = SegmentParams(threshold=args.threshold, min_area_px=round(32 / scale), max_segments=64)
    meta = MetaClassifier(
        np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), 0.01 * rng.standard_normal(len(FEATURE_NAMES)), 1.0
    )
    # Output buffers are allocated once, as a node does: fresh multi-MB arrays per frame cost page faults.
    semantic = np.empty((args.height, args.width), np.uint8)
    score = np.empty((args.height, args.width), np.float32)
    uncertainty = np.empty((3, args.height, args.width), np.float32)
    ids_full = np.empty((args.height, args.width), np.uint16)
    mask = np.empty((args.height, args.width), np.uint8)

    def resize_labels_and_score() -> None:
        cv2.resize(semantic_n, size, dst=semantic, interpolation=cv2.INTER_NEAREST)
        cv2.resize(score_n, size, dst=score, interpolation=cv2.INTER_LINEAR)

    def resize_all() -> None:
        resize_labels_and_score()
        for c in range(3):
            cv2.resize(uncertainty_n[c], size, dst=uncertainty[c], interpolation=cv2.INTER_LINEAR)

    resize_all()
    state: dict[str, object] = {}

    def components() -> None:
        state["segments"] = extract_segments(score, semantic, params)

    def features() -> None:
        state["features"] = segment_features(state["segments"], score, uncertainty, semantic)  # type: ignore[arg-type]

    def classify() -> None:
        segments: Segments = state["segments"]  # type: ignore[assignment]
        state["kept"] = segments.select(meta.keep(state["features"]))  # type: ignore[arg-type]

    def pack() -> list[bytes]:
        cv2.compare(score, args.threshold, cv2.CMP_GE, dst=mask)
        kept: Segments = state["kept"]  # type: ignore[assignment]
        ids = kept.ids if kept.ids.shape == mask.shape else ids_full
        return [semantic.tobytes(), score.tobytes(), mask.tobytes(), ids.tobytes()]

    def components_n() -> None:
        state["segments"] = extract_segments(score_n, semantic_n, params_n)

    def features_n() -> None:
        state["features"] = segment_features(state["segments"], score_n, uncertainty_n, semantic_n)  # type: ignore[arg-type]

    def classify_n() -> None:
        classify()
        kept: Segments = state["kept"]  # type: ignore[assignment]
        cv2.resize(kept.ids, size, dst=ids_full, interpolation=cv2.INTER_NEAREST)

    reference = "reference"
    at_input = interleaved_ms(
        {
            "resize semantic, score, uncertainty to input": resize_all,
            "components (threshold, cc, relabel)": components,
            "features": features,
            "meta classifier + renumber": classify,
            "message packing (semantic, score, mask, ids)": pack,
            reference: lambda: cv2.resize(camera, (NET_W, NET_H), interpolation=cv2.INTER_LINEAR),
        },
        args.repeats,
    )
    segments: Segments = state["segments"]  # type: ignore[assignment]
    kept: Segments = state["kept"]  # type: ignore[assignment]
    naive = np.array(
        [
            1e3 * _timed(lambda: reference_segment_features(segments, score, uncertainty, semantic))
            for _ in range(args.naive_repeats)
        ]
    )
    at_network = interleaved_ms(
        {
            "resize semantic, score to input": resize_labels_and_score,
            "components at network size": components_n,
            "features at network size": features_n,
            "meta classifier + renumber + ids to input": classify_n,
            "message packing (semantic, score, mask, ids)": pack,
            reference: lambda: cv2.resize(camera, (NET_W, NET_H), interpolation=cv2.INTER_LINEAR),
        },
        args.repeats,
    )
    print(f"frame {args.width}x{args.height}, network {NET_W}x{NET_H}, one thread, median of {args.repeats} frames")
    print(
        f"segments at input size: {segments.count} kept ({int(segments.areas.sum())} px), {segments.removed_small} "
        f"below {params.min_area_px} px, {segments.dropped_over_cap} over cap; {kept.count} kept by meta; "
        f"{len(FEATURE_NAMES)} features"
    )
    ref_in, ref_net = at_input.pop(reference), at_network.pop(reference)
    fast = float(np.median(at_input["features"]))
    ratio_input = report("A. everything at input size (for comparison)", at_input, ref_in)
    print(f"postprocess/resize ratio (A, input-size segments): {ratio_input:.2f}")
    print(
        f"naive features (per-segment loops, reference.py): {np.median(naive):.1f} ms; "
        f"speed-up of features: {np.median(naive) / fast:.0f}x"
    )
    ratio_network = report("B. the pipeline: segments at network size, outputs to input", at_network, ref_net)
    print(f"postprocess/resize ratio: {ratio_network:.2f}")
    return 0


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
