"""A deterministic stand-in for a real engine (Engine protocol), so pipeline and node tests do not need a network.

Anomaly score = (red - green) / 25.5 - 5: grey pixels score -5, pure red ones +5; so a test paints a red
square into a grey frame and knows where the anomaly is. Semantic: road (trainId 0) in the lower half of the
network image, sky (10) above. Uncertainty channels are fixed functions of the score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anomaly_seg.engines.base import EngineOutputs
from anomaly_seg.engines.contract import EngineBase

GREY = (128, 128, 128)
RED = (255, 0, 0)


class FakeEngine(EngineBase):
    """Implements :class:`anomaly_seg.engines.base.Engine` deterministically on CPU."""

    def __init__(self, size: tuple[int, int] = (64, 128), *, nan: bool = False, error: Exception | None = None) -> None:
        self._size = size
        self._batch = 1
        self._metadata = {"anomaly_seg.network_size": f"{size[0]}x{size[1]}"}
        self._check_finite = True  # the engine contract's NaN/Inf check, as in every backend
        self.nan = nan
        self.error = error
        self.calls = 0
        self.last_input: np.ndarray | None = None

    @property
    def name(self) -> str:
        return "fake"

    def _run(self, images: np.ndarray) -> EngineOutputs:
        self.calls += 1
        self.last_input = images.copy()
        if self.error is not None:
            raise self.error
        rgb = images.astype(np.float32)
        score = (rgb[..., 0] - rgb[..., 1]) / 25.5 - 5.0
        if self.nan:
            score[:, 0, 0] = np.nan
        h = self._size[0]
        semantic = np.full(score.shape, 10, np.uint8)
        semantic[:, h // 2 :] = 0
        p = 1.0 / (1.0 + np.exp(-score))
        uncertainty = np.stack([p, 0.5 * p, 0.25 * p], axis=1).astype(np.float32)
        return EngineOutputs(semantic, score.astype(np.float32), uncertainty)


def grey_frame(height: int, width: int, squares: Sequence[tuple[int, int, int, int]] = ()) -> np.ndarray:
    """Grey RGB frame with red squares given as (x0, y0, x1, y1), x1/y1 exclusive."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = GREY
    for x0, y0, x1, y1 in squares:
        frame[y0:y1, x0:x1] = RED
    return frame


