"""Losses against hand computations in float64 numpy on small tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.losses import cross_entropy, entropy_maximization_loss, gmm_loss, llr_loss


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    out: np.ndarray = x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out


def np_ce(logits_nk: np.ndarray, target: np.ndarray) -> float:
    return float(-np_log_softmax(logits_nk, 1)[np.arange(target.size), target].mean())


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x)


@pytest.fixture
def dense() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 3, 5)) * 3
    train_ids = rng.integers(0, 4, size=(2, 3, 5))
    train_ids[0, 0, :3] = 255
    outlier = np.zeros((2, 3, 5), np.int64)
    outlier[1, 1:, 2:4] = 1
    outlier[0, 0, 0] = 255
    return logits, train_ids, outlier


def test_cross_entropy_ignores_void(dense: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    logits, train_ids, _ = dense
    flat = logits.transpose(0, 2, 3, 1).reshape(-1, 4)
    y = train_ids.reshape(-1)
    expected = np_ce(flat[y != 255], y[y != 255])
    assert cross_entropy(t(logits), t(train_ids)).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_hand_value() -> None:
    # two classes, logits (0, log 3): p = (1/4, 3/4); target 1 -> -log(3/4); a void pixel is ignored
    logits = torch.tensor([[0.0, np.log(3.0)], [5.0, -5.0]], dtype=torch.float64)
    loss = cross_entropy(logits, torch.tensor([1, 255]))
    assert loss.item() == pytest.approx(-np.log(0.75), rel=1e-12)


def test_all_void_gives_zero_with_gradient() -> None:
    logits = torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    loss = cross_entropy(logits, torch.full((1, 2, 2), 255))
    (grad,) = torch.autograd.grad(loss, logits)
    assert loss.item() == 0.0 and not grad.any()


def test_gmm_loss_is_class_ce_plus_beta_component_ce() -> None:
    rng = np.random.default_rng(1)
    n, k, c = 7, 3, 2
    comp = rng.normal(size=(n, k * c)) * 2
    # class log-likelihood of a uniform mixture: log mean_c p(x | k, c)
    cls = np.log(np.exp(comp.reshape(n, k, c)).mean(axis=2))
    y = rng.integers(0, k, size=n)
    y[2] = 255
    comp_y = y * c + rng.integers(0, c, size=n)
    comp_y[2] = 0  # arbitrary on a void pixel
    valid = y != 255
    expected = np_ce(cls[valid], y[valid]) + 0.3 * np_ce(comp[valid], comp_y[valid])
    loss = gmm_loss(t(cls), t(comp), t(y), t(comp_y), beta=0.3)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_gmm_loss_rejects_inconsistent_shapes() -> None:
    with pytest.raises(ValueError, match="K\\*C"):
        gmm_loss(torch.zeros(4, 3), torch.zeros(4, 7), torch.zeros(4), torch.zeros(4), beta=1.0)


def test_llr_loss_is_masked_bce_plus_alpha_gmm() -> None:
    llr = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    y = np.array([[1, 0, 255], [0, 1, 1]])
    valid = y != 255
    z, yy = llr[valid], y[valid]
    bce = np.mean(np.log1p(np.exp(-z)) * yy + np.log1p(np.exp(z)) * (1 - yy))
    gmm = torch.tensor(0.7, dtype=torch.float64)
    assert llr_loss(t(llr), t(y)).item() == pytest.approx(bce, rel=1e-12)
    assert llr_loss(t(llr), t(y), gmm_term=gmm, alpha=0.5).item() == pytest.approx(bce + 0.35, rel=1e-12)
    with pytest.raises(ValueError, match="gmm_term"):
        llr_loss(t(llr), t(y), alpha=0.5)


def test_llr_loss_gradient_pushes_outliers_up() -> None:
    llr = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(llr_loss(llr, torch.tensor([1, 0, 255, 1])), llr)
    # d/dz BCE = (sigmoid(z) - y) / n_valid = (0.5 - y) / 3
    np.testing.assert_allclose(grad.numpy(), [-0.5 / 3, 0.5 / 3, 0.0, -0.5 / 3])


def test_entropy_maximization_loss(dense: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    logits, train_ids, outlier = dense
    flat = logits.transpose(0, 2, 3, 1).reshape(-1, 4)
    y = train_ids.reshape(-1)
    o = outlier.reshape(-1)
    inlier = (y != 255) & (o != 1)
    ce_in = np_ce(flat[inlier], y[inlier])
    out_term = float(-np_log_softmax(flat[o == 1], 1).mean(axis=1).mean())
    expected = 0.1 * ce_in + 0.9 * out_term
    loss = entropy_maximization_loss(t(logits), t(train_ids), t(outlier), lam=0.9)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_entropy_maximization_outlier_term_is_minimal_for_uniform_prediction() -> None:
    k = 5
    uniform = torch.zeros(1, k, 1, 1, dtype=torch.float64)
    peaked = torch.tensor([8.0, 0, 0, 0, 0], dtype=torch.float64).view(1, k, 1, 1)
    ids, out = torch.full((1, 1, 1), 255), torch.ones(1, 1, 1, dtype=torch.long)
    assert entropy_maximization_loss(uniform, ids, out, lam=1.0).item() == pytest.approx(np.log(k), rel=1e-12)
    assert entropy_maximization_loss(peaked, ids, out, lam=1.0).item() > np.log(k)
