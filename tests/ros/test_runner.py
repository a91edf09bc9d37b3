"""FrameRunner (no ROS): serial and pipelined schedules of NodeCore's stages give the same outputs, in input order,
overlap the stages, count every dropped frame, allocate a fixed set of buffers, and shut down cleanly."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg import vocabulary
from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.node_core import core
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.node_core.runner import PIPELINE_DEPTH, FrameRunner
from tests.pipeline.fake_engine import FakeEngine, FixedLatencyEngine, grey_frame

F = rm.rosbags_factory(get_typestore())
NET = (64, 128)


def make_core(engine: Any = None) -> core.NodeCore:
    params = NodeParams.from_dict({"segments.min_area_px": 4, "segments.region": "all"}, check_files=False)
    return core.NodeCore(params, engine or FakeEngine(NET), F, clock=lambda: 0)


def frames(n: int, size: tuple[int, int] = (96, 160)) -> list[Any]:
    """Frames whose red square moves, so each frame's outputs differ."""
    h, w = size
    out = []
    for i in range(n):
        x = 10 + (i * 7) % (w - 40)
        rgb = grey_frame(h, w, [(x, 50, x + 30, 80)])
        out.append(rm.array_to_image(F, rgb, "rgb8", rm.header_from_ns(F, 1_000 + i, f"cam_{i}")))
    return out


class Collector:
    def __init__(self) -> None:
        self.published: list[list[tuple[str, Any]]] = []
        self.done = threading.Condition()

    def __call__(self, outputs: list[tuple[str, Any]]) -> None:
        with self.done:
            self.published.append(outputs)
            self.done.notify_all()

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.published) >= n, timeout), len(self.published)


def run_one_at_a_time(pipelined: bool, messages: list[Any]) -> list[list[tuple[str, Any]]]:
    node = make_core()
    sink = Collector()
    runner = FrameRunner(node, sink, pipelined=pipelined)
    for i, msg in enumerate(messages):
        runner.submit(msg)
        sink.wait_for(i + 1)
    runner.close()
    return sink.published


def test_pipelined_and_serial_outputs_equal_process_frame_for_frame() -> None:
    messages = frames(6)
    expected = [make_core().process(m) for m in messages]
    for pipelined in (False, True):
        published = run_one_at_a_time(pipelined, messages)
        assert len(published) == len(expected)
        for got, want in zip(published, expected, strict=True):
            assert [t for t, _ in got] == [t for t, _ in want]
            for (topic, a), (_, b) in zip(got, want, strict=True):
                if hasattr(a, "data") and hasattr(a, "encoding"):
                    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data), err_msg=topic)
                if hasattr(a, "header"):
                    assert rm.stamp_to_ns(a.header.stamp) == rm.stamp_to_ns(b.header.stamp), topic


@pytest.mark.parametrize("pipelined", [False, True])
def test_frames_offered_faster_are_dropped_counted_and_outputs_stay_in_order(pipelined: bool) -> None:
    node = make_core(FixedLatencyEngine(NET, 15.0))
    sink = Collector()
    runner = FrameRunner(node, sink, pipelined=pipelined)
    messages = frames(40)
    for msg in messages:
        runner.submit(msg)
        time.sleep(0.002)  # 500 Hz offered, the engine alone takes 15 ms
    time.sleep(0.3)
    runner.close()
    stats = node.stats()
    assert stats.frames_in == len(messages) == stats.frames_processed + stats.frames_dropped + stats.frames_failed
    assert stats.frames_dropped > 0 and stats.frames_processed == len(sink.published)
    stamps = [rm.stamp_to_ns(dict(outputs)[vocabulary.TOPIC_SEMANTIC].header.stamp) for outputs in sink.published]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # input order, no frame twice
    assert stamps[-1] == rm.stamp_to_ns(messages[-1].header.stamp)  # the newest frame wins


def test_pipelined_stages_overlap_and_use_a_fixed_set_of_buffers() -> None:
    engine = FixedLatencyEngine(NET, 20.0)
    node = make_core(engine)
    allocations = [0]
    new_buffers = node.new_buffers

    def counting() -> Any:
        allocations[0] += 1
        return new_buffers()

    node.new_buffers = counting  # type: ignore[method-assign]
    overlapped = [0]

    def sink(outputs: list[tuple[str, Any]]) -> None:  # runs in the post stage
        overlapped[0] += engine.active  # the engine works on the next frame meanwhile
        time.sleep(0.01)

    runner = FrameRunner(node, sink, pipelined=True)
    for msg in frames(60):
        runner.submit(msg)
        time.sleep(0.005)
    runner.close()
    assert allocations[0] == PIPELINE_DEPTH  # allocated at start, never per frame
    assert node.stats().frames_processed > 5 and overlapped[0] > 0


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_publisher_that_fails_for_good_stops_publishing_and_close_returns(pipelined: bool) -> None:
    node = make_core()
    calls = [0]

    def failing(outputs: list[tuple[str, Any]]) -> None:
        calls[0] += 1
        raise RuntimeError("publisher's context is invalid")

    runner = FrameRunner(node, failing, pipelined=pipelined, on_error=lambda exc: False)
    for msg in frames(20):
        runner.submit(msg)
        time.sleep(0.002)
    t0 = time.monotonic()
    runner.close(timeout=5.0)
    assert time.monotonic() - t0 < 4.0
    assert calls[0] == 1  # nothing published after the first failure
    assert all(not t.is_alive() for t in runner._threads)
    runner.submit(frames(1)[0])  # after close: dropped and counted
    stats = node.stats()
    assert stats.frames_in == 21 == stats.frames_processed + stats.frames_dropped + stats.frames_failed


@pytest.mark.parametrize("pipelined", [False, True])
def test_planner_messages_leave_first_when_the_shell_asks_for_them_early(pipelined: bool) -> None:
    order: list[tuple[str, int]] = []
    sink = Collector()

    def early(outputs: list[tuple[str, Any]]) -> None:
        order.append(("early", rm.stamp_to_ns(dict(outputs)[vocabulary.TOPIC_OBSTACLES].header.stamp)))

    def rest(outputs: list[tuple[str, Any]]) -> None:
        order.append(("rest", rm.stamp_to_ns(dict(outputs)[vocabulary.TOPIC_SEMANTIC].header.stamp)))
        sink(outputs)

    runner = FrameRunner(make_core(), rest, pipelined=pipelined, early=early)
    messages = frames(4)
    for i, msg in enumerate(messages):
        runner.submit(msg)
        sink.wait_for(i + 1)
    runner.close()
    stamps = [rm.stamp_to_ns(m.header.stamp) for m in messages]
    assert order == [(kind, s) for s in stamps for kind in ("early", "rest")]  # each frame's planner part first
    for outputs in sink.published:
        topics = {t for t, _ in outputs}
        assert vocabulary.TOPIC_OBSTACLES not in topics and vocabulary.TOPIC_ANOMALY_MASK not in topics
