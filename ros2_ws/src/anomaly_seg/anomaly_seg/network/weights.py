"""Official DINOv2 backbone weights: URLs, download with progress, SHA-256 record and verification.

The official site publishes no checksums. Every download prints its SHA-256 and records it next to the file
(``<file>.sha256``); if a checksum list (``sha256sum`` format, e.g. ``models/weights.sha256``) names the file,
the download is verified against it and rejected on mismatch.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.network.dinov2 import BACKBONES, canonical_backbone_name

BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"
CHUNK = 1 << 20


def weights_filename(name: str) -> str:
    """``vits14_reg4`` -> ``dinov2_vits14_reg4_pretrain.pth``."""
    key = canonical_backbone_name(name)
    if not BACKBONES[key].official:
        raise ConfigError(f"backbone {name!r} has no official weights (it is trained from scratch)")
    return f"dinov2_{key}_pretrain.pth"


def weights_url(name: str) -> str:
    """Official URL, e.g. ``https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth``."""
    filename = weights_filename(name)
    return f"{BASE_URL}/{filename.removesuffix('_pretrain.pth')}/{filename}"


def read_checksums(path: str | Path) -> dict[str, str]:
    """``sha256sum``-style lines ``<hex>  <filename>`` -> {filename: hex}; '#' comments and blanks skipped."""
    sums: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, _, filename = line.partition(" ")
        sums[Path(filename.strip().lstrip("*")).name] = digest.lower()
    return sums


def download_weights(
    name: str,
    out_dir: str | Path,
    *,
    url: str | None = None,
    checksums: str | Path | None = None,
    opener: Callable[[str], Any] = urllib.request.urlopen,
    progress: bool = True,
) -> tuple[Path, str]:
    """Download backbone ``name`` into ``out_dir``; returns (path, sha256)."""
    return download_file(url or weights_url(name), weights_filename(name), out_dir, checksums, opener, progress)


def download_file(
    url: str,
    filename: str,
    out_dir: str | Path,
    checksums: str | Path | None = None,
    opener: Callable[[str], Any] = urllib.request.urlopen,
    progress: bool = True,
) -> tuple[Path, str]:
    """Download ``url`` to ``out_dir/filename`` with a progress bar; returns (path, sha256).

    The file is written under a temporary name and renamed only after the optional checksum check passes.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / filename
    partial = target.with_suffix(".part")
    digest = hashlib.sha256()
    try:
        response: IO[bytes]
        with opener(url) as response, partial.open("wb") as f:
            total = int(getattr(response, "headers", {}).get("Content-Length", 0) or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=filename, disable=not progress) as bar:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelFileError(f"{url}: download failed: {exc}") from exc
    sha = digest.hexdigest()
    if checksums is not None and Path(checksums).is_file():
        expected = read_checksums(checksums).get(filename)
        if expected is not None and expected != sha:
            partial.unlink(missing_ok=True)
            raise ModelFileError(f"{url}: sha256 {sha} does not match {expected} listed in {checksums}")
    partial.replace(target)
    target.with_name(filename + ".sha256").write_text(f"{sha}  {filename}\n", encoding="utf-8")
    return target, sha
