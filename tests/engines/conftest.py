"""A toy network honouring the engine I/O contract, exported once per session for the engine tests."""

from __future__ import annotations

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
        x = (image.permute(0, 3, 1, 2).float() - self.mean) / self.std
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
        palette=tuple(tuple(int(v) for v in PALETTE[i]) for i in range(len(CLASS_NAMES))),
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
def toy_onnx(toy_export: ExportResult) -> Path:
    return toy_export.onnx_path
