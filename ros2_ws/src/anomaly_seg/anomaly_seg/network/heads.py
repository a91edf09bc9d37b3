"""Classification heads on dense embeddings: linear (discriminative) and GMM (generative, GMMSeg).

Both map ``[B, C, h, w]`` features to per-class scores ``F_k`` ``[B, K, h, w]``: logits for the linear head,
class log-likelihoods ``log p(x | k)`` for the GMM head.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

LOG_2PI = math.log(2.0 * math.pi)


def l2_normalize(x: Tensor, dim: int, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_2, eps)`` along ``dim``, as ``F.normalize``. Written out because torch's ONNX exporter
    gives ``F.normalize`` a ReduceL2 with the opset-18 attribute ``noop_with_empty_axes`` even when exporting at
    opset 17 (the TensorRT 8.6 target), which the ONNX checker rejects."""
    return x / (x * x).sum(dim=dim, keepdim=True).sqrt().clamp_min(eps)


class LinearHead(nn.Module):
    """``F_k(x) = w_k . x + b_k`` per pixel (a 1x1 convolution)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.classifier = nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, features: Tensor) -> Tensor:
        return self.classifier(features)  # type: ignore[no-any-return]


def diagonal_gaussian_log_likelihood(x: Tensor, means: Tensor, variances: Tensor) -> Tensor:
    """``log N(x; mu_j, diag(s_j^2))`` for every row of ``x`` [N, D] and component j of ``means`` [J, D].

    Expanded into matrix products so memory is O(N x J):
    ``-1/2 (x^2 @ (1/s^2)^T - 2 x @ (mu/s^2)^T + sum(mu^2/s^2) + sum(log s^2) + D log 2 pi)``.
    """
    precision = variances.reciprocal()
    const = (means.square() * precision).sum(-1) + variances.log().sum(-1) + means.shape[-1] * LOG_2PI
    mahalanobis = x.square() @ precision.T - 2.0 * (x @ (means * precision).T) + const
    return -0.5 * mahalanobis


@torch.no_grad()
def sinkhorn_knopp(log_likelihood: Tensor, iterations: int = 3, epsilon: float = 0.05) -> Tensor:
    """Balanced soft assignment ``Q`` [N, C] of N samples to C components (rows sum to 1, columns to N/C).

    Sinkhorn-Knopp on ``exp(L / epsilon)`` in the log domain (stable for any scale of ``log_likelihood``).
    """
    n, c = log_likelihood.shape
    log_q = log_likelihood.float() / epsilon
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(c)  # columns sum to 1/C
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(n)  # rows sum to 1/N
    return (log_q + math.log(n)).exp()


class GMMHead(nn.Module):
    """Per-class mixture of ``num_components`` diagonal Gaussians (uniform weights) on L2-normalised embeddings.

    ``F_k(x) = logsumexp_c log N(x; mu_kc, diag(s_kc^2)) - log C``. Means and variances are buffers updated by
    Sinkhorn EM (:meth:`em_update`) from a per-class feature memory (:meth:`push_memory`), not by gradients;
    only the optional projection before the normalisation is trained.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        num_components: int = 5,
        embed_dim: int | None = None,
        memory_size: int = 1024,
        momentum: float = 0.999,
        min_variance: float = 1e-4,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_components = num_components
        self.embed_dim = embed_dim or in_channels
        self.momentum = momentum
        self.min_variance = min_variance
        self.projection: nn.Module = (
            nn.Conv2d(in_channels, self.embed_dim, 1) if embed_dim is not None else nn.Identity()
        )
        kc = num_classes * num_components
        self.register_buffer("means", l2_normalize(torch.randn(kc, self.embed_dim), dim=-1))
        self.register_buffer("variances", torch.full((kc, self.embed_dim), 1.0 / self.embed_dim))
        self.register_buffer("memory", torch.zeros(num_classes, memory_size, self.embed_dim))
        self.register_buffer("memory_ptr", torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer("memory_count", torch.zeros(num_classes, dtype=torch.long))

    means: Tensor
    variances: Tensor
    memory: Tensor
    memory_ptr: Tensor
    memory_count: Tensor

    def embed(self, features: Tensor) -> Tensor:
        """Projected, L2-normalised embeddings ``[B, E, h, w]``."""
        return l2_normalize(self.projection(features), dim=1)

    def component_log_likelihood(self, embeddings: Tensor) -> Tensor:
        """``log N(x; mu_kc, s_kc)`` for embeddings [N, E] -> [N, K*C] (class-major: index k * C + c)."""
        return diagonal_gaussian_log_likelihood(
            embeddings, self.means.to(embeddings.dtype), self.variances.to(embeddings.dtype)
        )

    def class_log_likelihood(self, component_ll: Tensor) -> Tensor:
        """``logsumexp_c L[:, k*C + c] - log C``: [N, K*C] -> [N, K]."""
        n = component_ll.shape[0]
        grouped = component_ll.reshape(n, self.num_classes, self.num_components)
        top = grouped.amax(dim=-1, keepdim=True)  # explicit logsumexp: exports to opset 17 without ReduceLogSumExp
        return (top + (grouped - top).exp().sum(dim=-1, keepdim=True).log()).squeeze(-1) - math.log(self.num_components)

    def forward_embeddings(self, embeddings: Tensor) -> tuple[Tensor, Tensor]:
        """Embedding map [B, E, h, w] -> (class log-likelihoods [B, K, h, w], component ones [B, K*C, h, w])."""
        B, E, h, w = embeddings.shape
        flat = embeddings.permute(0, 2, 3, 1).reshape(B * h * w, E)
        comp = self.component_log_likelihood(flat)
        cls = self.class_log_likelihood(comp)
        return (cls.reshape(B, h, w, -1).permute(0, 3, 1, 2), comp.reshape(B, h, w, -1).permute(0, 3, 1, 2))

    def forward(self, features: Tensor) -> Tensor:
        return self.forward_embeddings(self.embed(features))[0]

    def _present_classes(self, labels: Tensor) -> list[int]:
        valid = labels[(labels >= 0) & (labels < self.num_classes)]
        return [int(k) for k in torch.bincount(valid, minlength=self.num_classes).nonzero().flatten().tolist()]

    @torch.no_grad()
    def sinkhorn_targets(self, embeddings: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
        """Target component (global index k*C + c, or ``ignore_index``) per embedding for the contrastive loss.

        ``embeddings`` [N, E], ``labels`` [N]; features of each class are assigned to that class's components
        with the balanced Sinkhorn-Knopp assignment on their component log-likelihoods.
        """
        targets = torch.full_like(labels, ignore_index)
        comp = self.component_log_likelihood(embeddings.detach())
        for k in self._present_classes(labels):
            idx = (labels == k).nonzero(as_tuple=True)[0]
            start = k * self.num_components
            q = sinkhorn_knopp(comp[idx, start : start + self.num_components])
            targets[idx] = start + q.argmax(dim=1)
        return targets

    @torch.no_grad()
    def push_memory(self, embeddings: Tensor, labels: Tensor, per_class: int = 64) -> None:
        """Enqueue up to ``per_class`` random embeddings [N, E] of each labelled class into the ring memory."""
        size = self.memory.shape[1]
        for k in self._present_classes(labels):
            idx = (labels == k).nonzero(as_tuple=True)[0]
            idx = idx[torch.randperm(idx.numel(), device=idx.device)[: min(per_class, size)]]
            slots = (self.memory_ptr[k] + torch.arange(idx.numel(), device=idx.device)) % size
            self.memory[k, slots] = embeddings[idx].detach().to(self.memory.dtype)
            self.memory_ptr[k] = (self.memory_ptr[k] + idx.numel()) % size
            self.memory_count[k] = torch.clamp(self.memory_count[k] + idx.numel(), max=size)

    @torch.no_grad()
    def em_update(self, momentum: float | None = None) -> None:
        """One Sinkhorn-EM step per class from its memory: balanced E-step, weighted mean/variance M-step,
        momentum-averaged into :attr:`means` and :attr:`variances` (means re-normalised to the unit sphere)."""
        m = self.momentum if momentum is None else momentum
        C = self.num_components
        for k in range(self.num_classes):
            count = int(self.memory_count[k])
            if count < C:
                continue
            x = self.memory[k, :count]
            sl = slice(k * C, (k + 1) * C)
            q = sinkhorn_knopp(diagonal_gaussian_log_likelihood(x, self.means[sl], self.variances[sl]))
            weight = q / q.sum(0, keepdim=True).clamp_min(1e-12)  # [n, C], columns sum to 1
            mean = weight.T @ x
            var = (weight.T @ x.square() - mean.square()).clamp_min(self.min_variance)
            self.means[sl] = l2_normalize(m * self.means[sl] + (1 - m) * mean, dim=-1)
            self.variances[sl] = (m * self.variances[sl] + (1 - m) * var).clamp_min(self.min_variance)


class OfficialGMMHead(nn.Module):
    """The GMM head of the released UEM models, for their checkpoints (inference; its EM recipe is not here).

    Per pixel: ``x = L2(LayerNorm(f))``; ``L_kc = log N(x; L2(mu_kc), diag(s_kc^2))`` with the stored ``diagonal``
    ``s`` a standard deviation; ``F = LayerNorm_K(max_c L_kc)`` (learned affine over the K classes). This is not
    the uniform-mixture ``logsumexp`` of :class:`GMMHead`: the released checkpoints were trained with this one.
    ``means`` / ``diagonal`` are ``[K, C, D]`` as stored by that code.
    """

    def __init__(self, in_channels: int, num_classes: int, num_components: int = 5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_components = num_components
        self.feat_norm = nn.LayerNorm(in_channels)
        self.mask_norm = nn.LayerNorm(num_classes)
        self.register_buffer("means", l2_normalize(torch.randn(num_classes, num_components, in_channels), dim=-1))
        self.register_buffer("diagonal", torch.ones(num_classes, num_components, in_channels))

    means: Tensor
    diagonal: Tensor

    def component_log_likelihood(self, features: Tensor) -> Tensor:
        """Features ``[N, D]`` (before the feature LayerNorm) -> ``L`` ``[N, K*C]`` (class-major)."""
        x = l2_normalize(self.feat_norm(features), dim=-1)
        d = self.means.shape[-1]
        means = l2_normalize(self.means.reshape(-1, d), dim=-1).to(x.dtype)
        return diagonal_gaussian_log_likelihood(x, means, self.diagonal.reshape(-1, d).square().to(x.dtype))

    def forward(self, features: Tensor) -> Tensor:
        """``[B, D, h, w]`` -> class scores ``[B, K, h, w]``."""
        B, D, h, w = features.shape
        comp = self.component_log_likelihood(features.permute(0, 2, 3, 1).reshape(B * h * w, D))
        best = comp.reshape(-1, self.num_classes, self.num_components).amax(dim=-1)
        return self.mask_norm(best).reshape(B, h, w, self.num_classes).permute(0, 3, 1, 2)  # type: ignore[no-any-return]
