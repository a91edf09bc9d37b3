"""ONNX export of an ``AnomalySegmenter`` (or any module honouring the engine I/O contract).

Exporter: ``torch.onnx.export(..., dynamo=True)`` (torch.export + onnxscript). In torch 2.13 it gives the
cleaner graph: shapes are static and folded (no Shape/Slice/Concat chains around every reshape, which the
legacy TorchScript exporter still emits), ``F.layer_norm`` becomes one ``LayerNormalization`` node, and
bilinear ``F.interpolate`` one ``Resize`` (linear, no antialias). Its lowest opset is 18; TensorRT 10.x
parses opset 18-20. ``opset=17`` down-converts with ``onnx.version_converter`` for TensorRT 8.6.

Export then (1) writes ``anomaly_seg.*`` metadata, (2) checks the graph (``onnx.checker`` full check),
(3) runs it with ONNX Runtime on the golden inputs, compares with the torch model (parity stored in the
metadata) and (4) writes the golden reference outputs for the on-target self-test. ``precision="fp16"`` or
``"int8"`` also writes ``<stem>.fp16.onnx`` / ``<stem>.int8.onnx`` next to the fp32 model
(:mod:`anomaly_seg.artifacts.precision`) and measures it against the fp32 golden outputs.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anomaly_seg.artifacts.golden import check_against_golden, default_golden_dir, golden_images, write_golden
from anomaly_seg.artifacts.parity import TOLERANCES, Comparison, compare, merge
from anomaly_seg.artifacts.precision import fp32_node_names
from anomaly_seg.engines.base import INPUT_NAME, OUTPUT_NAMES, EngineOutputs
from anomaly_seg.engines.metadata import KEY_EXPORT_PARITY, KEY_FP32_NODES, ModelMetadata
from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.vocabulary import MODES, PRECISIONS

DEFAULT_OPSET = 18
_PROTOBUF_LIMIT = 2**31 - 2**26  # stay clear of protobuf's 2 GiB message limit


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` wrote and measured."""

    onnx_path: Path
    golden_dir: Path | None
    parity: Comparison
    parity_passed: bool
    node_counts: dict[str, int]
    #: the fp16 / int8 model (None for fp32), and its outputs against the fp32 golden outputs
    precision_path: Path | None = None
    precision_parity: Comparison | None = None
    precision_passed: bool = True


def git_revision(repo: Path | None = None) -> str:
    """Short git revision of the working tree (``+dirty`` when modified), or ``"unknown"``."""
    cwd = repo or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def torch_outputs(model: torch.nn.Module, images: np.ndarray) -> EngineOutputs:
    """Eager outputs of ``model`` on uint8 ``[B, H, W, 3]`` images, as numpy."""
    with torch.inference_mode():
        semantic, score, uncertainty = model(torch.from_numpy(images))
    return EngineOutputs(semantic.to(torch.uint8).numpy(), score.float().numpy(), uncertainty.float().numpy())


