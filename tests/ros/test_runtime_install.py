"""The node installed with its runtime dependencies only (no ``[torch,train]``), as the README says, starts on an
ONNX model and publishes. A fresh venv gets ``pip install ros2_ws/src/anomaly_seg`` (not editable) and
``make ros``'s installer; torch, scikit-learn and the other training packages must be absent from it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ros.harness import (
    REPO,
    SHIPPED_PARAMS,
    RosClient,
    RosProcess,
    latest_status,
    new_domain_id,
    require_ros,
    ros_environment,
    ros_processes,
)

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from anomaly_seg.ros.launch_plan import camera_nodes  # noqa: E402
from tests.pipeline.fake_engine import grey_frame, write_contract_onnx  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _run(cmd: list[str], timeout: float = 600) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_node_runs_from_a_venv_with_only_its_runtime_dependencies(tmp_path: Path) -> None:
    venv = tmp_path / "runtime"
    base_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    _run([str(base_python), "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    source = tmp_path / "src" / "anomaly_seg"  # a copy: setuptools builds in place and must not litter the repo
    shutil.copytree(REPO / "ros2_ws/src/anomaly_seg", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    _run([py, "-m", "pip", "install", "--quiet", "-c", str(REPO / "requirements/lock.txt"), str(source)])
    _run([str(REPO / "ros2_ws" / "install_ros.sh"), str(venv)])
    absent = subprocess.run(
        [
            py,
            "-c",
            "import importlib.util as u; print([m for m in ('torch', 'sklearn', 'safetensors', 'onnxscript',"
            " 'pycocotools', 'training') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert absent.stdout.strip() == "[]", absent.stdout

    model = write_contract_onnx(tmp_path / "contract.onnx", (64, 128))
    (plan,) = camera_nodes("/cam_rt/image_raw", str(SHIPPED_PARAMS), model=str(model))  # backend auto
    domain = new_domain_id()
    client = RosClient(domain)
    try:
        f = rm.ros_factory()
        diagnostics = client.subscribe(vocabulary.TOPIC_DIAGNOSTICS, f.DiagnosticArray)
        semantic = client.subscribe(f"{plan.full_name}/{vocabulary.TOPIC_SEMANTIC}", f.Image)
        with ros_processes() as procs:
            cmd = plan.command(venv / "bin" / "anomaly_seg_node", tmp_path / "overrides.yaml")
            procs.append(node := RosProcess(cmd, ros_environment(domain), tmp_path, "node"))
            assert client.spin_until(
                lambda: latest_status(diagnostics, plan.full_name) is not None or node.proc.poll() is not None, 60.0
            )
            assert node.proc.poll() is None, node.output[-3000:]
            status = latest_status(diagnostics, plan.full_name)
            assert status is not None and status["backend"].startswith("onnxruntime"), status
            pub = client.publisher("/cam_rt/image_raw", f.Image)
            image = rm.array_to_image(f, grey_frame(96, 160, [(40, 50, 80, 90)]), "rgb8", rm.header_from_ns(f, 7, "rt"))
            assert client.spin_until(lambda: bool(semantic), 20.0, step=lambda: pub.publish(image))
            assert semantic[0].header.frame_id == "rt" and (semantic[0].height, semantic[0].width) == (96, 160)
            assert node.interrupt() == 0
    finally:
        client.close()
