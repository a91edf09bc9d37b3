"""Model metadata stored in the ONNX file (``metadata_props``) under ``anomaly_seg.*`` keys.

Every value is a string (ONNX allows nothing else); structured values are JSON. The same dict is what
``Engine.metadata`` returns, so the node can read class names, the network size and the suggested
score threshold from whichever backend it runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomaly_seg.errors import ModelFileError

PREFIX = "anomaly_seg."
FORMAT_VERSION = "1"

KEY_FORMAT_VERSION = PREFIX + "format_version"
KEY_NETWORK_SIZE = PREFIX + "network_size"  # "HxW"
KEY_BATCH_SIZE = PREFIX + "batch_size"
KEY_MODE = PREFIX + "mode"  # "full" | "sliding"
KEY_CLASS_NAMES = PREFIX + "class_names"  # JSON list
KEY_PALETTE = PREFIX + "palette"  # JSON list of [r, g, b]
KEY_MEAN = PREFIX + "mean"  # JSON list, as in the model config (input.mean)
KEY_STD = PREFIX + "std"  # JSON list, as in the model config (input.std)
KEY_SCORE_THRESHOLD = PREFIX + "score_threshold"  # suggested anomaly threshold (float)
KEY_CONFIG = PREFIX + "config"  # JSON of ModelConfig.to_dict()
KEY_CHECKPOINT = PREFIX + "checkpoint"  # file name of the weights, or "random"
KEY_GIT_REVISION = PREFIX + "git_revision"
KEY_TORCH_VERSION = PREFIX + "torch_version"
KEY_EXPORT_PARITY = PREFIX + "export_parity"  # JSON: torch vs ONNX Runtime errors measured at export
KEY_FP32_NODES = PREFIX + "fp32_nodes"  # JSON list: GMM-head nodes an fp16 graph keeps in fp32
KEY_OPERATING_POINT = PREFIX + "operating_point"  # JSON {"threshold", "meta_threshold", "meta_sha256"}
KEY_PRECISION = PREFIX + "precision"  # "fp32" | "fp16" | "int8": the graph's own types (absent = fp32)


@dataclass(frozen=True)
class ModelMetadata:
    """Typed view of the ``anomaly_seg.*`` metadata of an exported model."""

    network_size: tuple[int, int]
    batch_size: int = 1
    mode: str = "full"
    class_names: tuple[str, ...] = ()
    palette: tuple[tuple[int, int, int], ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    score_threshold: float | None = None
    config: dict[str, Any] | None = None
    checkpoint: str = ""
    git_revision: str = ""
    torch_version: str = ""
    export_parity: dict[str, Any] | None = None
    precision: str = "fp32"
    #: the meta classifier's operating point chosen on validation (``export --meta``), with its file's sha256
    operating_point: dict[str, Any] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_props(self) -> dict[str, str]:
        """String key/value pairs for ``onnx.ModelProto.metadata_props``."""
        props = {
            KEY_FORMAT_VERSION: FORMAT_VERSION,
            KEY_NETWORK_SIZE: f"{self.network_size[0]}x{self.network_size[1]}",
            KEY_BATCH_SIZE: str(self.batch_size),
            KEY_MODE: self.mode,
            KEY_CLASS_NAMES: json.dumps(list(self.class_names)),
            KEY_PALETTE: json.dumps([list(c) for c in self.palette]),
            KEY_MEAN: json.dumps(list(self.mean)),
            KEY_STD: json.dumps(list(self.std)),
            KEY_CHECKPOINT: self.checkpoint,
            KEY_GIT_REVISION: self.git_revision,
            KEY_TORCH_VERSION: self.torch_version,
            KEY_PRECISION: self.precision,
        }
        if self.score_threshold is not None:
            props[KEY_SCORE_THRESHOLD] = repr(float(self.score_threshold))
        if self.config is not None:
            props[KEY_CONFIG] = json.dumps(self.config, sort_keys=True)
        if self.export_parity is not None:
            props[KEY_EXPORT_PARITY] = json.dumps(self.export_parity, sort_keys=True)
        if self.operating_point is not None:
            props[KEY_OPERATING_POINT] = json.dumps(self.operating_point, sort_keys=True)
        props.update(self.extra)
        return props

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "model") -> ModelMetadata:
        """Parse ``anomaly_seg.*`` props; a malformed value raises :class:`ModelFileError` naming the key."""
        if KEY_NETWORK_SIZE not in props:
            raise ModelFileError(f"{source}: no '{KEY_NETWORK_SIZE}' metadata (not exported by anomaly_seg?)")

        def load(key: str, default: Any) -> Any:
            if key not in props:
                return default
            try:
                return json.loads(props[key])
            except json.JSONDecodeError as exc:
                raise ModelFileError(f"{source}: metadata '{key}' is not valid JSON: {exc}") from exc

        try:
            network_size = parse_size(props[KEY_NETWORK_SIZE])
            batch_size = int(props.get(KEY_BATCH_SIZE, "1"))
            threshold = float(props[KEY_SCORE_THRESHOLD]) if KEY_SCORE_THRESHOLD in props else None
        except ValueError as exc:
            raise ModelFileError(f"{source}: malformed anomaly_seg metadata: {exc}") from exc
        point = load(KEY_OPERATING_POINT, None)
        if point is not None:
            try:
                t, m = float(point["threshold"]), float(point["meta_threshold"])
                if not (math.isfinite(t) and 0.0 <= m <= 1.0):
                    raise ValueError(f"threshold {t}, meta_threshold {m}")
            except (TypeError, KeyError, ValueError) as exc:
                raise ModelFileError(f"{source}: metadata '{KEY_OPERATING_POINT}' is malformed ({exc!r})") from exc
        known = {v for k, v in globals().items() if k.startswith("KEY_")}
        return cls(
            network_size=network_size,
            batch_size=batch_size,
            mode=props.get(KEY_MODE, "full"),
            class_names=tuple(load(KEY_CLASS_NAMES, [])),
            palette=tuple(tuple(int(v) for v in c) for c in load(KEY_PALETTE, [])),  # type: ignore[misc]
            mean=tuple(float(v) for v in load(KEY_MEAN, [])),
            std=tuple(float(v) for v in load(KEY_STD, [])),
            score_threshold=threshold,
            config=load(KEY_CONFIG, None),
            checkpoint=props.get(KEY_CHECKPOINT, ""),
            git_revision=props.get(KEY_GIT_REVISION, ""),
            torch_version=props.get(KEY_TORCH_VERSION, ""),
            export_parity=load(KEY_EXPORT_PARITY, None),
            precision=props.get(KEY_PRECISION, "fp32"),
            operating_point=point,
            extra={k: v for k, v in props.items() if k.startswith(PREFIX) and k not in known},
        )


def parse_size(text: str) -> tuple[int, int]:
    """``"518x1036"`` -> ``(518, 1036)`` (height, width); raises ValueError on anything else."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size must look like HxW (e.g. 518x1036), got {text!r}")
    h, w = (int(p) for p in parts)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return h, w


