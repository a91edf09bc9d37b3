"""A released-layout model (G-D, random values in the official layout) exported and served by the real node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.ros.harness import RosClient, require_ros, ros_processes

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from tests.network.official_layout import layout_state, write_lightning_checkpoint  # noqa: E402
from tests.ros.test_node_process import client as client  # noqa: E402  (the fixture)
from tests.ros.test_node_process import frame, plans, serve, stamp  # noqa: E402
from training.export import build_export_source, export_model  # noqa: E402
from training.import_official import import_official  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
NET = (154, 308)


@pytest.fixture(scope="module")
def official_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("official")
    ckpt = write_lightning_checkpoint(tmp / "g_d.ckpt", layout_state("g_d", values="random", seed=3), "g_d")
    checkpoint = import_official(ckpt, "g_d", tmp / "imported", log=lambda _: None, progress=False).checkpoint
    source = build_export_source(None, checkpoint, NET)
    result = export_model(source.module, tmp / "g_d.onnx", NET, source.metadata, log=lambda _: None,
                          cases=("random_smooth",))  # fmt: skip
    assert result.parity_passed, result.parity
    return result.onnx_path


def test_node_serves_the_released_layout_model(official_onnx: Path, client: RosClient, tmp_path: Path) -> None:
    f = rm.ros_factory()
    (plan,) = plans(official_onnx, **{"output.resolution": "input"})
    with ros_processes() as procs:
        process, outputs, pub = serve(procs, plan, client, tmp_path)
        sent: dict[int, Any] = {}

        def publish() -> None:
            if len(sent) < 6:
                msg = frame(f, len(sent), "cam_test_optical")
                sent[stamp(msg)] = msg
                pub.publish(msg)

        keys = (vocabulary.TOPIC_SEMANTIC, vocabulary.TOPIC_ANOMALY_SCORE, vocabulary.TOPIC_OBSTACLES)
        assert client.spin_until(lambda: all(outputs[k] for k in keys), 90.0, step=publish), process.output[-2000:]
        score = rm.image_to_array(outputs[vocabulary.TOPIC_ANOMALY_SCORE][0])
        semantic = rm.image_to_array(outputs[vocabulary.TOPIC_SEMANTIC][0])
        assert score.shape == semantic.shape == (96, 160) and np.isfinite(score).all()
        assert semantic.max() < 19 and stamp(outputs[vocabulary.TOPIC_SEMANTIC][0]) in sent
        assert process.interrupt() == 0
