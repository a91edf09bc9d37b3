"""Chan et al.'s meta-classification protocol: segments at several score thresholds, one logistic regression per
threshold, cross-validated over frames, and the operating point a vehicle runs at.

Per threshold ``t`` (rows of ``meta_protocol.json``): the segments of ``score >= t`` under the evaluation's segment
rule (:func:`anomaly_seg.metrics.segments.rule_score`, the same segments ``evaluate`` counts), their features
(:func:`anomaly_seg.segments.segment_features`, the node's), out-of-fold meta probabilities from frame-grouped folds
(no frame in both a fit and its test fold), and:

* Table 2: FP / FN / F1 / road miss rate without (``baseline``) and with the meta classifier (``meta``: segments
  with out-of-fold probability >= ``decision_threshold``);
* Table 3: the meta classifier's AUROC / AUPRC for "is this segment a true obstacle" next to the maximum-softmax
  baseline's (each segment ranked by its mean ``1 - max softmax``, the ``variation_ratio_mean`` feature; no fit).

**Operating point rule** (chosen on validation frames, never on the test set): among all pairs (segment threshold
``t``, meta threshold ``m``) on the grids, those whose cross-validated false negatives do not exceed the plain
baseline's at the reference threshold (the pixel-F1 threshold chosen on validation, no meta classifier) and whose
published segments cover at most :data:`MAX_ROAD_MISS_INCREASE` more of the road than the baseline's (our
addition: a TP needs only IoU > 0, so without it a low threshold whose few kept segments blanket the road and touch
every obstacle would win) are eligible; the chosen pair minimises FP + FN, ties broken by higher F1, then by fewer
FN, then by the lower ``t``. The plain reference itself is always eligible (``m = 0`` keeps every segment).

The LARS ranking (their Fig. 8) is scikit-learn's ``lars_path`` on the standardised features of the operating
threshold's segments: the order in which features enter the path.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_seg.errors import DatasetError
from anomaly_seg.metrics.segments import SegmentCounts, SegmentMatch, match_segments, rule_params, rule_score
from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier, SegmentParams, extract_segments, segment_features
from anomaly_seg.segments.components import pixel_lists

#: Chan et al.'s entropy thresholds (normalised entropy in [0, 1]).
ENTROPY_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
#: Pixel-score quantiles (non-void pixels) that give the thresholds of an unbounded score such as the LLR.
SCORE_QUANTILES = (0.7, 0.8, 0.85, 0.88, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99)
#: Meta-probability thresholds searched for the operating point.
META_GRID = tuple(round(0.05 * i, 2) for i in range(20))
MSP_FEATURE = "variation_ratio_mean"
#: how much more of the road (share of road pixels) the operating point's published segments may cover than the
#: plain baseline's mask
MAX_ROAD_MISS_INCREASE = 0.01
FORMAT = "anomaly_seg.meta_protocol"
RULE = (
    "minimise FP + FN over (segment threshold, meta threshold) pairs whose cross-validated FN on validation frames "
    "does not exceed the plain baseline's at the pixel-F1 threshold and whose road miss rate is at most 1 point "
    "above the baseline's; ties: higher F1, fewer FN, lower threshold"
)


@dataclass(frozen=True)
class FrameSegments:
    """One frame's segments at one threshold: features ``[N, F]``, ground-truth match, road pixels per segment."""

    features: np.ndarray
    match: SegmentMatch
    road_pixels: np.ndarray  # int64 [N]
    road_marked: int  # road pixels with score >= t (the plain anomaly mask)
    road_total: int

    @property
    def counted(self) -> np.ndarray:
        """Bool ``[N]``: segments that count (not entirely in void)."""
        return ~self.match.ignored


def frame_segments(
    score: np.ndarray,
    semantic: np.ndarray,
    uncertainty: np.ndarray,
    gt: np.ndarray,
    params: SegmentParams,
    protocol: str = "benchmark",
) -> FrameSegments:
    """Segments of ``score >= params.threshold`` under the evaluation's ``protocol`` (see module docstring)."""
    segment_score = rule_score(score, gt, protocol)
    segments = extract_segments(segment_score, semantic, rule_params(params, protocol))
    features = segment_features(segments, segment_score, uncertainty, semantic)
    match = match_segments(segments, gt)
    road = np.asarray(gt) == 0
    slot = np.repeat(np.arange(segments.count), segments.areas)
    road_pixels = np.bincount(slot[road.ravel()[pixel_lists(segments)]], minlength=segments.count).astype(np.int64)
    marked = int(np.count_nonzero(road & (np.asarray(score, np.float32) >= np.float32(params.threshold))))
    return FrameSegments(features, match, road_pixels, marked, int(road.sum()))


