"""An interrupted replay (SIGINT, SIGTERM) leaves a complete bag of the frames it processed; --resume finishes it to
the same evaluation as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg.bags import BagWriter, read_raw_messages
from anomaly_seg.cli import main
from anomaly_seg.engines.onnxruntime_backend import OnnxRuntimeEngine
from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.offline.replay import replay_bag
from anomaly_seg.vocabulary import GROUND_TRUTH_TOPIC
from tests.pipeline.fake_engine import grey_frame, write_contract_onnx

H, W = 240, 320
FRAMES = 120
CAMERA = "/camera/image_raw"
T0 = 1_700_000_000_000_000_000
PARAMS = {"segments.region": "all", "segments.min_area_px": 4, "anomaly.threshold": 0.0}
#: outputs whose content depends on wall time, not on the frame
TIMED = {"/anomaly_seg/debug/processing_time_ms", "/anomaly_seg/debug/pipeline_latency_ms", "/diagnostics"}


def make_bag(path: Path) -> None:
    """FRAMES camera images with a red square moving along the road, and their ground truth."""
    store = get_typestore()
    f = rm.rosbags_factory(store)
    with BagWriter(path, typestore=store) as bag:
        bag.add_topic(CAMERA, "sensor_msgs/msg/Image")
        bag.add_topic(GROUND_TRUTH_TOPIC, "sensor_msgs/msg/Image")
        for i in range(FRAMES):
            stamp = T0 + i * 100_000_000
            x = 10 + (i * 7) % (W - 40)
            square = (x, 150, x + 24, 174)
            header = rm.header_from_ns(f, stamp, "cam")
            gt = np.zeros((H, W), np.uint8)
            gt[: H // 2] = 255
            gt[150:174, x : x + 24] = 1
            bag.write(CAMERA, stamp, rm.array_to_image(f, grey_frame(H, W, [square]), "rgb8", header))
            bag.write(GROUND_TRUTH_TOPIC, stamp, rm.array_to_image(f, gt, "mono8", header))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(input bag, model, output of an uninterrupted replay)."""
    root = tmp_path_factory.mktemp("interrupted")
    make_bag(root / "in")
    model = write_contract_onnx(root / "model.onnx", (H, W))
    params = NodeParams.from_dict(PARAMS, check_files=False)
    replay_bag(root / "in", root / "full", OnnxRuntimeEngine(model), params, progress=False)
    return root / "in", model, root / "full"


def replay_command(bag: Path, model: Path, out: Path, *extra: str) -> list[str]:
    """``anomaly-seg replay`` as a process (the parameters come from a params file)."""
    args = ["replay", str(bag), "--model", str(model), "--backend", "onnxruntime", "--out", str(out), "--threads", "1"]
    return [sys.executable, "-c", "import sys; from anomaly_seg.cli import main; sys.exit(main())", *args, *extra]


def write_params(path: Path) -> Path:
    body = "\n".join(f"      {k.split('.')[1]}: {v!r}" for k, v in PARAMS.items() if k.startswith("segments."))
    path.write_text(f"/**:\n  ros__parameters:\n    anomaly:\n      threshold: 0.0\n    segments:\n{body}\n")
    return path


