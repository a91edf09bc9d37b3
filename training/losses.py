"""Training losses as pure functions of tensors (no module internals), following METHOD.md.

Class dimension is 1 for dense tensors ``[B, K, H, W]`` (or ``[N, K]`` for flattened pixels); targets use 255 for
void. Every loss averages over its valid pixels and returns a graph-connected zero when there are none, so a crop
without (say) outlier pixels still back-propagates cleanly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from anomaly_seg.labels import VOID


def _zero(like: torch.Tensor) -> torch.Tensor:
    return like.sum() * 0.0


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = VOID) -> torch.Tensor:
    """Mean cross-entropy over pixels whose target is not ``ignore_index``; ``logits`` [B,K,...], ``target`` [B,...]."""
    target = target.long()
    if not bool((target != ignore_index).any()):
        return _zero(logits)
    return F.cross_entropy(logits, target, ignore_index=ignore_index)


def gmm_loss(
    class_loglik: torch.Tensor,
    component_loglik: torch.Tensor,
    target: torch.Tensor,
    component_target: torch.Tensor,
    *,
    beta: float,
    ignore_index: int = VOID,
) -> torch.Tensor:
    """GMMSeg loss: ``CE(F, y) + beta * CE(component log-likelihoods, Sinkhorn component)``.

    ``class_loglik`` [N, K] are the class log-likelihoods F_k; ``component_loglik`` [N, K*C] the log-likelihoods of
    all K x C components, class-major (component c of class k at ``k * C + c``); ``target`` [N] class ids (void
    ignored); ``component_target`` [N] the index in 0..K*C-1 of the component the Sinkhorn assignment gave each
    pixel (only read where ``target`` is valid).
    """
    if class_loglik.ndim != 2 or component_loglik.ndim != 2 or component_loglik.shape[1] % class_loglik.shape[1]:
        raise ValueError(
            f"expected class_loglik [N, K] and component_loglik [N, K*C], got {tuple(class_loglik.shape)} "
            f"and {tuple(component_loglik.shape)}"
        )
    valid = target.long() != ignore_index
    if not bool(valid.any()):
        return _zero(class_loglik) + _zero(component_loglik)
    ce = F.cross_entropy(class_loglik[valid], target.long()[valid])
    contrastive = F.cross_entropy(component_loglik[valid], component_target.long()[valid])
    return ce + beta * contrastive


def llr_loss(
    llr: torch.Tensor,
    target: torch.Tensor,
    *,
    gmm_term: torch.Tensor | None = None,
    alpha: float = 0.0,
    ignore_index: int = VOID,
) -> torch.Tensor:
    """UEM loss: ``BCE_with_logits(LLR, y~) + alpha * L_GMM`` with y~ = 1 on outlier pixels, 0 on inliers, void ignored.

    ``gmm_term`` is the UEM head's GMM loss (:func:`gmm_loss`), needed when ``alpha > 0``.
    """
    if alpha > 0 and gmm_term is None:
        raise ValueError("llr_loss: alpha > 0 needs the GMM loss term (gmm_term)")
    valid = target != ignore_index
    loss = (
        F.binary_cross_entropy_with_logits(llr[valid], target[valid].to(llr.dtype)) if bool(valid.any()) else _zero(llr)
    )
    if gmm_term is not None and alpha > 0:
        loss = loss + alpha * gmm_term
    return loss


def entropy_maximization_loss(
    logits: torch.Tensor, train_ids: torch.Tensor, outlier: torch.Tensor, lam: float = 0.9, ignore_index: int = VOID
) -> torch.Tensor:
    """Chan et al.: ``(1 - lam) * CE on inlier pixels + lam * mean over outlier pixels of mean_j(-log p_j)``.

    ``logits`` [B,K,H,W]; ``train_ids`` [B,H,W] (255 void); ``outlier`` [B,H,W] 0/1/255. Inlier pixels are those with
    a valid trainId that are not outliers; the outlier term is the cross-entropy to the uniform distribution,
    minimal when the prediction has maximal entropy.
    """
    is_outlier = outlier == 1
    inlier_target = torch.where(is_outlier, torch.full_like(train_ids, ignore_index), train_ids)
    inlier = cross_entropy(logits, inlier_target, ignore_index)
    if bool(is_outlier.any()):
        log_p = F.log_softmax(logits, dim=1)
        outlier_term = -log_p.mean(dim=1)[is_outlier].mean()
    else:
        outlier_term = _zero(logits)
    return (1.0 - lam) * inlier + lam * outlier_term
