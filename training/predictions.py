"""Prediction files: one frame's engine outputs and its anomaly ground truth, as written by the evaluators
(``evaluate --dump-predictions``) and read by ``fit-meta`` and the meta-classification protocol.

One ``.npz`` per frame with the arrays ``semantic`` uint8 ``HxW`` (trainIds), ``anomaly_score`` float ``HxW``,
``uncertainty`` float ``[3, H, W]`` and ``anomaly_gt`` uint8 ``HxW`` (0 inlier, 1 anomaly, 255 void), all at one
resolution. Files are untrusted input: every array is checked, nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from anomaly_seg.errors import DatasetError

PREDICTION_KEYS = ("semantic", "anomaly_score", "uncertainty", "anomaly_gt")


@dataclass(frozen=True)
class Prediction:
    """One frame's engine outputs (at one resolution) and its anomaly ground truth."""

    semantic: np.ndarray
    anomaly_score: np.ndarray
    uncertainty: np.ndarray
    anomaly_gt: np.ndarray


def save_prediction(path: str | Path, prediction: Prediction) -> Path:
    """Write one prediction file (compressed ``.npz``, no pickled objects)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **asdict(prediction))
    return path


def prediction_files(paths: Sequence[str | Path]) -> list[Path]:
    """``.npz`` files given directly or found (sorted, non-recursive) in the given folders."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.npz"))
            if not found:
                raise DatasetError(f"{p}: folder holds no .npz prediction files")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise DatasetError(f"{p}: no such prediction file or folder")
    return files


def load_prediction(path: Path) -> Prediction:
    """Read and check one prediction file; problems raise :class:`DatasetError` naming the file and the key."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in PREDICTION_KEYS if k not in data.files]
            if missing:
                raise DatasetError(f"{path}: missing array(s) {', '.join(missing)} (expected {list(PREDICTION_KEYS)})")
            arrays = {k: data[k] for k in PREDICTION_KEYS}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npz prediction file ({exc})") from exc
    shape = arrays["anomaly_gt"].shape
    if len(shape) != 2:
        raise DatasetError(f"{path}: anomaly_gt must be HxW, got shape {shape}")
    expected = {"semantic": shape, "anomaly_score": shape, "uncertainty": (3, *shape)}
    for key, want in expected.items():
        if arrays[key].shape != want:
            raise DatasetError(f"{path}: {key} must have shape {want}, got {arrays[key].shape}")
    for key in ("semantic", "anomaly_gt"):
        if arrays[key].dtype != np.uint8:
            raise DatasetError(f"{path}: {key} must be uint8, got {arrays[key].dtype}")
    for key in ("anomaly_score", "uncertainty"):
        if arrays[key].dtype.kind != "f" or not np.isfinite(arrays[key]).all():
            raise DatasetError(f"{path}: {key} must be finite floats")
    return Prediction(arrays["semantic"], arrays["anomaly_score"], arrays["uncertainty"], arrays["anomaly_gt"])
