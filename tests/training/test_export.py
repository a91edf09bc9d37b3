"""ONNX export of the real network: tiny config (fast) and the real-time default ViT-S/14 at 518x1036 (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from anomaly_seg.artifacts.trt_ops import check_model
from anomaly_seg.cli import main as anomaly_seg_main
from anomaly_seg.engines.metadata import ModelMetadata, read_onnx_props
from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.errors import ConfigError
from anomaly_seg.files import sha256_file
from training.__main__ import main as training_main
from training.export import build_export_source, export_model, export_onnx, torch_outputs

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"
TINY = CONFIGS / "tiny.yaml"
REALTIME = CONFIGS / "realtime_vits14_dd.yaml"


def _require(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} not present")


def test_tiny_export_command_check_onnx_and_selftest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _require(TINY)
    out = tmp_path / "tiny.onnx"
    assert training_main(["export", "--config", str(TINY), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "RANDOM WEIGHTS" in captured.err
    assert f"exported {out}" in captured.out.splitlines()[-1]

    model = onnx.load(str(out))
    assert model.opset_import[0].version >= 17
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LayerNormalization") == 9  # 4 blocks x 2 + final norm, each one node
    assert "Shape" not in ops  # static graph
    assert all(
        n.op_type != "Resize"
        or onnx.helper.get_attribute_value(next(a for a in n.attribute if a.name == "mode")) in (b"linear", b"nearest")
        for n in model.graph.node
    )
    assert check_model(model, ("10.x",)) == []

    meta = ModelMetadata.from_props(read_onnx_props(out))
    assert meta.network_size == (112, 224) and meta.mode == "full" and meta.checkpoint == "random"
    assert len(meta.class_names) == 19 and meta.class_names[0] == "road" and meta.palette[0] == (128, 64, 128)
    assert meta.config is not None and meta.config["input"]["size"] == [112, 224]
    assert meta.export_parity is not None and meta.export_parity["passed"] is True
    assert sha256_file(out) in (out.with_name("tiny.onnx.golden") / "manifest.json").read_text()

    assert anomaly_seg_main(["check-onnx", str(out), "--torch-config", str(TINY)]) == 0
    assert anomaly_seg_main(["selftest", "--model", str(out), "--backend", "onnxruntime"]) == 0
    assert "PASS (5 cases" in capsys.readouterr().out


def test_sliding_export_takes_the_camera_size(tmp_path: Path) -> None:
    _require(TINY)
    source = build_export_source(TINY, None, (112, 336), mode="sliding")
    assert source.size == (112, 336) and source.metadata.mode == "sliding"
    result = export_model(
        source.module, tmp_path / "s.onnx", source.size, source.metadata, log=lambda _: None, cases=("random_smooth",)
    )
    assert result.parity_passed
    engine = OnnxRuntimeEngine(result.onnx_path)
    assert engine.input_size == (112, 336)
    image = np.random.default_rng(0).integers(0, 256, (1, 112, 336, 3), dtype=np.uint8)
    ref = torch_outputs(source.module, image)
    np.testing.assert_allclose(engine.infer(image).anomaly_score, ref.anomaly_score, atol=1e-3)


def test_batch_two_export(tmp_path: Path) -> None:
    _require(TINY)
    source = build_export_source(TINY, None)
    path = export_onnx(source.module, tmp_path / "b2.onnx", source.size, batch=2, metadata=source.metadata)
    engine = OnnxRuntimeEngine(path)
    assert engine.batch_size == 2
    images = np.random.default_rng(0).integers(0, 256, (2, 112, 224, 3), dtype=np.uint8)
    out = engine.infer(images)
    with torch.inference_mode():
        single = [torch_outputs(source.module, images[i : i + 1]) for i in range(2)]
    for i in range(2):
        np.testing.assert_allclose(out.anomaly_score[i], single[i].anomaly_score[0], atol=1e-4)


def test_opset_17_for_tensorrt_86(tmp_path: Path) -> None:
    _require(TINY)
    source = build_export_source(TINY, None)
    path = export_onnx(source.module, tmp_path / "o17.onnx", source.size, opset=17, metadata=source.metadata)
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 17
    assert check_model(model, ("8.6",)) == []


def test_checkpoint_export_and_errors(tmp_path: Path) -> None:
    _require(TINY)
    from anomaly_seg.network import ModelConfig, build_model, save_checkpoint

    config = ModelConfig.from_yaml(TINY)
    ck = save_checkpoint(tmp_path / "t.safetensors", build_model(config), config, {"score_threshold": 1.5})
    source = build_export_source(None, ck)
    assert not source.random_weights and source.metadata.checkpoint == "t.safetensors"
    assert source.metadata.score_threshold == 1.5
    result = export_model(
        source.module, tmp_path / "ck.onnx", source.size, source.metadata, log=lambda _: None, cases=("gradient",)
    )
    assert anomaly_seg_main(["check-onnx", str(result.onnx_path), "--checkpoint", str(ck)]) == 0
    with pytest.raises(ConfigError, match="--config and/or --checkpoint"):
        build_export_source(None, None)
    with pytest.raises(ConfigError, match="sliding needs --size"):
        build_export_source(TINY, None, mode="sliding")


@pytest.mark.slow
def test_realtime_default_vits14_518x1036_exports_with_parity(tmp_path: Path) -> None:
    """ViT-S/14 at 518x1036 with random weights: export, parity on one golden case, structure + TRT ops."""
    _require(REALTIME)
    from anomaly_seg.artifacts.onnx_checks import structure_checks

    source = build_export_source(REALTIME, None)
    assert source.size == (518, 1036)
    result = export_model(
        source.module, tmp_path / "rt.onnx", source.size, source.metadata, log=lambda _: None, cases=("random_smooth",)
    )
    assert result.parity_passed, result.parity
    assert result.parity.semantic_agreement >= 0.999
    assert result.node_counts["LayerNormalization"] == 25  # 12 blocks x 2 + final norm
    assert "Shape" not in result.node_counts
    assert all(r.status == "PASS" for r in structure_checks(result.onnx_path))
    assert check_model(onnx.load(str(result.onnx_path)), ("10.x",)) == []


def test_export_meta_writes_the_operating_point_into_the_metadata(tmp_path: Path) -> None:
    import numpy as np

    from anomaly_seg.engines.metadata import ModelMetadata, read_onnx_props
    from anomaly_seg.errors import ConfigError
    from anomaly_seg.files import sha256_file
    from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier
    from training.export import operating_point_metadata

    _require(TINY)
    n = len(FEATURE_NAMES)
    op = {"threshold": -1.5, "meta_threshold": 0.35}
    meta = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.35, operating_point=op).save(tmp_path / "m.json")
    out = tmp_path / "tiny.onnx"
    assert training_main(["export", "--config", str(TINY), "--out", str(out), "--meta", str(meta)]) == 0
    props = read_onnx_props(out)
    point = ModelMetadata.from_props(props).operating_point
    assert point == {**op, "meta_sha256": sha256_file(meta)}
    from anomaly_seg.errors import ModelFileError

    for bad in ('{"threshold": 1.0}', '{"threshold": 1.0, "meta_threshold": 3.0}', "[1]"):  # untrusted input
        with pytest.raises(ModelFileError, match="operating_point"):
            ModelMetadata.from_props({**props, "anomaly_seg.operating_point": bad})
    plain = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.5).save(tmp_path / "plain.json")
    argv = ["export", "--config", str(TINY), "--out", str(tmp_path / "x.onnx"), "--meta", str(plain)]
    assert training_main(argv) == 2  # the CLI's error exit, the message names the file
    with pytest.raises(ConfigError, match="no operating point"):
        operating_point_metadata(plain)
