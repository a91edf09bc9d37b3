"""anomaly_seg.* ONNX metadata."""

from __future__ import annotations

import pytest

from anomaly_seg.engines.metadata import KEY_NETWORK_SIZE, ModelMetadata, parse_size
from anomaly_seg.errors import ModelFileError


def test_roundtrip_keeps_every_field() -> None:
    meta = ModelMetadata(
        network_size=(518, 1036),
        batch_size=2,
        mode="sliding",
        class_names=("road", "car"),
        palette=((128, 64, 128), (0, 0, 142)),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        score_threshold=-0.25,
        config={"name": "x", "input": {"size": [518, 1036]}},
        checkpoint="ck.safetensors",
        git_revision="abc",
        torch_version="2.13",
        export_parity={"passed": True},
        extra={"anomaly_seg.note": "hi"},
    )
    props = meta.to_props()
    assert all(k.startswith("anomaly_seg.") and isinstance(v, str) for k, v in props.items())
    assert props[KEY_NETWORK_SIZE] == "518x1036"
    assert ModelMetadata.from_props(props) == meta


def test_missing_or_malformed_metadata_names_the_source() -> None:
    with pytest.raises(ModelFileError, match=r"m\.onnx: no 'anomaly_seg\.network_size'"):
        ModelMetadata.from_props({}, "m.onnx")
    with pytest.raises(ModelFileError, match=r"anomaly_seg\.class_names"):
        ModelMetadata.from_props({KEY_NETWORK_SIZE: "4x4", "anomaly_seg.class_names": "[oops"}, "m.onnx")
    with pytest.raises(ModelFileError, match="HxW"):
        ModelMetadata.from_props({KEY_NETWORK_SIZE: "four"}, "m.onnx")


@pytest.mark.parametrize("text", ["518", "0x4", "axb", "1x2x3", "-1x4"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_parse_size() -> None:
    assert parse_size("518x1036") == (518, 1036)
    assert parse_size("1024X2048") == (1024, 2048)
