"""Runtime meta classifier: logistic regression on standardised segment features, in numpy, from JSON.

The JSON file (written by ``python -m training fit-meta``) holds the format name and version, the feature names
(must equal :data:`~anomaly_seg.segments.features.FEATURE_NAMES`), the scaler's mean and scale, the coefficients,
the intercept, the decision threshold, optionally the operating point chosen on validation (``{"threshold",
"meta_threshold", ...}``: the anomaly-score threshold the segments were formed at and the probability kept from)
and free-form training statistics. It is untrusted input: every field is
checked and any problem raises :class:`~anomaly_seg.errors.ModelFileError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_seg.errors import ModelFileError
from anomaly_seg.segments.features import FEATURE_NAMES

META_FORMAT = "anomaly_seg.meta_classifier"
META_VERSION = 1
_ARRAYS = ("scaler_mean", "scaler_scale", "coef")


class MetaClassifier:
    """``p(true obstacle | features) = sigmoid(((x - mean) / scale) . coef + intercept)``.

    A segment is kept when its probability is ``>= threshold``.
    """

    def __init__(
        self,
        scaler_mean: np.ndarray,
        scaler_scale: np.ndarray,
        coef: np.ndarray,
        intercept: float,
        threshold: float = 0.5,
        *,
        feature_names: tuple[str, ...] = FEATURE_NAMES,
        training: Mapping[str, Any] | None = None,
        operating_point: Mapping[str, Any] | None = None,
        source: str = "<memory>",
    ) -> None:
        self.source = source
        self.feature_names = tuple(feature_names)
        self.scaler_mean = np.asarray(scaler_mean, np.float64)
        self.scaler_scale = np.asarray(scaler_scale, np.float64)
        self.coef = np.asarray(coef, np.float64)
        self.intercept = float(intercept)
        self.threshold = float(threshold)
        self.training: dict[str, Any] = dict(training or {})
        self.operating_point: dict[str, Any] | None = dict(operating_point) if operating_point is not None else None
        self._check()

    def _fail(self, problem: str) -> ModelFileError:
        return ModelFileError(f"meta classifier {self.source}: {problem}")

    def _check(self) -> None:
        if self.feature_names != FEATURE_NAMES:
            if len(self.feature_names) != len(FEATURE_NAMES):
                raise self._fail(
                    f"feature_names has {len(self.feature_names)} entries, this version computes "
                    f"{len(FEATURE_NAMES)}; refit the meta classifier"
                )
            i = next(i for i, (a, b) in enumerate(zip(self.feature_names, FEATURE_NAMES)) if a != b)
            raise self._fail(
                f"feature_names[{i}] is {self.feature_names[i]!r}, expected {FEATURE_NAMES[i]!r}; "
                "refit the meta classifier"
            )
        for key in _ARRAYS:
            arr = getattr(self, key)
            if arr.shape != (len(FEATURE_NAMES),):
                raise self._fail(f"{key} must have {len(FEATURE_NAMES)} values, got shape {arr.shape}")
            if not np.isfinite(arr).all():
                raise self._fail(f"{key} holds NaN or infinite values")
        if (self.scaler_scale <= 0).any():
            raise self._fail("scaler_scale must be > 0")
        if not math.isfinite(self.intercept):
            raise self._fail("intercept must be finite")
        if not 0.0 <= self.threshold <= 1.0:
            raise self._fail(f"threshold must be in [0, 1], got {self.threshold}")
        if self.operating_point is not None:
            op = self.operating_point
            for key in ("threshold", "meta_threshold"):
                if not _is_number(op.get(key)):
                    raise self._fail(f"operating_point.{key} must be a finite number, got {op.get(key)!r}")
            if not 0.0 <= float(op["meta_threshold"]) <= 1.0:
                raise self._fail(f"operating_point.meta_threshold must be in [0, 1], got {op['meta_threshold']}")

    @property
    def score_threshold(self) -> float | None:
        """The anomaly-score threshold of the operating point (segments formed at it), if the file has one."""
        return None if self.operating_point is None else float(self.operating_point["threshold"])

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Logits ``[N]`` for features ``[N, F]`` in :data:`FEATURE_NAMES` order."""
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features must have shape (N, {len(FEATURE_NAMES)}), got {x.shape}")
        return ((x - self.scaler_mean) / self.scaler_scale) @ self.coef + self.intercept

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability ``[N]`` that each segment is a true obstacle."""
        z = self.decision_function(features)
        proba: np.ndarray = np.exp(-np.logaddexp(0.0, -z))  # sigmoid without overflow for large |z|
        return proba

    def keep(self, features: np.ndarray) -> np.ndarray:
        """Bool ``[N]``: segments whose probability reaches :attr:`threshold`."""
        return self.predict_proba(features) >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (plain Python types)."""
        return {
            "format": META_FORMAT,
            "version": META_VERSION,
            "feature_names": list(self.feature_names),
            "scaler_mean": self.scaler_mean.tolist(),
            "scaler_scale": self.scaler_scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
            **({"operating_point": self.operating_point} if self.operating_point is not None else {}),
            "training": self.training,
        }

    def save(self, path: str | Path) -> Path:
        """Write the JSON file (parent folders created); returns its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, doc: Any, source: str = "<memory>") -> MetaClassifier:
        """Validate a parsed JSON document; any problem raises :class:`ModelFileError` naming the field."""

        def fail(problem: str) -> ModelFileError:
            return ModelFileError(f"meta classifier {source}: {problem}")

        if not isinstance(doc, dict):
            raise fail("top level must be a JSON object")
        if doc.get("format") != META_FORMAT:
            raise fail(f"format must be {META_FORMAT!r}, got {doc.get('format')!r}")
        version = doc.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version != META_VERSION:
            raise fail(f"unsupported version {version!r} (this build reads version {META_VERSION})")
        required = ("feature_names", *_ARRAYS, "intercept", "threshold")
        missing = [k for k in required if k not in doc]
        if missing:
            raise fail(f"missing field(s) {', '.join(missing)}")
        names = doc["feature_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise fail("feature_names must be a list of strings")
        arrays = {}
        for key in _ARRAYS:
            value = doc[key]
            if not isinstance(value, list) or not all(_is_number(v) for v in value):
                raise fail(f"{key} must be a list of finite numbers")
            arrays[key] = np.array(value, np.float64)
        for key in ("intercept", "threshold"):
            if not _is_number(doc[key]):
                raise fail(f"{key} must be a finite number, got {doc[key]!r}")
        training = doc.get("training", {})
        if not isinstance(training, dict):
            raise fail("training must be a JSON object")
        operating_point = doc.get("operating_point")
        if operating_point is not None and not isinstance(operating_point, dict):
            raise fail("operating_point must be a JSON object")
        return cls(
            arrays["scaler_mean"],
            arrays["scaler_scale"],
            arrays["coef"],
            float(doc["intercept"]),
            float(doc["threshold"]),
            feature_names=tuple(names),
            training=training,
            operating_point=operating_point,
            source=source,
        )

    @classmethod
    def load(cls, path: str | Path) -> MetaClassifier:
        """Read and validate a meta-classifier JSON file (never executes or unpickles anything)."""
        path = Path(path)

        def reject_constant(name: str) -> None:
            raise ValueError(f"{name} is not allowed")

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"meta classifier {path}: cannot read file ({exc})") from exc
        try:
            doc = json.loads(text, parse_constant=reject_constant)
        except ValueError as exc:
            raise ModelFileError(f"meta classifier {path}: not valid JSON ({exc})") from exc
        return cls.from_dict(doc, source=str(path))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