def export_onnx(
    model: torch.nn.Module,
    out: str | Path,
    size: tuple[int, int],
    batch: int = 1,
    opset: int = DEFAULT_OPSET,
    metadata: ModelMetadata | None = None,
) -> Path:
    """Trace ``model`` at a fixed ``[batch, H, W, 3]`` uint8 input and save the ONNX graph with ``metadata``."""
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = torch.zeros((batch, size[0], size[1], 3), dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation chatter from torch.export internals
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            opset_version=max(opset, DEFAULT_OPSET),
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    if program is None:
        raise ModelFileError(f"{out}: torch.onnx.export returned no program")
    proto = program.model_proto
    fp32_nodes = fp32_node_names(proto)  # before any conversion, which may drop node metadata
    if opset < DEFAULT_OPSET:
        from onnx import version_converter

        proto = version_converter.convert_version(proto, opset)
    if metadata is not None:
        set_metadata(proto, metadata.to_props())
    if fp32_nodes:
        set_metadata(proto, {KEY_FP32_NODES: json.dumps(fp32_nodes)})
    proto.producer_name = "anomaly_seg"
    size_bytes = proto.ByteSize()
    if size_bytes > _PROTOBUF_LIMIT:
        onnx.save(proto, str(out), save_as_external_data=True, location=out.name + ".data")
    else:
        onnx.save(proto, str(out))
    onnx.checker.check_model(str(out), full_check=True)
    return out


def set_metadata(proto: Any, props: dict[str, str]) -> None:
    """Replace/insert ``metadata_props`` entries of an ONNX ModelProto."""
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key not in props]
    del proto.metadata_props[:]
    for key, value in [*keep, *props.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def update_onnx_metadata(path: Path, props: dict[str, str]) -> None:
    """Rewrite an ONNX file with extra/updated metadata props (weights untouched)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    set_metadata(proto, props)
    onnx.save(proto, str(path))


def node_counts(path: Path) -> dict[str, int]:
    """Operator histogram of an ONNX graph (main graph only)."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def export_model(
    model: torch.nn.Module,
    out: str | Path,
    size: tuple[int, int],
    metadata: ModelMetadata,
    batch: int = 1,
    opset: int = DEFAULT_OPSET,
    golden_dir: str | Path | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
    cases: tuple[str, ...] | None = None,
    precision: str = "fp32",
    calibration: Iterable[np.ndarray] | None = None,
) -> ExportResult:
    """Export, verify torch vs ONNX Runtime parity on the golden inputs, store parity + golden outputs.

    ``cases`` limits the golden inputs (default: all of :data:`anomaly_seg.artifacts.golden.CASES`).
    ``precision`` fp16 / int8 also writes that model next to ``out`` (int8 needs ``calibration`` frames).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {'|'.join(PRECISIONS)}, got {precision!r}")
    if precision == "int8" and calibration is None:
        raise ConfigError("--precision int8 needs --calibration DIR_OR_BAG (camera frames to calibrate on)")
    from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine

    out = Path(out)
    metadata = replace(metadata, network_size=size, batch_size=batch)
    log(f"exporting to {out} (opset {opset}, input uint8 [{batch}, {size[0]}, {size[1]}, 3]) ...")
    export_onnx(model, out, size, batch, opset, metadata)
    ort_engine = OnnxRuntimeEngine(out, providers=["CPUExecutionProvider"], check_finite=False)
    images = golden_images(size, batch, seed)
    if cases is not None:
        images = {k: v for k, v in images.items() if k in cases}
    comparisons = [compare(torch_outputs(model, img), ort_engine.infer(img)) for img in images.values()]
    parity = merge(comparisons)
    passed = parity.passed(TOLERANCES["fp32"])
    parity_record = {**parity.to_dict(), "passed": passed, "reference": "torch eager fp32 cpu", "cases": len(images)}
    update_onnx_metadata(out, {KEY_EXPORT_PARITY: json.dumps(parity_record, sort_keys=True)})
    golden = Path(golden_dir) if golden_dir else default_golden_dir(out)
    from anomaly_seg.files import sha256_file

    ort_engine = OnnxRuntimeEngine(out, providers=["CPUExecutionProvider"], check_finite=False)
    write_golden(golden, ort_engine, images, {"onnx_sha256": sha256_file(out), "onnx": out.name, "seed": seed})
    result = ExportResult(out, golden, parity, passed, node_counts(out))
    if precision == "fp32":
        return result
    reduced = write_precision(out, precision, calibration, log)
    engine = OnnxRuntimeEngine(reduced, providers=["CPUExecutionProvider"], check_finite=False)
    measured = merge([c for _, c in check_against_golden(engine, golden)])
    return replace(
        result,
        precision_path=reduced,
        precision_parity=measured,
        precision_passed=measured.passed(TOLERANCES[precision]),
    )


def write_precision(
    fp32_path: Path, precision: str, calibration: Iterable[np.ndarray] | None, log: Callable[[str], None] = print
) -> Path:
    """``<stem>.fp16.onnx`` or ``<stem>.int8.onnx`` next to the fp32 export (:mod:`anomaly_seg.artifacts.precision`)."""
    import onnx

    from anomaly_seg.artifacts.precision import to_fp16, to_int8

    target = fp32_path.with_name(f"{fp32_path.stem}.{precision}.onnx")
    if precision == "fp16":
        log(f"converting to fp16 (fp32 islands: normalisation, GMM heads, score tail) -> {target.name}")
        onnx.save(to_fp16(onnx.load(str(fp32_path))), str(target))
    else:
        assert calibration is not None
        log(f"quantizing to int8 (Q/DQ, calibrating on camera frames) -> {target.name}")
        to_int8(fp32_path, target, calibration)
    return target


def parse_size(text: str) -> tuple[int, int]:
    """``"518x1036"`` -> ``(518, 1036)``; :class:`ConfigError` otherwise."""
    from anomaly_seg.engines.metadata import parse_size as _parse

    try:
        return _parse(text)
    except ValueError as exc:
        raise ConfigError(f"--size: {exc}") from exc


@dataclass(frozen=True)
class ExportSource:
    """The module to export, its fixed input size and the metadata describing it."""

    module: torch.nn.Module
    size: tuple[int, int]
    metadata: ModelMetadata
    random_weights: bool


def operating_point_metadata(meta_path: str | Path) -> dict[str, Any]:
    """The meta classifier's operating point for the ONNX metadata, tied to the file by its sha256."""
    from anomaly_seg.files import sha256_file
    from anomaly_seg.segments import MetaClassifier

    meta = MetaClassifier.load(meta_path)
    if meta.operating_point is None:
        raise ConfigError(f"--meta {meta_path}: no operating point (fit it with fit-meta --meta-protocol)")
    return {
        "threshold": float(meta.operating_point["threshold"]),
        "meta_threshold": float(meta.operating_point["meta_threshold"]),
        "meta_sha256": sha256_file(meta_path),
    }