def write_contract_onnx(
    path: Path, size: tuple[int, int] = (64, 128), *, nan_when_blue: bool = False, batch: int = 1
) -> Path:
    """A tiny ONNX model with the engine I/O contract computing exactly what :class:`FakeEngine` computes.

    Lets tests run the real ONNX Runtime backend (and the ROS tests run the real node) without a network.
    ``nan_when_blue``: the score is NaN on pure blue pixels (``sqrt(r + g - b + 254) * 0`` is added), so a test
    can make the engine return NaN with one frame and finite scores with every other (warm-up frames included).
    """
    import onnx
    from onnx import TensorProto, helper

    h, w = size

    def const(name: str, values: list[int] | list[float], dtype: int) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, dtype, [len(values)], values))

    nodes = [
        const("c0", [0], TensorProto.INT64),
        const("c0f", [0.0], TensorProto.FLOAT),
        const("c1", [1], TensorProto.INT64),
        const("c2", [2], TensorProto.INT64),
        const("axis3", [3], TensorProto.INT64),
        const("axis1", [1], TensorProto.INT64),
        const("scale", [1.0 / 25.5], TensorProto.FLOAT),
        const("offset", [5.0], TensorProto.FLOAT),
        const("half", [0.5], TensorProto.FLOAT),
        const("quarter", [0.25], TensorProto.FLOAT),
        const("sky", [10.0], TensorProto.FLOAT),
        helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["x", "c0", "c1", "axis3"], ["r"]),
        helper.make_node("Slice", ["x", "c1", "c2", "axis3"], ["g"]),
        helper.make_node("Sub", ["r", "g"], ["rg"]),
        helper.make_node("Mul", ["rg", "scale"], ["rg_s"]),
        helper.make_node("Sub", ["rg_s", "offset"], ["score4" if not nan_when_blue else "score4_finite"]),
        helper.make_node("Squeeze", ["score4", "axis3"], ["anomaly_score"]),
        helper.make_node("Sigmoid", ["anomaly_score"], ["p"]),
        helper.make_node("Mul", ["p", "half"], ["p2"]),
        helper.make_node("Mul", ["p", "quarter"], ["p4"]),
        helper.make_node("Unsqueeze", ["p", "axis1"], ["u0"]),
        helper.make_node("Unsqueeze", ["p2", "axis1"], ["u1"]),
        helper.make_node("Unsqueeze", ["p4", "axis1"], ["u2"]),
        helper.make_node("Concat", ["u0", "u1", "u2"], ["uncertainty"], axis=1),
        # semantic: sky (10) in the upper half, road (0) below, as FakeEngine
        helper.make_node(
            "Constant",
            [],
            ["rows"],
            value=helper.make_tensor(
                "rows", TensorProto.FLOAT, [1, h, 1], [10.0 if y < h // 2 else 0.0 for y in range(h)]
            ),
        ),
        helper.make_node("Mul", ["anomaly_score", "c0f"], ["zeros"]),
        helper.make_node("Add", ["zeros", "rows"], ["sem_f"]),
        helper.make_node("Cast", ["sem_f"], ["semantic"], to=TensorProto.UINT8),
    ]
    if nan_when_blue:
        at = next(i for i, n in enumerate(nodes) if "score4_finite" in n.output) + 1
        nodes[at:at] = [
            const("c3", [3], TensorProto.INT64),
            const("c254", [254.0], TensorProto.FLOAT),
            helper.make_node("Slice", ["x", "c2", "c3", "axis3"], ["b"]),
            helper.make_node("Add", ["r", "g"], ["r_plus_g"]),
            helper.make_node("Sub", ["r_plus_g", "b"], ["rg_minus_b"]),
            helper.make_node("Add", ["rg_minus_b", "c254"], ["below_zero_on_blue"]),
            helper.make_node("Sqrt", ["below_zero_on_blue"], ["nan_on_blue"]),
            helper.make_node("Mul", ["nan_on_blue", "c0f"], ["nan_or_zero"]),
            helper.make_node("Add", ["score4_finite", "nan_or_zero"], ["score4"]),
        ]
    graph = helper.make_graph(
        nodes,
        "contract_test_model",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [batch, h, w, 3])],
        [
            helper.make_tensor_value_info("semantic", TensorProto.UINT8, [batch, h, w]),
            helper.make_tensor_value_info("anomaly_score", TensorProto.FLOAT, [batch, h, w]),
            helper.make_tensor_value_info("uncertainty", TensorProto.FLOAT, [batch, 3, h, w]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(
        model,
        {
            "anomaly_seg.format_version": "1",
            "anomaly_seg.network_size": f"{h}x{w}",
            "anomaly_seg.batch_size": str(batch),
        },
    )
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


class FixedLatencyEngine(FakeEngine):
    """A FakeEngine call that takes ``latency_ms``, spent waiting without the GIL (as a GPU sync does).

    Outputs are computed from the first frame and returned for every later one (their content does not matter
    where this stands in: throughput tests and benchmarks). ``active`` tells whether a call is running now.
    """

    def __init__(self, size: tuple[int, int], latency_ms: float) -> None:
        super().__init__(size)
        self.latency_s = latency_ms / 1e3
        self._cached: EngineOutputs | None = None
        self.active = False

    @property
    def name(self) -> str:
        return f"fixed-latency-{self.latency_s * 1e3:g}ms"

    def _run(self, images: np.ndarray) -> EngineOutputs:
        self.active = True
        try:
            deadline = time.perf_counter() + self.latency_s
            if self._cached is None:
                self._cached = super()._run(images)
            time.sleep(max(0.0, deadline - time.perf_counter()))
            return self._cached
        finally:
            self.active = False
