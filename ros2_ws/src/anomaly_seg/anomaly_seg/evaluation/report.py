"""Markdown tables for evaluation reports."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from anomaly_seg.metrics.pixel import PixelMetricsResult


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