def interrupt_replay(
    bag: Path, model: Path, out: Path, params: Path, sig: signal.Signals
) -> subprocess.CompletedProcess[str]:
    """Start a replay, send ``sig`` once a few frames are in the output, wait for it to end."""
    process = subprocess.Popen(
        [*replay_command(bag, model, out), "--params", str(params)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        files = list(out.glob("*.mcap")) if out.exists() else []
        if files and files[0].stat().st_size > 4 * 2**20:  # a few 1 MiB chunks: several frames written
            break
        time.sleep(0.005)
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def resume(bag: Path, model: Path, out: Path, params: Path) -> subprocess.CompletedProcess[str]:
    """``anomaly-seg replay ... --resume`` as a process; asserts it succeeded."""
    result = subprocess.run(
        [*replay_command(bag, model, out, "--resume"), "--params", str(params)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def raw_by_key(bag: Path) -> dict[tuple[str, int], bytes]:
    return {(m.topic, m.timestamp_ns): m.raw for m in read_raw_messages(bag)}


def evaluate(bag: Path, report: Path) -> dict[str, object]:
    assert main(["evaluate", str(bag), "--report", str(report)]) == 0
    metrics: dict[str, object] = json.loads((report / "metrics.json").read_text())
    return metrics


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_replay_keeps_every_processed_frame_and_resume_completes_it(
    setup: tuple[Path, Path, Path], tmp_path: Path, sig: signal.Signals
) -> None:
    bag, model, full = setup
    params = write_params(tmp_path / "params.yaml")
    out = tmp_path / "out"
    result = interrupt_replay(bag, model, out, params, sig)
    assert result.returncode == 128 + sig.value, result.stderr[-2000:]
    assert f"interrupted ({sig.name})" in result.stdout and "Traceback" not in result.stderr
    assert (out / "metadata.yaml").is_file()  # closed properly: index, footer and metadata

    partial, reference = raw_by_key(out), raw_by_key(full)
    semantic = "/anomaly_seg/output/semantic"
    done = sorted(stamp for topic, stamp in partial if topic == semantic)
    assert 0 < len(done) < FRAMES, f"interrupted after {len(done)} of {FRAMES} frames"
    for key, raw in partial.items():  # every message of the processed frames as in the uninterrupted run
        if key[0] not in TIMED:
            assert reference[key] == raw, key
    assert evaluate(out, tmp_path / "partial_report")["frames"]["evaluated"] == len(done)  # type: ignore[index]

    resumed = resume(bag, model, out, params)
    assert f"already in the output (resumed): {len(done)}" in resumed.stdout
    assert {k for k in raw_by_key(out) if k[0] not in TIMED} == {k for k in reference if k[0] not in TIMED}
    got, want = evaluate(out, tmp_path / "resumed_report"), evaluate(full, tmp_path / "full_report")
    for key in ("frames", "pixel", "segments", "segment_rules", "components", "score_threshold"):
        assert got[key] == want[key], key


def test_resume_of_a_complete_output_processes_nothing(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    bag, model, full = setup
    out = tmp_path / "out"
    params = NodeParams.from_dict(PARAMS, check_files=False)
    replay_bag(bag, out, OnnxRuntimeEngine(model), params, progress=False)
    summary = replay_bag(bag, out, OnnxRuntimeEngine(model), params, progress=False, resume=True)
    assert (summary.frames_in, summary.resumed, summary.copied) == (0, FRAMES, {})
    assert {k for k in raw_by_key(out) if k[0] not in TIMED} == {k for k in raw_by_key(full) if k[0] not in TIMED}


@pytest.mark.slow
def test_a_replay_killed_outright_is_read_up_to_the_cut_and_resumed(
    setup: tuple[Path, Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bag, model, full = setup
    params = write_params(tmp_path / "params.yaml")
    out = tmp_path / "out"
    result = interrupt_replay(bag, model, out, params, signal.SIGKILL)  # as a power loss: no cleanup at all
    assert result.returncode == -signal.SIGKILL and not (out / "metadata.yaml").exists()
    with caplog.at_level("WARNING", logger="anomaly_seg.bags"):
        partial = evaluate(out, tmp_path / "partial_report")
    assert "is incomplete" in caplog.text and "recovered" in caplog.text
    assert 0 < partial["frames"]["evaluated"] < FRAMES  # type: ignore[index,operator]

    resume(bag, model, out, params)
    assert (out / "metadata.yaml").is_file()
    got, want = evaluate(out, tmp_path / "resumed_report"), evaluate(full, tmp_path / "full_report")
    for key in ("frames", "pixel", "segments", "components"):
        assert got[key] == want[key], key
