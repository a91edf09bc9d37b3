"""One engine for many cameras: per-camera views of a single backend (one CUDA context, one copy of the weights).

Each camera's pipeline gets a :meth:`SharedEngine.view`, an :class:`~anomaly_seg.engines.base.Engine` of batch 1.

* ``round_robin``: one engine call per frame; cameras waiting for the engine are served in the order they asked
  (a ticket queue, so a busy camera cannot starve the others).
* ``batched``: the engine has batch size B (exported with ``--batch B``); calls that arrive together are run as
  one engine call (up to B frames, waiting at most ``max_wait_ms`` after the first for the others; empty batch
  places are filled with a copy of the first frame and their outputs discarded). Throughput per GPU call rises,
  a frame may wait up to ``max_wait_ms`` for its companions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from anomaly_seg.engines.base import Engine, EngineOutputs
from anomaly_seg.errors import ConfigError, EngineError

SHARING_MODES = ("round_robin", "batched")


@dataclass
class _Request:
    image: np.ndarray  # [1, H, W, 3]
    done: bool = False  # guarded by SharedEngine._cond
    outputs: EngineOutputs | None = None
    error: BaseException | None = None


class SharedEngine:
    """Serialises (round robin) or batches the engine calls of several per-camera pipelines."""

    def __init__(self, engine: Engine, mode: str = "round_robin", *, max_wait_ms: float = 5.0) -> None:
        if mode not in SHARING_MODES:
            raise ConfigError(f"engine sharing must be one of {'|'.join(SHARING_MODES)}, got {mode!r}")
        if mode == "batched" and engine.batch_size < 2:
            raise ConfigError(
                f"engine sharing 'batched' needs an engine exported with batch size >= 2, {engine.name} has "
                f"{engine.batch_size} (export with --batch N, or use round_robin)"
            )
        self.engine = engine
        self.mode = mode
        self.max_wait_s = max_wait_ms / 1e3
        self.calls = 0  # engine calls made (a batched call counts once)
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._pending: list[_Request] = []
        self._leader_busy = False
        h, w = engine.input_size
        self._batch_input = np.zeros((engine.batch_size, h, w, 3), np.uint8)

    def view(self) -> Engine:
        """An Engine of batch size 1 for one camera's pipeline."""
        return _EngineView(self)

    def infer_one(self, image: np.ndarray) -> EngineOutputs:
        """Outputs for one ``[1, H, W, 3]`` frame (owned by the caller: safe to keep while other cameras run)."""
        if self.mode == "round_robin":
            return self._round_robin(image)
        return self._batched(image)

    def _round_robin(self, image: np.ndarray) -> EngineOutputs:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)
        try:
            outputs = self.engine.infer(image)
            self.calls += 1
            return outputs  # backends return outputs the caller owns
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()

    def _batched(self, image: np.ndarray) -> EngineOutputs:
        request = _Request(image)
        batch_size = self.engine.batch_size
        with self._cond:
            self._pending.append(request)
            self._cond.notify_all()
            while not request.done:
                if self._leader_busy:  # another caller is collecting or running a batch
                    self._cond.wait()
                    continue
                # lead one batch: wait briefly for companions, then run it outside the lock
                self._leader_busy = True
                deadline = time.monotonic() + self.max_wait_s
                while len(self._pending) < batch_size and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
                batch, self._pending = self._pending[:batch_size], self._pending[batch_size:]
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._leader_busy = False
                    self._cond.notify_all()
        if request.error is not None:
            raise request.error
        assert request.outputs is not None
        return request.outputs

    def _run(self, batch: list[_Request]) -> None:
        for i in range(self.engine.batch_size):
            self._batch_input[i] = batch[min(i, len(batch) - 1)].image[0]
        try:
            outputs = self.engine.infer(self._batch_input)
            self.calls += 1
            for i, request in enumerate(batch):
                request.outputs = outputs[i]  # views of this call's own outputs: nothing else writes them
        except BaseException as exc:  # every waiting camera gets the failure, none hangs
            for request in batch:
                request.error = exc
        for request in batch:
            request.done = True


class _EngineView:
    """The Engine protocol for one camera, backed by a :class:`SharedEngine`."""

    def __init__(self, shared: SharedEngine) -> None:
        self._shared = shared

    @property
    def name(self) -> str:
        return f"{self._shared.engine.name} (shared, {self._shared.mode})"

    @property
    def input_size(self) -> tuple[int, int]:
        return self._shared.engine.input_size

    @property
    def batch_size(self) -> int:
        return 1

    @property
    def metadata(self) -> dict[str, str]:
        return self._shared.engine.metadata

    def infer(self, images: np.ndarray) -> EngineOutputs:
        if images.shape[0] != 1:
            raise EngineError(
                f"{self.name}: a camera's view takes one frame at a time, got a batch of {images.shape[0]}"
            )
        return self._shared.infer_one(images)

    def warmup(self) -> None:
        """The shared engine is warmed up once, by its owner."""
