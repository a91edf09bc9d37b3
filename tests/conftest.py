"""Session-wide fixtures shared by several test folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smoke_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of one full ``python -m training smoke`` run (minutes on CPU; run once per session): holds
    ``model.safetensors``, ``metrics.json``, ``meta.json``, ``smoke.json`` (AP numbers) and ``eval/predictions``."""
    from training.smoke import run_smoke

    out = tmp_path_factory.mktemp("smoke")
    run_smoke(out, progress=False)
    return out
