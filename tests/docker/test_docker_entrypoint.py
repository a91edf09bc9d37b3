"""Behaviour of docker/entrypoint.sh, run by bash against stub ``anomaly-seg``, ``ros2`` and ``rviz2``.

The stubs record every call; ``anomaly-seg build-engine`` behaves like the real one (writes the engine and
its sidecar next to the ONNX, rebuilds only when the sidecar would differ). The recorded ``anomaly-seg``
argument lists are also parsed by the real CLI parser, so the entrypoint and the CLI cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
SEP = "\x1f"

ANOMALY_SEG_STUB = r"""#!/usr/bin/env bash
set -euo pipefail
{ printf '%s\x1f' anomaly-seg "$@"; echo; } >>"$STUB_LOG"
case $1 in
build-engine)
    engine="${2%.onnx}.$4.engine"
    want="${STUB_SIDECAR:-tensorrt=10.3 gpu=Orin precision=$4}"
    if [[ ${5:-} == --force || ! -f $engine.json || "$(<"$engine.json")" != "$want" ]]; then
        printf '%s' "$want" >"$engine.json"
        printf 'engine %s %s' "$want" "$RANDOM$RANDOM" >"$engine"  # builds are not bit-reproducible
    fi
    exit "${STUB_BUILD_RC:-0}" ;;
selftest) exit "${STUB_SELFTEST_RC:-0}" ;;
esac
"""

RECORDER_STUB = r"""#!/usr/bin/env bash
{ printf '%s\x1f' "$(basename "$0")" "$@"; echo; } >>"$STUB_LOG"
"""

PYTHON3_STUB = r"""#!/usr/bin/env bash
# `python3 -c 'import tensorrt'` succeeds only when STUB_HAS_TENSORRT=1
[[ ${STUB_HAS_TENSORRT:-0} == 1 ]]
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]


