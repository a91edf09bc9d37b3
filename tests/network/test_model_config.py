"""ModelConfig: the shipped YAMLs load, round-trip, and every invalid value names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_seg.errors import ConfigError
from anomaly_seg.network.config import ModelConfig, default_blocks

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_load_and_round_trip(path: Path) -> None:
    config = ModelConfig.from_yaml(path)
    assert config.name == path.stem
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_expected_variants() -> None:
    variants = {p.stem: ModelConfig.from_yaml(p).variant for p in CONFIGS.glob("paper_*.yaml")}
    assert variants == {"paper_vitb14_dd": "D-D", "paper_vitb14_gd": "G-D", "paper_vitb14_gg": "G-G"}
    default = ModelConfig.from_yaml(CONFIGS / "realtime_vits14_dd.yaml")
    assert default.backbone.name == "vits14" and default.input.size == (518, 1036) and not default.sliding.enabled


def test_default_blocks_follow_the_reference() -> None:
    assert default_blocks(12) == (1, 4, 8, 11)
    assert default_blocks(4) == (0, 1, 2, 3)
    assert default_blocks(24)[-1] == 23 and default_blocks(40)[-1] == 39


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"decoder": {"chanels": 64}}, "decoder.chanels: unknown key"),
        ({"decoder": {"channels": "wide"}}, "decoder.channels: expected an integer"),
        ({"decoder": {"norm": "sync"}}, "decoder.norm: 'sync' is not one of"),
        ({"input": {"size": [500, 1036]}}, "input.size: [500, 1036] must be positive multiples"),
        ({"input": {"size": [518]}}, "input.size: expected 2 values"),
        ({"head": {"type": "mlp"}}, "head.type: 'mlp' is not one of"),
        ({"head": {"momentum": 1.5}}, "head.momentum"),
        ({"uem": {"head": "gmm", "num_components": 0}}, "uem.num_components: must be > 0"),
        ({"backbone": {"name": "resnet50"}}, "backbone.name: unknown backbone"),
        ({"backbone": {"name": "vits14", "blocks": [1, 4, 8, 12]}}, "backbone.blocks"),
        ({"backbone": {"frozen": "yes"}}, "backbone.frozen: expected true or false"),
        ({"backbone": {"name": "vits14", "patch_size": 8}}, "backbone.patch_size: vits14 is an official"),
        ({"backbone": {"name": "vitb14", "stem": "conv"}}, "backbone.stem: vitb14 is an official"),
        ({"backbone": {"name": "vit_tiny", "stem": "resnet"}}, "backbone.stem: 'resnet' is not one of"),
        (
            {"backbone": {"name": "vit_tiny", "patch_size": 8}, "input": {"size": [112, 228]}},
            "input.size: [112, 228] must be positive multiples of the patch size 8",
        ),
        ({"sliding": {"stride": [600, 140]}}, "sliding.stride"),
        ({"extra": 1}, "extra: unknown key"),
    ],
)
def test_invalid_values_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_dict(data)
    assert message in str(info.value)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("decoder: {channels: -1}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: decoder.channels: must be > 0"):
        ModelConfig.from_yaml(path)
    path.write_text("decoder: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        ModelConfig.from_yaml(path)
