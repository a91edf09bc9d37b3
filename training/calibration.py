"""Calibration frames for int8 exports: a folder of camera images or a bag's camera topic (the vehicle's own
distribution), resized to the network input like the node does (area when shrinking)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from anomaly_seg.errors import DatasetError, ImageDecodeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _resized(rgb: np.ndarray, size: tuple[int, int], batch: int) -> np.ndarray:
    h, w = size
    if rgb.shape[:2] != (h, w):
        shrink = rgb.shape[0] >= h and rgb.shape[1] >= w
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(np.repeat(rgb[None], batch, axis=0))


def calibration_frames(
    source: str | Path, size: tuple[int, int], batch: int = 1, limit: int = 64
) -> Iterator[np.ndarray]:
    """Up to ``limit`` uint8 ``[batch, H, W, 3]`` RGB frames from a folder of images or a bag (its only camera topic),
    spread evenly over the source. DatasetError names the source when it holds no usable frame."""
    path = Path(source)
    if path.is_dir() and not (path / "metadata.yaml").exists() and not any(path.glob("*.mcap")):
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) for calibration")
        step = max(1, len(files) // limit)
        for file in files[::step][:limit]:
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DatasetError(f"{file}: not a readable image")
            yield _resized(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size, batch)
        return
    from anomaly_seg import messages as rm
    from anomaly_seg.bags.reader import list_topics, message_count, read_messages
    from anomaly_seg.offline.replay import find_camera_topic
    from anomaly_seg.vocabulary import GROUND_TRUTH_TOPIC

    if not path.exists():
        raise DatasetError(f"{path}: calibration source not found (a folder of images or a bag)")
    camera = find_camera_topic(list_topics(path), {GROUND_TRUTH_TOPIC})
    step = max(1, message_count(path, [camera]) // limit)
    taken = skipped = 0
    for i, message in enumerate(read_messages(path, [camera])):
        if i % step or taken >= limit:
            continue
        msg = message.msg
        try:
            rgb = rm.compressed_to_rgb(msg) if hasattr(msg, "format") else rm.image_to_rgb(msg)
        except ImageDecodeError as exc:  # a broken frame is no calibration data: skip it, say so
            skipped += 1
            print(f"calibration: skipped a frame of {camera}: {exc}", file=sys.stderr)
            continue
        taken += 1
        yield _resized(rgb, size, batch)
    if not taken:
        raise DatasetError(f"{path}: no decodable frame on {camera} for calibration ({skipped} broken)")
