"""Bag evaluator: stamp matching, metrics equal to the training evaluator's metric calls and to scikit-learn, report."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from anomaly_seg import messages as rm
from anomaly_seg.bags import BagWriter
from anomaly_seg.cli import main
from anomaly_seg.evaluation.bag_evaluator import EvalSettings, compact_ids
from anomaly_seg.evaluation.bag_source import evaluate_bag
from anomaly_seg.evaluation.contact_sheet import EvenSampler
from anomaly_seg.evaluation.matching import FrameOutputs, StampMatcher
from anomaly_seg.messages.typestore import get_typestore
from anomaly_seg.metrics.pixel import PixelAnomalyMetrics
from anomaly_seg.metrics.segments import SegmentMetrics
from anomaly_seg.offline.replay import replay_bag
from anomaly_seg.segments import SegmentParams
from tests.bags.test_replay import make_bag, params
from tests.pipeline.fake_engine import FakeEngine

H, W = 40, 60
NS = "/anomaly_seg"
GT = "/ground_truth/anomaly"
THRESHOLD = 0.5


def synthetic_frames(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(gt 0/1/255, score float32, semantic) with blob-shaped obstacles and a noisy score that partly finds them."""
    rng = np.random.default_rng(seed)
    frames = []
    yy, xx = np.mgrid[:H, :W]
    for _ in range(n):
        gt = np.zeros((H, W), np.uint8)
        gt[:8] = 255
        for _ in range(rng.integers(1, 4)):
            cy, cx, r = rng.integers(12, H - 4), rng.integers(4, W - 4), rng.integers(2, 5)
            gt[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
        score = (rng.normal(0, 0.4, (H, W)) + 1.2 * (gt == 1)).astype(np.float32)
        semantic = np.where(yy > H // 3, 0, 10).astype(np.uint8)
        frames.append((gt, score, semantic))
    return frames


def write_output_bag(path: Path, frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """A bag as `anomaly-seg replay` writes it; frame 0 has no outputs, an extra output frame has no ground truth."""
    store = get_typestore()
    f = rm.rosbags_factory(store)
    ids_per_frame = []
    with BagWriter(path, typestore=store) as bag:
        for topic in ("anomaly_score", "semantic", "obstacle_ids"):
            bag.add_topic(f"{NS}/output/{topic}", "sensor_msgs/msg/Image")
        bag.add_topic(f"{NS}/output/label_info", "vision_msgs/msg/LabelInfo")
        bag.add_topic(f"{NS}/debug/processing_time_ms", "std_msgs/msg/Float64")
        bag.add_topic(GT, "sensor_msgs/msg/Image")
        t0 = 1_000_000_000_000
        header0 = rm.header_from_ns(f, t0, "cam")
        bag.write(f"{NS}/output/label_info", t0, rm.label_info(f, header0, ["road"], THRESHOLD))
        for i, (gt, score, semantic) in enumerate([*frames, frames[0]]):
            stamp = t0 + i * 50_000_000
            header = rm.header_from_ns(f, stamp, "cam")
            if i < len(frames):
                bag.write(GT, stamp, rm.array_to_image(f, gt, "mono8", header))
            if i == 0:
                continue  # the node "dropped" frame 0
            _, labels = cv2.connectedComponents((score >= THRESHOLD).view(np.uint8), connectivity=8)
            ids = labels.astype(np.uint16)
            ids_per_frame.append(ids)
            bag.write(f"{NS}/output/anomaly_score", stamp, rm.array_to_image(f, score, "32FC1", header))
            bag.write(f"{NS}/output/semantic", stamp, rm.array_to_image(f, semantic, "mono8", header))
            bag.write(f"{NS}/output/obstacle_ids", stamp, rm.array_to_image(f, ids, "mono16", header))
            bag.write(f"{NS}/debug/processing_time_ms", stamp, f.Float64(data=float(10 + i)))
    return ids_per_frame


def test_metrics_equal_the_training_metric_calls_and_scikit_learn(tmp_path: Path) -> None:
    frames = synthetic_frames(6)
    write_output_bag(tmp_path / "out", frames)

    result = evaluate_bag(tmp_path / "out", tmp_path / "report", progress=False)
    m = result.evaluator.metrics(result.matcher)

    assert m["frames"] == {
        "evaluated": 5,
        "ground_truth_without_outputs": 1,
        "outputs_without_ground_truth": 1,
        "outputs_resized_to_ground_truth": 0,
    }
    assert m["score_threshold"] == pytest.approx(THRESHOLD)
    evaluated = frames[1:]
    # the training evaluator's calls (training/evaluate.py) on the same predictions; benchmark rule (the default):
    # void set to -inf before segments form, no cap
    pixel = PixelAnomalyMetrics()
    segments = SegmentMetrics([THRESHOLD], SegmentParams(threshold=THRESHOLD, min_area_px=0, max_segments=65535))
    for gt, score, semantic in evaluated:
        pixel.update(score, gt)
        segments.update(np.where(gt == 255, -np.inf, score).astype(np.float32), semantic, gt)
    r = pixel.compute()
    px = m["pixel"]["llr"]
    assert (px["ap"], px["fpr95"], px["auroc"]) == (r.ap, r.fpr95, r.auroc)
    (s,) = segments.compute()
    rescored = m["segments"][0]
    assert rescored["source"] == "rescored" and not rescored["meta"]
    assert (rescored["tp"], rescored["fp"], rescored["fn"]) == (s.counts.tp, s.counts.fp, s.counts.fn)
    assert rescored["road_miss_rate"] == s.road_miss_rate
    # and scikit-learn, float64, on all non-void pixels of the dataset
    y = np.concatenate([gt[gt != 255] for gt, _, _ in evaluated]).astype(int)
    x = np.concatenate([score[gt != 255] for gt, score, _ in evaluated]).astype(np.float64)
    assert px["ap"] == pytest.approx(average_precision_score(y, x), abs=1e-9)
    assert px["auroc"] == pytest.approx(roc_auc_score(y, x), abs=1e-9)
    fpr, tpr, _ = roc_curve(y, x, drop_intermediate=False)
    assert px["fpr95"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-9)
    # published segments are all connected components written above (no max_segments cap)
    uncapped = SegmentMetrics([THRESHOLD], SegmentParams(threshold=THRESHOLD, max_segments=65535))
    for gt, score, semantic in evaluated:
        uncapped.update(score, semantic, gt)
    (u,) = uncapped.compute()
    published = m["segments"][1]
    assert published["source"] == "published"
    assert (published["tp"], published["fp"], published["fn"]) == (u.counts.tp, u.counts.fp, u.counts.fn)
    lat = m["latency_ms"]["processing_time_ms"]
    assert lat["p50"] == pytest.approx(np.percentile([11, 12, 13, 14, 15, 16], 50)) and lat["n"] == 6

    files = {p.name for p in result.files}
    assert files == {"metrics.json", "report.md", "pr.png", "roc.png", "contact_sheet.png", "f1_over_tau.png"}
    assert m["segment_rules"]["protocol"] == "benchmark" and m["segment_rules"]["segment_cap"] is None
    (components,) = m["components"]
    assert components["gt_components"] > 0 and len(components["f1"]) == 11
    assert json.loads((tmp_path / "report/metrics.json").read_text())["frames"]["evaluated"] == 5
    report = (tmp_path / "report/report.md").read_text()
    assert "1 ground-truth frames without node outputs" in report and "![contact_sheet](contact_sheet.png)" in report


def test_published_segments_counted_by_hand() -> None:
    """Two obstacles; the node published one segment on obstacle A and one on the road: TP 1, FP 1, FN 1."""
    from anomaly_seg.evaluation.bag_evaluator import ReplayEvaluator

    gt = np.zeros((20, 30), np.uint8)
    gt[2:6, 2:6] = 1  # A
    gt[10:14, 20:24] = 1  # B
    ids = np.zeros((20, 30), np.uint16)
    ids[3:5, 3:9] = 7  # on A (ids need not be consecutive: compacted)
    ids[15:18, 5:8] = 9  # on road
    evaluator = ReplayEvaluator(EvalSettings(threshold=0.0))
    evaluator.add_frame(FrameOutputs(1, gt, np.zeros((20, 30), np.float32) - 1, np.zeros((20, 30), np.uint8), ids))
    row = evaluator.metrics()["segments"][1]
    assert (row["tp"], row["fp"], row["fn"]) == (1, 1, 1)
    road = int((gt == 0).sum())
    on_road = int(((ids > 0) & (gt == 0)).sum())
    assert row["road_miss_rate"] == pytest.approx(on_road / road)
    np.testing.assert_array_equal(np.unique(compact_ids(ids)), [0, 1, 2])


def test_matcher_holds_a_bounded_number_of_frames() -> None:
    matcher = StampMatcher({"score"}, max_pending=3, max_pending_ns=10**12)
    for stamp in range(10):
        matcher.add("gt", stamp, np.zeros(1))
    assert matcher.pending == 3 and matcher.gt_without_outputs == 7
    done = matcher.add("score", 9, np.zeros(1))
    assert [f.stamp_ns for f in done] == [9]
    matcher.add("score", 100 * 10**12, np.zeros(1))  # far newer: everything older is evicted by age
    matcher.flush()
    assert matcher.pending == 0 and matcher.gt_without_outputs == 9 and matcher.outputs_without_gt == 1


def test_even_sampler_spreads_over_a_stream_of_unknown_length() -> None:
    sampler = EvenSampler(4)
    for i in range(1000):
        sampler.add(i, i)
        assert len(sampler.items) < 8
    chosen = sampler.chosen()
    assert len(chosen) == 4 and chosen[0] == 0 and chosen[-1] >= 700
    assert len(set(np.diff(chosen))) == 1


def test_replay_then_evaluate_matches_scikit_learn_on_the_engine_outputs(tmp_path: Path) -> None:
    make_bag(tmp_path / "in")
    replay_bag(tmp_path / "in", tmp_path / "out", FakeEngine((64, 128)), params(), progress=False)
    assert main(["evaluate", str(tmp_path / "out"), "--report", str(tmp_path / "report")]) == 0
    m = json.loads((tmp_path / "report/metrics.json").read_text())
    assert m["frames"]["evaluated"] == 4 and m["frames"]["ground_truth_without_outputs"] == 1  # the broken frame
    assert m["pixel"]["llr"]["ap"] == pytest.approx(1.0)  # the fake engine scores exactly the red squares
    assert m["segments"][1]["fn"] == 0 and m["segments"][1]["fp"] == 0
    assert (tmp_path / "report/contact_sheet.png").stat().st_size > 0


def test_evaluate_rescores_segments_at_every_requested_threshold(tmp_path: Path) -> None:
    make_bag(tmp_path / "in")
    replay_bag(tmp_path / "in", tmp_path / "out", FakeEngine((64, 128)), params(), progress=False)
    args = ["evaluate", str(tmp_path / "out"), "--report", str(tmp_path / "r"), "--segment-thresholds", "0.25", "0.75"]
    assert main(args) == 0
    rows = json.loads((tmp_path / "r/metrics.json").read_text())["segments"]
    rescored = sorted(row["threshold"] for row in rows if row["source"] == "rescored")
    assert rescored == [0.25, 0.75]
    assert any(row["source"] == "published" for row in rows)


def test_evaluate_cli_reports_components_with_the_chosen_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_bag(tmp_path / "in")
    replay_bag(tmp_path / "in", tmp_path / "out", FakeEngine((64, 128)), params(), progress=False)
    args = ["evaluate", str(tmp_path / "out"), "--report", str(tmp_path / "r"), "--protocol", "deployed"]
    assert main([*args, "--component-size-filter", "obstacle_track"]) == 0
    m = json.loads((tmp_path / "r/metrics.json").read_text())
    assert m["segment_rules"]["protocol"] == "deployed" and m["segment_rules"]["segment_cap"] == 64
    (row,) = m["components"]
    assert row["size_filter"] == "obstacle_track" and row["mean_f1"] == pytest.approx(1.0)  # red squares exactly
    assert "mean F1 100.00 %" in capsys.readouterr().out
    report = (tmp_path / "r/report.md").read_text()
    assert "Obstacle components (SegmentMeIfYouCan)" in report and (tmp_path / "r/f1_over_tau.png").is_file()
    with pytest.raises(SystemExit) as exited:
        main([*args[:4], "--protocol", "leaderboard"])
    assert exited.value.code == 2
