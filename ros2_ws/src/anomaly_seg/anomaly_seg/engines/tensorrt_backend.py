"""TensorRT backend (10.3 on JetPack 6 to 11.x on x86): build from ONNX, cache next to it, run on a stream.

Building has one path for every precision: a **strongly typed** network (``NetworkDefinitionCreationFlag.
STRONGLY_TYPED``), so every tensor keeps the type the ONNX gives it. The precision lives in the ONNX
(:mod:`anomaly_seg.artifacts.precision`: ``model.fp16.onnx`` with its fp32 islands, ``model.int8.onnx`` with Q/DQ);
no builder precision flag, no per-layer precision and no calibrator is used, none of which TensorRT 11 has.
``trt.OnnxParser`` -> ``IBuilderConfig`` (workspace limit, timing cache next to the ONNX) ->
``build_serialized_network``. Running: one execution context, device buffers bound once with
``set_tensor_address``, page-locked host buffers, ``execute_async_v3`` on a private stream. No torch import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_seg.engines.base import INPUT_NAME, OUTPUT_NAMES, EngineOutputs
from anomaly_seg.engines.contract import EngineBase, TensorSpec, validate_io
from anomaly_seg.engines.cuda_memory import CudaApi, cuda_api, pinned_array
from anomaly_seg.engines.engine_cache import (
    CacheDecision,
    EngineFingerprint,
    Sidecar,
    decide,
    diff_fingerprints,
    engine_paths,
    read_sidecar,
    sidecar_path,
    timing_cache_path,
    write_sidecar,
)
from anomaly_seg.engines.metadata import ModelMetadata, precision_onnx, read_onnx_props
from anomaly_seg.errors import ConfigError, EngineError, ModelFileError
from anomaly_seg.files import sha256_file
from anomaly_seg.vocabulary import PRECISIONS

Log = Callable[[str], None]


def _require_tensorrt() -> str:
    """TensorRT's version; EngineError when its Python bindings are missing. Callers then ``import tensorrt``
    themselves, so mypy checks every use against TensorRT's stubs."""
    try:
        import tensorrt
    except ImportError as exc:
        raise EngineError(f"TensorRT Python bindings are not installed: {exc}") from exc
    return str(tensorrt.__version__)


def tensorrt_available() -> tuple[bool, str]:
    """Whether TensorRT and a CUDA GPU can be used here, with the reason when not."""
    try:
        _require_tensorrt()
        import tensorrt as trt

        gpu, cc = cuda_api().device_name()
    except (EngineError, ImportError, OSError) as exc:
        return False, str(exc)
    return True, f"TensorRT {trt.__version__} on {gpu} (sm {cc})"


def current_fingerprint(onnx_path: Path, api: CudaApi | None = None) -> EngineFingerprint:
    """Fingerprint an engine built here from ``onnx_path`` would have (its precision is the ONNX's)."""
    _require_tensorrt()
    import tensorrt as trt

    gpu, cc = (api or cuda_api()).device_name()
    meta = ModelMetadata.from_props(read_onnx_props(onnx_path), str(onnx_path))
    return EngineFingerprint(
        tensorrt_version=str(trt.__version__),
        gpu_name=gpu,
        compute_capability=cc,
        precision=meta.precision,
        input_size=meta.network_size,
        batch_size=meta.batch_size,
        onnx_sha256=sha256_file(onnx_path),
    )


