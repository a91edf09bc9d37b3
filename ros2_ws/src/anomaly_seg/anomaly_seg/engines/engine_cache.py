"""TensorRT engine cache: when a serialised engine next to its ONNX can be reused (pure Python).

An engine is valid only for the TensorRT version, GPU (name and compute capability), precision, input
size and the exact ONNX it was built from. Those facts are stored in a sidecar JSON next to the engine
(``model.fp16.engine`` + ``model.fp16.engine.json``) together with the engine's own sha256, so a
truncated or replaced engine file is caught before TensorRT deserialises it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from anomaly_seg.errors import ModelFileError
from anomaly_seg.files import sha256_file

SIDECAR_VERSION = 1


@dataclass(frozen=True)
class EngineFingerprint:
    """Everything an engine depends on; two equal fingerprints mean the engine can be reused."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.7" for Orin
    precision: str
    input_size: tuple[int, int]
    batch_size: int
    onnx_sha256: str


@dataclass(frozen=True)
class Sidecar:
    """Contents of ``<engine>.json``."""

    fingerprint: EngineFingerprint
    engine_sha256: str
    onnx_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = {"sidecar_version": SIDECAR_VERSION, **asdict(self.fingerprint)}
        data.update(engine_sha256=self.engine_sha256, onnx_path=self.onnx_path, extra=self.extra)
        data["input_size"] = list(self.fingerprint.input_size)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> Sidecar:
        """Parse a sidecar; raises :class:`ModelFileError` naming ``source`` when it is corrupt."""
        try:
            data = json.loads(text)
            fp = EngineFingerprint(
                tensorrt_version=str(data["tensorrt_version"]),
                gpu_name=str(data["gpu_name"]),
                compute_capability=str(data["compute_capability"]),
                precision=str(data["precision"]),
                input_size=(int(data["input_size"][0]), int(data["input_size"][1])),
                batch_size=int(data["batch_size"]),
                onnx_sha256=str(data["onnx_sha256"]),
            )
            return cls(fp, str(data["engine_sha256"]), str(data.get("onnx_path", "")), dict(data.get("extra", {})))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ModelFileError(f"{source}: corrupt engine sidecar ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class CacheDecision:
    """Whether to (re)build the engine, and why (empty ``reasons`` when the cached engine is reused)."""

    rebuild: bool
    reasons: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "rebuild: " + "; ".join(self.reasons) if self.rebuild else "reuse cached engine"


def engine_paths(onnx_path: str | Path, precision: str) -> tuple[Path, Path]:
    """``model.onnx`` or ``model.fp16.onnx`` -> (``model.fp16.engine``, ``model.fp16.engine.json``)."""
    onnx_path = Path(onnx_path)
    stem = onnx_path.stem.removesuffix(f".{precision}")
    engine = onnx_path.with_name(f"{stem}.{precision}.engine")
    return engine, sidecar_path(engine)


def sidecar_path(engine_path: str | Path) -> Path:
    """The sidecar JSON of an engine file."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def timing_cache_path(onnx_path: str | Path) -> Path:
    """TensorRT timing cache kept next to the ONNX (shared by fp16 and fp32 builds)."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.stem + ".timing_cache")


def read_sidecar(path: str | Path) -> Sidecar:
    """Read a sidecar file (:class:`ModelFileError` when missing or corrupt)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read engine sidecar: {exc.strerror or exc}") from exc
    return Sidecar.from_json(text, str(path))


def write_sidecar(path: str | Path, sidecar: Sidecar) -> None:
    """Write a sidecar atomically (a crash mid-write never leaves a half file that looks valid)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(sidecar.to_json() + "\n", encoding="utf-8")
    tmp.replace(path)


def diff_fingerprints(cached: EngineFingerprint, wanted: EngineFingerprint) -> list[str]:
    """Human-readable differences, e.g. ``"TensorRT version 8.6.2 -> 10.3.0"``."""
    labels = {
        "onnx_sha256": "ONNX hash",
        "tensorrt_version": "TensorRT version",
        "gpu_name": "GPU",
        "compute_capability": "compute capability",
        "precision": "precision",
        "input_size": "input size",
        "batch_size": "batch size",
    }
    old, new = asdict(cached), asdict(wanted)
    out = []
    for key, label in labels.items():
        if old[key] != new[key]:
            a, b = old[key], new[key]
            if key == "onnx_sha256":
                a, b = str(a)[:12], str(b)[:12]
            out.append(f"{label} {a} -> {b}")
    return out


def decide(engine_path: str | Path, wanted: EngineFingerprint, force: bool = False) -> CacheDecision:
    """Reuse or rebuild the engine at ``engine_path`` for the ``wanted`` fingerprint.

    Reasons: forced, missing engine, missing/corrupt sidecar, engine hash mismatch (corrupt or replaced
    engine), and any fingerprint difference (ONNX hash, TensorRT version, GPU, precision, input size).
    """
    engine_path = Path(engine_path)
    reasons: list[str] = []
    if force:
        reasons.append("forced (force_engine_update)")
    if not engine_path.is_file():
        reasons.append(f"no engine at {engine_path}")
        return CacheDecision(True, tuple(reasons))
    side = sidecar_path(engine_path)
    if not side.is_file():
        reasons.append(f"no sidecar {side.name}")
        return CacheDecision(True, tuple(reasons))
    try:
        cached = read_sidecar(side)
    except ModelFileError as exc:
        reasons.append(str(exc))
        return CacheDecision(True, tuple(reasons))
    reasons.extend(diff_fingerprints(cached.fingerprint, wanted))
    if not reasons and sha256_file(engine_path) != cached.engine_sha256:
        reasons.append(f"{engine_path.name} does not match the sha256 in its sidecar (corrupt or replaced)")
    return CacheDecision(bool(reasons), tuple(reasons))