def build_export_source(
    config_path: str | Path | None,
    checkpoint: str | Path | None,
    size: tuple[int, int] | None = None,
    mode: str = "full",
    score_threshold: float | None = None,
) -> ExportSource:
    """Build the network for export from a checkpoint (config inside) and/or a config YAML (random weights).

    ``mode="full"``: input = network size (``size`` overrides ``input.size``). ``mode="sliding"``: input =
    the camera size ``size`` (default ``sliding.image_size``), windows of ``input.size`` batched inside.
    """

    from anomaly_seg.labels import CLASS_NAMES, PALETTE
    from anomaly_seg.network import ModelConfig, SlidingWindowSegmenter, build_model
    from anomaly_seg.network.checkpoint import read_checkpoint_metadata

    if mode not in MODES:
        raise ConfigError(f"--mode must be full or sliding, got {mode!r}")
    extra: dict[str, Any] = {}
    if checkpoint is not None:
        config, extra = read_checkpoint_metadata(checkpoint)
        if config_path is not None:
            config = ModelConfig.from_yaml(config_path)  # explicit config wins (e.g. another input size)
    elif config_path is not None:
        config = ModelConfig.from_yaml(config_path)
    else:
        raise ConfigError("export needs --config and/or --checkpoint")
    if mode == "full" and size is not None and tuple(size) != tuple(config.input.size):
        config = replace(config, input=replace(config.input, size=(int(size[0]), int(size[1]))))
    model = build_model(config)
    if checkpoint is not None:
        from safetensors.torch import load_file

        try:
            model.load_state_dict(load_file(str(checkpoint)), strict=True)
        except RuntimeError as exc:
            raise ModelFileError(f"{checkpoint}: weights do not fit config {config.name!r}: {exc}") from exc
    model = model.eval()
    module: torch.nn.Module = model
    net_size = (int(config.input.size[0]), int(config.input.size[1]))
    if mode == "sliding":
        camera = size or config.sliding.image_size
        if camera is None:
            raise ConfigError("--mode sliding needs --size (camera HxW) or sliding.image_size in the config")
        module = SlidingWindowSegmenter(model, (int(camera[0]), int(camera[1]))).eval()
        net_size = (int(camera[0]), int(camera[1]))
    k = config.head.num_classes
    threshold = score_threshold if score_threshold is not None else float(extra.get("score_threshold", 0.0))
    metadata = ModelMetadata(
        network_size=net_size,
        mode=mode,
        class_names=tuple(CLASS_NAMES[:k]),
        palette=tuple((int(PALETTE[i][0]), int(PALETTE[i][1]), int(PALETTE[i][2])) for i in range(k)),
        mean=tuple(float(v) for v in config.input.mean),
        std=tuple(float(v) for v in config.input.std),
        score_threshold=threshold,
        config=config.to_dict(),
        checkpoint=Path(checkpoint).name if checkpoint is not None else "random",
        git_revision=git_revision(),
        torch_version=str(torch.__version__),
    )
    return ExportSource(module, net_size, metadata, checkpoint is None)
