"""FPN pixel decoder on four ViT blocks: a simple feature pyramid (x4, x2, x1, x1/2 of the patch grid) fused top-down.

Output: ``[B, C, 4h, 4w]`` for a patch grid ``h x w`` (stride patch/4: 3.5 px for 14 px patches).
Only export-friendly ops: ConvTranspose for up-sampling the pyramid, strided conv for down-sampling, nearest
resize in the top-down path, GroupNorm or BatchNorm (BatchNorm folds into the convolutions in TensorRT).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from anomaly_seg.errors import ConfigError

NORMS = ("group", "batch")


def norm_layer(kind: str, channels: int, groups: int = 16) -> nn.Module:
    """GroupNorm (``groups`` groups, or fewer if ``channels`` is not divisible) or BatchNorm2d."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        g = min(groups, channels)
        while channels % g:
            g -= 1
        return nn.GroupNorm(g, channels)
    raise ConfigError(f"decoder.norm: unknown norm {kind!r} (expected one of {', '.join(NORMS)})")


def conv_norm_act(cin: int, cout: int, kernel: int, norm: str, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) -> norm -> GELU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False), norm_layer(norm, cout), nn.GELU()
    )


class ScaleAdapter(nn.Module):
    """Resample one ViT feature map by ``scale`` (4, 2, 1 or 0.5) and project it to ``channels``."""

    def __init__(self, embed_dim: int, channels: int, scale: float, norm: str) -> None:
        super().__init__()
        layers: list[nn.Module]
        if scale == 4:
            layers = [
                nn.ConvTranspose2d(embed_dim, channels, 2, stride=2),
                norm_layer(norm, channels),
                nn.GELU(),
                nn.ConvTranspose2d(channels, channels, 2, stride=2),
            ]
        elif scale == 2:
            layers = [nn.ConvTranspose2d(embed_dim, channels, 2, stride=2)]
        elif scale == 1:
            layers = [nn.Conv2d(embed_dim, channels, 1)]
        elif scale == 0.5:
            layers = [nn.Conv2d(embed_dim, channels, 3, stride=2, padding=1)]
        else:
            raise ConfigError(f"decoder: unsupported pyramid scale {scale}")
        self.resample = nn.Sequential(*layers)
        self.lateral = nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), norm_layer(norm, channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.lateral(self.resample(x))  # type: ignore[no-any-return]


class FPNDecoder(nn.Module):
    """Pyramid from four blocks (finest first), top-down sum, 3x3 output conv at the finest level."""

    scales = (4.0, 2.0, 1.0, 0.5)

    def __init__(self, embed_dim: int, channels: int = 128, norm: str = "group") -> None:
        super().__init__()
        self.channels = channels
        self.adapters = nn.ModuleList(ScaleAdapter(embed_dim, channels, s, norm) for s in self.scales)
        # Smoothing convs after each top-down merge except the coarsest; cheap at the finest level only.
        self.smooth = nn.ModuleList(conv_norm_act(channels, channels, 3, norm) for _ in self.scales[:-1])
        self.output = conv_norm_act(channels, channels, 3, norm)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """``features``: four maps ``[B, D, h, w]`` (shallow to deep); returns ``[B, C, 4h, 4w]``."""
        if len(features) != len(self.adapters):
            raise ValueError(f"FPN expects {len(self.adapters)} feature maps, got {len(features)}")
        laterals = [adapter(f) for adapter, f in zip(self.adapters, features)]
        top = laterals[-1]
        for level in range(len(laterals) - 2, -1, -1):
            lateral = laterals[level]
            top = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
            top = self.smooth[level](top)
        return self.output(top)  # type: ignore[no-any-return]
