"""Trainer: recipes and overrides, the schedule, stage-2 freezing (bit-identical stage-1 weights), exact resume."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from anomaly_seg.network import ModelConfig, load_checkpoint
from anomaly_seg.network.checkpoint import read_checkpoint_metadata
from training.config import REPO_ROOT, OutlierConfig, ScheduleConfig, TrainConfig
from training.trainers import BEST, LAST, STATE, Trainer, lr_at, train
from training.trainers.data import train_dataset

TINY = str(REPO_ROOT / "models" / "configs" / "tiny.yaml")


def tiny_recipe(stage: int = 1, iterations: int = 2, **data: object) -> TrainConfig:
    """A few steps of the tiny model on 4 synthetic scenes of the network size, batch 2, CPU."""
    return TrainConfig.from_dict(
        {
            "stage": stage,
            "model": TINY,
            "device": "cpu",
            "data": {"synthetic_train": 4, "synthetic_val": 2, "batch_size": 2, "num_workers": 0, **data},
            "outliers": {"probability": 1.0, "area_range": [0.02, 0.08]},
            "schedule": {"iterations": iterations, "warmup": 1, "val_every": iterations, "checkpoint_every": 1},
            "logging": {"progress": False, "tensorboard": False},
        }
    )


def test_recipe_yaml_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"stage: 1\nmodel: {TINY}\noptim:\n  lr: 0.001\n", encoding="utf-8")
    config = TrainConfig.from_yaml(path, ["optim.lr=1e-4", "data.scale_range=[1.0, 1.0]", "init=null"])
    assert config.optim.lr == pytest.approx(1e-4)
    assert config.data.scale_range == (1.0, 1.0)
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optim.lrr=1", "optim.lrr"),
        ("optim.lr=-1", "optim.lr"),
        ("schedule.warmup=5000", "schedule.warmup"),
        ("outliers.kinds=[barrel]", "outliers.kinds"),
        ("data.batch_size=two", "data.batch_size"),
    ],
)
def test_invalid_recipe_names_the_key(tmp_path: Path, override: str, key: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("stage: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TrainConfig.from_yaml(path, [override])


def test_all_shipped_recipes_load() -> None:
    recipes = sorted((REPO_ROOT / "training" / "configs").glob("*.yaml"))
    assert len(recipes) >= 5
    for path in recipes:
        config = TrainConfig.from_yaml(path)
        assert Path(config.model).is_file(), path


def test_schedule_warmup_then_polynomial_decay() -> None:
    s = ScheduleConfig(iterations=110, warmup=10, warmup_factor=0.1, poly_power=2.0, min_lr=1e-5)
    assert lr_at(0, 1e-3, s) == pytest.approx(1e-4)
    assert lr_at(5, 1e-3, s) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert lr_at(10, 1e-3, s) == pytest.approx(1e-3)
    assert lr_at(60, 1e-3, s) == pytest.approx((1e-3 - 1e-5) * 0.25 + 1e-5)
    assert lr_at(110, 1e-3, s) == pytest.approx(1e-5)
    lrs = [lr_at(i, 1e-3, s) for i in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))


def test_batch_must_split_over_processes_and_accumulation() -> None:
    config = tiny_recipe()
    with pytest.raises(ConfigError, match=r"data\.batch_size"):
        Trainer(config.replace(optim=type(config.optim)(accumulate=3)), "unused")


@pytest.fixture(scope="module")
def stage1_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stage1")
    result = train(tiny_recipe(1, iterations=2), out)
    assert result.best.is_file() and result.metric_name == "miou" and result.best_metric is not None
    return out


def test_stage1_trains_the_tiny_backbone_and_writes_checkpoints(stage1_run: Path) -> None:
    model, config = load_checkpoint(stage1_run / LAST)
    assert config.name == "tiny"
    fresh = Trainer(tiny_recipe(1), stage1_run / "unused").model
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, fresh.state_dict()[n])]
    assert any(n.startswith("backbone.blocks") for n in changed)
    assert not any(n.startswith("uem.") for n in changed)
    _, extra = read_checkpoint_metadata(stage1_run / BEST)
    assert extra["stage"] == 1 and "miou" in extra["val"]
    assert (stage1_run / STATE).is_file() and (stage1_run / "recipe.json").is_file()


def test_stage2_changes_only_the_uem(stage1_run: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(2, iterations=2).replace(init=str(stage1_run / LAST))
    trainer = Trainer(recipe, tmp_path)
    for name, p in trainer.model.named_parameters():
        assert p.requires_grad == name.startswith("uem."), name
    result = trainer.fit()
    before = load_file(str(stage1_run / LAST))
    after = load_file(str(result.last))
    assert before.keys() == after.keys()
    for name, tensor in before.items():
        if name.startswith("uem."):
            continue
        assert torch.equal(tensor, after[name]), f"stage-1 tensor {name} changed in stage 2"
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("uem."))
    _, extra = read_checkpoint_metadata(result.best)
    assert extra["stage"] == 2 and "ap" in extra["val"] and "score_threshold" in extra


def test_entropy_max_changes_only_decoder_and_head_and_deploys_the_entropy(stage1_run: Path, tmp_path: Path) -> None:
    """Chan et al.: the segmentation model's trainable part (decoder + head) is fine-tuned, backbone and UEM stay;
    the checkpoint's score is the normalised entropy, which the model's forward then returns as anomaly_score."""
    from anomaly_seg.network.scores import entropy

    recipe = tiny_recipe(2, iterations=2).replace(init=str(stage1_run / LAST), method="entropy_max")
    recipe = recipe.replace(
        outliers=OutlierConfig(probability=1.0, area_range=(0.02, 0.08), whole_image_probability=0.5)
    )
    trainer = Trainer(recipe, tmp_path)
    for name, p in trainer.model.named_parameters():
        assert p.requires_grad == name.startswith(("decoder.", "head.")), name
    assert trainer.objective.term_names == ("entropy_max",)
    result = trainer.fit()
    before, after = load_file(str(stage1_run / LAST)), load_file(str(result.last))
    for name, tensor in before.items():
        if not name.startswith(("decoder.", "head.")):
            assert torch.equal(tensor, after[name]), f"{name} changed"
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("head."))
    model, config = load_checkpoint(result.best)
    assert config.score == "entropy"
    images = torch.randint(0, 255, (1, *config.input.size, 3), dtype=torch.uint8)
    _, score, _ = model.eval()(images)
    class_logits, _ = model.logits(model.normalize(images))
    up = torch.nn.functional.interpolate(class_logits, size=config.input.size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(score, entropy(up))
    _, extra = read_checkpoint_metadata(result.best)
    assert extra["recipe"]["method"] == "entropy_max" and "score_threshold" in extra


def test_outlier_head_trains_with_the_segmentation_head_and_deploys_op_times_msm(
    stage1_run: Path, tmp_path: Path
) -> None:
    """Bevandic et al.: a fresh outlier head on the decoder features, trained jointly with decoder + head (backbone and
    UEM frozen); the checkpoint's score is OP x MSM = sigmoid(outlier logit) x (1 - max softmax)."""
    from anomaly_seg.network.scores import max_softmax

    recipe = tiny_recipe(2, iterations=2).replace(init=str(stage1_run / LAST), method="outlier_head")
    trainer = Trainer(recipe, tmp_path)
    for name, p in trainer.model.named_parameters():
        assert p.requires_grad == name.startswith(("decoder.", "head.", "outlier.")), name
    assert trainer.objective.term_names == ("ce", "outlier_bce")
    result = trainer.fit()
    before, after = load_file(str(stage1_run / LAST)), load_file(str(result.last))
    assert {n for n in after if n.startswith("outlier.")} and not {n for n in before if n.startswith("outlier.")}
    for name, tensor in before.items():
        if not name.startswith(("decoder.", "head.")):
            assert torch.equal(tensor, after[name]), f"{name} changed"
    model, config = load_checkpoint(result.best)
    assert config.outlier_head and config.score == "op_msm"
    images = torch.randint(0, 255, (1, *config.input.size, 3), dtype=torch.uint8)
    _, score, _ = model.eval()(images)
    features = model._decode(*model._features(model.normalize(images))[:2])
    size = config.input.size
    up = torch.nn.functional.interpolate
    logit = up(model.outlier(features), size=size, mode="bilinear", align_corners=False)[:, 0]
    class_logits = up(model.head(features), size=size, mode="bilinear", align_corners=False)
    torch.testing.assert_close(score, torch.sigmoid(logit) * max_softmax(class_logits), rtol=1e-5, atol=1e-6)