class Sandbox:
    """A fake ROS prefix with the stubs, a model folder, and a way to run the entrypoint in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.prefix = root / "install"
        self.models = root / "models"
        self.model = self.models / "model.onnx"
        self.engine = self.models / "model.fp16.engine"
        self.log = root / "calls.log"
        bin_dir = root / "bin"
        pkg_bin = self.prefix / "lib" / "anomaly_seg"
        for folder in (bin_dir, pkg_bin, self.models, self.prefix / "share/anomaly_seg/rviz"):
            folder.mkdir(parents=True)
        self._script(pkg_bin / "anomaly-seg", ANOMALY_SEG_STUB)
        self._script(bin_dir / "ros2", RECORDER_STUB)
        self._script(bin_dir / "rviz2", RECORDER_STUB)
        self._script(bin_dir / "python3", PYTHON3_STUB)
        (self.prefix / "share/anomaly_seg/rviz/anomaly_seg.rviz").write_text("Panels: []\n")
        self.model.write_bytes(b"onnx model bytes")
        self.path = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"

    @staticmethod
    def _script(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def run(self, *args: str, **env: str) -> Run:
        self.log.write_text("")
        environment = {
            "PATH": self.path,
            "HOME": str(self.root),
            "STUB_LOG": str(self.log),
            "AMENT_PREFIX_PATH": str(self.prefix),
            "ROS_DISTRO": "no-such-distro",  # never source a real ROS installation from a test
            "ANOMALY_SEG_WS": str(self.root / "no-workspace"),
            "MODEL": str(self.model),
            **env,
        }
        result = subprocess.run(
            ["bash", str(ENTRYPOINT), *args], env=environment, capture_output=True, text=True, timeout=30, check=False
        )
        calls = [line.rstrip(SEP).split(SEP) for line in self.log.read_text().splitlines() if line]
        return Run(result.returncode, result.stdout, result.stderr, calls)


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    if shutil.which("flock") is None or shutil.which("sha256sum") is None:
        pytest.skip("the entrypoint needs flock and sha256sum (util-linux, coreutils)")
    return Sandbox(tmp_path)


def launch_call(
    sandbox: Sandbox, cameras: str, backend: str = "tensorrt", *extra: str, precision: str = "fp16"
) -> list[str]:
    return [
        "ros2",
        "launch",
        "anomaly_seg",
        "camera.launch.py",
        f"cameras:={cameras}",
        f"model:={sandbox.model}",
        f"backend:={backend}",
        f"precision:={precision}",
        "use_rviz:=false",
        *extra,
    ]


def test_first_start_builds_the_engine_selftests_it_and_launches(box: Sandbox) -> None:
    run = box.run()
    assert run.returncode == 0, run.stderr
    assert run.calls == [
        ["anomaly-seg", "build-engine", str(box.model), "--precision", "fp16"],
        ["anomaly-seg", "selftest", "--model", str(box.engine), "--backend", "tensorrt", "--precision", "fp16"],
        launch_call(box, "['/camera/image_raw']"),
    ]
    assert (box.models / "model.fp16.engine.selftest.ok").is_file()
    assert "engine built" in run.stderr


def test_later_starts_reuse_the_engine_without_another_selftest(box: Sandbox) -> None:
    assert box.run().returncode == 0
    engine_bytes = box.engine.read_bytes()
    run = box.run()
    assert run.returncode == 0, run.stderr
    assert [c[:2] for c in run.calls] == [["anomaly-seg", "build-engine"], ["ros2", "launch"]]
    assert box.engine.read_bytes() == engine_bytes
    assert "engine up to date" in run.stderr


def test_a_rebuild_after_a_sidecar_change_is_selftested_again(box: Sandbox) -> None:
    assert box.run().returncode == 0
    run = box.run(STUB_SIDECAR="tensorrt=10.4 gpu=Orin precision=fp16")  # e.g. a TensorRT upgrade
    assert run.returncode == 0, run.stderr
    assert [c[:2] for c in run.calls] == [
        ["anomaly-seg", "build-engine"],
        ["anomaly-seg", "selftest"],
        ["ros2", "launch"],
    ]


def test_force_engine_update_rebuilds_and_selftests_the_new_engine(box: Sandbox) -> None:
    assert box.run().returncode == 0
    run = box.run(FORCE_ENGINE_UPDATE="1")
    assert run.returncode == 0, run.stderr
    assert run.calls[0] == ["anomaly-seg", "build-engine", str(box.model), "--precision", "fp16", "--force"]
    assert run.calls[1][:4] == ["anomaly-seg", "selftest", "--model", str(box.engine)]


def test_a_failed_selftest_stops_before_the_node_and_is_retried_next_start(box: Sandbox) -> None:
    run = box.run(STUB_SELFTEST_RC="1")
    assert run.returncode != 0
    assert "self-test FAILED" in run.stderr and "fp32" in run.stderr
    assert not any(c[0] == "ros2" for c in run.calls)
    assert not (box.models / "model.fp16.engine.selftest.ok").exists()
    retry = box.run()
    assert [c[:2] for c in retry.calls][1:] == [["anomaly-seg", "selftest"], ["ros2", "launch"]]


def test_a_failed_engine_build_stops_with_the_model_named(box: Sandbox) -> None:
    run = box.run(STUB_BUILD_RC="3")
    assert run.returncode != 0
    assert f"engine build failed for {box.model}" in run.stderr
    assert not any(c[0] == "ros2" for c in run.calls)


def test_onnxruntime_backend_builds_no_engine_and_selftests_the_onnx_once(box: Sandbox) -> None:
    first = box.run(BACKEND="onnxruntime")
    assert first.calls == [
        ["anomaly-seg", "selftest", "--model", str(box.model), "--backend", "onnxruntime", "--precision", "fp16"],
        launch_call(box, "['/camera/image_raw']", "onnxruntime"),
    ]
    second = box.run(BACKEND="onnxruntime")
    assert [c[0] for c in second.calls] == ["ros2"]
    assert not list(box.models.glob("*.engine"))


@pytest.mark.parametrize(("has_tensorrt", "builds"), [("1", True), ("0", False)])
def test_auto_backend_builds_an_engine_only_where_tensorrt_exists(
    box: Sandbox, has_tensorrt: str, builds: bool
) -> None:
    run = box.run(BACKEND="auto", STUB_HAS_TENSORRT=has_tensorrt)
    assert run.returncode == 0, run.stderr
    assert any(c[1] == "build-engine" for c in run.calls if c[0] == "anomaly-seg") is builds


def test_cameras_extra_launch_arguments_and_precision_reach_the_commands(box: Sandbox) -> None:
    run = box.run(
        "node",
        "output.resolution:=network",
        CAMERAS=" /front/image_raw, /rear/image_raw ,",
        PRECISION="fp32",
        EXTRA_LAUNCH_ARGS="use_sim_time:=true log_level:=info",
    )
    assert run.returncode == 0, run.stderr
    assert run.calls[0] == ["anomaly-seg", "build-engine", str(box.model), "--precision", "fp32"]
    assert run.calls[1][3] == str(box.models / "model.fp32.engine")
    assert run.calls[-1] == launch_call(
        box,
        "['/front/image_raw', '/rear/image_raw']",
        "tensorrt",
        "use_sim_time:=true",
        "log_level:=info",
        "output.resolution:=network",
        precision="fp32",
    )


def test_a_launch_list_literal_for_cameras_is_passed_through(box: Sandbox) -> None:
    run = box.run(CAMERAS="['/a/image', '/b/image']", SKIP_SELFTEST="1")
    assert run.calls[-1][4] == "cameras:=['/a/image', '/b/image']"
    assert "SKIP_SELFTEST=1" in run.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CAMERAS": "/front cam/image"}, "not a valid ROS topic name"),
        ({"CAMERAS": " , "}, "CAMERAS is empty"),
        ({"BACKEND": "tensorflow"}, "BACKEND='tensorflow'"),
        ({"PRECISION": "bf16"}, "PRECISION='bf16'"),
        ({"MODEL": "/nonexistent/model.onnx"}, "model '/nonexistent/model.onnx' not found"),
    ],
)
def test_bad_settings_stop_with_a_message_naming_them(box: Sandbox, env: dict[str, str], message: str) -> None:
    run = box.run(**env)
    assert run.returncode != 0
    assert message in run.stderr
    assert not any(c[0] == "ros2" for c in run.calls)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_a_read_only_model_folder_is_reported_with_the_fix(box: Sandbox) -> None:
    box.models.chmod(0o555)
    try:
        run = box.run()
    finally:
        box.models.chmod(0o755)
    assert run.returncode != 0
    assert "not writable" in run.stderr and "chown" in run.stderr


def test_prepare_builds_and_exits_without_launching(box: Sandbox) -> None:
    run = box.run("prepare")
    assert run.returncode == 0, run.stderr
    assert [c[1] for c in run.calls] == ["build-engine", "selftest"]
    assert "model ready" in run.stderr


def test_replay_eval_replays_the_bag_and_evaluates_the_output(box: Sandbox) -> None:
    bag = box.root / "bags" / "run1"
    bag.mkdir(parents=True)
    out = box.root / "outputs"
    run = box.run("replay-eval", BAG=str(bag), OUT_DIR=str(out), SKIP_SELFTEST="1")
    assert run.returncode == 0, run.stderr
    replayed = out / "run1_replayed"
    assert run.calls[1:] == [
        ["anomaly-seg", "replay", str(bag), "--model", str(box.model), "--backend", "tensorrt", "--out", str(replayed)],
        ["anomaly-seg", "evaluate", str(replayed), "--report", str(out / "run1_report")],
    ]
    missing = box.run("replay-eval", OUT_DIR=str(out))
    assert missing.returncode != 0 and "set BAG" in missing.stderr


def test_rviz_uses_the_installed_display_config(box: Sandbox) -> None:
    run = box.run("rviz")
    assert run.calls == [["rviz2", "-d", str(box.prefix / "share/anomaly_seg/rviz/anomaly_seg.rviz")]]


def test_other_commands_run_as_given_without_touching_the_model(box: Sandbox) -> None:
    run = box.run("bash", "-c", 'echo "hello $1"; command -v anomaly-seg', "bash", "inside")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "hello inside"
    assert lines[1] == str(box.prefix / "lib/anomaly_seg/anomaly-seg")  # the package's scripts are on PATH
    assert run.calls == []


def cli_parser_accepts(argv: list[str]) -> None:
    from anomaly_seg import cli

    command = argv[0]
    module = cli.COMMANDS[command][0]
    if importlib.util.find_spec(f"anomaly_seg.commands.{module}") is None:
        pytest.skip(f"anomaly_seg.commands.{module} is not written yet")
    cli.build_parser(command).parse_args(argv)  # exits with status 2 on an unknown argument


@pytest.mark.parametrize("command", ["build-engine", "selftest", "replay", "evaluate"])
def test_entrypoint_calls_match_the_anomaly_seg_cli(box: Sandbox, command: str) -> None:
    bag = box.root / "bag"
    bag.mkdir()
    calls = box.run(FORCE_ENGINE_UPDATE="1").calls
    calls += box.run("replay-eval", BAG=str(bag), OUT_DIR=str(box.root / "out")).calls
    argvs = [c[1:] for c in calls if c[0] == "anomaly-seg" and c[1] == command]
    assert argvs, f"the entrypoint never calls anomaly-seg {command}"
    for argv in argvs:
        cli_parser_accepts(argv)
