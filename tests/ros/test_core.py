"""NodeCore (anomaly_seg/node_core/core.py) with rosbags message classes and a fake engine: outputs, headers, CDR
validity, bad inputs of DESIGN.md §7, counters, diagnostics, memory over 1000 frames, the latest-frame slot."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg import vocabulary
from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import CLASS_NAMES, colorize
from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.node_core import core, runner
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.pipeline.overlay import BOX_BGR, render_overlay
from tests.pipeline.fake_engine import FakeEngine, grey_frame, write_contract_onnx

STORE = get_typestore()
F = rm.rosbags_factory(STORE)
STAMP_NS = 1_700_000_000_123_456_789
FRAME = "cam_front_optical"
NET = (64, 128)
SQUARE = (100, 160, 164, 224)  # x0, y0, x1, y1 on a 512x256 frame, in the road half


def params(**overrides: Any) -> NodeParams:
    values: dict[str, Any] = {"segments.min_area_px": 4, "segments.region": "all"}
    values.update(overrides)
    return NodeParams.from_dict(values, check_files=False)


def make_core(
    engine: FakeEngine | None = None, clock_ns: int = STAMP_NS + 25_000_000, **overrides: Any
) -> core.NodeCore:
    return core.NodeCore(params(**overrides), engine or FakeEngine(NET), F, clock=lambda: clock_ns)


def header(stamp_ns: int = STAMP_NS) -> Any:
    return rm.header_from_ns(F, stamp_ns, FRAME)


def rgb_msg(rgb: np.ndarray, encoding: str = "rgb8", stamp_ns: int = STAMP_NS) -> Any:
    pixels = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "rgba8": cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)}[encoding]
    return rm.array_to_image(F, np.ascontiguousarray(pixels), encoding, header(stamp_ns))


def serialize(topic: str, msg: Any) -> bytes:
    return bytes(STORE.serialize_cdr(msg, msg.__msgtype__))


def by_topic(outputs: list[tuple[str, Any]]) -> dict[str, Any]:
    topics = [t for t, _ in outputs]
    assert len(topics) == len(set(topics)), topics
    return dict(outputs)


def test_every_output_is_a_valid_ros_message_with_the_input_header() -> None:
    node = make_core()
    out = by_topic(node.process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    assert list(out) == list(vocabulary.OUTPUT_TYPES)  # wanted=None: every topic, in a fixed order
    assert list(out)[:2] == [vocabulary.TOPIC_OBSTACLES, vocabulary.TOPIC_ANOMALY_MASK]  # planner-facing first
    for topic, msg in out.items():
        assert msg.__msgtype__.endswith("/" + vocabulary.OUTPUT_TYPES[topic]), (topic, msg.__msgtype__)
        raw = serialize(topic, msg)
        back = STORE.deserialize_cdr(raw, msg.__msgtype__)
        if hasattr(msg, "header"):
            assert rm.stamp_to_ns(back.header.stamp) == STAMP_NS and back.header.frame_id == FRAME, topic
    expected = {
        vocabulary.TOPIC_SEMANTIC: "mono8",
        vocabulary.TOPIC_SEMANTIC_COLOR: "rgb8",
        vocabulary.TOPIC_ANOMALY_SCORE: "32FC1",
        vocabulary.TOPIC_ANOMALY_MASK: "mono8",
        vocabulary.TOPIC_OBSTACLE_IDS: "mono16",
        vocabulary.TOPIC_OVERLAY: "bgr8",
    }
    at_network = {vocabulary.TOPIC_SEMANTIC_COLOR, vocabulary.TOPIC_OVERLAY}  # output.network_topics' default
    for topic, encoding in expected.items():
        size = NET if topic in at_network else (256, 512)
        assert out[topic].encoding == encoding and (out[topic].height, out[topic].width) == size, topic
    for det in out[vocabulary.TOPIC_OBSTACLES].detections:
        assert rm.stamp_to_ns(det.header.stamp) == STAMP_NS and det.header.frame_id == FRAME


def test_output_content_matches_the_pipeline_result() -> None:
    node = make_core(**{"output.network_topics": "[]"})  # every image at the camera size
    out = by_topic(node.process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    result = node.last_result
    assert result is not None
    np.testing.assert_array_equal(rm.image_to_array(out[vocabulary.TOPIC_SEMANTIC]), result.semantic)
    np.testing.assert_array_equal(rm.image_to_array(out[vocabulary.TOPIC_SEMANTIC_COLOR]), colorize(result.semantic))
    np.testing.assert_array_equal(rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_SCORE]), result.anomaly_score)
    mask = rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_MASK])
    np.testing.assert_array_equal(mask, np.where(result.anomaly_score >= 0.0, 255, 0))
    ids_img = rm.image_to_array(out[vocabulary.TOPIC_OBSTACLE_IDS])
    ids, boxes, scores = rm.detections_to_arrays(out[vocabulary.TOPIC_OBSTACLES])
    assert list(ids) == [1] and scores.tolist() == [1.0]
    assert out[vocabulary.TOPIC_OBSTACLES].detections[0].results[0].hypothesis.class_id == "anomaly"
    np.testing.assert_allclose(boxes[0], SQUARE, atol=4)
    assert set(np.unique(ids_img)) == {0, 1}  # ids in the image are the Detection2D ids
    ys, xs = np.nonzero(ids_img == 1)
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], SQUARE, atol=4)
    # overlay: anomalous pixels are red-dominant, the rest keeps the grey camera image blended with class colours
    overlay = rm.image_to_array(out[vocabulary.TOPIC_OVERLAY])
    inside = overlay[180:200, 120:140].reshape(-1, 3).astype(int)
    assert (inside[:, 2] > inside[:, 0] + 100).all() and (inside[:, 2] > inside[:, 1] + 100).all()
    band = overlay[SQUARE[1] - 3 : SQUARE[1] + 3, SQUARE[0] : SQUARE[2]].astype(int)
    near_box = (np.abs(band - np.array(BOX_BGR)).max(axis=2) < 40).any(axis=0)
    assert near_box.mean() > 0.9  # the obstacle box is drawn along the square's top edge
    assert out[vocabulary.TOPIC_PROCESSING_TIME].data > 0
    assert out[vocabulary.TOPIC_PIPELINE_LATENCY].data == pytest.approx(25.0)  # clock - stamp


def test_encodings_and_compressed_input_give_the_same_result() -> None:
    frame = grey_frame(128, 256, [(40, 80, 90, 120)])
    masks = {}
    for encoding in ("rgb8", "bgr8", "rgba8"):
        out = by_topic(make_core().process(rgb_msg(frame, encoding)))
        masks[encoding] = rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_MASK])
    png = rm.rgb_to_compressed(F, frame, header(), fmt="png")
    out = by_topic(make_core().process(png))
    masks["png"] = rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_MASK])
    jpeg = rm.rgb_to_compressed(F, frame, header(), fmt="jpeg", quality=95)
    out = by_topic(make_core().process(jpeg))
    assert rm.stamp_to_ns(out[vocabulary.TOPIC_SEMANTIC].header.stamp) == STAMP_NS
    jpeg_mask = rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_MASK])
    for name, mask in masks.items():
        np.testing.assert_array_equal(mask, masks["rgb8"], err_msg=name)
    assert np.mean(jpeg_mask != masks["rgb8"]) < 0.01  # lossy, but the same square


def test_wanted_skips_outputs_without_subscribers() -> None:
    node = make_core()
    wanted = set(vocabulary.OUTPUT_TYPES) - vocabulary.OPTIONAL_TOPICS
    topics = [t for t, _ in node.process(rgb_msg(grey_frame(64, 128)), wanted)]
    assert set(topics) == wanted
    assert [t for t, _ in node.process(rgb_msg(grey_frame(64, 128)), {vocabulary.TOPIC_OBSTACLES})] == [
        vocabulary.TOPIC_OBSTACLES
    ]


def test_network_resolution_outputs_and_overlay_are_network_sized() -> None:
    out = by_topic(make_core(**{"output.resolution": "network"}).process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    for topic in (
        vocabulary.TOPIC_SEMANTIC,
        vocabulary.TOPIC_ANOMALY_SCORE,
        vocabulary.TOPIC_OBSTACLE_IDS,
        vocabulary.TOPIC_OVERLAY,
    ):
        assert (out[topic].height, out[topic].width) == NET, topic
    _, boxes, _ = rm.detections_to_arrays(out[vocabulary.TOPIC_OBSTACLES])
    np.testing.assert_allclose(boxes[0], np.array(SQUARE) / 4, atol=1)


def test_real_onnxruntime_engine_gives_the_fake_engines_outputs(tmp_path: Path) -> None:
    from anomaly_seg.engines import load_engine

    engine = load_engine(write_contract_onnx(tmp_path / "contract.onnx", NET), backend="onnxruntime")
    msg = rgb_msg(grey_frame(256, 512, [SQUARE]))
    real = by_topic(core.NodeCore(params(), engine, F, clock=lambda: STAMP_NS).process(msg))
    fake = by_topic(make_core().process(msg))
    assert list(real) == list(fake)
    for topic in (vocabulary.TOPIC_SEMANTIC, vocabulary.TOPIC_ANOMALY_MASK, vocabulary.TOPIC_OBSTACLE_IDS):
        np.testing.assert_array_equal(rm.image_to_array(real[topic]), rm.image_to_array(fake[topic]), err_msg=topic)
    np.testing.assert_allclose(
        rm.image_to_array(real[vocabulary.TOPIC_ANOMALY_SCORE]),
        rm.image_to_array(fake[vocabulary.TOPIC_ANOMALY_SCORE]),
        atol=1e-5,
    )


@pytest.mark.parametrize(("intercept", "kept"), [(5.0, True), (-5.0, False)])
def test_meta_classifier_file_decides_which_segments_are_published(
    tmp_path: Path, intercept: float, kept: bool
) -> None:
    from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier

    n = len(FEATURE_NAMES)  # intercept-only model: p = sigmoid(intercept) for every segment
    path = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), intercept, 0.5).save(tmp_path / "meta.json")
    node = make_core(**{"segments.meta_classifier_path": str(path)})
    out = by_topic(node.process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    ids, _, scores = rm.detections_to_arrays(out[vocabulary.TOPIC_OBSTACLES])
    ids_img = rm.image_to_array(out[vocabulary.TOPIC_OBSTACLE_IDS])
    assert (rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_MASK]) == 255).any()  # pixels stay anomalous either way
    if kept:
        assert list(ids) == [1] and scores[0] == pytest.approx(1 / (1 + np.exp(-5.0)), rel=1e-6)
        assert (ids_img == 1).any()
    else:
        assert len(ids) == 0 and not ids_img.any() and node.stats().segments_rejected == 1


@pytest.mark.parametrize("use", [True, False])
def test_segments_form_at_the_meta_classifiers_operating_point(tmp_path: Path, use: bool) -> None:
    from anomaly_seg.segments import FEATURE_NAMES, MetaClassifier

    n = len(FEATURE_NAMES)
    op = {"threshold": 999.0, "meta_threshold": 0.25}  # above every score of the fake engine: no segment
    meta = MetaClassifier(np.zeros(n), np.ones(n), np.zeros(n), 5.0, 0.25, operating_point=op)
    path = meta.save(tmp_path / "meta.json")
    node = make_core(**{"segments.meta_classifier_path": str(path), "segments.operating_point": use})
    out = by_topic(node.process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    ids, _, _ = rm.detections_to_arrays(out[vocabulary.TOPIC_OBSTACLES])
    assert (rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_MASK]) == 255).any()  # the mask keeps its threshold
    assert (len(ids) == 0) == use
    values = {v.key: v.value for v in node.diagnostics().status[0].values}
    assert ("operating point" in values["segment_threshold"]) == use
    assert values["anomaly_threshold"].endswith("(default)")  # the fake engine has no score_threshold
    node.update_params(dataclasses.replace(node.params, given=node.params.given | {"segments.min_area_px"}))
    assert node.params.segment_threshold == (999.0 if use else None)


def _with(msg: Any, **changes: Any) -> Any:
    return dataclasses.replace(msg, **changes)


def bad_inputs() -> dict[str, tuple[Any, str]]:
    good = rgb_msg(grey_frame(16, 32))
    jpeg = rm.rgb_to_compressed(F, grey_frame(16, 32), header())
    data = np.asarray(jpeg.data)
    return {
        "unknown encoding": (_with(good, encoding="rgb9"), "bad_image"),
        "data shorter than step x height": (_with(good, data=np.asarray(good.data)[:-7]), "bad_image"),
        "step smaller than a row": (_with(good, step=10), "bad_image"),
        "zero size": (_with(good, height=0, width=0, step=0, data=np.zeros(0, np.uint8)), "bad_image"),
        "absurd size": (_with(good, height=100_000, width=100_000, step=300_000), "bad_image"),
        "corrupt jpeg": (_with(jpeg, data=np.concatenate([data[:40], np.full(200, 7, np.uint8)])), "bad_image"),
        "not an image stream": (_with(jpeg, data=np.arange(100, dtype=np.uint8)), "bad_image"),
        "empty compressed": (_with(jpeg, data=np.zeros(0, np.uint8)), "bad_image"),
        "message without header": (object(), "internal"),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_is_counted_logged_and_never_raises(case: str, caplog: pytest.LogCaptureFixture) -> None:
    msg, kind = bad_inputs()[case]
    node = make_core()
    with caplog.at_level(logging.ERROR, logger="anomaly_seg.node_core.core"):
        assert node.process(msg) == []
    stats = node.stats()
    assert stats.errors == {kind: 1} and stats.frames_failed == 1 and stats.frames_processed == 0
    assert kind in stats.last_error and len(caplog.records) == 1
    # the node carries on
    assert len(node.process(rgb_msg(grey_frame(16, 32)))) == len(vocabulary.OUTPUT_TYPES)
    assert node.stats().frames_processed == 1


def test_engine_nan_and_engine_exceptions_are_engine_errors() -> None:
    node = make_core(FakeEngine(NET, nan=True))
    assert node.process(rgb_msg(grey_frame(32, 64))) == []
    node2 = make_core(FakeEngine(NET, error=RuntimeError("device lost")))
    assert node2.process(rgb_msg(grey_frame(32, 64))) == []
    assert node.stats().errors == {"engine": 1} and "NaN" in node.stats().last_error
    assert node2.stats().errors == {"engine": 1} and "device lost" in node2.stats().last_error


def test_repeated_errors_are_throttled_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    node = make_core()
    bad = _with(rgb_msg(grey_frame(16, 32)), encoding="rgb9")
    with caplog.at_level(logging.ERROR, logger="anomaly_seg.node_core.core"):
        for _ in range(50):
            node.process(bad)
    assert node.stats().errors == {"bad_image": 50}
    assert len(caplog.records) == 1


def test_counters_add_up_with_dropped_frames() -> None:
    node = make_core()
    node.process(rgb_msg(grey_frame(16, 32)))
    node.process(_with(rgb_msg(grey_frame(16, 32)), encoding="rgb9"))
    node.record_dropped(3)
    s = node.stats()
    assert (s.frames_in, s.frames_processed, s.frames_failed, s.frames_dropped) == (5, 1, 1, 3)
    assert s.frames_in == s.frames_processed + s.frames_failed + s.frames_dropped


def _diag_values(array: Any) -> tuple[int, str, dict[str, str]]:
    (status,) = array.status
    return status.level, status.message, {kv.key: kv.value for kv in status.values}


def test_diagnostics_report_counters_latency_and_levels() -> None:
    node = make_core()
    level, message, values = _diag_values(node.diagnostics(STAMP_NS))
    assert level == F.DiagnosticStatus.OK and "waiting" in message and values["input_size"] == "none yet"
    for i in range(5):
        node.process(rgb_msg(grey_frame(256, 512, [SQUARE]), stamp_ns=STAMP_NS + i))
    node.record_dropped(2)
    array = node.diagnostics(STAMP_NS)
    serialize("/diagnostics", array)
    assert rm.stamp_to_ns(array.header.stamp) == STAMP_NS
    level, _, values = _diag_values(array)
    assert level == F.DiagnosticStatus.OK
    assert values["backend"] == "fake" and values["input_size"] == "512x256" and values["network_size"] == "128x64"
    assert (values["frames_in"], values["frames_processed"], values["frames_dropped"]) == ("7", "5", "2")
    for key in ("processing_ms", "pipeline_latency_ms", "engine_ms"):
        p50, p90, p99 = (float(values[f"{key}_p{q}"]) for q in (50, 90, 99))
        assert 0 <= p50 <= p90 <= p99, key
    assert float(values["pipeline_latency_ms_p50"]) == pytest.approx(25.0, abs=1e-3)
    assert float(values["fps"]) > 0 and values["segments_published"] == "5"

    node.process(_with(rgb_msg(grey_frame(16, 32)), encoding="rgb9"))
    node.process(rgb_msg(grey_frame(16, 32)))
    level, message, values = _diag_values(node.diagnostics())
    assert level == F.DiagnosticStatus.WARN and values["errors.bad_image"] == "1" and "rgb9" in message
    node.process(_with(rgb_msg(grey_frame(16, 32)), encoding="rgb9"))
    level, _, _ = _diag_values(node.diagnostics())
    assert level == F.DiagnosticStatus.ERROR
    level, _, _ = _diag_values(node.diagnostics())
    assert level == F.DiagnosticStatus.OK  # nothing new since the last report


def test_label_info_lists_the_classes_and_threshold() -> None:
    msg = make_core(**{"anomaly.threshold": 1.5}).label_info_message()
    serialize(vocabulary.TOPIC_LABEL_INFO, msg)
    assert [c.class_name for c in msg.class_map] == list(CLASS_NAMES)
    assert [c.class_id for c in msg.class_map] == list(range(19)) and msg.threshold == 1.5


def test_memory_is_flat_over_1000_frames() -> None:
    node = make_core(FakeEngine((32, 64)))
    frames = [rgb_msg(grey_frame(48, 96, [(10 + i, 30, 30 + i, 44)]), stamp_ns=STAMP_NS + i) for i in range(8)]
    bad = _with(frames[0], encoding="rgb9")
    for i in range(100):  # warm-up: windows fill, caches settle
        node.process(frames[i % 8])
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(1000):
        node.process(bad if i % 50 == 0 else frames[i % 8])
        if i % 100 == 0:
            node.diagnostics()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert growth < 200_000, f"memory grew by {growth} bytes over 1000 frames"
    assert node.stats().frames_processed == 100 + 980


def test_latest_frame_slot_keeps_only_the_newest_item() -> None:
    slot: runner.LatestFrameSlot[int] = runner.LatestFrameSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 was never taken: a dropped frame
    assert slot.take(timeout=0) == 2
    assert slot.take(timeout=0.01) is None
    got: list[int | None] = []
    worker = threading.Thread(target=lambda: got.append(slot.take()))
    worker.start()
    slot.put(3)
    worker.join(timeout=5)
    assert got == [3]
    waiter = threading.Thread(target=lambda: got.append(slot.take()))
    waiter.start()
    slot.close()
    waiter.join(timeout=5)
    assert not waiter.is_alive() and got == [3, None]


def test_diagnostics_report_transport_latency_losses_and_publish_times_from_the_shell() -> None:
    node = make_core()
    for sequence, transport_ms in ((1, 2.0), (2, 4.0), (5, 6.0)):  # 3 and 4 never arrived
        node.record_arrival(sequence, STAMP_NS, STAMP_NS + int(transport_ms * 1e6))
        node.record_published(10.0 * sequence)
    node.record_arrival(1, None, None)  # a new publisher starts again at 1: no gap, no latency sample
    node.record_arrival(2, STAMP_NS, None)
    _, _, values = _diag_values(node.diagnostics(STAMP_NS))
    assert float(values["input_transport_ms_p50"]) == pytest.approx(4.0)
    assert float(values["input_transport_ms_p99"]) == pytest.approx(np.percentile([2.0, 4.0, 6.0], 99))
    assert float(values["publish_ms_p50"]) == pytest.approx(20.0)
    assert values["frames_lost_in_transport"] == "2" and node.stats().frames_lost_in_transport == 2
    assert values["frames_in"] == "0"  # lost frames never reached the node


def status(node: core.NodeCore, publishers: int | None = None) -> tuple[int, str, dict[str, str]]:
    return _diag_values(node.diagnostics(publishers=publishers))


def test_diagnostics_warn_about_transport_loss_low_rate_and_error_when_the_camera_goes_silent() -> None:
    node = make_core()
    for sequence in (1, 6, 11):  # 3 frames arrived, 8 lost between them (a driver on Fast DDS defaults)
        node.record_arrival(sequence, None, None)
        node.process(rgb_msg(grey_frame(256, 512, [SQUARE])))
    level, message, values = status(node)
    assert level == F.DiagnosticStatus.WARN and "73 % of the camera's frames lost in transport" in message
    assert "DDS settings" in message and values["frames_lost_in_transport"] == "8"
    node.record_arrival(12, None, None)
    node.process(rgb_msg(grey_frame(256, 512, [SQUARE])))
    assert status(node)[0] == F.DiagnosticStatus.OK  # no loss since the last report

    slow = make_core(**{"diagnostics.expected_fps": 1000.0})
    for _ in range(3):
        slow.process(rgb_msg(grey_frame(256, 512, [SQUARE])))
    level, message, _ = status(slow)
    assert level == F.DiagnosticStatus.WARN and "expected 1000" in message

    silent = make_core(**{"diagnostics.stale_after_s": 0.1})
    silent.process(rgb_msg(grey_frame(256, 512, [SQUARE])))
    time.sleep(0.15)
    level, message, _ = status(silent, publishers=1)
    assert level == F.DiagnosticStatus.ERROR and "no frame for" in message and "1 publisher(s)" in message
    assert status(silent, publishers=0)[0] == F.DiagnosticStatus.OK  # nobody publishes: nothing is wrong


def test_camera_info_follows_the_outputs_resolution() -> None:
    from anomaly_seg.bags.convert import camera_info_message
    from anomaly_seg.datasets import Intrinsics

    node = make_core()
    msg = rgb_msg(grey_frame(256, 512, [SQUARE]))
    assert vocabulary.TOPIC_CAMERA_INFO not in by_topic(node.process(msg))  # no camera_info received yet
    node.record_camera_info(camera_info_message(F, header(), 256, 512, Intrinsics(400.0, 420.0, 256.0, 128.0)))
    for resolution, (h, w) in (("input", (256, 512)), ("network", NET)):
        core_ = make_core(**{"output.resolution": resolution})
        core_.record_camera_info(camera_info_message(F, header(), 256, 512, Intrinsics(400.0, 420.0, 256.0, 128.0)))
        info = by_topic(core_.process(msg))[vocabulary.TOPIC_CAMERA_INFO]
        sx, sy = w / 512, h / 256
        assert (info.height, info.width) == (h, w) and rm.stamp_to_ns(info.header.stamp) == STAMP_NS
        np.testing.assert_allclose(info.k, [400 * sx, 0, 256 * sx, 0, 420 * sy, 128 * sy, 0, 0, 1])
        np.testing.assert_allclose(info.p[[0, 2, 5, 6]], [400 * sx, 256 * sx, 420 * sy, 128 * sy])


def test_network_topics_publish_debug_images_at_network_resolution_and_their_intrinsics() -> None:
    from anomaly_seg.bags.convert import camera_info_message
    from anomaly_seg.datasets import Intrinsics

    node = make_core(**{"output.network_topics": "[overlay, output/anomaly_score]"})
    node.record_camera_info(camera_info_message(F, header(), 256, 512, Intrinsics(400.0, 420.0, 256.0, 128.0)))
    out = by_topic(node.process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    sizes = {topic: (msg.height, msg.width) for topic, msg in out.items() if hasattr(msg, "height")}
    assert sizes[vocabulary.TOPIC_OVERLAY] == sizes[vocabulary.TOPIC_ANOMALY_SCORE] == NET
    for topic in (vocabulary.TOPIC_ANOMALY_MASK, vocabulary.TOPIC_OBSTACLE_IDS, vocabulary.TOPIC_SEMANTIC):
        assert sizes[topic] == (256, 512), topic  # the planner's mask and the ids keep output.resolution
    assert sizes[vocabulary.TOPIC_CAMERA_INFO] == (256, 512) and sizes[vocabulary.TOPIC_NETWORK_CAMERA_INFO] == NET
    np.testing.assert_allclose(out[vocabulary.TOPIC_NETWORK_CAMERA_INFO].k[[0, 4]], [400 * 128 / 512, 420 * 64 / 256])
    score = rm.image_to_array(out[vocabulary.TOPIC_ANOMALY_SCORE])
    np.testing.assert_array_equal(score, node.last_result.at_network().anomaly_score)  # type: ignore[union-attr]
    # the overlay at network size is drawn on the network input with the network view's mask and boxes
    view = node.last_result.at_network()  # type: ignore[union-attr]
    base = cv2.cvtColor(node.pipeline.network_input[0], cv2.COLOR_RGB2BGR)
    expected = render_overlay(base, view.semantic, view.anomaly_mask, view.obstacles.kept_only(), 0.5)
    np.testing.assert_array_equal(rm.image_to_array(out[vocabulary.TOPIC_OVERLAY]), expected)

    plain = by_topic(make_core().process(rgb_msg(grey_frame(256, 512, [SQUARE]))))
    assert vocabulary.TOPIC_NETWORK_CAMERA_INFO not in plain


@pytest.mark.parametrize("value", ["[anomaly_mask]", "[obstacle_ids]", "{overlay: 1}", "[overlay", "[3]"])
def test_network_topics_refuse_what_is_not_a_debug_image(value: str) -> None:
    with pytest.raises(ConfigError, match=r"output\.network_topics"):
        NodeParams.from_dict({"output.network_topics": value}, check_files=False)


def test_network_topics_round_trip_through_to_dict() -> None:
    params = NodeParams.from_dict({"output.network_topics": "semantic_color"}, check_files=False)
    assert params.output.network_topics == {vocabulary.TOPIC_SEMANTIC_COLOR}
    assert NodeParams.from_dict(params.to_dict(), check_files=False) == params
