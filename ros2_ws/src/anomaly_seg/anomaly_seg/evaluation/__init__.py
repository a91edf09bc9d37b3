"""Report helpers shared by the dataset evaluator (``python -m training evaluate``) and the bag evaluator:
PR/ROC curve PNGs, overlay PNGs and Markdown tables."""

from anomaly_seg.evaluation.plots import save_curves, save_overlay
from anomaly_seg.evaluation.report import markdown_table, pixel_metrics_table

__all__ = ["markdown_table", "pixel_metrics_table", "save_curves", "save_overlay"]
