"""The one evaluation report: ``metrics.json`` (one schema), ``report.md`` (one layout) and its figures.

Written by ``python -m training evaluate`` (a dataset through the model), ``anomaly-seg evaluate`` (a replayed
bag) and the live evaluator node; :func:`metrics_document` builds the JSON of all three, :func:`write_report` the
files. Keys a source has no value for are empty (``{}``, ``[]``) or null, never missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from anomaly_seg.evaluation.plots import save_curves, save_distance_plot, save_f1_over_tau
from anomaly_seg.files import json_safe, write_json
from anomaly_seg.metrics.pixel import PixelCurves, PixelMetricsResult
from anomaly_seg.metrics.size_bins import size_table

LATENCY_PERCENTILES = (50, 90, 95, 99)
#: node diagnostics shown in the report (all of them are in metrics.json)
NODE_KEYS = ("backend", "network_size", "input_size", "meta_classifier", "frames_in", "frames_processed",
             "frames_failed", "frames_dropped")  # fmt: skip
SEGMENT_NOTE = (
    "`rescored`: 8-connected components of the thresholded score, no meta classifier (meta `yes`: the meta "
    "classifier applied to them). `published`: the segments the node published (after its meta classifier when "
    "`meta` is yes). TP: overlaps a ground-truth obstacle; FN: obstacle hit by no segment; ignored: on void only."
)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """GitHub Markdown table; floats printed with 2 decimals; ``align`` one of ``l r c`` per column (default:
    first column left, others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}

    def cell(v: object) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pixel_metrics_table(results: Mapping[str, PixelMetricsResult]) -> str:
    """One row per score: AP, FPR95, AUROC in percent, and the pixel counts."""
    rows = [[name, 100 * r.ap, 100 * r.fpr95, 100 * r.auroc, r.n_positive, r.n_negative] for name, r in results.items()]
    return markdown_table(["score", "AP %", "FPR95 %", "AUROC %", "anomaly px", "inlier px"], rows)


def component_section(rows: Sequence[Mapping[str, Any]], rules: Mapping[str, Any], plot: str | None) -> list[str]:
    """Report lines for the SegmentMeIfYouCan component metrics (one row per score threshold) and the rules."""

    def pct(v: Any) -> object:
        return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else 100 * float(v)

    header = ["threshold", "size filter", "GT comps", "pred comps", "sIoU %", "PPV %"]
    header += ["F1(0.25) %", "F1(0.50) %", "F1(0.75) %", "mean F1 %"]
    body = []
    for r in rows:
        f1 = r["f1"]
        counts = [f"{r['threshold']:g}", r["size_filter"], r["gt_components"], r["predicted_components"]]
        body.append([*counts, pct(r["siou"]), pct(r["ppv"]), pct(f1[0]), pct(f1[5]), pct(f1[10]), pct(r["mean_f1"])])
    table = markdown_table(header, body, "rlrrrrrrrr")
    lines = [
        "## Obstacle components (SegmentMeIfYouCan)",
        "",
        "Components of `score > threshold` with void set to 0 first; sIoU per ground-truth component, PPV per "
        "predicted component, F1 at tau = 0.25 ... 0.75 and its mean over the 11 taus, as the benchmark defines "
        "them (docs/evaluation.md). Segment counts above: "
        f"protocol `{rules['protocol']}` (void {rules['void']}; {rules['counted']} counted).",
        "",
        table,
    ]
    if plot:
        lines += [f"![F1 over tau]({plot})", ""]
    return lines


def segment_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table of ``metrics.json`` segment rows (one per source, threshold and meta variant)."""
    header = ["segments", "threshold", "meta", "TP", "FP", "FN", "ignored", "precision", "recall", "F1"]
    body = [
        [r["source"], f"{r['threshold']:g}", "yes" if r["meta"] else "no", r["tp"], r["fp"], r["fn"], r["ignored"],
         f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", f"{100 * r['road_miss_rate']:.3f} %"]
        for r in rows
    ]  # fmt: skip
    return markdown_table([*header, "road miss rate"], body, "lrlrrrrrrrr")


def metrics_document(
    *,
    source: str,
    frames: int,
    score_threshold: float | None,
    pixel: Mapping[str, Mapping[str, Any]],
    segments: Sequence[Mapping[str, Any]],
    segment_rules: Mapping[str, Any],
    components: Sequence[Mapping[str, Any]],
    mode: str | None = None,
    unmatched: Mapping[str, int] | None = None,
    latency_ms: Mapping[str, Mapping[str, float]] | None = None,
    node: Mapping[str, str] | None = None,
    miou: float | None = None,
    size_bins: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``metrics.json`` document (JSON-safe: NaN/inf become null).

    ``frames``: frames evaluated; ``unmatched``: the stamp matcher's ``ground_truth_without_outputs``,
    ``outputs_without_ground_truth`` and ``outputs_resized_to_ground_truth`` (0 for a dataset).
    """
    keys = ("ground_truth_without_outputs", "outputs_without_ground_truth", "outputs_resized_to_ground_truth")
    counts = {key: int((unmatched or {}).get(key, 0)) for key in keys}
    doc: dict[str, Any] = {
        "source": source,
        "mode": mode,
        "frames": {"evaluated": frames, **counts},
        "score_threshold": score_threshold,
        "pixel": dict(pixel),
        "segments": list(segments),
        "segment_rules": dict(segment_rules),
        "components": list(components),
        "size_bins": list(size_bins),
        "latency_ms": dict(latency_ms or {}),
        "node": dict(node or {}),
        "miou": miou,
        **(extra or {}),
    }
    safe: dict[str, Any] = json_safe(doc)
    return safe


