"""DDP: two CPU processes (gloo, launched with torchrun like on a GPU node) give the weights of one process on the
same global batch; so does gradient accumulation. The tiny config uses GroupNorm only (no batch statistics)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.config import REPO_ROOT, TrainConfig
from training.trainers import LAST, train

TINY = str(REPO_ROOT / "models" / "configs" / "tiny.yaml")
STEPS = 3


def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(
        f"""stage: 1
model: {TINY}
device: cpu
data: {{synthetic_train: 8, synthetic_val: 2, batch_size: 4, num_workers: 0}}
optim: {{lr: 1.0e-3}}
schedule: {{iterations: {STEPS}, warmup: 1, val_every: {STEPS}, checkpoint_every: {STEPS}}}
logging: {{progress: false, tensorboard: false}}
""",
        encoding="utf-8",
    )
    return path


def assert_same_weights(a: Path, b: Path) -> None:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    changed = 0
    for name in ta:
        torch.testing.assert_close(ta[name], tb[name], rtol=1e-5, atol=1e-5, msg=name)
        changed += 1
    assert changed


@pytest.mark.slow
def test_two_process_ddp_equals_single_process(tmp_path: Path) -> None:
    path = recipe(tmp_path)
    single = train(TrainConfig.from_yaml(path), tmp_path / "single")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "training", "train", "--config", str(path), "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 process(es)" in proc.stdout
    assert_same_weights(single.last, tmp_path / "ddp" / LAST)


def test_gradient_accumulation_equals_the_full_batch(tmp_path: Path) -> None:
    config = TrainConfig.from_yaml(recipe(tmp_path), ["schedule.iterations=2", "schedule.val_every=2"])
    full = train(config, tmp_path / "full")
    accumulated = train(config.replace(optim=type(config.optim)(lr=1e-3, accumulate=2)), tmp_path / "acc")
    assert_same_weights(full.last, accumulated.last)
