"""The neck of the released UEM models (``DINOv2FPN`` of the likelihood-ratio paper's code), for their checkpoints.

Submodule names and shapes follow that code's ``state_dict`` (``fpn1.1.weight``, ``heads.3.8.weight`` ...), so a
released checkpoint maps onto it by prefix alone (:mod:`anomaly_seg.network.official`). Per pyramid level:

* ``fpn1`` (block 1): GroupNorm(1) -> ConvTranspose 2x2/2 -> BatchNorm -> GELU -> ConvTranspose 2x2/2 (x4);
* ``fpn2`` (block 4): GroupNorm(1) -> ConvTranspose 2x2/2 (x2); ``fpn3`` (block 8): GroupNorm(1) (x1);
* ``fpn4`` (block 11): GroupNorm(1) -> max-pool 2 (x1/2, floor);
* ``dino_mlp`` (final tokens, 768 -> 512 -> ReLU -> C) concatenated to the ``fpn3`` level;
* 1x1 ``lateral_convs`` to C, top-down sums with nearest resize, 3x3 ``fpn_convs``;
* ``heads.i``: ``max(i, 1)`` stages of 3x3 conv (no bias) + BatchNorm + ReLU, each followed by a x2 bilinear
  upsampling for ``i > 0``; the four head outputs are summed at the finest level after a bilinear
  (``align_corners=True``) resize.

Output ``[B, C, 4h, 4w]`` for an ``h x w`` patch grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MLP_HIDDEN = 512


class Upsample2x(nn.Module):
    """Bilinear x2 resize (``align_corners=False``) to ``floor(2 * side)``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, size=(2 * x.shape[-2], 2 * x.shape[-1]), mode="bilinear", align_corners=False)


class TokenMLP(nn.Module):
    """``Linear -> ReLU -> Linear`` on tokens ``[B, N, D]``, parameters under ``_layers.{0,2}``."""

    def __init__(self, dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self._layers = nn.ModuleList([nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out)])

    def forward(self, x: Tensor) -> Tensor:
        for layer in self._layers:
            x = layer(x)
        return x


def _head(channels: int, level: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(max(level, 1)):
        layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        if level > 0:
            layers.append(Upsample2x())
    return nn.Sequential(*layers)


class DINOv2FPN(nn.Module):
    """Four ViT block maps + the final tokens -> ``[B, channels, 4h, 4w]`` (the released models' neck)."""

    def __init__(self, embed_dim: int, channels: int = 256, mlp_hidden: int = MLP_HIDDEN) -> None:
        super().__init__()
        d = embed_dim
        self.channels = channels
        self.fpn1 = nn.Sequential(
            nn.GroupNorm(1, d),
            nn.ConvTranspose2d(d, d, 2, stride=2),
            nn.BatchNorm2d(d),
            nn.GELU(),
            nn.ConvTranspose2d(d, d, 2, stride=2),
        )
        self.fpn2 = nn.Sequential(nn.GroupNorm(1, d), nn.ConvTranspose2d(d, d, 2, stride=2))
        self.fpn3 = nn.GroupNorm(1, d)
        self.fpn4 = nn.Sequential(nn.GroupNorm(1, d), nn.MaxPool2d(2, stride=2))
        self.dino_mlp = TokenMLP(d, mlp_hidden, channels)
        widths = (d, d, d + channels, d)
        self.lateral_convs = nn.ModuleList(nn.Conv2d(w, channels, 1) for w in widths)
        self.fpn_convs = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in widths)
        self.heads = nn.ModuleList(_head(channels, i) for i in range(len(widths)))

    def forward(self, features: Sequence[Tensor], tokens: Tensor) -> Tensor:
        """``features``: four maps ``[B, D, h, w]`` (blocks shallow to deep); ``tokens``: final patch tokens
        ``[B, h*w, D]``. Returns ``[B, channels, 4h, 4w]``."""
        if len(features) != 4:
            raise ValueError(f"DINOv2FPN expects 4 feature maps, got {len(features)}")
        B, _, h, w = features[0].shape
        extra = self.dino_mlp(tokens).transpose(1, 2).reshape(B, self.channels, h, w)
        levels = [self.fpn1(features[0]), self.fpn2(features[1]), self.fpn3(features[2]), self.fpn4(features[3])]
        levels[2] = torch.cat((levels[2], extra), dim=1)
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, levels)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[-2:])
        outs = [head(conv(x)) for head, conv, x in zip(self.heads, self.fpn_convs, laterals)]
        size = outs[0].shape[-2:]
        merged: Tensor = outs[0]
        for out in outs[1:]:
            merged = merged + F.interpolate(out, size=size, mode="bilinear", align_corners=True)
        return merged
