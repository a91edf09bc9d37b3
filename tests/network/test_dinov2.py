"""DINOv2 backbones: official checkpoint layout (strict load), errors, and the official eager semantics."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.network.dinov2 import (
    BackboneSpec,
    DinoVisionTransformer,
    build_backbone,
    canonical_backbone_name,
)
from anomaly_seg.network.state_dict import load_backbone_weights

LAYOUT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dinov2" / "state_dict_layout.txt"


def read_layout(checkpoint: str) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of one checkpoint section of the layout file."""
    if not LAYOUT.is_file():
        pytest.skip(f"shared data absent: {LAYOUT}")
    shapes: dict[str, tuple[int, ...]] = {}
    section = None
    for line in LAYOUT.read_text().splitlines():
        if line.startswith("=="):
            section = line[3:].split(":")[0]
        elif section == checkpoint and "\t" in line:
            key, shape = line.split("\t")
            shapes[key] = tuple(int(v) for v in re.findall(r"\d+", shape))
    assert shapes, f"{checkpoint} not in {LAYOUT}"
    return shapes


def random_state_dict(layout: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Distinct cheap values per tensor (a full randn of ViT-B costs seconds)."""
    gen = torch.Generator().manual_seed(0)
    return {k: torch.rand(1, generator=gen) * torch.ones(shape) for k, shape in layout.items()}


def uninitialised(name: str) -> DinoVisionTransformer:
    """Backbone with allocated but uninitialised weights (skips the slow random init of large models)."""
    with torch.device("meta"):
        model = build_backbone(name, img_size=(28, 42))
    return model.to_empty(device="cpu")


@pytest.mark.parametrize(
    ("name", "checkpoint"),
    [
        ("vits14", "dinov2_vits14_pretrain.pth"),
        ("vits14_reg4", "dinov2_vits14_reg4_pretrain.pth"),
        ("dinov2_vitb14", "dinov2_vitb14_pretrain.pth"),
    ],
)
def test_official_layout_loads_strict_and_round_trips(name: str, checkpoint: str, tmp_path: Path) -> None:
    layout = read_layout(checkpoint)
    model = uninitialised(name)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == layout
    state = random_state_dict(layout)
    path = tmp_path / checkpoint
    torch.save(state, path)
    load_backbone_weights(model, path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    torch.save(model.state_dict(), tmp_path / "again.pth")
    other = uninitialised(name)
    load_backbone_weights(other, tmp_path / "again.pth")
    # The stored positional embeddings were refreshed from the loaded pos_embed.
    assert torch.equal(other.pos_embed_fixed, model.pos_embed_fixed)


def test_wrong_file_names_missing_unexpected_and_mismatched_keys(tmp_path: Path) -> None:
    state = random_state_dict(read_layout("dinov2_vits14_pretrain.pth"))
    state.pop("norm.bias")
    state["head.weight"] = torch.zeros(3)
    state["cls_token"] = torch.zeros(1, 1, 768)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(ModelFileError) as info:
        load_backbone_weights(uninitialised("vits14"), path)
    message = str(info.value)
    assert str(path) in message
    assert "1 missing: norm.bias" in message
    assert "1 unexpected: head.weight" in message
    assert "cls_token (1, 1, 768) != (1, 1, 384)" in message


def test_corrupt_and_absent_files_raise_model_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFileError, match=r"corrupt\.pth"):
        load_backbone_weights(build_backbone("vit_tiny"), bad)
    with pytest.raises(ModelFileError, match="not found"):
        load_backbone_weights(build_backbone("vit_tiny"), tmp_path / "absent.pth")


def test_unknown_backbone_names_the_key() -> None:
    assert canonical_backbone_name("dinov2_vitg14_reg4") == "vitg14_reg4"
    with pytest.raises(ConfigError, match=r"backbone.name: unknown backbone 'vitz14'"):
        build_backbone("vitz14")


@pytest.mark.parametrize(
    ("name", "params", "mlp_key", "mlp_shape"),
    [
        ("vitl14", 304_368_640, "blocks.23.mlp.fc1.weight", (4096, 1024)),
        ("vitg14", 1_136_480_768, "blocks.39.mlp.w12.weight", (8192, 1536)),
        ("vitg14_reg4", 1_136_486_912, "blocks.39.mlp.w3.weight", (1536, 4096)),
    ],
)
def test_large_backbones_match_official_sizes(name: str, params: int, mlp_key: str, mlp_shape: tuple[int, ...]) -> None:
    with torch.device("meta"):
        model = build_backbone(name)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sum(math.prod(s) for s in shapes.values()) == params
    assert shapes[mlp_key] == mlp_shape
    assert "blocks.0.ls1.gamma" in shapes and "pos_embed" in shapes and "mask_token" in shapes
    assert ("register_tokens" in shapes) == name.endswith("_reg4")


def official_intermediate(model: DinoVisionTransformer, x: torch.Tensor, n: list[int]) -> list[torch.Tensor]:
    """Direct transcription of the official prepare_tokens / blocks / norm (explicit softmax attention)."""
    B, _, w, h = x.shape
    tokens = model.patch_embed.proj(x).flatten(2).transpose(1, 2)
    tokens = torch.cat((model.cls_token.expand(B, -1, -1), tokens), dim=1)
    npatch, N = tokens.shape[1] - 1, model.pos_embed.shape[1] - 1
    if npatch == N and w == h:
        pos = model.pos_embed
    else:
        M, dim = int(math.sqrt(N)), tokens.shape[-1]
        w0, h0 = w // 14, h // 14
        kwargs: dict[str, object] = (
            {"scale_factor": ((w0 + 0.1) / M, (h0 + 0.1) / M)} if model.interpolate_offset else {"size": (w0, h0)}
        )
        patch = F.interpolate(
            model.pos_embed[:, 1:].reshape(1, M, M, dim).permute(0, 3, 1, 2),
            mode="bicubic",
            antialias=model.interpolate_antialias,
            **kwargs,
        )  # type: ignore[arg-type]
        pos = torch.cat((model.pos_embed[:, :1], patch.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)
    tokens = tokens + pos
    if model.num_register_tokens:
        tokens = torch.cat((tokens[:, :1], model.register_tokens.expand(B, -1, -1), tokens[:, 1:]), dim=1)
    outputs = []
    for i, blk in enumerate(model.blocks):
        a = blk.attn
        y = blk.norm1(tokens)
        Bq, Nq, C = y.shape
        qkv = a.qkv(y).reshape(Bq, Nq, 3, a.num_heads, C // a.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (C // a.num_heads) ** -0.5, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        tokens = tokens + blk.ls1(a.proj((attn @ v).transpose(1, 2).reshape(Bq, Nq, C)))
        tokens = tokens + blk.ls2(blk.mlp(blk.norm2(tokens)))
        if i in n:
            outputs.append(model.norm(tokens)[:, 1 + model.num_register_tokens :])
    return outputs


@pytest.mark.parametrize("registers", [0, 4])
@pytest.mark.parametrize("size", [(42, 84), (28, 28), (518, 518), (70, 42)])
def test_get_intermediate_layers_matches_official_semantics(registers: int, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    spec = BackboneSpec(48, 3, 3, num_register_tokens=registers)  # official 37x37 pos grid, small width
    model = DinoVisionTransformer(spec, img_size=(42, 84)).eval()
    with torch.no_grad():
        for blk in model.blocks:
            blk.ls1.gamma.fill_(0.5)
            blk.ls2.gamma.fill_(0.5)
        x = torch.randn(2, 3, *size)
        got = model.get_intermediate_layers(x, [0, 2])
        expected = official_intermediate(model, x, [0, 2])
        last = model.get_intermediate_layers(x, 1, reshape=True, return_class_token=True)
        cls_token = model.forward(x)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
    ((patch_map, cls),) = last
    assert patch_map.shape == (2, 48, size[0] // 14, size[1] // 14)
    torch.testing.assert_close(patch_map.flatten(2).transpose(1, 2), expected[-1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cls, cls_token)


def test_stored_positions_equal_on_the_fly_and_follow_training() -> None:
    model = DinoVisionTransformer(BackboneSpec(48, 1, 3, pretrain_size=224, official=False), img_size=(56, 84))
    model.train()
    with torch.no_grad():
        model.pos_embed.add_(1.0)
    trained = model._positions(4, 6)  # training with a trainable pos_embed: interpolated on the fly
    assert not torch.equal(trained, model.pos_embed_fixed)
    model.eval()  # eval refreshes the stored copy used by the exported graph
    torch.testing.assert_close(model._positions(4, 6), trained)
    assert model._positions(4, 6) is model.pos_embed_fixed


def test_input_sides_must_be_multiples_of_the_patch() -> None:
    model = build_backbone("vit_tiny", img_size=(28, 28))
    with pytest.raises(ValueError, match="multiples of 14"):
        model.get_intermediate_layers(torch.zeros(1, 3, 30, 28))
    with pytest.raises(ConfigError, match=r"input\.size"):
        build_backbone("vit_tiny", img_size=(30, 28))


@pytest.mark.parametrize("stem", ["patch", "conv"])
def test_vit_tiny_patch_size_and_stem_set_the_token_grid(stem: str) -> None:
    model = build_backbone("vit_tiny", img_size=(112, 224), patch_size=8, stem=stem).eval()
    assert model.patch_size == 8 and model.grid_size == (14, 28)
    (tokens,) = model.get_intermediate_layers(torch.zeros(2, 3, 112, 224), 1, reshape=True)
    assert tokens.shape == (2, 96, 14, 28)
    with pytest.raises(ValueError, match="multiples of 8"):
        model.get_intermediate_layers(torch.zeros(1, 3, 112, 228))


def test_official_backbones_keep_14_px_patches_and_the_patchify_stem() -> None:
    with pytest.raises(ConfigError, match=r"backbone\.patch_size"):
        build_backbone("vits14", img_size=(112, 224), patch_size=8)
    with pytest.raises(ConfigError, match=r"backbone\.stem"):
        build_backbone("vits14", img_size=(112, 224), stem="conv")
    with pytest.raises(ConfigError, match="power-of-two"):
        build_backbone("vit_tiny", img_size=(112, 224), patch_size=7, stem="conv")