def test_entropy_max_is_a_stage_two_method() -> None:
    with pytest.raises(ConfigError, match="method"):
        tiny_recipe(1).replace(method="entropy_max")
    with pytest.raises(ConfigError, match="method"):
        tiny_recipe(2).replace(method="nope")


def test_resume_continues_exactly(tmp_path: Path) -> None:
    straight = train(tiny_recipe(1, iterations=3), tmp_path / "a")
    partial = tiny_recipe(1, iterations=3)
    train(
        partial.replace(schedule=ScheduleConfig(iterations=2, warmup=1, val_every=3, checkpoint_every=1)),
        tmp_path / "b",
    )
    resumed = Trainer(partial, tmp_path / "b", resume=True)
    assert resumed.progress.step == 2
    resumed.fit()
    a, b = load_file(str(straight.last)), load_file(str(tmp_path / "b" / LAST))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_stage1_pastes_void_outliers_only_when_asked(probability: float) -> None:
    recipe = tiny_recipe(1).replace(outliers=OutlierConfig(stage1_probability=probability, area_range=(0.02, 0.08)))
    data = train_dataset(recipe, ModelConfig.from_yaml(TINY))
    for i in range(len(data)):
        sample = data[i]
        assert sample.train_ids is not None
        if probability == 0.0:
            assert data.paster is None and (sample.anomaly is None or not (sample.anomaly == 1).any())
            continue
        assert sample.anomaly is not None
        pasted = sample.anomaly == 1
        assert pasted.sum() > 0
        # the inlier loss never sees pasted pixels
        assert (sample.train_ids[pasted] == VOID).all()
        assert (sample.train_ids[~pasted & (sample.anomaly == 0)] != VOID).all()
