"""Launch files, parameter/QoS YAMLs and the RViz config, checked without ROS: launch arguments are read from
the AST (``DeclareLaunchArgument(name, default_value=...)``), defaults that name installed files must exist."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

from anomaly_seg import vocabulary
from anomaly_seg.node_core.params import SPECS
from anomaly_seg.ros import launch_plan

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch"
#: setup.py installs launch/config/* into share/anomaly_seg/config and launch/rviz/* into share/anomaly_seg/rviz
SHARE = object()


def _evaluate(node: ast.expr) -> Any:
    """Value of a default: string constants, names from the vocabulary, ``share / "a" / "b"`` paths (as repo paths)
    and ``str(...)``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and hasattr(vocabulary, node.id):
        return getattr(vocabulary, node.id)
    if isinstance(node, ast.Name) and node.id == "share":
        return SHARE
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str" and len(node.args) == 1:
        return _evaluate(node.args[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _evaluate(node.left), _evaluate(node.right)
        assert isinstance(right, str), ast.dump(node)
        return LAUNCH / right if left is SHARE else Path(left) / right
    raise AssertionError(f"unsupported default expression: {ast.unparse(node)}")


def launch_arguments(path: Path) -> dict[str, Any]:
    """``{name: default}`` of every DeclareLaunchArgument in a launch file."""
    args: dict[str, Any] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DeclareLaunchArgument":
            name = _evaluate(node.args[0])
            kwargs = {kw.arg: kw.value for kw in node.keywords}
            assert "default_value" in kwargs and "description" in kwargs, f"{path.name}: {name}"
            args[name] = _evaluate(kwargs["default_value"])
    return args


@pytest.mark.parametrize(
    ("launch_file", "expected"),
    [
        ("camera.launch.py", {"cameras", "params_file", "model", "backend", "compressed", "use_rviz", "namespace"}),
        ("replay_eval.launch.py", {"bag", "model", "report", "params_file", "qos_overrides"}),
    ],
)
def test_launch_arguments_and_file_defaults_exist(launch_file: str, expected: set[str]) -> None:
    args = launch_arguments(LAUNCH / launch_file)
    assert expected <= set(args), expected - set(args)
    files = [v for v in args.values() if isinstance(v, Path)]
    assert files, "expected defaults that name installed files"
    for path in files:
        assert path.is_file(), f"{launch_file}: default {path} does not exist in the package"
        yaml.safe_load(path.read_text())


def test_parameter_file_and_rviz_config_are_valid_yaml() -> None:
    params = yaml.safe_load((LAUNCH / "config" / "anomaly_seg.yaml").read_text())
    assert set(params) == {"/**"} and "ros__parameters" in params["/**"]
    rviz = yaml.safe_load((LAUNCH / "rviz" / "anomaly_seg.rviz").read_text())
    displays = rviz["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if d["Class"] == "rviz_default_plugins/Image"}
    first_camera = launch_arguments(LAUNCH / "camera.launch.py")["cameras"]
    assert first_camera.startswith("['/cam_front/")
    expected = {
        f"/cam_front/anomaly_seg/{t}"
        for t in (vocabulary.TOPIC_OVERLAY, vocabulary.TOPIC_SEMANTIC_COLOR, vocabulary.TOPIC_ANOMALY_MASK)
    }
    assert topics == expected


def test_replay_qos_overrides_make_the_player_reliable() -> None:
    overrides = yaml.safe_load((LAUNCH / "config" / "replay_qos_overrides.yaml").read_text())
    args = launch_arguments(LAUNCH / "replay_eval.launch.py")
    for topic in ("/camera/image_raw", "/ground_truth/anomaly"):
        assert overrides[topic]["reliability"] == "reliable" and overrides[topic]["depth"] >= 10
    assert args["image_topic"] in overrides and args["ground_truth_topic"] in overrides


def test_every_node_parameter_is_in_the_shipped_file() -> None:
    params = yaml.safe_load((LAUNCH / "config" / "anomaly_seg.yaml").read_text())["/**"]["ros__parameters"]
    flat = {f"{group}.{leaf}" for group, body in params.items() for leaf in body}
    # anomaly.threshold is listed but commented out: set, it would override the model's score_threshold
    assert flat == set(SPECS) - {"anomaly.threshold"}


def test_camera_list_expands_to_namespaced_nodes() -> None:
    topics = launch_plan.camera_topics("['/cam_front/image_raw', 'cam_left/image_raw']")
    assert topics == ["/cam_front/image_raw", "/cam_left/image_raw"]
    assert launch_plan.camera_topics("/cam_rear/image_raw") == ["/cam_rear/image_raw"]
    assert launch_plan.node_placement("/cam_front/image_raw", "", 0) == ("/cam_front", "anomaly_seg")
    assert launch_plan.node_placement("/cam_front/image_raw", "/vehicle", 0) == ("/vehicle/cam_front", "anomaly_seg")
    assert launch_plan.node_placement("/image_raw", "", 2) == ("/", "anomaly_seg_2")
    for bad in ("[]", "", "[1, 2]"):
        with pytest.raises(ValueError, match="list of image topics"):
            launch_plan.camera_topics(bad)


def test_camera_launch_plans_the_shipped_parameters_overrides_and_remaps(tmp_path: Path) -> None:
    params_file = str(LAUNCH / "config" / "anomaly_seg.yaml")
    model = tmp_path / "m.onnx"
    plans = launch_plan.camera_nodes(
        "['/cam_front/image_raw', '/cam_left/image_raw']", params_file, model=str(model), backend="onnxruntime"
    )
    assert [p.full_name for p in plans] == ["/cam_front/anomaly_seg", "/cam_left/anomaly_seg"]
    assert plans[0].overrides == {"model.onnx_path": str(model.resolve()), "model.backend": "onnxruntime"}
    assert plans[1].remappings == (("~/input/image", "/cam_left/image_raw"),)
    (compressed,) = launch_plan.camera_nodes("/cam/image_raw", params_file, compressed="true")
    assert compressed.remappings == (("~/input/image/compressed", "/cam/image_raw/compressed"),)
    cmd = plans[0].command("anomaly_seg_node", tmp_path / "overrides.yaml")
    assert cmd[:2] == ["anomaly_seg_node", "--ros-args"]
    assert "__ns:=/cam_front" in cmd and cmd[cmd.index("__ns:=/cam_front") - 1] == "-r"
    assert cmd[-2:] == ["-r", "~/input/image:=/cam_front/image_raw"]
    written = yaml.safe_load((tmp_path / "overrides.yaml").read_text())
    assert written == {"/cam_front/anomaly_seg": {"ros__parameters": dict(plans[0].overrides)}}


def test_camera_launch_file_uses_the_plan_and_the_dds_profile() -> None:
    source = (LAUNCH / "camera.launch.py").read_text()
    assert "camera_nodes(" in source and "dds_environment(" in source
