"""torch backend: contract, input checks and the config/checkpoint loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_seg.engines import Engine, load_engine
from anomaly_seg.engines.torch_backend import TorchEngine
from anomaly_seg.errors import ConfigError, EngineError, ModelFileError

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "models" / "configs" / "tiny.yaml"


def test_wraps_a_module_behind_the_engine_contract(toy_model: torch.nn.Module, toy_size: tuple[int, int]) -> None:
    engine = TorchEngine(toy_model, toy_size)
    assert isinstance(engine, Engine) and engine.name == "torch:cpu:fp32"
    image = np.random.default_rng(0).integers(0, 256, (1, *toy_size, 3), dtype=np.uint8)
    out = engine.infer(image)
    with torch.inference_mode():
        sem, score, _ = toy_model(torch.from_numpy(image))
    np.testing.assert_array_equal(out.semantic, sem.numpy())
    np.testing.assert_array_equal(out.anomaly_score, score.numpy())
    assert out.uncertainty.shape == (1, 3, *toy_size)
    with pytest.raises(EngineError, match="uint8"):
        engine.infer(image.astype(np.float32))


def test_fp16_needs_cuda(toy_model: torch.nn.Module) -> None:
    with pytest.raises(ConfigError, match="fp16 needs device=cuda"):
        TorchEngine(toy_model, (28, 42), precision="fp16")


def test_from_config_yaml_and_checkpoint(tmp_path: Path) -> None:
    if not TINY.is_file():
        pytest.skip(f"{TINY} not present")
    from anomaly_seg.network import AnomalySegmenter, ModelConfig, save_checkpoint

    engine = load_engine(TINY, backend="auto")
    assert isinstance(engine, TorchEngine) and engine.input_size == (112, 224)
    assert engine.metadata["anomaly_seg.checkpoint"] == "random"
    assert isinstance(engine.model, AnomalySegmenter)
    ck = save_checkpoint(tmp_path / "tiny.safetensors", engine.model, ModelConfig.from_yaml(TINY))
    from_ck = load_engine(ck)
    image = np.random.default_rng(0).integers(0, 256, (1, 112, 224, 3), dtype=np.uint8)
    np.testing.assert_allclose(from_ck.infer(image).anomaly_score, engine.infer(image).anomaly_score, atol=1e-5)
    with pytest.raises(ModelFileError, match="not found"):
        TorchEngine.from_file(tmp_path / "none.safetensors")