@dataclass
class ThresholdSegments:
    """All frames' segments at one threshold."""

    threshold: float
    frames: list[FrameSegments]

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, TP labels and frame index of the counted segments (the meta classifier's training set)."""
        x = [f.features[f.counted] for f in self.frames]
        y = [f.match.true_positive[f.counted].astype(np.int64) for f in self.frames]
        g = [np.full(int(f.counted.sum()), i, np.int64) for i, f in enumerate(self.frames)]
        if not x:
            return np.zeros((0, len(FEATURE_NAMES))), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(x), np.concatenate(y), np.concatenate(g)

    def evaluate(self, keep: Sequence[np.ndarray] | None = None) -> dict[str, float | int]:
        """FP / FN / TP / F1 / road miss rate when, per frame, the segments where ``keep`` is true are published."""
        counts = SegmentCounts()
        marked = total = 0
        for i, f in enumerate(self.frames):
            k = None if keep is None else keep[i]
            counts += f.match.counts(k)
            marked += f.road_marked if k is None else int(f.road_pixels[k].sum())
            total += f.road_total
        return {
            "tp": counts.tp,
            "fp": counts.fp,
            "fn": counts.fn,
            "f1": counts.f1,
            "road_miss_rate": marked / total if total else 0.0,
        }

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Per-frame arrays over all segments from values over the counted ones (0 for ignored segments)."""
        out, start = [], 0
        for f in self.frames:
            full = np.zeros(f.counted.size, values.dtype)
            n = int(f.counted.sum())
            full[f.counted] = values[start : start + n]
            out.append(full)
            start += n
        return out


def collect(
    predictions: Iterable[Any], thresholds: Sequence[float], params: SegmentParams, protocol: str = "benchmark"
) -> list[ThresholdSegments]:
    """Segments of every prediction (``training.fit_meta.Prediction``) at every threshold."""
    from dataclasses import replace

    data = [ThresholdSegments(float(t), []) for t in thresholds]
    for p in predictions:
        for d in data:
            at = replace(params, threshold=d.threshold)
            d.frames.append(frame_segments(p.anomaly_score, p.semantic, p.uncertainty, p.anomaly_gt, at, protocol))
    return data


#: at most this many evenly strided non-void pixels per frame go into the quantiles (a 2048x1024 dataset would
#: otherwise hold every score of every frame in memory)
QUANTILE_SAMPLES_PER_FRAME = 65536


def _sample(values: np.ndarray) -> np.ndarray:
    return values[:: max(1, values.size // QUANTILE_SAMPLES_PER_FRAME)]


def thresholds_for(score: str, frames: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """Score quantiles :data:`SCORE_QUANTILES` over the non-void pixels, plus Chan et al.'s 0.1 ... 0.7 for the
    normalised entropy (after entropy maximisation its values crowd near 1, where the paper's grid has no point).
    ``frames``: (score, ground truth) pairs, read one at a time."""
    values = np.concatenate([_sample(np.asarray(s, np.float32)[np.asarray(g) != 255]) for s, g in frames])
    if values.size == 0:
        raise DatasetError("no non-void pixel to choose segment thresholds from")
    out = {float(np.float32(q)) for q in np.quantile(values, SCORE_QUANTILES)}
    if score == "entropy":
        out |= {float(np.float32(t)) for t in ENTROPY_THRESHOLDS}
    return sorted(out)


def _pipeline(c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, random_state=seed))


def out_of_fold(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, folds: int = 5, c: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, int]:
    """Out-of-fold meta probabilities from frame-grouped folds, and the number of folds (0: fewer than 2 frames).

    A fold whose training part holds one class only predicts that part's TP share."""
    from sklearn.model_selection import GroupKFold

    k = min(folds, int(np.unique(groups).size))
    proba = np.zeros(y.size)
    if k < 2:
        return proba, 0
    for train, test in GroupKFold(n_splits=k).split(x, y, groups):
        if np.unique(y[train]).size < 2:
            proba[test] = y[train].mean() if train.size else 0.0
            continue
        proba[test] = _pipeline(c, seed).fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return proba, k


def _ranking(y: np.ndarray, score: np.ndarray) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if np.unique(y).size < 2:
        return None, None
    return float(roc_auc_score(y, score)), float(average_precision_score(y, score))


@dataclass(frozen=True)
class ProtocolResult:
    """The document of ``meta_protocol.json`` and, per threshold, the out-of-fold keep probabilities."""

    document: dict[str, Any]
    proba: dict[float, list[np.ndarray]]


def run_protocol(
    data: Sequence[ThresholdSegments],
    *,
    reference_threshold: float,
    folds: int = 5,
    c: float = 1.0,
    seed: int = 0,
    decision_threshold: float = 0.5,
    deployed: MetaClassifier | None = None,
    score: str = "llr",
    note: str = "",
) -> ProtocolResult:
    """Table 2 / Table 3 rows, the LARS ranking and the operating point over ``data`` (one entry per threshold).

    ``reference_threshold`` must be one of the thresholds (the plain baseline). Without ``deployed`` the operating
    point is chosen here by the rule (so ``data`` must be validation frames); with it, ``deployed``'s own
    operating point (chosen on validation) is measured on these frames with ``deployed`` as fitted.
    """
    by_t = {d.threshold: d for d in data}
    if float(reference_threshold) not in by_t:
        raise ValueError(f"reference threshold {reference_threshold} is not among {sorted(by_t)}")
    rows: list[dict[str, Any]] = []
    proba: dict[float, list[np.ndarray]] = {}
    n_folds = 0
    msp = FEATURE_NAMES.index(MSP_FEATURE)
    for d in data:
        x, y, g = d.samples()
        p, n_folds_t = out_of_fold(x, y, g, folds=folds, c=c, seed=seed)
        n_folds = max(n_folds, n_folds_t)
        per_frame = d.split(p)
        proba[d.threshold] = per_frame
        meta_auroc, meta_auprc = _ranking(y, p) if n_folds_t else (None, None)
        msp_auroc, msp_auprc = _ranking(y, x[:, msp]) if y.size else (None, None)
        rows.append(
            {
                "threshold": d.threshold,
                "segments": int(y.size),
                "true_segments": int(y.sum()),
                "baseline": d.evaluate(),
                "meta": d.evaluate([q >= decision_threshold for q in per_frame]),
                "meta_auroc": meta_auroc,
                "meta_auprc": meta_auprc,
                "msp_auroc": msp_auroc,
                "msp_auprc": msp_auprc,
            }
        )
    reference = by_t[float(reference_threshold)].evaluate()
    if deployed is None:
        op = choose_operating_point(data, proba, reference)
        op["source"] = "chosen on these frames by the rule (cross-validated meta probabilities)"
    else:
        op = measure_deployed(data, deployed)
    lars = lars_ranking(by_t.get(float(op["threshold"]), data[0]))
    document = {
        "format": FORMAT,
        "score": score,
        "frames": len(data[0].frames) if data else 0,
        "folds": n_folds,
        "decision_threshold": decision_threshold,
        "reference": {"threshold": float(reference_threshold), **reference},
        "rows": rows,
        "operating_point": op,
        "rule": RULE,
        "lars": lars,
        "note": note,
    }
    return ProtocolResult(document, proba)


def choose_operating_point(
    data: Sequence[ThresholdSegments], proba: dict[float, list[np.ndarray]], reference: dict[str, Any]
) -> dict[str, Any]:
    """The pair the rule picks (module docstring), with its FP / FN / F1 on these frames."""
    best: tuple[tuple[float, ...], dict[str, Any]] | None = None
    for d in data:
        for m in META_GRID:
            counts = d.evaluate([q >= m for q in proba[d.threshold]] if m > 0 else None)
            if counts["fn"] > reference["fn"]:
                continue
            if counts["road_miss_rate"] > reference["road_miss_rate"] + MAX_ROAD_MISS_INCREASE:
                continue
            key = (counts["fp"] + counts["fn"], -counts["f1"], counts["fn"], d.threshold, -m)
            if best is None or key < best[0]:
                point = {"threshold": d.threshold, "meta_threshold": m, **counts}
                best = (key, point)
    assert best is not None  # the reference with m = 0 is always eligible
    return best[1]


def measure_deployed(data: Sequence[ThresholdSegments], meta: MetaClassifier) -> dict[str, Any]:
    """FP / FN / F1 of ``meta`` at its own operating point on these frames (no refit)."""
    if meta.operating_point is None:
        raise ValueError(f"meta classifier {meta.source} has no operating point (fit it with --protocol)")
    t = float(meta.operating_point["threshold"])
    m = float(meta.operating_point["meta_threshold"])
    match = [d for d in data if np.isclose(d.threshold, t)]
    if not match:
        raise ValueError(f"the operating threshold {t} is not among the protocol's thresholds")
    d = match[0]
    keep = [meta.predict_proba(f.features) >= m for f in d.frames]
    return {"threshold": t, "meta_threshold": m, **d.evaluate(keep), "source": f"{meta.source} (chosen on validation)"}


def lars_ranking(d: ThresholdSegments, top: int = 15) -> dict[str, Any]:
    """Order in which features enter scikit-learn's LARS path (standardised features, TP labels)."""
    from sklearn.linear_model import lars_path
    from sklearn.preprocessing import StandardScaler

    x, y, _ = d.samples()
    keep = x.std(axis=0) > 0
    if y.size < 3 or np.unique(y).size < 2 or not keep.any():
        return {"threshold": d.threshold, "features": [], "coefs": []}
    xs = StandardScaler().fit_transform(x[:, keep])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, active, coefs = lars_path(xs, y - y.mean(), method="lar", max_iter=top)
    names = [n for n, k in zip(FEATURE_NAMES, keep) if k]
    return {
        "threshold": d.threshold,
        "features": [names[i] for i in active[:top]],
        "coefs": [[float(v) for v in coefs[i]] for i in active[:top]],
    }


def fit_classifier(
    x: np.ndarray,
    y: np.ndarray,
    *,
    threshold: float,
    c: float = 1.0,
    seed: int = 0,
    training: dict[str, Any] | None = None,
    operating_point: dict[str, Any] | None = None,
) -> MetaClassifier:
    """StandardScaler + LogisticRegression fitted on ``x``, ``y`` as the runtime :class:`MetaClassifier`."""
    if np.unique(y).size < 2:
        raise DatasetError(
            f"need both true- and false-positive segments to fit the meta classifier; got {int(y.sum())} TP and "
            f"{int(y.size - y.sum())} FP segments"
        )
    model = _pipeline(c, seed).fit(x, y)
    scaler, logreg = model[0], model[-1]
    return MetaClassifier(
        scaler.mean_,
        scaler.scale_,
        logreg.coef_[0],
        float(logreg.intercept_[0]),
        threshold,
        training=training,
        operating_point=operating_point,
    )


def fit_deployed(
    data: Sequence[ThresholdSegments],
    operating_point: dict[str, Any],
    *,
    c: float = 1.0,
    seed: int = 0,
    **training: Any,
) -> MetaClassifier:
    """The meta classifier of the operating threshold, fitted on all frames, with the operating point stored."""
    d = next(d for d in data if d.threshold == operating_point["threshold"])
    x, y, _ = d.samples()
    point = {k: operating_point[k] for k in ("threshold", "meta_threshold", "tp", "fp", "fn", "f1")}
    point["rule"] = RULE
    stats = {"segments": int(y.size), "true_positives": int(y.sum()), "C": c, **training}
    m = float(operating_point["meta_threshold"])
    return fit_classifier(x, y, threshold=m, c=c, seed=seed, training=stats, operating_point=point)


def markdown(document: dict[str, Any]) -> str:
    """The report section: Table 2, Table 3, the operating point and the LARS order."""

    def f(v: Any, pct: bool = False) -> str:
        if v is None:
            return "n/a"
        return f"{100 * v:.1f} %" if pct else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = [
        f"## Meta classification (Chan et al. protocol, score `{document['score']}`)",
        "",
        f"{document['frames']} frames, {document['folds']}-fold cross-validation grouped by frame; meta kept at "
        f"p >= {document['decision_threshold']}. {document['note']}".strip(),
        "",
        "| threshold | FP | FN | F1 | road miss | FP (meta) | FN (meta) | F1 (meta) | road miss (meta) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in document["rows"]:
        b, m = r["baseline"], r["meta"]
        lines.append(
            f"| {r['threshold']:.4g} | {b['fp']} | {b['fn']} | {b['f1']:.3f} | {f(b['road_miss_rate'], True)} | "
            f"{m['fp']} | {m['fn']} | {m['f1']:.3f} | {f(m['road_miss_rate'], True)} |"
        )
    lines += ["", "| threshold | segments | meta AUROC | meta AUPRC | max-softmax AUROC | max-softmax AUPRC |"]
    lines.append("|---|---|---|---|---|---|")
    for r in document["rows"]:
        lines.append(
            f"| {r['threshold']:.4g} | {r['segments']} | {f(r['meta_auroc'])} | {f(r['meta_auprc'])} | "
            f"{f(r['msp_auroc'])} | {f(r['msp_auprc'])} |"
        )
    op, ref = document["operating_point"], document["reference"]
    lines += [
        "",
        f"Operating point: threshold {op['threshold']:.4g}, meta threshold {op['meta_threshold']:.2f}: FP {op['fp']}, "
        f"FN {op['fn']}, F1 {op['f1']:.3f} ({op['source']}). Plain baseline at the pixel-F1 threshold "
        f"{ref['threshold']:.4g}: FP {ref['fp']}, FN {ref['fn']}, F1 {ref['f1']:.3f}. Rule: {document['rule']}.",
    ]
    if document["lars"]["features"]:
        order = ", ".join(f"{i + 1}. `{n}`" for i, n in enumerate(document["lars"]["features"]))
        lines += ["", f"LARS order of entry (threshold {document['lars']['threshold']:.4g}): {order}.", ""]
    return "\n".join(lines) + "\n"


def plot_lars(document: dict[str, Any], path: Path) -> Path | None:
    """Coefficient paths of the features in LARS order (their Fig. 8); None when there is nothing to draw."""
    lars = document["lars"]
    if not lars["features"]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, coefs in zip(lars["features"], lars["coefs"]):
        ax.plot(range(len(coefs)), coefs, marker=".", label=name)
    ax.set_xlabel("LARS step")
    ax.set_ylabel("coefficient (standardised features)")
    ax.set_title(f"Meta-classifier features in LARS order (threshold {lars['threshold']:.4g})")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(document: dict[str, Any], out_dir: Path, *, report: bool = False) -> list[Path]:
    """``meta_protocol.json``, ``meta_protocol.md`` and ``meta_lars.png`` into ``out_dir``; with ``report`` the
    section is also appended to the evaluation's ``report.md`` there."""
    from anomaly_seg.files import write_json

    out_dir.mkdir(parents=True, exist_ok=True)
    files = [write_json(out_dir / "meta_protocol.json", document)]
    section = markdown(document)
    md = out_dir / "meta_protocol.md"
    md.write_text(section, encoding="utf-8")
    files.append(md)
    png = plot_lars(document, out_dir / "meta_lars.png")
    if png is not None:
        files.append(png)
    if report:
        with (out_dir / "report.md").open("a", encoding="utf-8") as f:
            f.write("\n" + section)
    return files


def run_on_predictions(
    files: Sequence[Path],
    *,
    reference_threshold: float,
    score: str = "llr",
    thresholds: Sequence[float] | None = None,
    params: SegmentParams | None = None,
    protocol: str = "benchmark",
    deployed: MetaClassifier | None = None,
    folds: int = 5,
    c: float = 1.0,
    seed: int = 0,
    note: str = "",
    progress: bool = True,
) -> tuple[ProtocolResult, list[ThresholdSegments]]:
    """The protocol over prediction files (:mod:`training.predictions`): thresholds from :func:`thresholds_for` unless
    given, always with the reference threshold (and a deployed classifier's operating threshold) among them."""
    from tqdm import tqdm

    from training.predictions import load_prediction

    if thresholds is None:
        # one streaming pass for the quantiles (frames are read again below; a dataset does not fit in memory)
        thresholds = thresholds_for(score, ((p.anomaly_score, p.anomaly_gt) for p in map(load_prediction, files)))
    wanted = {float(np.float32(t)) for t in thresholds} | {float(np.float32(reference_threshold))}
    if deployed is not None and deployed.score_threshold is not None:
        wanted.add(float(np.float32(deployed.score_threshold)))
    frames = (load_prediction(f) for f in tqdm(files, desc="meta protocol", unit="frame", disable=not progress))
    data = collect(frames, sorted(wanted), params or SegmentParams(threshold=0.0), protocol)
    result = run_protocol(
        data,
        reference_threshold=float(np.float32(reference_threshold)),
        folds=folds,
        c=c,
        seed=seed,
        deployed=deployed,
        score=score,
        note=note,
    )
    return result, data
