"""Node parameters (node_core/params.py): validation naming the parameter, ROS YAML files, the shipped file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from anomaly_seg.errors import ConfigError
from anomaly_seg.node_core.params import PARAMETERS, SPECS, NodeParams
from anomaly_seg.parameters import read_ros_params_file

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "launch" / "config" / "anomaly_seg.yaml"


def test_defaults_are_valid_and_round_trip() -> None:
    params = NodeParams.from_dict({}, check_files=False)
    assert params.to_dict() == NodeParams.defaults()
    assert params.model.backend == "auto" and params.input.qos == "sensor_data" and params.output.resolution == "input"
    again = NodeParams.from_dict(params.to_dict(), check_files=False)
    assert again == params


def test_values_reach_the_grouped_fields(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    params = NodeParams.from_dict(
        {
            "model.onnx_path": str(onnx),
            "model.precision": "fp32",
            "anomaly.threshold": 2,  # an int where a double is expected: accepted as 2.0
            "segments.max_segments": 10,
            "output.overlay_alpha": 0.25,
        }
    )
    assert params.model.path == str(onnx) and params.model.precision == "fp32"
    assert params.anomaly_threshold == 2.0 and isinstance(params.anomaly_threshold, float)
    assert params.segments.max_segments == 10 and params.output.overlay_alpha == 0.25


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model.backend", "cuda", "one of auto|tensorrt|onnxruntime|torch"),
        ("model.precision", "bf16", "one of fp16|fp32|int8"),
        ("input.qos", "fast", "one of sensor_data"),
        ("input.compressed", 1, "must be bool"),
        ("segments.min_area_px", True, "must be int"),
        ("segments.min_area_px", 0, ">= 1"),
        ("segments.max_segments", 5000, "<= 1024"),
        ("segments.meta_threshold", 1.5, "<= 1.0"),
        ("anomaly.threshold", float("nan"), "finite"),
        ("anomaly.threshold", "0.5", "must be float"),
        ("output.resolution", "full", "one of input|network"),
        ("output.overlay_alpha", -0.1, ">= 0.0"),
        ("segments.region", "sky", "one of road|all"),
        ("segments.meta_classifier_path", "/nonexistent/meta.json", "file not found"),
        ("model.onnx_path", "/nonexistent/model.onnx", "file not found"),
        ("model.engine_path", "/nonexistent/model.engine", "file not found"),
        ("model.threshold", 0.5, "unknown parameter"),
    ],
)
def test_invalid_values_name_the_parameter(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        NodeParams.from_dict({"model.engine_path": "", key: value}, check_files=True)
    assert f"'{key}'" in str(info.value)


def test_a_model_is_required_when_files_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"model\.onnx_path"):
        NodeParams.from_dict({})


def test_ros_builtin_parameters_are_ignored() -> None:
    NodeParams.from_dict({"use_sim_time": True, "qos_overrides./x.subscription.depth": 3}, check_files=False)


#: set, it would override the meta classifier's operating point: listed, commented out
UNSET_IN_SHIPPED_FILE = {"anomaly.threshold"}


def test_shipped_parameter_file_lists_every_parameter_with_its_default() -> None:
    flat = read_ros_params_file(SHIPPED)
    assert set(flat) == set(SPECS) - UNSET_IN_SHIPPED_FILE
    for spec in PARAMETERS:
        if spec.name in UNSET_IN_SHIPPED_FILE:
            continue
        assert flat[spec.name] == spec.default and type(flat[spec.name]) is spec.type, spec.name
    text = SHIPPED.read_text()
    for spec in PARAMETERS:  # every parameter has a comment line right above it
        leaf = spec.name.split(".")[-1]
        lines = text.splitlines()
        key = f"# {leaf}:" if spec.name in UNSET_IN_SHIPPED_FILE else f"{leaf}:"
        i = next(n for n, line in enumerate(lines) if line.strip().startswith(key))
        assert lines[i - 1].strip().startswith("#"), spec.name
    NodeParams.from_yaml(SHIPPED, check_files=False)


def test_yaml_sections_for_the_node_override_the_wildcard(tmp_path: Path) -> None:
    doc = {
        "/**": {"ros__parameters": {"anomaly": {"threshold": 1.0}, "output": {"resolution": "network"}}},
        "/cam_front/anomaly_seg": {"ros__parameters": {"anomaly": {"threshold": 2.5}}},
        "/cam_left/anomaly_seg": {"ros__parameters": {"anomaly": {"threshold": 9.0}}},
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert NodeParams.from_yaml(path, check_files=False).anomaly_threshold == 1.0
    params = NodeParams.from_yaml(path, node_name="/cam_front/anomaly_seg", check_files=False)
    assert params.anomaly_threshold == 2.5 and params.output.resolution == "network"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "mapping"),
        ("/**:\n  params: {}\n", "ros__parameters"),
        ("other_node:\n  ros__parameters: {a: 1}\n", "no 'ros__parameters' section"),
        ("/**: [unclosed\n", "invalid YAML"),
        ("/**:\n  ros__parameters:\n    output: {resolution: full}\n", "output.resolution"),
    ],
)
def test_bad_parameter_files_name_the_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        NodeParams.from_yaml(path, check_files=False)
    assert "bad.yaml" in str(info.value)


def test_missing_parameter_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        NodeParams.from_yaml("/nonexistent/params.yaml")


def test_readme_lists_every_parameter_and_the_yaml_sets_each() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [spec.name for spec in PARAMETERS if f"| `{spec.name}` |" not in readme]
    assert not missing, f"README.md's parameter table lacks {missing}"
    text = (REPO / "launch" / "config" / "anomaly_seg.yaml").read_text()
    section = yaml.safe_load(text)["/**"]["ros__parameters"]
    in_yaml = {f"{group}.{key}" for group, values in section.items() for key in values}
    assert in_yaml == {spec.name for spec in PARAMETERS} - UNSET_IN_SHIPPED_FILE
    assert "      # threshold: 0.0" in text


def test_model_threshold_unless_given_and_the_operating_point_for_segments() -> None:
    import numpy as np

    from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier

    n = len(FEATURE_NAMES)
    op = {"threshold": -2.5, "meta_threshold": 0.3}
    meta = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.3, operating_point=op)
    unset = NodeParams.from_dict({}, check_files=False)
    r = unset.resolved(meta, 1.5)
    assert (r.anomaly_threshold, r.segment_threshold) == (1.5, -2.5)
    config = r.pipeline_config()
    assert config.threshold == 1.5 and config.segments.threshold == -2.5  # mask vs segments
    assert unset.resolved(None, None).anomaly_threshold == 0.0 and unset.resolved(None, None).segment_threshold is None
    given = NodeParams.from_dict({"anomaly.threshold": 0.0}, check_files=False)
    assert "anomaly.threshold" in given.given and given.resolved(meta, 1.5).anomaly_threshold == 0.0
    off = NodeParams.from_dict({"segments.operating_point": False}, check_files=False).resolved(meta, 1.5)
    assert off.segment_threshold is None and off.pipeline_config().segments.threshold == 1.5
    plain = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.3)
    assert unset.resolved(plain, None).segment_threshold is None
    # the point export --meta wrote into the model applies when the meta JSON has none (its meta threshold too)
    model_op = {"threshold": -4.0, "meta_threshold": 0.6}
    from_model = unset.resolved(plain, None, model_op)
    assert from_model.segment_threshold == -4.0 and from_model.segments.meta_threshold == 0.6
    assert unset.resolved(meta, None, model_op).segment_threshold == -2.5  # the JSON's own point wins
    kept = NodeParams.from_dict({"segments.meta_threshold": 0.9}, check_files=False).resolved(plain, None, model_op)
    assert kept.segments.meta_threshold == 0.9
    # tuning keeps what was given before and adds what the call sets
    tuned = NodeParams.from_dict(unset.to_dict(), check_files=False, given=unset.given | {"anomaly.threshold"})
    assert tuned.given == {"anomaly.threshold"}
