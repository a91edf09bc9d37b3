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
    for module in ("__init__.py", "py.typed", "ros/messages.py", "bags/reader.py", "cli.py"):
        assert (site_packages / PACKAGE / module).is_file(), f"{module} missing from the installed package"
