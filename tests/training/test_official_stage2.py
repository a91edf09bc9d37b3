"""Stage 2 (our UEM training) on a released segmentor's architecture; the released GMM head is not trainable here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from anomaly_seg.errors import ConfigError
from anomaly_seg.network import ModelConfig, build_model
from training.config import LossConfig
from training.trainers.objective import StageObjective

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"


def _small(name: str) -> ModelConfig:
    config = ModelConfig.from_yaml(CONFIGS / name)
    return replace(
        config, input=replace(config.input, size=(56, 112)), sliding=replace(config.sliding, stride=(28, 56))
    )


def test_stage2_trains_only_the_uem_of_an_imported_gmm_segmentor() -> None:
    torch.manual_seed(0)
    model = build_model(_small("official_gmm_segmentor.yaml"))
    model.set_stage(2)
    model.train()
    objective = StageObjective(model, 2, LossConfig())
    images = torch.randint(0, 256, (2, 56, 112, 3), dtype=torch.uint8)
    target = torch.zeros(2, 56, 112, dtype=torch.long)
    target[:, 20:40, 30:60] = 1
    loss, terms = objective(images, target, objective.term_counts(target) / objective.term_counts(target))
    loss.backward()
    assert torch.isfinite(loss) and terms.shape == (1,)
    grads = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert grads == {"uem"}
    assert not model.head.training and not model.decoder.training  # frozen BatchNorm statistics stay fixed


@pytest.mark.parametrize(
    ("config", "stage", "key"), [("official_gd.yaml", 1, "head.type"), ("official_gg.yaml", 2, "uem.head")]
)
def test_training_the_released_gmm_head_is_refused_with_the_key(config: str, stage: int, key: str) -> None:
    model = build_model(_small(config))
    with pytest.raises(ConfigError, match=f"{key}: gmm_official is the released models' GMM head"):
        StageObjective(model, stage, LossConfig())
