"""Streaming pixel metrics (AP, FPR95, AUROC) over a dataset, against scikit-learn on all pixels held in memory.

Run: ``.venv/bin/python benchmarks/pixel_metrics.py [--images N] [--size HxW]``. Random scores with about 3 %
anomalous pixels, float32 as the engines output them (so nearly every pixel is a distinct score and the state fills
up to ``max_bins``: the worst case for the merge). Prints seconds, state bytes and the AP of each; the streaming AP
must equal scikit-learn's while the bins are exact.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import average_precision_score

from anomaly_seg.metrics import PixelAnomalyMetrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", default="112x224", help="HxW of each score map")
    args = parser.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    images = [
        (rng.normal(size=(h, w)).astype(np.float32), (rng.random((h, w)) < 0.03).astype(np.uint8))
        for _ in range(args.images)
    ]

    metrics = PixelAnomalyMetrics()
    start = time.perf_counter()
    for scores, labels in images:
        metrics.update(scores, labels)
    streaming_ap = metrics.compute().ap
    streaming_s = time.perf_counter() - start

    start = time.perf_counter()
    all_labels = np.concatenate([labels.ravel() for _, labels in images])
    all_scores = np.concatenate([scores.ravel() for scores, _ in images])
    sklearn_ap = float(average_precision_score(all_labels, all_scores))
    sklearn_s = time.perf_counter() - start
    held = all_labels.nbytes + all_scores.nbytes

    print(f"{args.images} images of {h}x{w} ({args.images * h * w:,} pixels), {metrics.num_bins:,} bins")
    print(f"{'method':<36} {'seconds':>8} {'state MB':>9} {'AP':>9}")
    state_mb = metrics.state_nbytes / 1e6
    print(f"{'PixelAnomalyMetrics (streaming)':<36} {streaming_s:8.2f} {state_mb:9.1f} {streaming_ap:9.5f}")
    print(f"{'scikit-learn (all pixels in memory)':<36} {sklearn_s:8.2f} {held / 1e6:9.1f} {sklearn_ap:9.5f}")
    print(f"streaming/scikit-learn time ratio: {streaming_s / sklearn_s:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
