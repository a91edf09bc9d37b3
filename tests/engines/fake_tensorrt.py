"""Fake ``tensorrt`` modules shaped like the real 10.x and 11.x Python APIs, and a fake CUDA API on host memory.

Each generation has only the names it really has (from ``tensorrt-stubs`` 10.13 and NVIDIA's TensorRT 11 migration
guide: 11.x removed weak typing: ``BuilderFlag.FP16 / INT8 / BF16``, ``OBEY_PRECISION_CONSTRAINTS``,
``PREFER_PRECISION_CONSTRAINTS``, per-layer ``precision`` / ``set_output_type``, ``int8_calibrator`` and the
calibrator classes, ``Builder.platform_has_fast_fp16``), so code that uses a removed name fails here with an
AttributeError instead of on a user's machine. The fake engine computes what ``FakeEngine`` computes, from the
input it finds in "device" memory, so the backend's whole runtime path (bindings, copies, stream) is exercised.
"""

from __future__ import annotations

import ctypes
import enum
import json
import types
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_seg.engines.base import INPUT_NAME, OUTPUT_NAMES
from anomaly_seg.engines.metadata import read_onnx_props

#: what TensorRT 11 removed (the migration guide); a backend source using any of these is wrong for 11.x
REMOVED_IN_11 = (
    "FP16",
    "INT8",
    "BF16",
    "OBEY_PRECISION_CONSTRAINTS",
    "PREFER_PRECISION_CONSTRAINTS",
    "set_output_type",
    "int8_calibrator",
    "IInt8EntropyCalibrator2",
    "IInt8MinMaxCalibrator",
    "platform_has_fast_fp16",
)


