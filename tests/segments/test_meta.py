"""Tests of anomaly_seg/segments/meta.py: scikit-learn equality, JSON validation, no scikit-learn at run time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from anomaly_seg.errors import ModelFileError
from anomaly_seg.segments import FEATURE_NAMES, META_FORMAT, MetaClassifier

F = len(FEATURE_NAMES)


def _fitted() -> tuple[Any, np.ndarray, MetaClassifier]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, F)) * rng.uniform(0.1, 50, F) + rng.uniform(-5, 5, F)
    x[:, 7] = 3.0  # constant feature: scikit-learn sets its scale to 1
    y = (x[:, 0] / 50 + x[:, 3] + rng.standard_normal(300) > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y)
    meta = MetaClassifier(model[0].mean_, model[0].scale_, model[-1].coef_[0], float(model[-1].intercept_[0]))
    return model, x, meta


def test_probabilities_equal_scikit_learn_after_a_json_round_trip(tmp_path: Path) -> None:
    model, x, meta = _fitted()
    loaded = MetaClassifier.load(meta.save(tmp_path / "meta.json"))
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x)[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(loaded.keep(x), loaded.predict_proba(x) >= 0.5)
    extreme = np.full((1, F), 1e6)
    assert np.isfinite(loaded.predict_proba(extreme)).all()


def test_runtime_import_does_not_load_scikit_learn(tmp_path: Path) -> None:
    _, x, meta = _fitted()
    path = meta.save(tmp_path / "meta.json")
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np\n"
        "from anomaly_seg.segments import MetaClassifier\n"
        f"m = MetaClassifier.load({str(path)!r})\n"
        f"m.predict_proba(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "bad = [k for k in sys.modules if k.split('.')[0] in ('sklearn', 'scipy', 'torch')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _doc() -> dict[str, Any]:
    return _fitted()[2].to_dict()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("coef"), "missing field"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(version=True), "version"),
        (lambda d: d.update(format="something"), "format"),
        (lambda d: d.update(feature_names=d["feature_names"][:-1]), "feature_names has"),
        (lambda d: d["feature_names"].__setitem__(5, "renamed"), r"feature_names\[5\]"),
        (lambda d: d.update(coef=d["coef"][:-1]), "coef must have"),
        (lambda d: d.update(scaler_mean=["a"] * F), "scaler_mean"),
        (lambda d: d["scaler_scale"].__setitem__(0, 0.0), "scaler_scale"),
        (lambda d: d.update(intercept="1"), "intercept"),
        (lambda d: d.update(threshold=1.5), "threshold"),
        (lambda d: d.update(training=[]), "training"),
    ],
)
def test_bad_documents_are_refused_naming_file_and_field(tmp_path: Path, mutate: Any, message: str) -> None:
    doc = _doc()
    mutate(doc)
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=message) as info:
        MetaClassifier.load(path)
    assert str(path) in str(info.value)


def test_nan_missing_file_and_garbage_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(_doc()).replace(json.dumps(_doc()["intercept"]), "NaN", 1))
    with pytest.raises(ModelFileError, match="NaN"):
        MetaClassifier.load(path)
    with pytest.raises(ModelFileError, match="cannot read"):
        MetaClassifier.load(tmp_path / "absent.json")
    path.write_bytes(b"\x80\x04not json")
    with pytest.raises(ModelFileError, match=str(path)):
        MetaClassifier.load(path)
    assert _doc()["format"] == META_FORMAT
