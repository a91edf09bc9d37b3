"""Fit the logistic meta classifier (Chan et al.) on a dataset's obstacle segments.

Input: prediction files (:mod:`training.predictions`), one ``.npz`` per frame at the resolution the segments are
formed at.

Labels: a segment is a true positive if it overlaps the ground-truth anomaly (IoU > 0), a false positive
otherwise; segments are formed under the evaluation's segment rule (``benchmark`` by default: void zeroed first),
and segments lying entirely in void are left out. Cross-validation groups segments by frame, so segments
of one frame never sit in both the training and the test fold.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from anomaly_seg.errors import DatasetError
from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier, SegmentParams
from training.predictions import Prediction


@dataclass(frozen=True)
class SegmentSamples:
    """Features ``[M, F]``, labels ``[M]`` (1 = true positive) and frame index ``[M]`` of all counted segments."""

    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    frames: int
    ignored: int


def frame_samples(
    prediction: Prediction, params: SegmentParams, protocol: str = "benchmark"
) -> tuple[np.ndarray, np.ndarray, int]:
    """Features and TP labels of one frame's counted segments, and the number of ignored (all-void) segments.

    Segments are formed under the evaluation's ``protocol`` (default ``benchmark``: void zeroed first, no cap), so
    the classifier is trained on the segments ``evaluate`` judges it on."""
    from training.meta_protocol import frame_segments

    f = frame_segments(
        prediction.anomaly_score, prediction.semantic, prediction.uncertainty, prediction.anomaly_gt, params, protocol
    )
    counted = f.counted
    return f.features[counted], f.match.true_positive[counted].astype(np.int64), int((~counted).sum())


def collect_samples(
    predictions: Iterator[Prediction] | Sequence[Prediction], params: SegmentParams, protocol: str = "benchmark"
) -> SegmentSamples:
    """Segment features and labels over a dataset's frames."""
    feats, labels, groups = [], [], []
    frames = ignored = 0
    for frame, prediction in enumerate(predictions):
        x, y, n_ignored = frame_samples(prediction, params, protocol)
        feats.append(x)
        labels.append(y)
        groups.append(np.full(y.size, frame, np.int64))
        frames += 1
        ignored += n_ignored
    if not feats:
        return SegmentSamples(np.zeros((0, len(FEATURE_NAMES))), np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 0)
    return SegmentSamples(np.concatenate(feats), np.concatenate(labels), np.concatenate(groups), frames, ignored)


def cross_validate(
    samples: SegmentSamples, *, folds: int = 5, c: float = 1.0, seed: int = 0, decision_threshold: float = 0.5
) -> dict[str, float]:
    """Frame-grouped k-fold scores: AUROC, AUPRC (average precision), accuracy at ``decision_threshold``."""
    from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

    from training.meta_protocol import out_of_fold

    proba, k = out_of_fold(samples.features, samples.labels, samples.groups, folds=folds, c=c, seed=seed)
    if k < 2:
        return {}
    return {
        "folds": float(k),
        "auroc": float(roc_auc_score(samples.labels, proba)),
        "auprc": float(average_precision_score(samples.labels, proba)),
        "accuracy": float(accuracy_score(samples.labels, proba >= decision_threshold)),
    }


def fit_meta_classifier(
    samples: SegmentSamples,
    *,
    c: float = 1.0,
    seed: int = 0,
    decision_threshold: float = 0.5,
    folds: int = 5,
    params: SegmentParams | None = None,
) -> MetaClassifier:
    """Fit StandardScaler + LogisticRegression on all segments and export it as a :class:`MetaClassifier`.

    The training statistics (counts, cross-validation scores, segment parameters) go into the JSON.
    """
    n_pos = int(samples.labels.sum())
    n_neg = int(samples.labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise DatasetError(
            f"need both true- and false-positive segments to fit the meta classifier; got {n_pos} TP "
            f"and {n_neg} FP segments in {samples.frames} frames (try another --threshold)"
        )
    start = time.perf_counter()
    cv = cross_validate(samples, folds=folds, c=c, seed=seed, decision_threshold=decision_threshold)
    from training.meta_protocol import fit_classifier

    meta = fit_classifier(samples.features, samples.labels, threshold=decision_threshold, c=c, seed=seed)
    accuracy = float(np.mean(meta.keep(samples.features) == samples.labels.astype(bool)))
    meta.training = {
        "frames": samples.frames,
        "segments": int(samples.labels.size),
        "true_positives": n_pos,
        "false_positives": n_neg,
        "ignored_void_segments": samples.ignored,
        "C": c,
        "cross_validation": cv,
        "train_accuracy": accuracy,
        "fit_seconds": round(time.perf_counter() - start, 3),
    }
    if params is not None:
        segment_params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(params).items()}
        meta.training["segment_params"] = segment_params
    return meta
