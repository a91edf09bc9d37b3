"""Checks of the engine I/O contract (:mod:`anomaly_seg.engines.base`) shared by every backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from anomaly_seg.engines.base import INPUT_NAME, OUTPUT_NAMES, EngineOutputs
from anomaly_seg.errors import EngineError, ModelFileError


@dataclass(frozen=True)
class TensorSpec:
    """Name, dtype and static shape of one engine input or output."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype.name}[{', '.join(map(str, self.shape))}]"


def contract_specs(batch: int, height: int, width: int) -> tuple[TensorSpec, list[TensorSpec]]:
    """The input and output specs an engine of this batch and network size must have."""
    image = TensorSpec(INPUT_NAME, np.dtype(np.uint8), (batch, height, width, 3))
    dtypes = (np.uint8, np.float32, np.float32)
    shapes = ((batch, height, width), (batch, height, width), (batch, 3, height, width))
    outputs = [TensorSpec(n, np.dtype(d), s) for n, d, s in zip(OUTPUT_NAMES, dtypes, shapes)]
    return image, outputs


def validate_io(source: str, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> tuple[int, int, int]:
    """Check a model's declared I/O against the contract; return ``(batch, height, width)``.

    Raises :class:`ModelFileError` naming ``source`` and every mismatch.
    """
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        names = [t.name for t in inputs]
        raise ModelFileError(f"{source}: expected exactly one input '{INPUT_NAME}', found {names}")
    shape = inputs[0].shape
    if len(shape) != 4 or shape[3] != 3 or any(d <= 0 for d in shape):
        raise ModelFileError(f"{source}: input must be static [B, H, W, 3], found {inputs[0]}")
    batch, height, width = shape[0], shape[1], shape[2]
    expected_in, expected_out = contract_specs(batch, height, width)
    problems = [] if inputs[0] == expected_in else [f"input {inputs[0]} (expected {expected_in})"]
    by_name = {t.name: t for t in outputs}
    for spec in expected_out:
        found = by_name.get(spec.name)
        if found is None:
            problems.append(f"missing output {spec}")
        elif found != spec:
            problems.append(f"output {found} (expected {spec})")
    extra = sorted(set(by_name) - set(OUTPUT_NAMES))
    if extra:
        problems.append(f"unexpected outputs {extra}")
    if problems:
        raise ModelFileError(f"{source}: does not follow the engine I/O contract: " + "; ".join(problems))
    return batch, height, width


def check_images(images: np.ndarray, batch: int, size: tuple[int, int], engine: str) -> np.ndarray:
    """Validate an ``infer`` input (uint8 ``[B, H, W, 3]``); returns it C-contiguous."""
    if not isinstance(images, np.ndarray):
        raise EngineError(f"{engine}: images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise EngineError(f"{engine}: images must be uint8, got {images.dtype}")
    expected = (batch, size[0], size[1], 3)
    if images.shape != expected:
        raise EngineError(f"{engine}: images must have shape {list(expected)} (B, H, W, RGB), got {list(images.shape)}")
    return np.ascontiguousarray(images)


def check_outputs(outputs: EngineOutputs, engine: str) -> EngineOutputs:
    """Raise :class:`EngineError` when a float output holds NaN or Inf (fp16 overflow, corrupt engine)."""
    for name in ("anomaly_score", "uncertainty"):
        values = getattr(outputs, name)
        if not np.isfinite(values).all():
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            raise EngineError(f"{engine}: output '{name}' has {bad} non-finite values (NaN/Inf)")
    return outputs


class EngineBase:
    """What every backend shares: the fixed input size, batch size and metadata, the input checks before and the
    NaN/Inf check after :meth:`_run`, and :meth:`warmup`. A backend sets ``_size``, ``_batch``, ``_metadata`` and
    ``_check_finite`` in its constructor and implements :attr:`name` and :meth:`_run`."""

    _size: tuple[int, int]
    _batch: int
    _metadata: dict[str, str]
    _check_finite: bool

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def input_size(self) -> tuple[int, int]:
        return self._size

    @property
    def batch_size(self) -> int:
        return self._batch

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def _run(self, images: np.ndarray) -> EngineOutputs:
        """The backend's inference on already checked uint8 ``[B, H, W, 3]`` images."""
        raise NotImplementedError

    def infer(self, images: np.ndarray) -> EngineOutputs:
        outputs = self._run(check_images(images, self._batch, self._size, self.name))
        return check_outputs(outputs, self.name) if self._check_finite else outputs

    def warmup(self) -> None:
        self.infer(np.zeros((self._batch, *self._size, 3), np.uint8))
