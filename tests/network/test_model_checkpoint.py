"""safetensors checkpoints: exact round trip of weights and config, no pickle, clear errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from anomaly_seg.errors import ModelFileError
from anomaly_seg.network.checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.model import build_model

TINY = Path(__file__).resolve().parents[2] / "models" / "configs" / "tiny.yaml"


def test_round_trip_restores_weights_buffers_and_outputs(tmp_path: Path) -> None:
    config = ModelConfig.from_yaml(TINY)
    config = replace(config, head=replace(config.head, type="gmm", num_components=3))
    model = build_model(config).eval()
    with torch.no_grad():
        model.head.means.mul_(0.5)  # GMM statistics are buffers and must survive too
    path = save_checkpoint(tmp_path / "m.safetensors", model, config, extra={"stage": 1, "iteration": 7})
    loaded, loaded_config = load_checkpoint(path)
    assert loaded_config == config
    assert read_checkpoint_metadata(path)[1] == {"stage": 1, "iteration": 7}
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    x = torch.randint(0, 256, (1, 112, 224, 3), dtype=torch.uint8)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x)):
            assert torch.equal(a, b)
    assert b"pickle" not in path.read_bytes()[:200] and path.read_bytes()[8:9] == b"{"  # JSON header


def test_bad_files_raise_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_checkpoint(tmp_path / "absent.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match=r"junk\.safetensors"):
        load_checkpoint(junk)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(ModelFileError, match="not an anomaly_seg checkpoint"):
        load_checkpoint(foreign)
