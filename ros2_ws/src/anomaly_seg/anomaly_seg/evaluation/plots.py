"""PNG figures for evaluation reports (matplotlib with the Agg backend, imported lazily; no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from anomaly_seg.labels import colorize
from anomaly_seg.metrics.pixel import PixelCurves, PixelMetricsResult
from anomaly_seg.vocabulary import GT_ANOMALY, GT_VOID


def save_curves(
    path_pr: str | Path,
    path_roc: str | Path,
    curves: Mapping[str, PixelCurves],
    results: Mapping[str, PixelMetricsResult] | None = None,
    title: str = "",
) -> tuple[Path, Path]:
    """Precision-recall and ROC curves of several scores, one line each (legend: AP / FPR95 when ``results``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = (Path(path_pr), Path(path_roc))
    for path, kind in zip(paths, ("pr", "roc")):
        fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
        for name, c in curves.items():
            r = results.get(name) if results else None
            if kind == "pr":
                label = f"{name} (AP {100 * r.ap:.1f})" if r else name
                ax.plot(c.recall, c.precision, label=label)
            else:
                label = f"{name} (AUROC {100 * r.auroc:.1f}, FPR95 {100 * r.fpr95:.1f})" if r else name
                ax.plot(c.fpr, c.tpr, label=label)
        if kind == "pr":
            ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
        else:
            ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
            ax.axhline(0.95, color="0.7", lw=0.8, ls=":")
            ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.02))
        ax.set_title(f"{title} {'precision-recall' if kind == 'pr' else 'ROC'}".strip())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left" if kind == "pr" else "lower right")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
    return paths


def save_overlay(
    path: str | Path,
    image: np.ndarray,
    semantic: np.ndarray,
    score: np.ndarray,
    threshold: float,
    anomaly_gt: np.ndarray | None = None,
) -> Path:
    """One PNG row: input | semantic colours | anomaly score heat map with the threshold mask outlined |
    ground truth (when given). All panels at the size of ``image`` (RGB uint8)."""
    h, w = image.shape[:2]

    def fit(a: np.ndarray, interp: int = cv2.INTER_NEAREST) -> np.ndarray:
        return a if a.shape[:2] == (h, w) else cv2.resize(a, (w, h), interpolation=interp)

    finite = np.nan_to_num(score.astype(np.float32))
    lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    norm = np.clip((finite - lo) / max(hi - lo, 1e-6), 0, 1)
    heat = cv2.cvtColor(cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    mask = (score >= threshold).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    heat = np.ascontiguousarray(heat)
    cv2.drawContours(heat, contours, -1, (0, 255, 0), 1)
    panels = [image, fit(colorize(semantic)), fit(heat, cv2.INTER_LINEAR)]
    if anomaly_gt is not None:
        gt = np.zeros((*anomaly_gt.shape, 3), np.uint8)
        gt[anomaly_gt == GT_ANOMALY] = (255, 64, 64)
        gt[anomaly_gt == GT_VOID] = (90, 90, 90)
        panels.append(fit(gt))
    row = np.concatenate(panels, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))
    return path


def save_f1_over_tau(path: str | Path, rows: list[dict[str, object]], title: str = "") -> Path:
    """F1 over the sIoU/PPV threshold tau, one line per score threshold (the SMIYC component metrics)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    for row in rows:
        taus = np.asarray(row["taus"], np.float64)
        f1 = np.asarray([np.nan if v is None else v for v in row["f1"]], np.float64)  # type: ignore[attr-defined]
        ax.plot(taus, f1, marker="o", label=f"threshold {row['threshold']:g}: mean F1 {row['mean_f1']:.3f}")
    ax.set_xlabel("tau (sIoU for TP/FN, PPV for FP)")
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1)
    return _save(fig, ax, title or "component F1 over tau", path)


def _save(fig: Any, ax: Any, title: str, path: str | Path, legend_loc: str = "best") -> Path:
    """Grid, legend and title on ``ax``, then ``fig`` written to ``path`` (folders created) and closed."""
    import matplotlib.pyplot as plt

    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc=legend_loc)
    ax.set_title(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def save_distance_plot(path: str | Path, pairs: np.ndarray, title: str = "") -> Path:
    """Estimated against stereo distance, one dot per matched obstacle, with the diagonal and +-10 %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 4.5), dpi=120)
    top = float(max(pairs[:, 0].max(), 1.0)) * 1.3 if len(pairs) else 1.0  # the stereo range sets the scale
    line = np.array([0.0, top])
    ax.plot(line, line, color="black", lw=1, label="estimate = stereo")
    ax.fill_between(line, 0.9 * line, 1.1 * line, color="grey", alpha=0.2, label="+-10 %")
    inside = pairs[:, 1] <= top
    ax.scatter(pairs[inside, 0], pairs[inside, 1], s=8, alpha=0.7, label=f"{int(inside.sum())} obstacles")
    if not inside.all():
        far = pairs[~inside]
        ax.scatter(far[:, 0], np.full(len(far), top), marker="^", color="C3", s=14, label=f"{len(far)} beyond the axis")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("stereo distance ahead of the camera (m)")
    ax.set_ylabel("flat-ground estimate (m)")
    return _save(fig, ax, title or "obstacle distance", path, legend_loc="upper left")
