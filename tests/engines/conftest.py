"""A toy network honouring the engine I/O contract, exported once per session for the engine tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from anomaly_seg.engines.metadata import ModelMetadata
from anomaly_seg.labels import CLASS_NAMES, PALETTE
from training.export import ExportResult, export_model

TOY_SIZE = (28, 42)
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


class ToySegmenter(nn.Module):
    """uint8 NHWC -> (semantic, LLR-like score, uncertainty): patchify conv, LayerNorm, two 1x1 heads."""

    def __init__(self, classes: int = 19, dim: int = 16, patch: int = 7, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.norm = nn.LayerNorm(dim)
        self.cls = nn.Conv2d(dim, classes, 1)
        self.uem = nn.Conv2d(dim, 2, 1)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.log_k = float(torch.log(torch.tensor(float(classes))))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (image.permute(0, 3, 1, 2).float() - self.get_buffer("mean")) / self.get_buffer("std")
        f = self.norm(self.embed(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        size = image.shape[1:3]
        logits = F.interpolate(self.cls(f), size=size, mode="bilinear", align_corners=False)
        uem = F.interpolate(self.uem(f), size=size, mode="bilinear", align_corners=False)
        p = logits.softmax(1)
        top2 = p.topk(2, dim=1).values
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(1) / self.log_k
        uncertainty = torch.stack([entropy, 1 - top2[:, 0], 1 - top2[:, 0] + top2[:, 1]], 1)
        score = uem[:, 1] - uem[:, 0] - logits.amax(1)
        return logits.argmax(1).to(torch.uint8), score, uncertainty


def toy_metadata(size: tuple[int, int] = TOY_SIZE) -> ModelMetadata:
    return ModelMetadata(
        network_size=size,
        class_names=tuple(CLASS_NAMES),
        palette=tuple((int(PALETTE[i][0]), int(PALETTE[i][1]), int(PALETTE[i][2])) for i in range(len(CLASS_NAMES))),
        mean=MEAN,
        std=STD,
        score_threshold=0.0,
        checkpoint="random",
        git_revision="test",
    )


@pytest.fixture(scope="session")
def toy_model() -> ToySegmenter:
    return ToySegmenter().eval()


@pytest.fixture(scope="session")
def toy_export(tmp_path_factory: pytest.TempPathFactory, toy_model: ToySegmenter) -> ExportResult:
    out = tmp_path_factory.mktemp("toy") / "toy.onnx"
    return export_model(toy_model, out, TOY_SIZE, toy_metadata(), log=lambda _: None)


@pytest.fixture(scope="session")
def make_onnx() -> Callable[..., Path]:
    """The :func:`handmade_onnx` builder."""
    return handmade_onnx


@pytest.fixture(scope="session")
def toy_size() -> tuple[int, int]:
    return TOY_SIZE


@pytest.fixture(scope="session")
def toy_onnx(toy_export: ExportResult) -> Path:
    return toy_export.onnx_path


def handmade_onnx(
    path: Path,
    size: tuple[int, int] = (4, 6),
    scale: float = 1.0,
    nan_score: bool = False,
    output_names: tuple[str, str, str] = ("semantic", "anomaly_score", "uncertainty"),
    opset: int = 18,
) -> Path:
    """A contract-shaped ONNX graph written by hand (no torch), with known values.

    ``x = float(image) * scale``; ``semantic = uint8(mean_c(image))``, ``anomaly_score = mean_c(x)`` (0/0 = NaN
    with ``nan_score``), ``uncertainty = transpose(LayerNorm_c(x))``.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = size
    inits = [
        numpy_helper.from_array(np.array(scale, np.float32), "scale"),
        numpy_helper.from_array(np.ones(3, np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(3, np.float32), "beta"),
        numpy_helper.from_array(np.array([3], np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["xf"], to=TensorProto.FLOAT, name="cast_in"),
        helper.make_node("Mul", ["xf", "scale"], ["x"], name="scale_mul"),
        helper.make_node("ReduceMean", ["xf", "axes"], ["mf"], keepdims=0, name="mean_raw"),
        helper.make_node("Cast", ["mf"], ["semantic"], to=TensorProto.UINT8, name="cast_sem"),
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0, name="mean_scaled"),
        helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["ln"], axis=-1, name="ln"),
        helper.make_node("Transpose", ["ln"], [output_names[2]], perm=[0, 3, 1, 2], name="to_nchw"),
    ]
    if nan_score:
        nodes += [
            helper.make_node("Sub", ["m", "m"], ["zero"], name="zero"),
            helper.make_node("Div", ["zero", "zero"], [output_names[1]], name="nan"),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["m"], [output_names[1]], name="score"))
    if output_names[0] != "semantic":
        nodes.append(helper.make_node("Identity", ["semantic"], [output_names[0]], name="sem_rename"))
    graph = helper.make_graph(
        nodes,
        "handmade",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, h, w, 3])],
        [
            helper.make_tensor_value_info(output_names[0], TensorProto.UINT8, [1, h, w]),
            helper.make_tensor_value_info(output_names[1], TensorProto.FLOAT, [1, h, w]),
            helper.make_tensor_value_info(output_names[2], TensorProto.FLOAT, [1, 3, h, w]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    entry = model.metadata_props.add()
    entry.key, entry.value = "anomaly_seg.network_size", f"{h}x{w}"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path
