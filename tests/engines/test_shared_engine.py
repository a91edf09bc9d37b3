"""SharedEngine: several cameras' pipelines on one engine, round robin or batched, with per-camera results."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg.engines.base import EngineOutputs
from anomaly_seg.engines.shared import SharedEngine
from anomaly_seg.errors import ConfigError, EngineError
from tests.pipeline.fake_engine import FakeEngine, grey_frame

NET = (32, 64)


class CountingEngine(FakeEngine):
    """FakeEngine of batch ``batch`` that records how many calls overlap and how large each batch was."""

    def __init__(self, batch: int = 1, delay_s: float = 0.01, fail: bool = False) -> None:
        super().__init__(NET)
        self._batch = batch
        self.delay_s = delay_s
        self.fail = fail
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def _run(self, images: np.ndarray) -> EngineOutputs:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay_s)
            if self.fail:
                raise RuntimeError("device lost")
            return super()._run(images)
        finally:
            with self._lock:
                self.active -= 1


def camera_image(i: int) -> np.ndarray:
    return grey_frame(*NET, [(2 + 3 * i, 4, 10 + 3 * i, 12)])[None]


def run_cameras(shared: SharedEngine, cameras: int, frames: int) -> dict[int, list[EngineOutputs]]:
    results: dict[int, list[EngineOutputs]] = {i: [] for i in range(cameras)}
    barrier = threading.Barrier(cameras)

    def camera(i: int) -> None:
        view = shared.view()
        for _ in range(frames):
            barrier.wait()
            results[i].append(view.infer(camera_image(i)))

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(cameras)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results


def expected(i: int) -> EngineOutputs:
    return FakeEngine(NET).infer(camera_image(i))


@pytest.mark.parametrize(("mode", "batch"), [("round_robin", 1), ("batched", 4), ("batched", 2)])
def test_every_camera_gets_its_own_frames_outputs(mode: str, batch: int) -> None:
    engine = CountingEngine(batch)
    shared = SharedEngine(engine, mode, max_wait_ms=50.0)
    results = run_cameras(shared, cameras=4, frames=3)
    for i, outputs in results.items():
        assert len(outputs) == 3
        for out in outputs:
            for name in ("semantic", "anomaly_score", "uncertainty"):
                np.testing.assert_array_equal(getattr(out, name), getattr(expected(i), name), err_msg=name)
            assert out.anomaly_score.shape == (1, *NET)
    assert engine.max_active == 1  # one engine, never entered twice at once
    if mode == "round_robin":
        assert shared.calls == 12
    else:
        assert shared.calls <= 12 // batch + 3  # frames that arrived together shared a call


def test_round_robin_serves_waiting_cameras_in_turn() -> None:
    shared = SharedEngine(CountingEngine(delay_s=0.02), "round_robin")
    order: list[int] = []
    lock = threading.Lock()

    def camera(i: int) -> None:
        view = shared.view()
        for _ in range(4):
            view.infer(camera_image(i))
            with lock:
                order.append(i)

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(order) == [0] * 4 + [1] * 4 + [2] * 4
    assert max(order[:6].count(i) for i in range(3)) <= 3  # no camera ran all its frames before the others


def test_batched_needs_a_batch_engine_and_failures_reach_every_waiting_camera() -> None:
    with pytest.raises(ConfigError, match="batch size >= 2"):
        SharedEngine(CountingEngine(1), "batched")
    with pytest.raises(ConfigError, match="round_robin"):
        SharedEngine(CountingEngine(1), "fastest")
    shared = SharedEngine(CountingEngine(2, fail=True), "batched", max_wait_ms=50.0)
    errors: list[BaseException] = []

    def camera(i: int) -> None:
        try:
            shared.view().infer(camera_image(i))
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(errors) == 2 and all("device lost" in str(e) for e in errors)
    with pytest.raises(EngineError, match="one frame"):
        shared.view().infer(np.zeros((2, *NET, 3), np.uint8))


def test_batched_onnxruntime_engine_gives_each_camera_the_single_frame_result(tmp_path: Path) -> None:
    from anomaly_seg.engines import load_engine
    from tests.pipeline.fake_engine import write_contract_onnx

    single = load_engine(write_contract_onnx(tmp_path / "b1.onnx", NET), backend="onnxruntime")
    batched = load_engine(write_contract_onnx(tmp_path / "b3.onnx", NET, batch=3), backend="onnxruntime")
    assert batched.batch_size == 3
    shared = SharedEngine(batched, "batched", max_wait_ms=100.0)
    results = run_cameras(shared, cameras=3, frames=2)
    for i, outputs in results.items():
        want = single.infer(camera_image(i))
        for out in outputs:
            np.testing.assert_array_equal(out.anomaly_score, want.anomaly_score)
            np.testing.assert_array_equal(out.semantic, want.semantic)
    assert shared.calls < 6  # the three cameras' frames shared engine calls
