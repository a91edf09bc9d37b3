"""ONNX Runtime backend: CPU by default, CUDA when onnxruntime-gpu is installed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_seg.engines.base import INPUT_NAME, OUTPUT_NAMES, EngineOutputs
from anomaly_seg.engines.contract import EngineBase, TensorSpec, validate_io
from anomaly_seg.engines.metadata import read_onnx_props
from anomaly_seg.errors import EngineError, ModelFileError

#: Providers tried in this order when none are given; TensorRT EP is left to the native TensorRT backend.
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")

_ORT_DTYPES = {"tensor(uint8)": np.uint8, "tensor(float)": np.float32, "tensor(float16)": np.float16}


def available_providers() -> list[str]:
    """Execution providers of the installed onnxruntime build."""
    import onnxruntime as ort

    return list(ort.get_available_providers())


def best_providers() -> list[str]:
    """The preferred providers that this onnxruntime build has, best first (always ends with CPU)."""
    have = set(available_providers())
    return [p for p in PREFERRED_PROVIDERS if p in have] or ["CPUExecutionProvider"]


def _spec(arg: Any, source: str) -> TensorSpec:
    dtype = _ORT_DTYPES.get(arg.type)
    shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape)
    if dtype is None:
        raise ModelFileError(f"{source}: tensor '{arg.name}' has unsupported type {arg.type}")
    return TensorSpec(arg.name, np.dtype(dtype), shape)


class OnnxRuntimeEngine(EngineBase):
    """An :class:`~anomaly_seg.engines.base.Engine` running an exported ONNX model with ONNX Runtime.

    ``intra_op_threads`` = 0 lets ONNX Runtime use one thread per physical core. I/O names, dtypes and
    static shapes are validated against the contract at load.
    """

    def __init__(
        self,
        path: str | Path,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
        check_finite: bool = True,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self._metadata = read_onnx_props(self.path)  # also raises ModelFileError for a missing/corrupt file
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(intra_op_threads)
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        chosen = list(providers) if providers else best_providers()
        have = available_providers()
        missing = [p for p in chosen if p not in have]
        if missing:
            raise EngineError(f"{self.path}: onnxruntime providers {missing} not available (have {have})")
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options, providers=chosen)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            raise ModelFileError(f"{self.path}: onnxruntime cannot load the model: {exc}") from exc
        src = str(self.path)
        inputs = [_spec(a, src) for a in self._session.get_inputs()]
        outputs = [_spec(a, src) for a in self._session.get_outputs()]
        self._batch, h, w = validate_io(src, inputs, outputs)
        self._size = (h, w)
        self._provider = self._session.get_providers()[0]
        self._check_finite = check_finite

    @property
    def name(self) -> str:
        return f"onnxruntime:{self._provider}"

    @property
    def providers(self) -> list[str]:
        """Providers the session actually uses."""
        return list(self._session.get_providers())

    def _run(self, images: np.ndarray) -> EngineOutputs:
        try:
            semantic, score, uncertainty = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
        except Exception as exc:
            raise EngineError(f"{self.name}: inference failed: {exc}") from exc
        return EngineOutputs(semantic, score, uncertainty)
