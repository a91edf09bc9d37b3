"""Released-layout models (random values in the official layout) through import -> export -> check-onnx -> replay."""

from __future__ import annotations

import json
import re
from pathlib import Path

import onnx
import pytest
import yaml

from anomaly_seg.artifacts.precision import fp32_node_names
from anomaly_seg.cli import main as anomaly_seg_main
from anomaly_seg.engines.metadata import KEY_FP32_NODES, ModelMetadata, read_onnx_props
from tests.bags.test_replay import make_bag
from tests.network.official_layout import layout_state, write_lightning_checkpoint
from training.__main__ import main as training_main
from training.import_official import import_official


def _imported(tmp: Path, variant: str) -> Path:
    ckpt = write_lightning_checkpoint(tmp / f"{variant}.ckpt", layout_state(variant, values="random", seed=1), variant)
    return import_official(ckpt, variant, tmp / "imported", log=lambda _: None, progress=False).checkpoint


@pytest.mark.slow
def test_released_gg_layout_exports_passes_check_onnx_and_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = _imported(tmp_path, "g_g")
    full = tmp_path / "gg_full.onnx"
    assert training_main(["export", "--checkpoint", str(checkpoint), "--size", "154x308", "--out", str(full)]) == 0
    assert "-> PASS" in capsys.readouterr().out  # torch vs ONNX Runtime parity on the golden inputs
    meta = ModelMetadata.from_props(read_onnx_props(full))
    assert meta.checkpoint == "official_g_g.safetensors" and meta.config is not None
    assert meta.config["decoder"]["type"] == "dinov2_fpn" and meta.config["uem"]["head"] == "gmm_official"
    listed = json.loads(read_onnx_props(full)[KEY_FP32_NODES])
    assert listed == fp32_node_names(onnx.load(str(full), load_external_data=False)) and len(listed) > 20

    assert anomaly_seg_main(["check-onnx", str(full), "--fp16"]) == 0
    report = capsys.readouterr().out
    assert re.search(r"GMM head kept fp32 \(fp16 export\)\s+PASS", report) and "TensorRT 10.x ops" in report

    make_bag(tmp_path / "bag")
    out = tmp_path / "replayed"
    assert anomaly_seg_main(["replay", str(tmp_path / "bag"), "--model", str(full), "--out", str(out)]) == 0
    assert "frames in: 5, processed: 4, rejected: 1" in capsys.readouterr().out

    # sliding-window export for a 64x128 camera with 56x112 windows (2 x 2 windows, overlapping)
    config = yaml.safe_load((checkpoint.with_suffix(".yaml")).read_text())
    config["input"]["size"] = [56, 112]
    config["sliding"] = {"enabled": True, "stride": [28, 56], "image_size": [64, 128]}
    small = tmp_path / "gg_small.yaml"
    small.write_text(yaml.safe_dump(config))
    sliding = tmp_path / "gg_sliding.onnx"
    args = ["export", "--config", str(small), "--checkpoint", str(checkpoint), "--mode", "sliding"]
    assert training_main([*args, "--size", "64x128", "--out", str(sliding)]) == 0
    assert "-> PASS" in capsys.readouterr().out
    assert anomaly_seg_main(["check-onnx", str(sliding)]) == 0
    out2 = tmp_path / "replayed_sliding"
    code = anomaly_seg_main(["replay", str(tmp_path / "bag"), "--model", str(sliding), "--mode", "sliding",
                             "--out", str(out2)])  # fmt: skip
    assert code == 0 and "processed: 4" in capsys.readouterr().out


@pytest.mark.slow
def test_released_dd_layout_exports_with_parity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = _imported(tmp_path, "d_d")
    out = tmp_path / "dd.onnx"
    assert training_main(["export", "--checkpoint", str(checkpoint), "--size", "154x308", "--out", str(out)]) == 0
    assert "-> PASS" in capsys.readouterr().out
    assert KEY_FP32_NODES not in read_onnx_props(out)  # linear heads: nothing to keep in fp32
    assert anomaly_seg_main(["check-onnx", str(out), "--fp16"]) == 0
