"""Linear and GMM heads: GMM log-likelihoods vs float64 references, Sinkhorn balance, EM, and peak memory."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from anomaly_seg.network.heads import (
    GMMHead,
    LinearHead,
    diagonal_gaussian_log_likelihood,
    l2_normalize,
    sinkhorn_knopp,
)


def test_l2_normalize_matches_float64_and_keeps_zero_vectors_finite() -> None:
    x = torch.randn(2, 5, 3, 4)
    x[0, :, 1, 2] = 0.0
    ref = x.double() / np.maximum(np.linalg.norm(x.double().numpy(), axis=1, keepdims=True), 1e-12)
    out = l2_normalize(x, dim=1)
    np.testing.assert_allclose(out.double().numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
    assert torch.equal(out[0, :, 1, 2], torch.zeros(5))
    torch.testing.assert_close(out, F.normalize(x, dim=1))


def test_diagonal_gaussian_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    x, mu = rng.normal(size=(6, 4)), rng.normal(size=(3, 4))
    var = rng.uniform(0.1, 2.0, size=(3, 4))
    got = diagonal_gaussian_log_likelihood(*(torch.from_numpy(a) for a in (x, mu, var))).numpy()
    expected = np.stack([multivariate_normal(mu[j], np.diag(var[j])).logpdf(x) for j in range(3)], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_gmm_class_log_likelihood_is_logsumexp_over_components_minus_log_c() -> None:
    torch.manual_seed(0)
    head = GMMHead(in_channels=8, num_classes=3, num_components=4, embed_dim=6).double()
    head.variances.uniform_(0.05, 0.5)
    features = torch.randn(2, 8, 3, 5, dtype=torch.float64)
    with torch.no_grad():
        cls, comp = head.forward_embeddings(head.embed(features))
        emb = F.normalize(head.projection(features), dim=1).permute(0, 2, 3, 1).reshape(-1, 6).numpy()
    mu, var = head.means.numpy(), head.variances.numpy()
    ref_comp = -0.5 * (
        ((emb[:, None, :] - mu[None]) ** 2 / var[None]).sum(-1) + np.log(var).sum(-1) + 6 * math.log(2 * math.pi)
    )
    ref_cls = logsumexp(ref_comp.reshape(-1, 3, 4), axis=-1) - math.log(4)
    np.testing.assert_allclose(comp.permute(0, 2, 3, 1).reshape(-1, 12).numpy(), ref_comp, rtol=1e-9)
    np.testing.assert_allclose(cls.permute(0, 2, 3, 1).reshape(-1, 3).numpy(), ref_cls, rtol=1e-9)
    torch.testing.assert_close(head(features).detach(), cls)


def test_sinkhorn_assignment_is_balanced_even_when_one_component_dominates() -> None:
    torch.manual_seed(0)
    L = torch.randn(120, 4)
    L[:, 0] += 50.0  # greedy argmax would put everything in component 0
    q = sinkhorn_knopp(L, iterations=50)
    torch.testing.assert_close(q.sum(1), torch.ones(120), atol=1e-4, rtol=0)
    torch.testing.assert_close(q.sum(0), torch.full((4,), 30.0), atol=1.5, rtol=0)
    assert (torch.bincount(q.argmax(1), minlength=4) > 15).all()
    assert torch.isfinite(q).all()


def test_sinkhorn_targets_stay_in_the_class_components_and_ignore_void() -> None:
    torch.manual_seed(0)
    head = GMMHead(in_channels=8, num_classes=3, num_components=4)
    emb = F.normalize(torch.randn(60, 8), dim=1)
    labels = torch.tensor([0, 1, 2, 255] * 15)
    targets = head.sinkhorn_targets(emb, labels)
    assert (targets[labels == 255] == 255).all()
    for k in range(3):
        t = targets[labels == k]
        assert ((t >= 4 * k) & (t < 4 * k + 4)).all()
        assert len(t.unique()) > 1  # balanced: not all in one component


def test_em_update_moves_components_onto_the_class_clusters() -> None:
    torch.manual_seed(0)
    head = GMMHead(in_channels=3, num_classes=1, num_components=2, memory_size=400)
    centres = F.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), dim=1)
    data = F.normalize(centres.repeat(100, 1) + 0.05 * torch.randn(200, 3), dim=1)
    head.push_memory(data, torch.zeros(200, dtype=torch.long), per_class=200)
    assert int(head.memory_count[0]) == 200
    for _ in range(30):
        head.em_update(momentum=0.5)
    distance = torch.cdist(head.means, centres)
    assert distance.min(dim=0).values.max() < 0.1
    assert torch.isfinite(head.variances).all() and (head.variances > 0).all()


class AllocationTracker(TorchDispatchMode):
    """Sums the bytes of every tensor produced by an op (an upper bound of the peak) and keeps the largest."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.largest = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                nbytes = t.numel() * t.element_size()
                self.total += nbytes
                self.largest = max(self.largest, nbytes)
        return out


@contextmanager
def tracked() -> Iterator[AllocationTracker]:
    with AllocationTracker() as tracker:
        yield tracker


@pytest.mark.parametrize("embed_dim", [256, 512])
def test_gmm_head_memory_stays_far_below_the_naive_n_k_c_d_tensor(embed_dim: int) -> None:
    h, w, K, C = 37, 74, 19, 5
    head = GMMHead(in_channels=embed_dim, num_classes=K, num_components=C)
    features = torch.randn(1, embed_dim, h, w)
    with torch.no_grad(), tracked() as tracker:
        head(features)
    naive = h * w * K * C * embed_dim * 4  # an N x K x C x D float32 tensor: 0.27-0.53 GB
    assert naive > 200e6
    assert tracker.total < 200e6, f"allocated {tracker.total / 1e6:.0f} MB"
    assert tracker.largest <= h * w * embed_dim * 4  # nothing larger than the input embedding map


def test_linear_head_is_a_per_pixel_affine_map() -> None:
    head = LinearHead(4, 3)
    x = torch.randn(2, 4, 5, 6)
    expected = torch.einsum("bchw,kc->bkhw", x, head.classifier.weight[:, :, 0, 0]) + head.classifier.bias.view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(head(x), expected)
