"""Weight download: official URLs, progress, sha256 record and verification (local file URLs only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from anomaly_seg.cli import main
from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.network.weights import download_weights, weights_url


def test_official_urls() -> None:
    assert weights_url("vits14") == "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth"
    assert weights_url("dinov2_vitg14_reg4") == (
        "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitg14_reg4/dinov2_vitg14_reg4_pretrain.pth"
    )
    with pytest.raises(ConfigError, match="no official weights"):
        weights_url("vit_tiny")


def test_download_records_and_verifies_sha256(tmp_path: Path) -> None:
    source = tmp_path / "src.pth"
    source.write_bytes(b"weights" * 1000)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    sums = tmp_path / "weights.sha256"
    sums.write_text(f"{sha}  dinov2_vits14_pretrain.pth\n")
    path, got = download_weights("vits14", tmp_path / "out", url=source.as_uri(), checksums=sums, progress=False)
    assert got == sha and path.read_bytes() == source.read_bytes()
    assert (tmp_path / "out" / "dinov2_vits14_pretrain.pth.sha256").read_text().startswith(sha)
    sums.write_text(f"{'0' * 64}  dinov2_vits14_pretrain.pth\n")
    with pytest.raises(ModelFileError, match="does not match"):
        download_weights("vits14", tmp_path / "bad", url=source.as_uri(), checksums=sums, progress=False)
    assert not list((tmp_path / "bad").glob("*.pth"))


def test_cli_with_a_mocked_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src.pth"
    source.write_bytes(b"x")
    argv = [
        "download-weights",
        "vitb14",
        "--out",
        str(tmp_path / "w"),
        "--url",
        source.as_uri(),
        "--checksums",
        str(tmp_path / "none.sha256"),
    ]
    assert main(argv) == 0
    assert "weights: " in capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["download-weights", "vitb14", "--out", str(tmp_path), "--url", (tmp_path / "no").as_uri()]) == 2


def test_released_uem_checkpoints_download_on_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    from anomaly_seg.network.official import VARIANTS, release_url

    assert (
        release_url("g_d")
        == "https://github.com/NazirNayal8/UEM-likelihood-ratio/releases/download/model-weights/g_d.ckpt"
    )
    assert {VARIANTS[v].asset for v in VARIANTS} == {
        "gmm-segmentor.ckpt", "linear-segmentor.ckpt", "g_g.ckpt", "g_d.ckpt", "d_d.ckpt"
    }  # fmt: skip
    source = tmp_path / "release.ckpt"
    source.write_bytes(b"not really a checkpoint")
    argv = ["download-weights", "g_d", "--official", "--out", str(tmp_path / "w"), "--url", source.as_uri()]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "w" / "g_d.ckpt").read_bytes() == source.read_bytes()
    assert f"sha256 {hashlib.sha256(source.read_bytes()).hexdigest()}" in out
    assert "import-official" in out.splitlines()[-1]
    assert main(["download-weights", "x_y", "--official", "--out", str(tmp_path)]) == 2
