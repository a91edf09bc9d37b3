"""``python -m training compare``: every method and baseline on the same frames, cross-checked with ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.__main__ import main
from training.compare import METHOD_SCORES, ROW_KEYS

TINY = [
    "schedule.iterations=2", "schedule.warmup=1", "schedule.val_every=2", "schedule.checkpoint_every=2",
    "data.synthetic_train=4", "data.synthetic_val=2", "data.batch_size=2", "logging.tensorboard=false",
]  # fmt: skip


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    argv = ["compare", "--out", str(out), "--quick", "--test-images", "4", "--val-images", "4", "--no-progress"]
    for key in TINY:
        argv += ["--set1", key, "--set2", key]
    assert main(argv) == 0
    return out


def test_every_method_and_baseline_gets_a_row_on_the_same_frames(compared: Path) -> None:
    doc = json.loads((compared / "compare.json").read_text())
    rows = doc["methods"]
    assert {(r["method"], r["score"]) for r in rows} == {(m, s) for m, names in METHOD_SCORES.items() for s in names}
    for r in rows:
        assert set(r) == set(ROW_KEYS)
        assert r["deployed"] == (r["score"] == METHOD_SCORES[r["method"]][0])
        assert 0.0 <= r["ap"] <= 1.0 and r["tflop"] > 0 and r["fp"] >= 0 and r["fn"] >= 0
    assert doc["frames"]["test"] == 4 and doc["synthetic"] and "not their accuracy" in doc["note"]
    md = (compared / "compare.md").read_text()
    assert md.count("| yes |") == len(METHOD_SCORES) and "synthetic" in md
    assert (compared / "compare_pr.png").stat().st_size > 1000


def test_rows_equal_evaluate_on_the_same_checkpoint(compared: Path, tmp_path: Path) -> None:
    """The leaderboard's pixel numbers are the ones ``python -m training evaluate`` reports for that model."""
    doc = json.loads((compared / "compare.json").read_text())
    checkpoint = doc["checkpoints"]["outlier_head"]
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", checkpoint, "--dataset", "synthetic_heldout", "--synthetic-n", "4"]
    assert main([*argv, "--out", str(out), "--overlays", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["score"] == "op_msm"
    for row in (r for r in doc["methods"] if r["method"] == "outlier_head"):
        assert row["ap"] == pytest.approx(metrics["pixel"][row["score"]]["ap"], abs=1e-6), row["score"]


def test_a_checkpoint_of_another_method_is_refused(compared: Path, tmp_path: Path) -> None:
    from anomaly_seg.errors import ConfigError
    from training.compare import CompareOptions, run_compare

    doc = json.loads((compared / "compare.json").read_text())
    wrong = {"entropy_max": Path(doc["checkpoints"]["uem"])}
    with pytest.raises(ConfigError, match="deploys 'entropy'"):
        run_compare(tmp_path, CompareOptions(methods=("entropy_max",), checkpoints=wrong, progress=False))
