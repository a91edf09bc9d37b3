"""FLOP counts with :class:`torch.utils.flop_counter.FlopCounterMode` (2 FLOPs per multiply-add), on the meta device.

Counts matmuls, convolutions and attention (what FlopCounterMode knows); element-wise ops are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from anomaly_seg.network.config import BackboneConfig, ModelConfig, SlidingConfig
from anomaly_seg.network.model import AnomalySegmenter
from anomaly_seg.network.sliding import SlidingWindowSegmenter

PARTS = ("backbone", "decoder", "head", "uem")


@dataclass(frozen=True)
class FlopReport:
    """FLOPs of one frame: total, per model part, number of windows (1 for full frame)."""

    total: int
    parts: dict[str, int]
    windows: int

    @property
    def tflop(self) -> float:
        """Total in TFLOP."""
        return self.total / 1e12


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> tuple[int, dict[str, int]]:
    """Run ``module(*inputs)`` under FlopCounterMode; returns the total and, for an
    :class:`AnomalySegmenter` (or a sliding wrapper of one), the FLOPs per part (backbone, decoder, head, uem)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*inputs)
    per_module = counter.get_flop_counts()
    total = int(counter.get_total_flops())
    parts: dict[str, int] = {}
    for root in ("AnomalySegmenter", "SlidingWindowSegmenter.model"):
        for part in PARTS[1:]:
            if f"{root}.{part}" in per_module:
                parts[part] = int(sum(per_module[f"{root}.{part}"].values()))
    if parts:  # the backbone is called through forward_blocks (no module hook): it is the remainder
        parts = {"backbone": total - sum(parts.values()), **parts}
    return total, parts


def frame_flops(config: ModelConfig, image_size: tuple[int, int] | None = None) -> FlopReport:
    """FLOPs for one frame of ``image_size`` (default: the network size): full frame at the network size, or
    sliding windows when ``config.sliding.enabled`` and the frame differs from the window."""
    size = image_size or config.input.size
    with torch.device("meta"):
        model = AnomalySegmenter(config).eval()
        image = torch.zeros(1, *size, 3, dtype=torch.uint8)
    module: nn.Module = model
    windows = 1
    if config.sliding.enabled and size != config.input.size:
        sliding = SlidingWindowSegmenter(model, size).to("meta")
        module, windows = sliding, sliding.num_windows
    elif size != config.input.size:
        raise ValueError(f"full-frame model runs at {config.input.size}; resize frames of {size} first")
    total, parts = count_flops(module, image)
    return FlopReport(total, parts, windows)


def reference_flops(
    config: ModelConfig, frame: tuple[int, int] = (1024, 2048), stride: tuple[int, int] = (140, 140)
) -> FlopReport:
    """The reference implementation's cost: sliding windows of ``config.input.size`` over ``frame`` with a SECOND
    backbone pass per window for the UEM (the reference runs the backbone once per module)."""
    sliding = replace(config, sliding=SlidingConfig(enabled=True, stride=stride))
    report = frame_flops(sliding, frame)
    extra = report.parts.get("backbone", 0)
    parts = dict(report.parts, backbone=2 * extra)
    return FlopReport(report.total + extra, parts, report.windows)


def paper_reference_config() -> ModelConfig:
    """ViT-B/14 D-D at 518x1036 (the configuration of the reference numbers)."""
    return ModelConfig(name="reference_vitb14_dd", backbone=BackboneConfig(name="vitb14"))
