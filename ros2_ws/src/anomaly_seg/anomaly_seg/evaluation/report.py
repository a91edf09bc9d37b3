"""Markdown tables for evaluation reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
