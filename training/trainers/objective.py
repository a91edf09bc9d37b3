"""The loss of each training stage as an ``nn.Module`` around the model (so DistributedDataParallel can wrap it).

Stage 1: cross-entropy of the class logits against trainIds (GMM head: the GMMSeg loss on the feature grid).
Stage 2: ``BCE_with_logits(LLR, y~)`` against the pasted-outlier target (+ alpha x GMM loss of a GMM UEM head), or,
with method ``entropy_max`` (Chan et al.), ``(1 - lambda) CE(inliers) + lambda L_entropy(outliers)`` of the class
logits against trainIds with the pasted pixels marked :data:`OUTLIER` (:func:`entropy_target`), or, with method
``outlier_head`` (Bevandic et al.), ``CE(inliers) + w BCE(outlier logit, pasted-negative target)`` on the same
target: the segmentation head and the outlier head learn together.

Each loss term is a mean over its valid pixels (``training.losses``). To make a step over several processes and
micro-batches equal to one step on the whole global batch, every term is re-weighted by
``valid pixels here x processes / valid pixels in the whole global batch`` (``weights`` in :meth:`forward`), so
the summed-and-averaged gradient is exactly that of the global mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from anomaly_seg.network import AnomalySegmenter
from anomaly_seg.network.heads import GMMHead, OfficialGMMHead
from training import losses
from training.config import LossConfig

#: Target code of a pasted-outlier pixel in the entropy-maximisation target (trainIds elsewhere, 255 void).
OUTLIER = 254


def entropy_target(train_ids: Tensor, anomaly: Tensor) -> Tensor:
    """trainIds with the outlier pixels (``anomaly == 1``) set to :data:`OUTLIER`."""
    return torch.where(anomaly == 1, torch.full_like(train_ids, OUTLIER), train_ids)


def downsample_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour resize of ``[B, H, W]`` integer labels to ``size`` (no new values)."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].to(labels.dtype)


class StageObjective(nn.Module):
    """``forward(images, target, weights) -> (loss, per-term mean losses)`` for stage 1 or 2 of ``model``."""

    def __init__(self, model: AnomalySegmenter, stage: int, config: LossConfig, method: str = "uem") -> None:
        super().__init__()
        self.method = method
        trained = model.head if stage == 1 else model.uem.head
        if isinstance(trained, OfficialGMMHead):
            key = "head.type" if stage == 1 else "uem.head"
            raise ConfigError(
                f"{key}: gmm_official is the released models' GMM head, for their weights (import-official); "
                f"training it (stage {stage}) needs that code's EM recipe, which is not implemented: use gmm"
            )
        self.model = model
        self.stage = stage
        self.config = config
        self.pending_memory: list[tuple[GMMHead, Tensor, Tensor]] = []

    @property
    def gmm_head(self) -> GMMHead | None:
        """The GMM head this stage trains (inlier head in stage 1, UEM head in stage 2), if it is a GMM."""
        head = self.model.head if self.stage == 1 else self.model.uem.head
        return head if isinstance(head, GMMHead) else None

    @property
    def term_names(self) -> tuple[str, ...]:
        """Names of the loss terms, in the order of :meth:`term_counts` and the logged losses."""
        if self.method == "entropy_max":
            return ("entropy_max",)
        if self.method == "outlier_head":
            return ("ce", "outlier_bce")
        if self.stage == 1:
            return ("gmm" if self.gmm_head is not None else "ce",)
        return ("bce", "uem_gmm") if self.gmm_head is not None else ("bce",)

    def _grids(self, image_size: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        patch = self.model.backbone.patch_size
        grid = (image_size[0] // patch, image_size[1] // patch)
        return grid, (4 * grid[0], 4 * grid[1])

    def term_targets(self, target: Tensor) -> list[Tensor]:
        """The target of each loss term at the resolution that term is computed at."""
        grid, feature = self._grids((target.shape[-2], target.shape[-1]))
        if self.method == "entropy_max":
            return [target]
        if self.method == "outlier_head":  # the CE target (outliers void) and the BCE target (1 / 0 / void)
            inlier = torch.where(target == OUTLIER, torch.full_like(target, VOID), target)
            bce = torch.where(target == OUTLIER, 1, torch.where(target == VOID, VOID, 0)).to(torch.uint8)
            return [inlier, bce]
        if self.stage == 1:
            return [downsample_labels(target, feature) if self.gmm_head is not None else target]
        return [target, downsample_labels(target, grid)] if self.gmm_head is not None else [target]

    def term_counts(self, target: Tensor) -> Tensor:
        """Valid (non-void) pixels of each loss term, float64 ``[T]``."""
        return torch.stack([(t != VOID).sum().double() for t in self.term_targets(target)])

    def _gmm_term(
        self, head: GMMHead, embeddings: Tensor, components: Tensor, log_lik: Tensor, labels: Tensor
    ) -> Tensor:
        flat_labels = labels.reshape(-1).long()
        emb = embeddings.permute(0, 2, 3, 1).reshape(flat_labels.numel(), -1)
        comp = components.permute(0, 2, 3, 1).reshape(flat_labels.numel(), -1)
        cls = log_lik.permute(0, 2, 3, 1).reshape(flat_labels.numel(), -1)
        component_target = head.sinkhorn_targets(emb.detach(), flat_labels, VOID)
        self.pending_memory.append((head, emb.detach(), flat_labels))
        return losses.gmm_loss(cls, comp, flat_labels, component_target, beta=self.config.gmm_beta)

    def forward(self, images: Tensor, target: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
        """uint8 images ``[B, H, W, 3]``, target ``[B, H, W]`` (trainIds or 0/1/255), per-term ``weights`` [T]."""
        raw = self.model.raw(images)
        targets = self.term_targets(target)
        size = (target.shape[-2], target.shape[-1])
        terms: list[Tensor] = []
        coefs: list[float] = []
        if self.method == "entropy_max":
            logits = F.interpolate(raw.class_logits, size=size, mode="bilinear", align_corners=False).float()
            train_ids = torch.where(targets[0] == OUTLIER, torch.full_like(targets[0], VOID), targets[0])
            outlier = (targets[0] == OUTLIER).to(torch.uint8)
            terms.append(losses.entropy_maximization_loss(logits, train_ids, outlier, self.config.entropy_lambda))
            coefs.append(1.0)
        elif self.method == "outlier_head":
            logits = F.interpolate(raw.class_logits, size=size, mode="bilinear", align_corners=False).float()
            terms.append(losses.cross_entropy(logits, targets[0]))
            coefs.append(1.0)
            logit = F.interpolate(raw.uem_logits[:, 1:], size=size, mode="bilinear", align_corners=False)[:, 0]
            terms.append(losses.llr_loss(logit.float(), targets[1]))  # BCE with logits, void ignored
            coefs.append(self.config.outlier_weight)
        elif self.stage == 1:
            if (head := self.gmm_head) is not None:
                assert raw.class_embeddings is not None and raw.class_components is not None
                terms.append(
                    self._gmm_term(head, raw.class_embeddings, raw.class_components, raw.class_logits, targets[0])
                )
            else:
                logits = F.interpolate(raw.class_logits, size=size, mode="bilinear", align_corners=False)
                terms.append(losses.cross_entropy(logits.float(), targets[0]))
            coefs.append(1.0)
        else:
            llr = F.interpolate(raw.llr[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
            terms.append(losses.llr_loss(llr.float(), targets[0]))
            coefs.append(1.0)
            if (head := self.gmm_head) is not None:
                assert raw.uem_embeddings is not None and raw.uem_components is not None
                terms.append(self._gmm_term(head, raw.uem_embeddings, raw.uem_components, raw.uem_logits, targets[1]))
                coefs.append(self.config.uem_alpha)
        loss = sum(
            (c * w.to(t.dtype) * t for c, w, t in zip(coefs, weights, terms)), torch.zeros((), device=images.device)
        )
        return loss, torch.stack([t.detach().float() for t in terms])

    @torch.no_grad()
    def em_step(self, update: bool) -> None:
        """Push the embeddings of the last forward passes into the GMM memory; one Sinkhorn-EM update if ``update``."""
        heads: list[GMMHead] = []
        for head, emb, labels in self.pending_memory:
            head.push_memory(emb, labels, self.config.em_per_class)
            if head not in heads:
                heads.append(head)
        self.pending_memory.clear()
        if update:
            for head in heads:
                head.em_update()
