"""Output comparison against hand-computed errors."""

from __future__ import annotations

import numpy as np
import pytest

from anomaly_seg.artifacts.parity import TOLERANCES, compare, merge
from anomaly_seg.engines.base import EngineOutputs


def outputs(semantic: list[int], score: list[float], unc: float = 0.5) -> EngineOutputs:
    s = np.array(semantic, np.uint8).reshape(1, 1, -1)
    a = np.array(score, np.float32).reshape(1, 1, -1)
    return EngineOutputs(s, a, np.full((1, 3, 1, s.shape[-1]), unc, np.float32))


def test_compare_measures_max_error_scale_and_agreement() -> None:
    ref = outputs([1, 2, 3, 4], [0.0, -5.0, 2.0, 1.0])
    got = outputs([1, 2, 3, 0], [0.001, -5.0, 2.0, 1.5], unc=0.5 + 2**-10)
    c = compare(ref, got)
    assert c.score_max_abs == pytest.approx(0.5)
    assert c.score_scale == 5.0
    assert c.uncertainty_max_abs == pytest.approx(2**-10)
    assert c.semantic_agreement == 0.75
    assert not c.passed(TOLERANCES["fp16"])  # 0.5 > 0.02 * 5 and 75 % agreement


def test_nan_is_an_infinite_error_and_small_scores_use_scale_one() -> None:
    ref = outputs([0, 0], [0.1, 0.2])
    got = outputs([0, 0], [0.1, float("nan")])
    c = compare(ref, got)
    assert c.score_scale == 1.0 and c.score_max_abs == float("inf") and not c.passed(TOLERANCES["fp16"])


def test_identical_outputs_pass_fp32_and_merge_is_worst_case() -> None:
    a = outputs([1, 1], [3.0, 4.0])
    b = outputs([1, 2, 2, 2], [1.0, 1.0, 1.0, 1.01])
    c1, c2 = compare(a, a), compare(b, outputs([1, 2, 2, 0], [1.0, 1.0, 1.0, 1.0]))
    assert c1.passed(TOLERANCES["fp32"])
    m = merge([c1, c2])
    assert m.score_max_abs == pytest.approx(0.01, rel=1e-5)
    assert m.semantic_agreement == pytest.approx((2 * 1.0 + 4 * 0.75) / 6)
    assert m.pixels == 6


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        compare(outputs([1, 2], [0, 0]), outputs([1, 2, 3], [0, 0, 0]))
