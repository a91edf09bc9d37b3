"""Assembly: DINOv2 -> (FPN -> inlier head, UEM) -> engine outputs, with a single backbone pass.

``AnomalySegmenter.forward`` is the export path and produces the engine contract of DESIGN.md §3 from a uint8
RGB batch at the network size; ``raw`` gives the feature-resolution tensors that training and stitching need.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from anomaly_seg.errors import ConfigError
from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.dinov2 import DinoVisionTransformer, build_backbone
from anomaly_seg.network.dinov2_fpn import DINOv2FPN
from anomaly_seg.network.fpn import FPNDecoder
from anomaly_seg.network.heads import GMMHead, LinearHead, OfficialGMMHead
from anomaly_seg.network.scores import llr, outlier_probability, uncertainty_maps
from anomaly_seg.network.state_dict import load_backbone_weights
from anomaly_seg.network.uem import UEM, uem_widths


@dataclass
class RawOutputs:
    """Feature-resolution outputs for training, evaluation of all scores, and stitching.

    ``class_logits`` [B, K, 4h, 4w] (``F_k``: logits or GMM class log-likelihoods); ``uem_logits`` [B, 2, h, w]
    on the patch grid (log p~in, log p~out); ``llr`` [B, 4h, 4w] with the UEM upsampled bilinearly to the
    class-logit resolution. For GMM heads also the L2-normalised embeddings and the per-component
    log-likelihoods [B, K*C, ...] used by the GMMSeg loss.
    """

    class_logits: Tensor
    uem_logits: Tensor
    llr: Tensor
    class_embeddings: Tensor | None = None
    class_components: Tensor | None = None
    uem_embeddings: Tensor | None = None
    uem_components: Tensor | None = None


def outputs_from_logits(
    class_logits: Tensor, uem_logits: Tensor, size: tuple[int, int] | None = None, score: str = "llr"
) -> tuple[Tensor, Tensor, Tensor]:
    """Engine outputs from logits: both upsampled bilinearly to ``size`` first (None: already there), then
    ``semantic`` = argmax (uint8), ``anomaly_score`` = ``score`` (LLR or normalised entropy, the model config's),
    ``uncertainty`` = the three softmax heat maps."""
    if size is not None:
        class_logits = F.interpolate(class_logits, size=size, mode="bilinear", align_corners=False)
        if score != "entropy":
            uem_logits = F.interpolate(uem_logits, size=size, mode="bilinear", align_corners=False)
    semantic = class_logits.argmax(dim=1).to(torch.uint8)
    maps = uncertainty_maps(class_logits).float()
    if score == "entropy":
        anomaly = maps[:, 0]
    elif score == "llr":
        anomaly = llr(class_logits, uem_logits).float()
    else:  # the outlier head's scores; max softmax uncertainty = 1 - p1 = the variation-ratio map
        op = outlier_probability(uem_logits).float()
        anomaly = op * maps[:, 1] if score == "op_msm" else op
    return semantic, anomaly, maps


class OutlierHead(nn.Module):
    """Bevandic et al.'s dense outlier head: 3x3 conv + ReLU + 1x1 conv to one outlier logit per decoder pixel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.logit = nn.Conv2d(channels, 1, 1)

    def forward(self, features: Tensor) -> Tensor:
        """Decoder features ``[B, C, 4h, 4w]`` -> outlier logits ``[B, 1, 4h, 4w]``."""
        return self.logit(torch.relu(self.conv(features)))  # type: ignore[no-any-return]

    def pair(self, features: Tensor) -> Tensor:
        """The logit in the unknown-estimate layout ``[B, 2, 4h, 4w]``: ``(0, logit)``."""
        logit = self.forward(features)
        return torch.cat((torch.zeros_like(logit), logit), dim=1)


class AnomalySegmenter(nn.Module):
    """DINOv2 backbone, FPN + inlier head (linear or GMM), UEM (linear or GMM head), LLR score."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.input_size = config.input.size
        self.backbone: DinoVisionTransformer = build_backbone(
            config.backbone.name,
            img_size=config.input.size,
            patch_size=config.backbone.patch_size,
            stem=config.backbone.stem,
        )
        dim = self.backbone.embed_dim
        self.fpn_blocks = config.backbone.fpn_blocks
        self.uem_block = self.backbone.depth - 1
        channels = config.decoder.channels
        self.decoder: FPNDecoder | DINOv2FPN
        if config.decoder.type == "dinov2_fpn":
            self.decoder = DINOv2FPN(dim, channels)
        else:
            self.decoder = FPNDecoder(dim, channels, config.decoder.norm)
        h = config.head
        self.head: nn.Module
        if h.type == "gmm":
            self.head = GMMHead(channels, h.num_classes, h.num_components, h.embed_dim, h.memory_size, h.momentum)
        elif h.type == "gmm_official":
            self.head = OfficialGMMHead(channels, h.num_classes, h.num_components)
        else:
            self.head = LinearHead(channels, h.num_classes)
        hidden, out = uem_widths(dim)
        u = config.uem
        self.uem = UEM(dim, u.hidden_dim or hidden, u.embed_dim or out, u.head, u.num_components, u.activation)
        self.outlier: OutlierHead | None = OutlierHead(channels) if config.outlier_head else None
        mean = torch.tensor(config.input.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(config.input.std).view(1, 3, 1, 1) * 255.0
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        self.set_stage(1)

    pixel_mean: Tensor
    pixel_std: Tensor

    @property
    def num_classes(self) -> int:
        """Number of inlier classes K."""
        return self.config.head.num_classes

    def set_stage(self, stage: int) -> None:
        """Trainable parts: stage 1 = decoder + inlier head (+ backbone unless ``backbone.frozen``);
        stage 2 = UEM only (everything from stage 1 frozen)."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        self.stage = stage
        self.backbone.requires_grad_(stage == 1 and not self.config.backbone.frozen)
        self.decoder.requires_grad_(stage == 1)
        self.head.requires_grad_(stage == 1)
        self.uem.requires_grad_(stage == 2)
        if self.outlier is not None:
            self.outlier.requires_grad_(stage == 1)
        self.train(self.training)

    def train(self, mode: bool = True) -> AnomalySegmenter:
        """Like ``nn.Module.train`` but parts without trainable parameters stay in eval mode (frozen norms)."""
        super().train(mode)
        if mode:
            for part in (self.backbone, self.decoder, self.head, self.uem, self.outlier):
                if part is None:
                    continue
                if not any(p.requires_grad for p in part.parameters()):
                    part.eval()
        return self

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 (or 0..255 float) ``[B, H, W, 3]`` RGB -> normalised float ``[B, 3, H, W]``."""
        x = images.permute(0, 3, 1, 2).to(self.pixel_mean.dtype)
        return (x - self.pixel_mean) / self.pixel_std

    def _features(self, x: Tensor) -> tuple[list[Tensor], Tensor, tuple[int, int]]:
        """One backbone pass -> FPN inputs [B, D, h, w], normalised last-block patch tokens [B, N, D], grid."""
        grid = (x.shape[-2] // self.backbone.patch_size, x.shape[-1] // self.backbone.patch_size)
        blocks = self.backbone.forward_blocks(x, [*self.fpn_blocks, self.uem_block])
        skip = 1 + self.backbone.num_register_tokens
        tokens = [self.backbone.norm(b)[:, skip:] for b in blocks]
        B = x.shape[0]
        maps = [t.transpose(1, 2).reshape(B, -1, grid[0], grid[1]) for t in tokens[:-1]]
        return maps, tokens[-1], grid

    def _decode(self, maps: list[Tensor], tokens: Tensor) -> Tensor:
        if isinstance(self.decoder, DINOv2FPN):
            return self.decoder(maps, tokens)  # type: ignore[no-any-return]
        return self.decoder(maps)  # type: ignore[no-any-return]

    def logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised ``[B, 3, H, W]`` -> (class logits [B, K, 4h, 4w], unknown-estimate pair): the UEM's
        ``(log p~in, log p~out)`` [B, 2, h, w], or with an outlier head ``(0, outlier logit)`` [B, 2, 4h, 4w], so that
        ``sigmoid(out - in)`` is the outlier probability either way and every score reads both alike."""
        maps, tokens, grid = self._features(x)
        features = self._decode(maps, tokens)
        if self.outlier is not None:
            return self.head(features), self.outlier.pair(features)
        return self.head(features), self.uem(tokens, grid)

    def add_outlier_head(self) -> None:
        """Give a model without one a fresh outlier head (Bevandic et al.'s training starts from stage 1)."""
        if self.outlier is None:
            from dataclasses import replace

            self.config = replace(self.config, outlier_head=True, score="op_msm")
            self.outlier = OutlierHead(self.config.decoder.channels).to(self.pixel_mean.device)

    def raw(self, images: Tensor) -> RawOutputs:
        """uint8 ``[B, H, W, 3]`` (sides multiples of the patch size) -> :class:`RawOutputs` at feature resolution."""
        maps, tokens, grid = self._features(self.normalize(images))
        features = self._decode(maps, tokens)
        out = RawOutputs(class_logits=torch.empty(0), uem_logits=torch.empty(0), llr=torch.empty(0))
        if isinstance(self.head, GMMHead):
            out.class_embeddings = self.head.embed(features)
            out.class_logits, out.class_components = self.head.forward_embeddings(out.class_embeddings)
        else:
            out.class_logits = self.head(features)
        if self.outlier is not None:
            out.uem_logits = self.outlier.pair(features)
        elif isinstance(self.uem.head, GMMHead):
            out.uem_embeddings = self.uem.embed(tokens, grid)
            out.uem_logits, out.uem_components = self.uem.head.forward_embeddings(out.uem_embeddings)
        else:
            out.uem_logits = self.uem(tokens, grid)
        uem_up = F.interpolate(out.uem_logits, size=out.class_logits.shape[-2:], mode="bilinear", align_corners=False)
        out.llr = llr(out.class_logits, uem_up)
        return out

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """uint8 ``[B, H, W, 3]`` at the network size -> ``semantic`` uint8 [B, H, W], ``anomaly_score``
        float32 [B, H, W], ``uncertainty`` float32 [B, 3, H, W]."""
        class_logits, uem_logits = self.logits(self.normalize(images))
        return outputs_from_logits(class_logits, uem_logits, (images.shape[1], images.shape[2]), self.config.score)


def build_model(config: ModelConfig, *, pretrained: bool = False) -> AnomalySegmenter:
    """Model for ``config``; ``pretrained`` loads the official backbone weights named by ``backbone.weights``."""
    model = AnomalySegmenter(config)
    if pretrained:
        if not config.backbone.weights:
            raise ConfigError(f"backbone.weights: no weights file configured for {config.name}")
        load_backbone_weights(model.backbone, config.backbone.weights)
    return model
