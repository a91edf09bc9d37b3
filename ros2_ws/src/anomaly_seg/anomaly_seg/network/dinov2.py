"""DINOv2 vision transformers in plain torch, parameter names identical to the official torch-hub checkpoints.

The modules mirror ``facebookresearch/dinov2`` (``dinov2/layers`` and ``dinov2/models/vision_transformer.py``)
so that an official ``dinov2_*_pretrain.pth`` loads with ``strict=True``. Two deployment changes:

* attention uses :func:`torch.nn.functional.scaled_dot_product_attention` (same maths, exports to ONNX);
* the positional embeddings are interpolated once for the fixed network size and kept in a non-persistent
  buffer, so the exported graph holds no bicubic/antialiased resize. The official ``pos_embed`` parameter
  stays in the state dict; other input sizes are interpolated on the fly in eager mode, like the official code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from anomaly_seg.errors import ConfigError, ModelFileError

PATCH_SIZE = 14
STEMS = ("patch", "conv")
LAYER_NORM_EPS = 1e-6


@dataclass(frozen=True)
class BackboneSpec:
    """Architecture of one backbone (the official hub values for the DINOv2 models)."""

    embed_dim: int
    depth: int
    num_heads: int
    ffn_layer: str = "mlp"  # "mlp" or "swiglufused"
    num_register_tokens: int = 0
    pretrain_size: int = 518  # pos_embed covers a (pretrain_size / patch_size)^2 grid
    official: bool = True
    patch_size: int = PATCH_SIZE  # default; only non-official backbones may be built with another one


def _official(dim: int, depth: int, heads: int, ffn: str = "mlp", reg: int = 0) -> BackboneSpec:
    return BackboneSpec(dim, depth, heads, ffn, reg)


BACKBONES: dict[str, BackboneSpec] = {
    "vits14": _official(384, 12, 6),
    "vitb14": _official(768, 12, 12),
    "vitl14": _official(1024, 24, 16),
    "vitg14": _official(1536, 40, 24, "swiglufused"),
    "vits14_reg4": _official(384, 12, 6, reg=4),
    "vitb14_reg4": _official(768, 12, 12, reg=4),
    "vitl14_reg4": _official(1024, 24, 16, reg=4),
    "vitg14_reg4": _official(1536, 40, 24, "swiglufused", reg=4),
    # Small non-official backbone for tests and the CPU demo (trained from scratch).
    "vit_tiny": BackboneSpec(96, 4, 3, pretrain_size=224, official=False),
}


def canonical_backbone_name(name: str) -> str:
    """``dinov2_vits14`` -> ``vits14``; raises :class:`ConfigError` for unknown names."""
    key = name.removeprefix("dinov2_")
    if key not in BACKBONES:
        raise ConfigError(f"backbone.name: unknown backbone {name!r} (expected one of {', '.join(BACKBONES)})")
    return key


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` x ``patch_size`` patches -> tokens ``[B, N, D]``."""

    def __init__(self, embed_dim: int, patch_size: int = PATCH_SIZE, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        patches: Tensor = self.proj(x)
        return patches.flatten(2).transpose(1, 2)


class ConvStem(nn.Module):
    """Convolutional stem in place of the single patchify conv (Xiao et al., "Early convolutions help transformers
    see better"): ``log2(patch_size)`` stride-2 3x3 conv + GroupNorm + GELU stages, then a 1x1 projection to the
    token width. Only for non-official backbones trained from scratch (it learns much faster on little data)."""

    def __init__(self, embed_dim: int, patch_size: int, in_chans: int = 3) -> None:
        super().__init__()
        stages = patch_size.bit_length() - 1
        if patch_size < 2 or 1 << stages != patch_size:
            raise ConfigError(f"backbone.stem: a conv stem needs a power-of-two patch size, got {patch_size}")
        layers: list[nn.Module] = []
        cin = in_chans
        for i in range(stages):
            cout = max(16, embed_dim >> (stages - 1 - i))
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.GroupNorm(8, cout), nn.GELU()]
            cin = cout
        self.stem = nn.Sequential(*layers)
        self.proj = nn.Conv2d(cin, embed_dim, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        patches: Tensor = self.proj(self.stem(x))
        return patches.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention: ``softmax(q k^T / sqrt(d)) v`` over all tokens."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        out: Tensor = self.proj(x.transpose(1, 2).reshape(B, N, C))
        return out


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc2(self.act(self.fc1(x)))
        return out


class SwiGLUFFNFused(nn.Module):
    """``w3(SiLU(x W1) * (x W2))`` with W1, W2 fused in ``w12``; hidden width after the official 2/3 rule."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        x1, x2 = self.w12(x).chunk(2, dim=-1)
        out: Tensor = self.w3(F.silu(x1) * x2)
        return out


class LayerScale(nn.Module):
    """Per-channel scale ``gamma * x``."""

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_values))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``."""

    def __init__(self, dim: int, num_heads: int, ffn_layer: str, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        hidden = int(dim * mlp_ratio)
        self.mlp: nn.Module = SwiGLUFFNFused(dim, hidden) if ffn_layer == "swiglufused" else Mlp(dim, hidden)
        self.ls2 = LayerScale(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        out: Tensor = x + self.ls2(self.mlp(self.norm2(x)))
        return out


def interpolate_pos_embed(pos_embed: Tensor, grid: tuple[int, int], *, antialias: bool, offset: float) -> Tensor:
    """The official ``interpolate_pos_encoding``: bicubic resize of the square patch grid to ``grid`` (rows, cols).

    Returns ``[1, 1 + rows * cols, D]`` (class position first) in ``pos_embed``'s dtype.
    """
    n = pos_embed.shape[1] - 1
    side = int(math.sqrt(n))
    if side * side != n:
        raise ModelFileError(f"pos_embed holds {n} patch positions, not a square grid")
    rows, cols = grid
    if rows == cols == side:  # the official code returns pos_embed untouched for the native square size
        return pos_embed
    dim = pos_embed.shape[-1]
    pos = pos_embed.float()
    patch = pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
    kwargs: dict[str, Any]
    if offset:
        # Historical kludge kept for identical numbers (facebookresearch/dino#8).
        kwargs = {"scale_factor": ((rows + offset) / side, (cols + offset) / side)}
    else:
        kwargs = {"size": (rows, cols)}
    patch = F.interpolate(patch, mode="bicubic", antialias=antialias, **kwargs)
    patch = patch.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
    return torch.cat((pos[:, :1], patch), dim=1).to(pos_embed.dtype)


class DinoVisionTransformer(nn.Module):
    """DINOv2 ViT with the official parameter names and ``get_intermediate_layers`` API.

    ``img_size`` is the fixed network input ``(height, width)``; its positional embeddings are precomputed.
    ``patch_size`` (None: the spec's, 14) and ``stem`` (``patch``: one patchify conv as in DINOv2, ``conv``:
    :class:`ConvStem`) may differ from the official ones only for non-official backbones such as ``vit_tiny``.
    """

    def __init__(
        self,
        spec: BackboneSpec,
        img_size: tuple[int, int] = (518, 518),
        patch_size: int | None = None,
        stem: str = "patch",
    ) -> None:
        super().__init__()
        patch = patch_size or spec.patch_size
        if spec.official and patch != PATCH_SIZE:
            raise ConfigError(
                f"backbone.patch_size: official DINOv2 backbones use {PATCH_SIZE} px patches, got {patch}"
            )
        if stem not in STEMS or (spec.official and stem != "patch"):
            raise ConfigError(f"backbone.stem: {stem!r} is not available (official backbones: patch; others: {STEMS})")
        if img_size[0] % patch or img_size[1] % patch:
            raise ConfigError(f"input.size: {img_size} is not a multiple of the patch size {patch}")
        self.spec = spec
        self.embed_dim = spec.embed_dim
        self.patch_size = patch
        self.num_register_tokens = spec.num_register_tokens
        self.interpolate_antialias = spec.num_register_tokens > 0
        self.interpolate_offset = 0.0 if spec.num_register_tokens > 0 else 0.1
        self.img_size = img_size
        self.grid_size = (img_size[0] // patch, img_size[1] // patch)
        dim = spec.embed_dim
        pretrain_grid = spec.pretrain_size // patch

        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, pretrain_grid * pretrain_grid + 1, dim))
        if spec.num_register_tokens:
            self.register_tokens = nn.Parameter(torch.zeros(1, spec.num_register_tokens, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.patch_embed: PatchEmbed | ConvStem = ConvStem(dim, patch) if stem == "conv" else PatchEmbed(dim, patch)
        self.blocks = nn.ModuleList(Block(dim, spec.num_heads, spec.ffn_layer) for _ in range(spec.depth))
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.head = nn.Identity()
        self.register_buffer(
            "pos_embed_fixed", torch.zeros(1, 1 + self.grid_size[0] * self.grid_size[1], dim), persistent=False
        )
        self._init_weights()
        self.register_load_state_dict_post_hook(lambda module, _keys: module.refresh_pos_embed())  # type: ignore[no-untyped-call]

    pos_embed_fixed: Tensor

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if self.num_register_tokens:
            nn.init.normal_(self.register_tokens, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.refresh_pos_embed()

    @property
    def depth(self) -> int:
        """Number of transformer blocks."""
        return len(self.blocks)

    @torch.no_grad()
    def refresh_pos_embed(self) -> None:
        """Recompute the stored positional embeddings for :attr:`img_size` from ``pos_embed``."""
        if self.pos_embed.device.type == "meta":
            return
        fixed = interpolate_pos_embed(
            self.pos_embed, self.grid_size, antialias=self.interpolate_antialias, offset=self.interpolate_offset
        )
        self.pos_embed_fixed.copy_(fixed)

    def train(self, mode: bool = True) -> DinoVisionTransformer:
        """Switching to eval refreshes the stored positional embeddings (they may have been trained)."""
        super().train(mode)
        if not mode:
            self.refresh_pos_embed()
        return self

    def _positions(self, rows: int, cols: int) -> Tensor:
        trainable = self.training and self.pos_embed.requires_grad
        if (rows, cols) == self.grid_size and not trainable:
            return self.pos_embed_fixed
        return interpolate_pos_embed(
            self.pos_embed, (rows, cols), antialias=self.interpolate_antialias, offset=self.interpolate_offset
        )

    def prepare_tokens_with_masks(self, x: Tensor, masks: Tensor | None = None) -> Tensor:
        """Patch tokens + class token (+ registers) with positional embeddings: ``[B, 1 + R + N, D]``."""
        B, _, H, W = x.shape
        tokens = self.patch_embed(x)
        if masks is not None:
            tokens = torch.where(masks.unsqueeze(-1), self.mask_token.to(tokens.dtype).unsqueeze(0), tokens)
        tokens = torch.cat((self.cls_token.expand(B, -1, -1), tokens), dim=1)
        tokens = tokens + self._positions(H // self.patch_size, W // self.patch_size).to(tokens.dtype)
        if self.num_register_tokens:
            tokens = torch.cat((tokens[:, :1], self.register_tokens.expand(B, -1, -1), tokens[:, 1:]), dim=1)
        return tokens

    def forward_blocks(self, x: Tensor, indices: Sequence[int]) -> list[Tensor]:
        """One pass; outputs (before the final norm) of the blocks in ``indices`` (0-based), in that order."""
        wanted = {i % self.depth for i in indices}
        tokens = self.prepare_tokens_with_masks(x)
        taken: dict[int, Tensor] = {}
        last = max(wanted)
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i in wanted:
                taken[i] = tokens
            if i == last:
                break
        return [taken[i % self.depth] for i in indices]

    def get_intermediate_layers(
        self,
        x: Tensor,
        n: int | Sequence[int] = 1,
        reshape: bool = False,
        return_class_token: bool = False,
        norm: bool = True,
    ) -> tuple[Any, ...]:
        """Official API: outputs of the last ``n`` blocks (int) or of the blocks listed in ``n``.

        Patch tokens ``[B, N, D]`` (``[B, D, h, w]`` with ``reshape``), optionally paired with class tokens.
        """
        if x.shape[-2] % self.patch_size or x.shape[-1] % self.patch_size:
            raise ValueError(f"input sides {tuple(x.shape[-2:])} must be multiples of {self.patch_size}")
        indices = list(range(self.depth - n, self.depth)) if isinstance(n, int) else list(n)
        outputs = self.forward_blocks(x, indices)
        if norm:
            outputs = [self.norm(out) for out in outputs]
        class_tokens = [out[:, 0] for out in outputs]
        outputs = [out[:, 1 + self.num_register_tokens :] for out in outputs]
        if reshape:
            B, _, H, W = x.shape
            rows, cols = H // self.patch_size, W // self.patch_size
            outputs = [out.reshape(B, rows, cols, -1).permute(0, 3, 1, 2).contiguous() for out in outputs]
        if return_class_token:
            return tuple(zip(outputs, class_tokens))
        return tuple(outputs)

    def forward_features(self, x: Tensor, masks: Tensor | None = None) -> dict[str, Tensor | None]:
        """Official dict of normalised class/register/patch tokens and the pre-norm tokens."""
        tokens = self.prepare_tokens_with_masks(x, masks)
        for block in self.blocks:
            tokens = block(tokens)
        normed = self.norm(tokens)
        r = self.num_register_tokens
        return {
            "x_norm_clstoken": normed[:, 0],
            "x_norm_regtokens": normed[:, 1 : r + 1],
            "x_norm_patchtokens": normed[:, r + 1 :],
            "x_prenorm": tokens,
            "masks": masks,
        }

    def forward(self, x: Tensor) -> Tensor:
        """Normalised class token (the hub models' output, ``head`` is the identity)."""
        out = self.forward_features(x)["x_norm_clstoken"]
        assert out is not None
        return self.head(out)  # type: ignore[no-any-return]


def build_backbone(
    name: str, img_size: tuple[int, int] = (518, 518), patch_size: int | None = None, stem: str = "patch"
) -> DinoVisionTransformer:
    """Backbone ``name`` (``vits14``, ``vitb14_reg4``, ``dinov2_vitg14``, ``vit_tiny`` ...) for ``img_size`` inputs;
    ``patch_size`` and ``stem`` change the tokeniser of a non-official backbone."""
    return DinoVisionTransformer(BACKBONES[canonical_backbone_name(name)], img_size, patch_size, stem)