def distance_section(distance: Mapping[str, Any]) -> list[str]:
    """The report's "Obstacle distance" section from ``metrics["distance"]``."""
    lines = ["## Obstacle distance (flat ground vs stereo)", ""]
    if "off" in distance:
        return [*lines, f"Not evaluated: {distance['off']}.", ""]
    left_out = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in distance["left_out"].items())
    lines += [
        f"{distance['obstacles']} published obstacles over {distance['frames']} frames, each against the ground-truth "
        "obstacle it overlaps most: estimate = the `obstacles_3d` rule (lowest pixels on flat ground) with the "
        "dataset's calibration of the frame; reference = median stereo distance of the ground-truth obstacle's "
        f"pixels; both ahead of the camera. Left out: {left_out}. Bias > 0: estimated too far.",
        "",
    ]

    def pct(v: Any) -> object:
        return "" if v is None else f"{100 * v:.1f}"

    rows = [
        [
            r["band_m"],
            r["obstacles"],
            "" if r.get("median_abs_error_m") is None else f"{r['median_abs_error_m']:.2f}",
            pct(r.get("median_abs_relative")),
            pct(r.get("p90_abs_relative")),
            "" if r.get("median_relative") is None else f"{100 * r['median_relative']:+.1f}",
        ]
        for r in distance["bands"]
    ]
    header = ["band (m)", "obstacles", "median abs error (m)", "median abs error %", "p90 abs error %", "bias %"]
    return [*lines, markdown_table(header, rows)]


def write_report(
    out_dir: str | Path,
    metrics: Mapping[str, Any],
    *,
    kind: str,
    title: str,
    summary: str,
    pixel_results: Mapping[str, PixelMetricsResult],
    curves: Mapping[str, PixelCurves],
    contact_sheet: np.ndarray | None = None,
    distance_pairs: np.ndarray | None = None,
) -> list[Path]:
    """``metrics.json``, ``report.md``, ``pr.png`` / ``roc.png`` (when both classes occur), ``f1_over_tau.png``
    (with component rows), ``contact_sheet.png`` (when given) and ``distance.png`` (obstacles with a stereo distance)
    in ``out_dir``; returns the files written.

    ``kind`` and ``title`` make the heading (``Evaluation <title>``, ``Replay evaluation <title>``); ``summary`` says
    what was evaluated and how.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [write_json(out / "metrics.json", metrics)]
    if any(r.n_positive and r.n_negative for r in pixel_results.values()):
        files += list(save_curves(out / "pr.png", out / "roc.png", curves, pixel_results, title))
    if metrics["components"]:
        files.append(save_f1_over_tau(out / "f1_over_tau.png", metrics["components"], title))
    if contact_sheet is not None:
        cv2.imwrite(str(out / "contact_sheet.png"), contact_sheet)
        files.append(out / "contact_sheet.png")
    if distance_pairs is not None and len(distance_pairs):
        files.append(save_distance_plot(out / "distance.png", distance_pairs, title))
    lines = [f"# {kind} {title}".rstrip(), "", summary, "", "## Pixel metrics", "", pixel_metrics_table(pixel_results)]
    lines += ["## Obstacle segments (score >= threshold)", "", SEGMENT_NOTE, "", segment_table(metrics["segments"])]
    if metrics["components"]:
        lines += component_section(metrics["components"], metrics["segment_rules"], None)
    if metrics.get("size_bins"):
        lines += size_table(metrics["size_bins"])
    if metrics.get("distance"):
        lines += distance_section(metrics["distance"])
    if metrics["miou"] is not None:
        lines += ["## Inlier segmentation", "", f"Inlier mIoU: {100 * metrics['miou']:.2f} %", ""]
    if metrics["latency_ms"]:
        rows = [[name, *(stats.get(f"p{q}", 0.0) for q in LATENCY_PERCENTILES), stats.get("max", 0.0)]
                for name, stats in metrics["latency_ms"].items()]  # fmt: skip
        lines += ["## Latency (ms)", "", markdown_table(["topic", "p50", "p90", "p95", "p99", "max"], rows)]
    if metrics["node"]:
        rows = [[k, metrics["node"][k]] for k in NODE_KEYS if k in metrics["node"]]
        lines += ["## Node", "", markdown_table(["key", "value"], rows, "ll")]
    images = [f"![{p.stem}]({p.name})" for p in files if p.suffix == ".png"]
    lines += ["## Figures", "", " ".join(images), ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    files.append(out / "report.md")
    return files
