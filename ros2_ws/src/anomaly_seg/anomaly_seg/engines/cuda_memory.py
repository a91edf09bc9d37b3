"""Minimal CUDA runtime access for the TensorRT backend: device/pinned buffers, a stream, async copies.

Two bindings are supported: NVIDIA's cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` before
12.6) first, pycuda as the fallback. Neither imports torch.
"""

from __future__ import annotations

import ctypes
from typing import Any, Protocol

import numpy as np

from anomaly_seg.errors import EngineError


class CudaApi(Protocol):
    """The handful of CUDA runtime calls the TensorRT backend needs."""

    name: str

    def device_name(self) -> tuple[str, str]: ...  # (GPU name, compute capability "8.7")
    def malloc(self, nbytes: int) -> int: ...
    def malloc_host(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def free_host(self, ptr: int) -> None: ...
    def stream(self) -> int: ...
    def h2d(self, dst: int, src: int, nbytes: int, stream: int) -> None: ...
    def d2h(self, dst: int, src: int, nbytes: int, stream: int) -> None: ...
    def sync(self, stream: int) -> None: ...


def pinned_array(ptr: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A numpy view of page-locked host memory at ``ptr`` (the caller keeps the allocation alive)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    buf = memoryview((ctypes.c_uint8 * nbytes).from_address(ptr)).cast("B")
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


class CudaPythonApi:
    """cuda-python runtime bindings (every call returns ``(err, *values)``)."""

    name = "cuda-python"

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # cuda-python < 12.6
        self._rt: Any = cudart

    def _call(self, result: Any) -> Any:
        err, *values = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            _, text = self._rt.cudaGetErrorString(err)
            raise EngineError(f"CUDA error {int(err)}: {text.decode() if isinstance(text, bytes) else text}")
        return values[0] if len(values) == 1 else values

    def device_name(self) -> tuple[str, str]:
        device = self._call(self._rt.cudaGetDevice())
        prop = self._call(self._rt.cudaGetDeviceProperties(device))
        name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
        return name.rstrip("\x00").strip(), f"{prop.major}.{prop.minor}"

    def malloc(self, nbytes: int) -> int:
        return int(self._call(self._rt.cudaMalloc(nbytes)))

    def malloc_host(self, nbytes: int) -> int:
        return int(self._call(self._rt.cudaMallocHost(nbytes)))

    def free(self, ptr: int) -> None:
        self._call(self._rt.cudaFree(ptr))

    def free_host(self, ptr: int) -> None:
        self._call(self._rt.cudaFreeHost(ptr))

    def stream(self) -> int:
        return int(self._call(self._rt.cudaStreamCreate()))

    def h2d(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(self._rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream))

    def d2h(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(self._rt.cudaMemcpyAsync(dst, src, nbytes, kind, stream))

    def sync(self, stream: int) -> None:
        self._call(self._rt.cudaStreamSynchronize(stream))


class PyCudaApi:
    """pycuda bindings (``pycuda.autoprimaryctx`` makes the primary context current)."""

    name = "pycuda"

    def __init__(self) -> None:
        import pycuda.autoprimaryctx  # noqa: F401  (creates/activates the primary context)
        import pycuda.driver as drv

        self._drv: Any = drv
        self._keep: dict[int, Any] = {}  # pycuda frees on garbage collection: keep the objects alive

    def device_name(self) -> tuple[str, str]:
        dev = self._drv.Context.get_device()
        major, minor = dev.compute_capability()
        return str(dev.name()), f"{major}.{minor}"

    def malloc(self, nbytes: int) -> int:
        alloc = self._drv.mem_alloc(nbytes)
        self._keep[int(alloc)] = alloc
        return int(alloc)

    def malloc_host(self, nbytes: int) -> int:
        host = self._drv.pagelocked_empty(nbytes, np.uint8)
        ptr = int(host.ctypes.data)
        self._keep[ptr] = host
        return ptr

    def free(self, ptr: int) -> None:
        alloc = self._keep.pop(ptr, None)
        if alloc is not None:
            alloc.free()

    def free_host(self, ptr: int) -> None:
        self._keep.pop(ptr, None)

    def stream(self) -> int:
        s = self._drv.Stream()
        self._keep[int(s.handle)] = s
        return int(s.handle)

    def h2d(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self._drv.memcpy_htod_async(dst, pinned_array(src, (nbytes,), np.dtype(np.uint8)), self._keep[stream])

    def d2h(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self._drv.memcpy_dtoh_async(pinned_array(dst, (nbytes,), np.dtype(np.uint8)), src, self._keep[stream])

    def sync(self, stream: int) -> None:
        self._keep[stream].synchronize()


def cuda_api(prefer: str = "auto") -> CudaApi:
    """cuda-python if importable (or ``prefer="cuda-python"``), else pycuda; EngineError when neither works."""
    order = {"auto": ("cuda-python", "pycuda"), "cuda-python": ("cuda-python",), "pycuda": ("pycuda",)}.get(prefer)
    if order is None:
        raise EngineError(f"unknown CUDA binding {prefer!r} (auto, cuda-python, pycuda)")
    problems = []
    for name in order:
        try:
            return CudaPythonApi() if name == "cuda-python" else PyCudaApi()
        except ImportError as exc:
            problems.append(f"{name}: {exc}")
    raise EngineError("TensorRT backend needs cuda-python or pycuda: " + "; ".join(problems))
