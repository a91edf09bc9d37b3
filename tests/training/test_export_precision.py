"""fp16 and int8 exports: precision in the ONNX (fp32 islands, Q/DQ), contract types kept, measured against fp32."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from anomaly_seg.artifacts.precision import fp32_islands, quantized_nodes
from anomaly_seg.cli import main as cli_main
from anomaly_seg.engines.metadata import KEY_FP32_NODES, KEY_PRECISION, read_onnx_props
from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.errors import DatasetError
from tests.bags.test_replay import make_bag
from training.__main__ import main as training_main
from training.calibration import calibration_frames
from training.config import REPO_ROOT

TINY = REPO_ROOT / "models" / "configs" / "tiny.yaml"


def weight_bytes(model: onnx.ModelProto) -> Counter[str]:
    out: Counter[str] = Counter()
    for init in model.graph.initializer:
        out[onnx.TensorProto.DataType.Name(init.data_type)] += onnx.numpy_helper.to_array(init).nbytes
    return out


def io_types(model: onnx.ModelProto) -> list[int]:
    return [v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.output]]


@pytest.fixture(scope="module")
def fp16_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fp16") / "tiny.onnx"
    assert training_main(["export", "--config", str(TINY), "--out", str(out), "--precision", "fp16"]) == 0
    return out


def test_fp16_export_keeps_its_islands_in_fp32_and_the_contract_types(fp16_export: Path) -> None:
    fp32, fp16 = onnx.load(str(fp16_export)), onnx.load(str(fp16_export.with_name("tiny.fp16.onnx")))
    assert read_onnx_props(fp16_export.with_name("tiny.fp16.onnx"))[KEY_PRECISION] == "fp16"
    assert io_types(fp16) == io_types(fp32) == [2, 2, 1, 1]  # uint8 in; uint8, float32, float32 out
    weights = weight_bytes(fp16)
    assert weights["FLOAT16"] > 0.9 * sum(weights.values()), weights  # most weight bytes are float16
    islands = set(fp32_islands(fp32))
    gmm = set(json.loads(read_onnx_props(fp16_export)[KEY_FP32_NODES]))
    assert gmm and gmm <= islands
    assert {n.name for n in fp32.graph.node if n.op_type == "LayerNormalization"} <= islands
    producer = {out: node for node in fp16.graph.node for out in node.output}
    for node in fp16.graph.node:  # every LayerNormalization still computes on float32 inputs
        if node.op_type == "LayerNormalization":
            source = producer.get(node.input[0])
            assert source is None or source.op_type != "Cast" or source.attribute[0].i == onnx.TensorProto.FLOAT


def test_check_onnx_measures_the_fp16_model_against_the_fp32_golden_outputs(
    fp16_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["check-onnx", str(fp16_export.with_name("tiny.fp16.onnx"))]) == 0
    out = capsys.readouterr().out
    assert "fp16 vs fp32 golden outputs (ORT CPU)" in out and "PASS" in out and "agreement >= 99 %" in out


def test_int8_export_quantizes_backbone_and_neck_only_calibrated_on_a_bag(tmp_path: Path) -> None:
    make_bag(tmp_path / "bag")
    frames = list(calibration_frames(tmp_path / "bag", (112, 224), limit=3))
    assert len(frames) == 3 and frames[0].shape == (1, 112, 224, 3) and frames[0].dtype == np.uint8
    out = tmp_path / "tiny.onnx"
    code = training_main(
        [
            "export",
            "--config",
            str(TINY),
            "--out",
            str(out),
            "--precision",
            "int8",
            "--calibration",
            str(tmp_path / "bag"),
        ]
    )
    assert code in (0, 1)  # random weights: the int8 error is reported; whether it passes says little
    int8_path = tmp_path / "tiny.int8.onnx"
    int8, fp32 = onnx.load(str(int8_path)), onnx.load(str(out))
    assert read_onnx_props(int8_path)[KEY_PRECISION] == "int8" and io_types(int8) == io_types(fp32)
    counts = Counter(n.op_type for n in int8.graph.node)
    assert counts["QuantizeLinear"] > 0 and counts["DequantizeLinear"] >= counts["QuantizeLinear"]
    quantized = set(quantized_nodes(fp32))
    dq_outputs = {o for n in int8.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    fed = {n.name for n in int8.graph.node if n.op_type in ("MatMul", "Conv") and set(n.input) & dq_outputs}
    assert fed and fed <= quantized  # heads and the score tail stay float
    for node in int8.graph.node:
        if node.op_type == "QuantizeLinear" and len(node.input) > 2:  # symmetric: zero point 0
            zero = next(i for i in int8.graph.initializer if i.name == node.input[2])
            assert not onnx.numpy_helper.to_array(zero).any()
    image = np.random.default_rng(0).integers(0, 256, (1, 112, 224, 3), dtype=np.uint8)
    result = OnnxRuntimeEngine(int8_path, ["CPUExecutionProvider"]).infer(image)  # runs, finite, contract types
    assert result.anomaly_score.dtype == np.float32 and np.isfinite(result.anomaly_score).all()


def test_int8_needs_calibration_frames_and_an_image_folder_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        training_main(["export", "--config", str(TINY), "--out", str(tmp_path / "m.onnx"), "--precision", "int8"]) == 2
    )
    assert "--calibration" in capsys.readouterr().err
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((60, 90, 3), 40 * i, np.uint8))
    frames = list(calibration_frames(folder, (112, 224), batch=2, limit=2))
    assert len(frames) == 2 and frames[0].shape == (2, 112, 224, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        list(calibration_frames(tmp_path / "empty", (112, 224)))
