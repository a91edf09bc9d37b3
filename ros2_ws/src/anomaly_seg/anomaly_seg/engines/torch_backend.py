"""torch backend for evaluation and development: the eager model behind the same Engine contract.

Loads a ``.safetensors`` checkpoint (config in its metadata) or builds a config YAML with random weights.
fp16 is offered on CUDA only (CPU half precision is slow and not what the engines run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from anomaly_seg.engines.base import EngineOutputs
from anomaly_seg.engines.contract import EngineBase
from anomaly_seg.errors import ConfigError, EngineError, ModelFileError

if TYPE_CHECKING:
    import torch


class TorchEngine(EngineBase):
    """An :class:`~anomaly_seg.engines.base.Engine` around an eager ``AnomalySegmenter``.

    ``model(images)`` must take uint8 ``[B, H, W, 3]`` and return ``(semantic, anomaly_score, uncertainty)``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        input_size: tuple[int, int],
        batch_size: int = 1,
        device: str = "cpu",
        precision: str = "fp32",
        metadata: dict[str, str] | None = None,
        check_finite: bool = True,
    ) -> None:
        import torch

        if precision not in ("fp32", "fp16"):
            raise ConfigError(f"precision must be fp32 or fp16, got {precision!r}")
        self._device = torch.device(device)
        if precision == "fp16" and self._device.type != "cuda":
            raise ConfigError("torch backend: fp16 needs device=cuda (use fp32 on CPU)")
        self._precision = precision
        self._model = model.eval().to(self._device)
        self._size = (int(input_size[0]), int(input_size[1]))
        self._batch = int(batch_size)
        self._metadata = dict(metadata or {})
        self._check_finite = check_finite

    @classmethod
    def from_file(
        cls, path: str | Path, device: str = "cpu", precision: str = "fp32", batch_size: int = 1
    ) -> TorchEngine:
        """Build from a ``.safetensors`` checkpoint or a config ``.yaml`` (random weights)."""
        from anomaly_seg import network

        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: model file not found")
        if path.suffix == ".safetensors":
            model, config = network.load_checkpoint(path)
            checkpoint = path.name
        elif path.suffix in (".yaml", ".yml"):
            config = network.ModelConfig.from_yaml(path)
            model = network.build_model(config)
            checkpoint = "random"
        else:
            raise ModelFileError(f"{path}: torch backend takes a .safetensors checkpoint or a config .yaml")
        size = (int(config.input.size[0]), int(config.input.size[1]))
        meta = {
            "anomaly_seg.network_size": f"{size[0]}x{size[1]}",
            "anomaly_seg.config": json.dumps(config.to_dict(), sort_keys=True),
            "anomaly_seg.checkpoint": checkpoint,
        }
        return cls(model, size, batch_size, device, precision, meta)

    @property
    def name(self) -> str:
        return f"torch:{self._device.type}:{self._precision}"

    @property
    def model(self) -> torch.nn.Module:
        return self._model

    def _run(self, images: np.ndarray) -> EngineOutputs:
        import torch

        x = torch.from_numpy(images).to(self._device)
        try:
            with torch.inference_mode(), torch.autocast(self._device.type, torch.float16, self._precision == "fp16"):
                semantic, score, uncertainty = self._model(x)
        except RuntimeError as exc:
            raise EngineError(f"{self.name}: inference failed: {exc}") from exc
        return EngineOutputs(
            semantic.to(torch.uint8).cpu().numpy(),
            score.float().cpu().numpy(),
            uncertainty.float().cpu().numpy(),
        )
