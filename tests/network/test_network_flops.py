"""FLOP budget of the default config (FlopCounterMode on the meta device, real size) and the reference cost."""

from __future__ import annotations

from pathlib import Path

from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.flops import frame_flops, paper_reference_config, reference_flops

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"


def test_default_config_is_within_its_flop_budget_at_518x1036() -> None:
    report = frame_flops(ModelConfig.from_yaml(CONFIGS / "realtime_vits14_dd.yaml"))
    assert report.windows == 1
    assert report.tflop <= 0.4
    assert 0.22e12 < report.parts["backbone"] < 0.28e12  # ViT-S/14 alone is ~0.25 TFLOP here
    assert sum(report.parts.values()) == report.total


def test_reference_setting_costs_two_orders_of_magnitude_more() -> None:
    report = reference_flops(paper_reference_config())
    assert report.windows == 45
    assert 46 <= report.tflop <= 80  # DESIGN.md: the reference costs ~46-80 TFLOP per 1024x2048 frame
