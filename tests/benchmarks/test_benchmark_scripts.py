"""The benchmark scripts run end to end in CI (few repeats) and print the tables and summary lines they promise.

Speed itself is never asserted here (shared CI cores); the recorded numbers live in BENCHMARKS.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_script(name: str, *args: str, timeout: float = 600) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [line for line in proc.stdout.splitlines() if line.strip()]


def test_postprocess_prints_stage_table_naive_speedup_and_ratio_last() -> None:
    lines = run_script("postprocess.py", "--repeats", "3", "--naive-repeats", "1")
    text = "\n".join(lines)
    for stage in ("components at network size", "features at network size", "message packing", "total"):
        assert stage in text
    speedup = re.search(r"speed-up of features: (\d+)x", text)
    assert speedup and int(speedup.group(1)) > 1
    last = re.fullmatch(r"postprocess/resize ratio: (\d+\.\d+)", lines[-1])
    assert last and float(last.group(1)) > 0


def test_node_core_times_every_input_kind() -> None:
    text = "\n".join(run_script("node_core.py", "--frames", "3"))
    for case in ("2048x1024", "1280x720", "rgb8", "bgr8", "jpeg"):
        assert case in text
    assert re.search(r"reference: 1 x cv2.resize", text)


@pytest.mark.slow
def test_engines_reports_ort_vs_torch_ratio_for_tiny() -> None:
    text = "\n".join(run_script("engines.py", "--configs", "tiny", "--runs", "2", "--threads", "1"))
    assert "onnxruntime" in text.lower() and "torch" in text.lower()
    assert re.search(r"\d+(\.\d+)?x", text), text


def test_pixel_metrics_streaming_ap_equals_scikit_learn() -> None:
    lines = run_script("pixel_metrics.py", "--images", "4", "--size", "64x128")
    aps = [float(line.split()[-1]) for line in lines if line.startswith(("PixelAnomalyMetrics", "scikit-learn"))]
    assert len(aps) == 2 and abs(aps[0] - aps[1]) < 1e-4, lines
    assert re.fullmatch(r"streaming/scikit-learn time ratio: \d+\.\d+", lines[-1])


@pytest.mark.ros
def test_ros_transport_reports_losses_and_latency_per_topic_through_the_node() -> None:
    from tests.ros.harness import require_ros

    require_ros()
    lines = run_script("ros_transport.py", "--sizes", "640x480", "--frames", "10", "--profiles", "shipped")
    text = "\n".join(lines)
    for topic in ("input", "publish (node)", "output/semantic", "output/anomaly_score", "output/overlay"):
        assert topic in text
    (row,) = [line for line in lines if re.match(r"shipped +\d+x\d+ ", line)]
    sent, received = (int(v) for v in row.split()[2:4])
    assert sent == 10 and 0 < received <= sent
    assert re.fullmatch(r"shipped profile: worst p99 transport latency / 33 ms goal: \d+\.\d+", lines[-3])
    # negative: the planner outputs now leave before the frame's other outputs are built
    assert re.fullmatch(r"planner outputs p99 at 640x480 \(shipped profile\): -?\d+\.\d ms \(goal 33 ms\)", lines[-2])
    assert re.fullmatch(r"every output p99 at 640x480 \(shipped profile\): \d+\.\d ms \(goal 50 ms\)", lines[-1])
    assert any(line.startswith("shipped 640x480: camera stamp -> received p99 (ms): obstacles ") for line in lines)


def test_node_throughput_compares_serial_pipelined_and_camera_sharing() -> None:
    lines = run_script("node_throughput.py", "--quick", "--seconds", "1.5")
    text = "\n".join(lines)
    for word in ("serial", "pipelined", "per-camera", "shared", "batched", "decode+resize / engine / post+pack"):
        assert word in text
    assert re.search(r"bound min\(rate, 1000 / slowest stage.*: \d+\.\d fps; pipelined reaches \d+\.\d\d", text)
    last = re.fullmatch(r"throughput pipelined/serial \(L=25 ms, \d cores, 1 camera\): (\d+\.\d+)", lines[-1])
    assert last and float(last.group(1)) > 0


def test_official_gmm_fp16_table_shows_fp16_unsafe_and_fp32_head_safe() -> None:
    lines = run_script("official_gmm_fp16.py", "--pixels", "2000")
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): line for line in lines if line.startswith("| ")}

    def argmax_agree(head: str, precision: str) -> float:
        return float(rows[(head, precision)].split("|")[5].strip().rstrip(" %"))

    assert argmax_agree("semantic (19 classes)", "fp16 in, fp32 head") == 100.0
    assert argmax_agree("semantic (19 classes)", "fp16") < 100.0
    assert "NOT released weights" in lines[0]


@pytest.mark.slow
def test_official_import_peaks_below_the_naive_load() -> None:
    from tests.network.official_layout import require_layouts

    require_layouts()
    lines = run_script("official_import.py", "--variant", "g_g")  # with the 0.8 GB GMM memory the import never reads
    table = {
        line.split("|")[1].strip(): float(line.split("|")[3])
        for line in lines
        if line.startswith("| ") and "step" not in line and "---" not in line
    }
    naive = table["plain torch.load + build model + copy (no mmap)"]
    assert table["import-official (restricted, mmap, strict map, write)"] < 0.8 * naive


def test_precision_table_compares_fp16_and_int8_with_fp32() -> None:
    lines = run_script(
        "precision.py", "--config", "models/configs/tiny.yaml", "--images", "3", "--calibration-frames", "2"
    )
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")] for line in lines if "|" in line}
    assert {"fp32", "fp16", "int8"} <= set(rows)
    assert float(rows["fp32"][2]) == 0.0 and float(rows["fp32"][3]) == 100.0  # fp32 against itself
    assert "float16" in rows["fp16"][1] and "int8" in rows["int8"][1]
    assert float(rows["fp16"][3]) > 95.0  # class agreement of the fp16 graph (random weights)
