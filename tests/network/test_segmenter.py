"""AnomalySegmenter assembly: engine outputs, one backbone pass, raw outputs, trainable parts per stage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from anomaly_seg.network import scores
from anomaly_seg.network.config import HeadConfig, ModelConfig, UEMConfig
from anomaly_seg.network.fpn import FPNDecoder
from anomaly_seg.network.model import AnomalySegmenter, build_model
from anomaly_seg.network.uem import UEM, uem_widths

TINY = Path(__file__).resolve().parents[2] / "models" / "configs" / "tiny.yaml"


def tiny(head: str = "linear", uem: str = "linear", frozen: bool | None = None) -> ModelConfig:
    config = ModelConfig.from_yaml(TINY)
    config = replace(
        config,
        head=replace(config.head, type=head, num_components=3),
        uem=replace(config.uem, head=uem, num_components=3),
    )
    if frozen is not None:
        config = replace(config, backbone=replace(config.backbone, frozen=frozen))
    return config


def images(batch: int = 2, size: tuple[int, int] = (112, 224)) -> torch.Tensor:
    return torch.randint(0, 256, (batch, *size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("head", "uem"), [("linear", "linear"), ("gmm", "linear"), ("gmm", "gmm")])
def test_forward_gives_the_engine_contract(head: str, uem: str) -> None:
    model = build_model(tiny(head, uem)).eval()
    with torch.no_grad():
        semantic, score, uncertainty = model(images())
    assert semantic.dtype == torch.uint8 and semantic.shape == (2, 112, 224)
    assert int(semantic.max()) < 19
    assert score.dtype == torch.float32 and score.shape == (2, 112, 224)
    assert uncertainty.dtype == torch.float32 and uncertainty.shape == (2, 3, 112, 224)
    assert torch.isfinite(score).all() and torch.isfinite(uncertainty).all()
    assert ((uncertainty >= 0) & (uncertainty <= 1 + 1e-6)).all()


def test_forward_equals_upsampled_raw_logits_then_argmax_and_llr() -> None:
    model = build_model(tiny()).eval()
    x = images()
    with torch.no_grad():
        semantic, score, uncertainty = model(x)
        raw = model.raw(x)
    cls = F.interpolate(raw.class_logits, size=(112, 224), mode="bilinear", align_corners=False)
    uem = F.interpolate(raw.uem_logits, size=(112, 224), mode="bilinear", align_corners=False)
    assert raw.class_logits.shape == (2, 19, 56, 112) and raw.uem_logits.shape == (2, 2, 14, 28)  # 8 px patches
    assert torch.equal(semantic, cls.argmax(1).to(torch.uint8))
    torch.testing.assert_close(score, scores.llr(cls, uem))
    torch.testing.assert_close(uncertainty, scores.uncertainty_maps(cls))
    uem_at_logits = F.interpolate(raw.uem_logits, size=(56, 112), mode="bilinear", align_corners=False)
    torch.testing.assert_close(raw.llr, scores.llr(raw.class_logits, uem_at_logits))


def test_normalisation_is_imagenet_inside_the_network() -> None:
    model = build_model(tiny())
    x = torch.full((1, 2, 2, 3), 255, dtype=torch.uint8)
    expected = torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(model.normalize(x), expected.expand(1, 3, 2, 2))


def test_one_backbone_pass_feeds_fpn_and_uem(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model(tiny()).eval()
    calls: list[list[int]] = []
    original = model.backbone.forward_blocks

    def counting(x: torch.Tensor, indices: list[int]) -> list[torch.Tensor]:
        calls.append(list(indices))
        return original(x, indices)

    monkeypatch.setattr(model.backbone, "forward_blocks", counting)
    block_calls = 0

    def count_block(*_: object) -> None:
        nonlocal block_calls
        block_calls += 1

    for block in model.backbone.blocks:
        block.register_forward_hook(count_block)
    with torch.no_grad():
        model(images(batch=1))
    assert calls == [[0, 1, 2, 3, 3]]  # FPN blocks + the last block for the UEM, one call
    assert block_calls == model.backbone.depth


@pytest.mark.parametrize(("head", "uem"), [("linear", "linear"), ("gmm", "gmm")])
def test_gradients_reach_only_the_trainable_parts(head: str, uem: str) -> None:
    model = build_model(tiny(head, uem, frozen=True)).train()
    for stage, trainable in ((1, {"decoder", "head"}), (2, {"uem"})):
        model.set_stage(stage)
        model.zero_grad(set_to_none=True)
        raw = model.raw(images(batch=1))
        (raw.class_logits.mean() + raw.uem_logits.mean()).backward()
        for name, p in model.named_parameters():
            part = name.split(".")[0]
            has_grad = p.grad is not None and bool(p.grad.abs().sum() > 0)
            assert has_grad == (part in trainable), f"stage {stage}: {name}"
    assert not model.backbone.training  # frozen parts stay in eval mode (norm statistics untouched)


def test_tiny_backbone_is_trainable_when_not_frozen() -> None:
    model = build_model(tiny()).train()
    model.raw(images(batch=1)).class_logits.mean().backward()
    assert model.backbone.pos_embed.grad is not None
    assert model.backbone.blocks[0].attn.qkv.weight.grad is not None


def test_fpn_output_is_four_times_the_patch_grid() -> None:
    for norm in ("group", "batch"):
        decoder = FPNDecoder(embed_dim=48, channels=32, norm=norm).eval()
        maps = [torch.randn(2, 48, 37, 74) for _ in range(4)]
        assert decoder(maps).shape == (2, 32, 148, 296)


def test_uem_widths_and_parameter_count() -> None:
    assert uem_widths(768) == (512, 256) and uem_widths(384) == (256, 128)
    assert uem_widths(1024) == (672, 352) and uem_widths(1536) == (1024, 512)
    projection = UEM(768, 512, 256).projection
    assert sum(p.numel() for p in projection.parameters()) == 787_712  # "about 788K" for ViT-B
    out = UEM(96, 64, 32, head="gmm", num_components=3)(torch.randn(2, 8 * 16, 96), (8, 16))
    assert out.shape == (2, 2, 8, 16)


def test_variant_names() -> None:
    assert tiny().variant == "D-D" and tiny("gmm").variant == "G-D" and tiny("gmm", "gmm").variant == "G-G"
    assert isinstance(build_model(tiny("gmm")), AnomalySegmenter)
    assert HeadConfig().type == "linear" and UEMConfig().head == "linear"
