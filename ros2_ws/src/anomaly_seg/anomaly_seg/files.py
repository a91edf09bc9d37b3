"""File helpers every layer shares: content hashes and JSON that stays valid (no NaN / Infinity)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

CHUNK_BYTES = 1 << 22


def sha256_file(path: str | Path, *, progress: bool = False) -> str:
    """Hex SHA-256 of a file, streamed (with a progress bar for large files when ``progress``)."""
    from tqdm import tqdm

    path = Path(path)
    digest = hashlib.sha256()
    with (
        path.open("rb") as f,
        tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, desc=f"sha256 {path.name}", disable=not progress
        ) as bar,
    ):
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def json_safe(value: Any) -> Any:
    """A copy of nested dicts / lists / tuples where NaN and +-inf floats become None (strict JSON)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, value: Any) -> Path:
    """``value`` as strict, indented JSON (NaN/inf written as null); returns the path."""
    path = Path(path)
    path.write_text(json.dumps(json_safe(value), indent=1, allow_nan=False), encoding="utf-8")
    return path
