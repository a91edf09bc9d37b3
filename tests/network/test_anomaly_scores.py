"""Every score and uncertainty map against a float64 numpy reference, including extreme logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, logsumexp, softmax

from anomaly_seg.network import scores


def inputs(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    F = rng.normal(0, 3, (2, 19, 5, 7))
    U = rng.normal(0, 3, (2, 2, 5, 7))
    if kind == "extreme":
        F[:, 0] += 1e4  # one dominant class: p = one-hot, log 0 terms
        F[:, 1, :2] -= 1e4
        U *= 1e3
    elif kind == "ties":
        F[:] = 5.0  # uniform: entropy 1, p1 = p2
    return F, U


def ref_entropy(F: np.ndarray) -> np.ndarray:
    p = softmax(F, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(1) / np.log(F.shape[1])


REFERENCES = {
    "llr": lambda F, U: U[:, 1] - U[:, 0] - F.max(1),
    "uem_only": lambda F, U: U[:, 1] - U[:, 0],
    "max_softmax": lambda F, U: 1 - softmax(F, axis=1).max(1),
    "entropy": lambda F, U: ref_entropy(F),
    "max_logit": lambda F, U: -F.max(1),
    "gmm_density": lambda F, U: -logsumexp(F, axis=1),
    "op_msm": lambda F, U: expit(U[:, 1] - U[:, 0]) * (1 - softmax(F, axis=1).max(1)),
    "outlier_probability": lambda F, U: expit(U[:, 1] - U[:, 0]),
}


@pytest.mark.parametrize("kind", ["random", "extreme", "ties"])
@pytest.mark.parametrize("name", scores.SCORE_NAMES)
def test_score_matches_float64_reference(name: str, kind: str) -> None:
    F, U = inputs(kind)
    got = scores.compute_score(name, torch.from_numpy(F).float(), torch.from_numpy(U).float()).numpy()
    expected = REFERENCES[name](F, U)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["random", "extreme", "ties"])
def test_uncertainty_maps_match_float64_reference(kind: str) -> None:
    F, _ = inputs(kind)
    got = scores.uncertainty_maps(torch.from_numpy(F).float()).numpy()
    p = np.sort(softmax(F, axis=1), axis=1)
    expected = np.stack((ref_entropy(F), 1 - p[:, -1], 1 - p[:, -1] + p[:, -2]), axis=1)
    assert got.shape == (2, 3, 5, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["random", "extreme"])
def test_scores_stay_finite_in_float16(kind: str) -> None:
    F, U = inputs(kind)
    F16, U16 = torch.from_numpy(F / 10).half(), torch.from_numpy(U / 10).half()
    for name in scores.SCORE_NAMES:
        assert torch.isfinite(scores.compute_score(name, F16, U16)).all(), name
    maps = scores.uncertainty_maps(F16)
    assert torch.isfinite(maps).all()
    np.testing.assert_allclose(maps.float().numpy()[:, 0], ref_entropy(F16.double().numpy()), atol=5e-3)


def test_llr_is_high_where_uem_says_outlier_and_classifier_is_unsure() -> None:
    F = torch.tensor([[[[9.0, 0.0]], [[0.0, 0.1]]]])  # pixel 0 confident, pixel 1 unsure
    U = torch.tensor([[[[2.0, -2.0]], [[-2.0, 2.0]]]])  # pixel 1 looks like an outlier to the UEM
    score = scores.llr(F, U)[0, 0]
    assert score[1] > score[0]
    assert float(score[0]) == pytest.approx(-4 - 9)
    assert float(score[1]) == pytest.approx(4 - 0.1)


def test_unknown_score_name() -> None:
    with pytest.raises(ValueError, match="unknown score"):
        scores.compute_score("nope", torch.zeros(1, 2, 1, 1), torch.zeros(1, 2, 1, 1))