def _parser_errors(parser: Any) -> list[str]:
    out = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        node = err.node_name() if hasattr(err, "node_name") else f"#{err.node()}"
        op = f" ({err.node_operator()})" if hasattr(err, "node_operator") else ""
        out.append(f"node {node}{op}: {err.desc()}")
    return out


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    workspace_gb: float | None = None,
    log: Log = print,
) -> Path:
    """Build and serialise a strongly typed TensorRT engine (+ sidecar, + timing cache) from an exported ONNX model
    of any precision (the precision is the ONNX's own)."""
    _require_tensorrt()
    import tensorrt as trt

    onnx_path = Path(onnx_path)
    api = cuda_api()
    fingerprint = current_fingerprint(onnx_path, api)
    precision = fingerprint.precision
    engine_path = Path(engine_path) if engine_path else engine_paths(onnx_path, precision)[0]
    props = read_onnx_props(onnx_path)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    creation = trt.NetworkDefinitionCreationFlag
    if not hasattr(creation, "STRONGLY_TYPED"):
        raise EngineError(
            f"TensorRT {trt.__version__} cannot build strongly typed networks; TensorRT >= 10.3 is needed"
        )
    network = builder.create_network(1 << int(creation.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        raise ModelFileError(f"{onnx_path}: TensorRT's ONNX parser failed:\n  " + "\n  ".join(_parser_errors(parser)))

    config = builder.create_builder_config()
    if workspace_gb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    cache_file = timing_cache_path(onnx_path)
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)

    log(f"building TensorRT {trt.__version__} strongly typed {precision} engine on {fingerprint.gpu_name} ...")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"{onnx_path}: TensorRT failed to build an engine (see the TensorRT log above)")
    tmp = engine_path.with_name(engine_path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(memoryview(serialized))
    tmp.replace(engine_path)
    with contextlib.suppress(OSError):  # a read-only model folder must not fail the build
        cache_file.write_bytes(memoryview(config.get_timing_cache().serialize()))
    extra = {"metadata": props, "strongly_typed": True, "workspace_gb": workspace_gb, "cuda": api.name}
    write_sidecar(sidecar_path(engine_path), Sidecar(fingerprint, sha256_file(engine_path), str(onnx_path), extra))
    log(f"wrote {engine_path} ({engine_path.stat().st_size / 2**20:.1f} MiB) and {sidecar_path(engine_path).name}")
    return engine_path


def ensure_engine(
    path: str | Path,
    precision: str = "fp16",
    force: bool = False,
    workspace_gb: float | None = None,
    log: Log = print,
) -> Path:
    """Engine file for ``path`` (an ``.onnx`` or an ``.engine``), rebuilt from ONNX when the cache is stale.

    For an ``.onnx``, the model of ``precision`` is used: the file itself or its ``<stem>.<precision>.onnx``
    sibling (:func:`~anomaly_seg.engines.metadata.precision_onnx`; a clear error says what to export when it is
    missing). An ``.engine`` that does not match this machine is rebuilt from the ONNX named in its sidecar when
    that file exists; otherwise :class:`ModelFileError` names the engine and the reasons.
    """
    _require_tensorrt()
    path = Path(path)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelFileError(f"{path}: ONNX file not found")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        onnx_path = precision_onnx(path, precision)
        engine, _ = engine_paths(onnx_path, precision)
        decision = decide(engine, current_fingerprint(onnx_path), force=force)
        if decision.rebuild:
            log(f"{engine.name}: {decision}")
            build_engine(onnx_path, engine, workspace_gb, log)
        return engine
    if not path.is_file():
        raise ModelFileError(f"{path}: engine file not found")
    try:
        side = read_sidecar(sidecar_path(path))
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: cannot verify engine: {exc}") from exc
    source: Path | None = Path(side.onnx_path) if side.onnx_path else None
    if source is not None and source.is_file():
        decision = decide(path, current_fingerprint(source), force=force)
    else:
        _require_tensorrt()
        import tensorrt as trt

        gpu, cc = cuda_api().device_name()
        here = EngineFingerprint(str(trt.__version__), gpu, cc, *_fp_tail(side.fingerprint))
        reasons = diff_fingerprints(side.fingerprint, here)
        if not reasons and sha256_file(path) != side.engine_sha256:
            reasons.append("engine does not match the sha256 in its sidecar (corrupt or replaced)")
        decision = CacheDecision(bool(reasons) or force, tuple(reasons) + (("forced",) if force else ()))
    if not decision.rebuild:
        return path
    if source is None or not source.is_file():
        why = "; ".join(decision.reasons)
        raise ModelFileError(f"{path}: engine unusable here ({why}) and no ONNX to rebuild from")
    log(f"{path.name}: {decision}")
    return build_engine(source, path, workspace_gb, log)


def _fp_tail(fp: EngineFingerprint) -> tuple[str, tuple[int, int], int, str]:
    return fp.precision, fp.input_size, fp.batch_size, fp.onnx_sha256


def _shape(dims: Any) -> tuple[int, ...]:
    """A TensorRT ``Dims`` as a tuple (it has ``__len__`` and ``__getitem__``, not ``__iter__``)."""
    return tuple(int(dims[i]) for i in range(len(dims)))


class TensorRTEngine(EngineBase):
    """An :class:`~anomaly_seg.engines.base.Engine` running a serialised TensorRT engine."""

    def __init__(self, engine_path: str | Path, cuda: str = "auto", check_finite: bool = True) -> None:
        _require_tensorrt()
        import tensorrt as trt

        self.path = Path(engine_path)
        self._api = cuda_api(cuda)
        side = sidecar_path(self.path)
        self._metadata: dict[str, str] = {}
        self._precision = "?"
        if side.is_file():
            cached = read_sidecar(side)
            self._metadata = dict(cached.extra.get("metadata", {}))
            self._precision = cached.fingerprint.precision
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"{self.path}: cannot read engine: {exc.strerror or exc}") from exc
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise ModelFileError(f"{self.path}: TensorRT cannot deserialise this engine (other version/GPU or corrupt)")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise EngineError(f"{self.path}: cannot create an execution context (out of GPU memory?)")

        inputs: list[TensorSpec] = []
        outputs: list[TensorSpec] = []
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            spec = TensorSpec(
                name,
                np.dtype(trt.nptype(self._engine.get_tensor_dtype(name))),
                _shape(self._engine.get_tensor_shape(name)),
            )
            is_input = self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (inputs if is_input else outputs).append(spec)
        self._batch, h, w = validate_io(str(self.path), inputs, outputs)
        self._size = (h, w)

        self._stream = self._api.stream()
        self._device: dict[str, int] = {}
        self._host_ptr: dict[str, int] = {}
        self._host: dict[str, np.ndarray] = {}
        for spec in [*inputs, *outputs]:
            nbytes = int(np.prod(spec.shape)) * spec.dtype.itemsize
            self._device[spec.name] = self._api.malloc(nbytes)
            self._host_ptr[spec.name] = self._api.malloc_host(nbytes)
            self._host[spec.name] = pinned_array(self._host_ptr[spec.name], spec.shape, spec.dtype)
            if not self._context.set_tensor_address(spec.name, self._device[spec.name]):
                raise EngineError(f"{self.path}: set_tensor_address failed for '{spec.name}'")
        self._check_finite = check_finite

    @property
    def name(self) -> str:
        return f"tensorrt:{self._precision}"

    def _run(self, images: np.ndarray) -> EngineOutputs:
        host_in = self._host[INPUT_NAME]
        np.copyto(host_in, images)
        self._api.h2d(self._device[INPUT_NAME], self._host_ptr[INPUT_NAME], host_in.nbytes, self._stream)
        if not self._context.execute_async_v3(self._stream):
            raise EngineError(f"{self.name}: execute_async_v3 failed")
        for name in OUTPUT_NAMES:
            self._api.d2h(self._host_ptr[name], self._device[name], self._host[name].nbytes, self._stream)
        self._api.sync(self._stream)
        # copies: the pinned buffers are overwritten by the next call
        return EngineOutputs(*(self._host[n].copy() for n in OUTPUT_NAMES))

    def close(self) -> None:
        """Free device and pinned host buffers (also done at garbage collection)."""
        for ptr in self._device.values():
            self._api.free(ptr)
        for ptr in self._host_ptr.values():
            self._api.free_host(ptr)
        self._device.clear()
        self._host_ptr.clear()
        self._host.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
