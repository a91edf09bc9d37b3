"""Inference engines behind one contract (:mod:`anomaly_seg.engines.base`).

``load_engine(path, backend=...)`` picks and opens a backend: TensorRT (engine built on this GPU from the
ONNX and cached next to it), ONNX Runtime (CPU, or CUDA with onnxruntime-gpu) or torch (eager model from
a checkpoint or a config). Backends are imported lazily: the TensorRT path never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from anomaly_seg.engines.base import INPUT_NAME, OUTPUT_NAMES, Engine, EngineOutputs
from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.vocabulary import BACKENDS

__all__ = ["INPUT_NAME", "OUTPUT_NAMES", "Engine", "EngineOutputs", "load_engine", "resolve_backend"]

_TORCH_SUFFIXES = (".safetensors", ".yaml", ".yml")


def resolve_backend(path: str | Path, backend: str = "auto") -> tuple[str, str]:
    """The backend ``load_engine`` would use for ``path``, and why."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    suffix = Path(path).suffix.lower()
    if backend != "auto":
        return backend, "requested"
    if suffix == ".engine":
        return "tensorrt", "a serialised TensorRT engine"
    if suffix in _TORCH_SUFFIXES:
        return "torch", f"a {suffix} file is a torch checkpoint/config"
    from anomaly_seg.engines.tensorrt_backend import tensorrt_available

    ok, why = tensorrt_available()
    return ("tensorrt", why) if ok else ("onnxruntime", f"TensorRT not usable ({why})")


def load_engine(
    path: str | Path,
    backend: str = "auto",
    precision: str = "fp16",
    force_engine_update: bool = False,
    *,
    workspace_gb: float | None = None,
    providers: Sequence[str] | None = None,
    intra_op_threads: int = 0,
    device: str | None = None,
    log: Callable[[str], None] = print,
) -> Engine:
    """Open the model at ``path`` with ``backend`` (``auto|tensorrt|onnxruntime|torch``).

    * ``.onnx`` + tensorrt: reuse ``<stem>.<precision>.engine`` when its sidecar matches this machine, else
      build it (``force_engine_update`` always rebuilds).
    * ``.onnx`` + onnxruntime: ``providers`` (default: best available) and ``intra_op_threads`` (0 = ORT default).
      ``precision`` does not apply (the ONNX graph is fp32).
    * ``.safetensors``/``.yaml`` + torch: ``device`` (default cpu); fp16 only on CUDA.
    """
    path = Path(path)
    chosen, _ = resolve_backend(path, backend)
    suffix = path.suffix.lower()
    if chosen == "tensorrt":
        from anomaly_seg.engines.tensorrt_backend import TensorRTEngine, ensure_engine

        if suffix not in (".onnx", ".engine"):
            raise ConfigError(f"{path}: the tensorrt backend needs an .onnx or .engine file")
        engine_file = ensure_engine(path, precision, force_engine_update, workspace_gb, log)
        return TensorRTEngine(engine_file)
    if chosen == "onnxruntime":
        from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine

        if suffix != ".onnx":
            raise ConfigError(f"{path}: the onnxruntime backend needs an .onnx file")
        return OnnxRuntimeEngine(path, providers, intra_op_threads)
    from anomaly_seg.engines.torch_backend import TorchEngine

    if suffix not in _TORCH_SUFFIXES:
        raise ModelFileError(f"{path}: the torch backend needs a .safetensors checkpoint or a config .yaml")
    torch_precision = precision if (device or "cpu").startswith("cuda") else "fp32"
    return TorchEngine.from_file(path, device or "cpu", torch_precision)