class FakeCuda:
    """:class:`~anomaly_seg.engines.cuda_memory.CudaApi` on host memory: "device" pointers are numpy buffers."""

    name = "fake-cuda"

    def __init__(self) -> None:
        self.buffers: dict[int, np.ndarray] = {}
        self.copies = 0

    def device_name(self) -> tuple[str, str]:
        return "Fake Orin", "8.7"

    def _alloc(self, nbytes: int) -> int:
        buf = np.zeros(max(nbytes, 1), np.uint8)
        ptr = buf.ctypes.data
        self.buffers[ptr] = buf
        return int(ptr)

    malloc = malloc_host = _alloc

    def free(self, ptr: int) -> None:
        self.buffers.pop(ptr, None)

    free_host = free

    def stream(self) -> int:
        return 1

    def h2d(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        ctypes.memmove(dst, src, nbytes)
        self.copies += 1

    d2h = h2d

    def sync(self, stream: int) -> None:
        return None


def _enum(name: str, members: list[str]) -> type[enum.IntEnum]:
    return enum.IntEnum(name, {m: i for i, m in enumerate(members)})  # type: ignore[return-value]


def make_tensorrt(generation: str, calls: list[tuple[Any, ...]]) -> types.ModuleType:
    """A fake ``tensorrt`` module of ``generation`` ``"10.x"`` or ``"11.x"`` recording its calls into ``calls``."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0.30" if generation == "10.x" else "11.4.0.106"  # type: ignore[attr-defined]
    flags = ["GPU_FALLBACK", "REFIT", "DEBUG", "STRICT_TYPES", "SPARSE_WEIGHTS", "DIRECT_IO"]
    if generation == "10.x":
        flags += ["FP16", "INT8", "BF16", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS"]
    trt.BuilderFlag = _enum("BuilderFlag", flags)  # type: ignore[attr-defined]
    trt.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "STRONGLY_TYPED"])  # type: ignore[attr-defined]
    trt.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM"])  # type: ignore[attr-defined]
    trt.TensorIOMode = _enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])  # type: ignore[attr-defined]
    trt.DataType = _enum("DataType", ["FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8"])  # type: ignore[attr-defined]
    nptypes = {trt.DataType.FLOAT: np.float32, trt.DataType.HALF: np.float16, trt.DataType.UINT8: np.uint8}  # type: ignore[attr-defined]
    trt.nptype = lambda dtype: nptypes[dtype]  # type: ignore[attr-defined]
    if generation == "10.x":
        trt.IInt8EntropyCalibrator2 = type("IInt8EntropyCalibrator2", (), {})  # type: ignore[attr-defined]

    class Logger:
        WARNING, INFO, ERROR = 2, 3, 1

        def __init__(self, severity: int = 2) -> None:
            self.severity = severity

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.onnx: Path | None = None

    class Parser:
        num_errors = 0

        def __init__(self, network: Network, logger: Logger) -> None:
            self.network = network

        def parse_from_file(self, path: str) -> bool:
            self.network.onnx = Path(path)
            calls.append(("parse", path))
            return True

    class TimingCache:
        def serialize(self) -> bytes:
            return b"timing"

    class Config:
        def __init__(self) -> None:
            self.flags: set[Any] = set()

        def set_flag(self, flag: Any) -> None:
            calls.append(("set_flag", flag.name))
            self.flags.add(flag)

        def set_memory_pool_limit(self, pool: Any, size: int) -> None:
            calls.append(("pool", pool.name, size))

        def create_timing_cache(self, data: bytes) -> TimingCache:
            return TimingCache()

        def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
            return True

        def get_timing_cache(self) -> TimingCache:
            return TimingCache()

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> Network:
            calls.append(("create_network", flags))
            return Network(flags)

        def create_builder_config(self) -> Config:
            return Config()

        def build_serialized_network(self, network: Network, config: Config) -> bytes:
            assert network.onnx is not None
            typed = bool(network.flags & (1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)))  # type: ignore[attr-defined]
            props = read_onnx_props(network.onnx)
            size = [int(v) for v in props["anomaly_seg.network_size"].split("x")]
            batch = int(props.get("anomaly_seg.batch_size", "1"))
            record = {"strongly_typed": typed, "precision": props.get("anomaly_seg.precision", "fp32"),
                      "size": size, "batch": batch}  # fmt: skip
            calls.append(("build", record))
            return json.dumps(record).encode()

    if generation == "10.x":
        Builder.platform_has_fast_fp16 = True  # type: ignore[attr-defined]

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self.addresses: dict[str, int] = {}

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            self.addresses[name] = ptr
            return True

        def execute_async_v3(self, stream: int) -> bool:
            b, (h, w) = self.engine.record["batch"], self.engine.record["size"]
            image = np.ctypeslib.as_array((ctypes.c_uint8 * (b * h * w * 3)).from_address(self.addresses[INPUT_NAME]))
            rgb = image.reshape(b, h, w, 3).astype(np.float32)
            score = (rgb[..., 0] - rgb[..., 1]) / 25.5 - 5.0  # what tests.pipeline.fake_engine.FakeEngine computes
            semantic = np.full(score.shape, 10, np.uint8)
            semantic[:, h // 2 :] = 0
            p = 1.0 / (1.0 + np.exp(-score))
            uncertainty = np.stack([p, 0.5 * p, 0.25 * p], axis=1).astype(np.float32)
            for name, value in zip(OUTPUT_NAMES, (semantic, score.astype(np.float32), uncertainty)):
                ctypes.memmove(self.addresses[name], value.ctypes.data, value.nbytes)
            calls.append(("execute", stream))
            return True

    class Engine:
        def __init__(self, record: dict[str, Any]) -> None:
            self.record = record
            b, (h, w) = record["batch"], record["size"]
            self.tensors = [
                (INPUT_NAME, trt.DataType.UINT8, (b, h, w, 3), trt.TensorIOMode.INPUT),  # type: ignore[attr-defined]
                ("semantic", trt.DataType.UINT8, (b, h, w), trt.TensorIOMode.OUTPUT),  # type: ignore[attr-defined]
                ("anomaly_score", trt.DataType.FLOAT, (b, h, w), trt.TensorIOMode.OUTPUT),  # type: ignore[attr-defined]
                ("uncertainty", trt.DataType.FLOAT, (b, 3, h, w), trt.TensorIOMode.OUTPUT),  # type: ignore[attr-defined]
            ]
            self.num_io_tensors = len(self.tensors)

        def _find(self, name: str) -> tuple[Any, ...]:
            return next(t for t in self.tensors if t[0] == name)

        def get_tensor_name(self, i: int) -> str:
            return str(self.tensors[i][0])

        def get_tensor_dtype(self, name: str) -> Any:
            return self._find(name)[1]

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return tuple(self._find(name)[2])

        def get_tensor_mode(self, name: str) -> Any:
            return self._find(name)[3]

        def create_execution_context(self) -> Context:
            return Context(self)

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
            try:
                return Engine(json.loads(bytes(data)))
            except ValueError:
                return None

    for cls in (Logger, Builder, Runtime):
        setattr(trt, cls.__name__, cls)
    trt.OnnxParser = Parser  # type: ignore[attr-defined]
    return trt