def read_onnx_props(path: str | Path) -> dict[str, str]:
    """All ``metadata_props`` of an ONNX file (weights stored externally are not loaded)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: ONNX file not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ...: all mean "not a usable ONNX file"
        raise ModelFileError(f"{path}: not a readable ONNX file: {exc}") from exc
    return {p.key: p.value for p in model.metadata_props}


def precision_onnx(onnx_path: str | Path, precision: str) -> Path:
    """The ONNX of ``precision`` that belongs to ``onnx_path``: the file itself when it is of that precision, else
    its sibling ``<stem>.<precision>.onnx`` (``model.onnx`` is fp32, ``model.fp16.onnx`` and ``model.int8.onnx`` are
    written by ``python -m training export --precision``). :class:`ModelFileError` says what to export when missing.
    """
    path = Path(onnx_path)
    own = read_onnx_props(path).get(KEY_PRECISION, "fp32")
    if own == precision:
        return path
    stem = path.stem
    for other in ("fp32", "fp16", "int8"):
        stem = stem.removesuffix(f".{other}")
    sibling = path.with_name(f"{stem}.onnx" if precision == "fp32" else f"{stem}.{precision}.onnx")
    if not sibling.is_file():
        raise ModelFileError(
            f"{path} is the {own} model and there is no {precision} model next to it ({sibling.name}); export it "
            f"with `python -m training export ... --out {path.with_name(stem + '.onnx')} --precision {precision}`"
        )
    found = read_onnx_props(sibling).get(KEY_PRECISION, "fp32")
    if found != precision:
        raise ModelFileError(f"{sibling}: holds a {found} model, not {precision}")
    return sibling
