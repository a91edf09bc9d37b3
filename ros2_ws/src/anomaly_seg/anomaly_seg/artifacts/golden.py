"""Golden inputs and reference outputs for the on-target self-test.

Export writes ``<model>.onnx.golden/`` (or ``--golden DIR``): one ``<case>.npz`` per input (keys ``image``,
``semantic``, ``anomaly_score``, ``uncertainty``) computed with ONNX Runtime on CPU, and ``manifest.json``
(cases, reference backend, ONNX sha256, network size). ``anomaly-seg selftest`` runs any backend on the
same inputs and compares (:mod:`anomaly_seg.artifacts.parity`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from anomaly_seg.artifacts.parity import Comparison, compare
from anomaly_seg.engines.base import Engine, EngineOutputs
from anomaly_seg.errors import ModelFileError
from anomaly_seg.vocabulary import PRECISIONS

MANIFEST = "manifest.json"
CASES = ("random_uniform", "random_smooth", "gradient", "checkerboard", "constant_extremes")


def golden_images(size: tuple[int, int], batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random and structured uint8 ``[B, H, W, 3]`` inputs, one per case in :data:`CASES`.

    Structured cases probe what random noise does not: smooth regions (realistic statistics), sharp
    edges (resize/stride alignment), saturated values (normalisation range).
    """
    h, w = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]

    def one(case: str) -> np.ndarray:
        if case == "random_uniform":
            return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if case == "random_smooth":
            small = rng.integers(0, 256, (max(h // 32, 2), max(w // 32, 2), 3), dtype=np.uint8)
            return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        if case == "gradient":
            r = xx * 255 // max(w - 1, 1)
            g = yy * 255 // max(h - 1, 1)
            return np.stack([r, g, 255 - r], axis=-1).astype(np.uint8)
        if case == "checkerboard":
            board = ((yy // 14 + xx // 14) % 2 * 255).astype(np.uint8)
            return np.stack([board, 255 - board, board // 2], axis=-1)
        if case == "constant_extremes":
            img = np.zeros((h, w, 3), np.uint8)
            img[:, w // 2 :] = 255
            img[h // 2 :, :, 1] = 128
            return img
        raise ValueError(f"unknown golden case {case!r}")

    return {case: np.stack([one(case) for _ in range(batch)]) for case in CASES}


@dataclass(frozen=True)
class GoldenCase:
    """One stored input and its reference outputs."""

    name: str
    image: np.ndarray
    reference: EngineOutputs


def default_golden_dir(model_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.golden``: the fp32 export's golden set, which ``model.fp16.onnx``,
    ``model.int8.onnx`` and their engines (``model.fp16.engine``) are checked against too."""
    path = Path(model_path)
    stem = path.stem
    for precision in PRECISIONS:
        stem = stem.removesuffix(f".{precision}")
    return path.with_name(stem + ".onnx.golden")


def write_golden(
    directory: str | Path, engine: Engine, images: dict[str, np.ndarray], info: dict[str, Any] | None = None
) -> Path:
    """Run ``engine`` on each input and store input + outputs; returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        out = engine.infer(image)
        np.savez_compressed(
            directory / f"{name}.npz",
            image=image,
            semantic=out.semantic,
            anomaly_score=out.anomaly_score,
            uncertainty=out.uncertainty,
        )
    manifest = {
        "cases": list(images),
        "reference_backend": engine.name,
        "network_size": list(engine.input_size),
        "batch_size": engine.batch_size,
        **(info or {}),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return directory


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The golden set's manifest (:class:`ModelFileError` when missing or corrupt)."""
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: no readable golden manifest ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise ModelFileError(f"{path}: golden manifest has no 'cases' list")
    return data


def iter_golden(directory: str | Path) -> Iterator[GoldenCase]:
    """Load the stored cases one at a time (a real-size set is tens of MB per case)."""
    directory = Path(directory)
    for name in read_manifest(directory)["cases"]:
        path = directory / f"{name}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                ref = EngineOutputs(data["semantic"], data["anomaly_score"], data["uncertainty"])
                yield GoldenCase(str(name), data["image"], ref)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"{path}: unreadable golden case ({exc})") from exc


def check_against_golden(engine: Engine, directory: str | Path) -> list[tuple[str, Comparison]]:
    """Run ``engine`` on every stored input and compare with the stored reference outputs."""
    results = []
    for case in iter_golden(directory):
        if case.image.shape[1:3] != engine.input_size or case.image.shape[0] != engine.batch_size:
            raise ModelFileError(
                f"{directory}: golden case '{case.name}' has shape {list(case.image.shape)}, "
                f"engine {engine.name} takes [{engine.batch_size}, {engine.input_size[0]}, {engine.input_size[1]}, 3]"
            )
        results.append((case.name, compare(case.reference, engine.infer(case.image))))
    return results
