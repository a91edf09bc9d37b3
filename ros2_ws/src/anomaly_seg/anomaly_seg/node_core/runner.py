"""How NodeCore's three stages are scheduled for a stream of frames (no rclpy).

* serial: one worker thread runs decode -> engine -> post-processing + publishing, one frame at a time;
  throughput is 1 / (sum of the stages).
* pipelined: three threads, one per stage, handing frames over through one-slot queues, so decode + resize of
  frame N+1, the engine on frame N and post-processing + publishing of frame N-1 overlap; throughput approaches
  1 / (slowest stage). cv2, numpy's large copies, ONNX Runtime and a GPU wait (TensorRT's stream sync) release
  the GIL, which is what lets the stages run at once.

Either way the input is a :class:`LatestFrameSlot`: the newest frame wins when the node is
behind and every replaced frame is counted as dropped. Frames that entered the pipeline are never dropped, and
outputs leave in input order (one thread per stage, FIFO hand-overs). Memory is bounded: a fixed pool of frame
buffers (one per frame in flight) is allocated at start.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from anomaly_seg.node_core.core import Early, Frame, NodeCore
from anomaly_seg.node_core.outputs import OutputMessage
from anomaly_seg.pipeline import FrameBuffers

Outputs = list[OutputMessage]
Publish = Callable[[Outputs], None]
Wanted = Callable[[], "set[str] | None"]

#: frames in flight in the pipelined runner: one per stage
PIPELINE_DEPTH = 3
_STOP = object()


class FrameRunner:
    """Feeds frames given to :meth:`submit` through ``core`` and hands each frame's outputs to ``publish``.

    ``publish`` runs in the runner's last thread. When it raises, ``on_error(exc)`` decides: True carries on,
    False stops publishing and taking frames (what is in flight drains without being published), as when the
    ROS context was shut down under the runner.
    """

    def __init__(
        self,
        core: NodeCore,
        publish: Publish,
        *,
        wanted: Wanted = lambda: None,
        pipelined: bool = True,
        name: str = "anomaly_seg",
        on_error: Callable[[BaseException], bool] = lambda exc: False,
        early: Publish | None = None,
    ) -> None:
        self.core = core
        self.pipelined = pipelined
        self._publish = publish
        # planner-facing messages, published before the large images are built (None: all go to publish)
        self._early: Early | None = (lambda outputs: self._emit(outputs, early)) if early is not None else None
        self._wanted = wanted
        self._on_error = on_error
        self._slot: LatestFrameSlot[Any] = LatestFrameSlot()
        self._closed = threading.Event()
        self._publishing = True
        self._threads: list[threading.Thread] = []
        if pipelined:
            self._pool: queue.Queue[FrameBuffers] = queue.Queue()
            for _ in range(PIPELINE_DEPTH):
                self._pool.put(core.new_buffers())
            self._to_engine: queue.Queue[Any] = queue.Queue(maxsize=1)
            # Decoding starts only once the engine has taken the previous decoded frame, so the frame decoded
            # next is the newest one at that moment and waits at most one engine call, never two.
            self._engine_free = threading.Semaphore(1)
            self._to_post: queue.Queue[Any] = queue.Queue(maxsize=1)
            targets: Sequence[tuple[str, Callable[[], None]]] = (
                ("decode", self._decode_stage),
                ("engine", self._engine_stage),
                ("post", self._post_stage),
            )
        else:
            targets = (("serial", self._serial),)
        for stage, target in targets:
            thread = threading.Thread(target=target, name=f"{name}-{stage}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def submit(self, msg: Any) -> None:
        """Offer a frame; a frame still waiting is replaced by it and counted as dropped."""
        if self._slot.put(msg):
            self.core.record_dropped()

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking frames, let those in flight finish (up to ``timeout`` seconds), stop the threads."""
        self._closed.set()
        if self._slot.close():  # a frame that was still waiting: dropped, and counted as such
            self.core.record_dropped()
        for thread in self._threads:
            thread.join(timeout)

    # ------------------------------------------------------------------ serial
    def _serial(self) -> None:
        while (msg := self._slot.take()) is not None:
            self._emit(self.core.process(msg, self._topics(), self._early))

    # ------------------------------------------------------------------ pipelined
    def _decode_stage(self) -> None:
        try:
            while True:
                buffers = self._free_buffers()
                if buffers is None or not self._wait(self._engine_free):
                    return
                msg = self._slot.take()  # the newest frame once a buffer and the engine's queue are free
                if msg is None:
                    return
                frame = self.core.begin(msg, buffers)
                if frame is None:
                    self._pool.put(buffers)
                    self._engine_free.release()
                else:
                    self._to_engine.put(frame)
        finally:
            self._to_engine.put(_STOP)

    def _wait(self, semaphore: threading.Semaphore) -> bool:
        while not self._closed.is_set():
            if semaphore.acquire(timeout=0.1):
                return True
        return False

    def _free_buffers(self) -> FrameBuffers | None:
        while not self._closed.is_set():
            try:
                return self._pool.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _engine_stage(self) -> None:
        try:
            while (frame := self._to_engine.get()) is not _STOP:
                assert isinstance(frame, Frame)
                self._engine_free.release()
                if self.core.infer(frame):
                    self._to_post.put(frame)
                else:
                    self._pool.put(frame.buffers)
        finally:
            self._to_post.put(_STOP)

    def _post_stage(self) -> None:
        while (frame := self._to_post.get()) is not _STOP:
            assert isinstance(frame, Frame)
            outputs = self.core.finish(frame, self._topics(), self._early)
            self._pool.put(frame.buffers)
            self._emit(outputs)

    def _topics(self) -> set[str] | None:
        try:
            return self._wanted() if self._publishing else set()
        except Exception:  # the shell's subscriber counts are gone (shutdown): publish nothing
            return set()

    def _emit(self, outputs: Outputs, publish: Publish | None = None) -> None:
        if not outputs or not self._publishing:
            return
        try:
            (publish or self._publish)(outputs)
        except Exception as exc:
            if not self._on_error(exc):
                self._publishing = False
                self._closed.set()
                if self._slot.close():
                    self.core.record_dropped()


T = TypeVar("T")


class LatestFrameSlot(Generic[T]):
    """A one-element queue where a new item replaces an untaken one (the node processes the latest frame)."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced an item nobody took or the slot is closed (a dropped frame)."""
        with self._cond:
            if self._closed:
                return True
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """Wait for and remove the item; None on timeout or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> bool:
        """Wake every waiter; later ``take()`` calls return None. True when an untaken item was discarded."""
        with self._cond:
            discarded = self._item is not None and not self._closed
            self._closed = True
            self._item = None
            self._cond.notify_all()
            return discarded
