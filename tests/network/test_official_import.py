"""Importing the released UEM checkpoints: restricted unpickling, layout detection, strict mapping of all five."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from anomaly_seg.errors import ConfigError, ModelFileError
from anomaly_seg.network.official import (
    VARIANTS,
    EasyDictStandIn,
    detect_variant,
    dropped_reason,
    our_key,
    read_checkpoint,
    release_url,
)
from tests.network.official_layout import (
    LAYOUT_DIR,
    VARIANT_FILES,
    layout_state,
    read_layout,
    write_lightning_checkpoint,
)
from training.__main__ import main as training_main
from training.import_official import CONFIG_DIR, import_official


def _quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("variant", VARIANT_FILES)
def test_every_layout_is_detected(variant: str) -> None:
    keys = {k for k, _ in read_layout(variant)}
    assert detect_variant(keys) == (variant, True)


def test_unreleased_and_foreign_layouts_are_named() -> None:
    keys = {k for k, _ in read_layout("g_d")}
    assert detect_variant({k for k in keys if not k.startswith("segmentor.")}) == ("?_d", False)
    with pytest.raises(ModelFileError, match="not a UEM segmentor"):
        detect_variant({"model.weight", "blocks.0.attn.qkv.weight"})


@pytest.mark.parametrize("variant", VARIANT_FILES)
def test_strict_import_of_each_layout_puts_every_tensor_in_its_place(variant: str, tmp_path: Path) -> None:
    """Key i holds the constant i + 1: after import each of our tensors must hold its official key's constant."""
    state = layout_state(variant)
    ckpt = write_lightning_checkpoint(tmp_path / f"{variant}.ckpt", state, variant)
    result = import_official(ckpt, variant, tmp_path / "out", log=_quiet, progress=False)
    assert result.sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    ours = load_file(str(result.checkpoint))
    prefix = "" if VARIANTS[variant].is_segmentor else None
    checked = 0
    for key, tensor in state.items():
        official = key if prefix is None else "segmentor." + key
        if dropped_reason(official) is not None:
            continue
        target = our_key(official)
        assert target is not None, key
        value = ours[target]
        assert value.numel() == tensor.numel(), key
        assert torch.all(value == tensor.reshape(value.shape)), f"{key} -> {target}"
        checked += 1
    assert checked == result.report.loaded
    left = {k.split(".")[0] for k in result.report.left_default if not k.endswith("num_batches_tracked")}
    assert left == ({"uem"} if VARIANTS[variant].is_segmentor else set())
    gmm_files = sum(v == "gmm" for v in (VARIANTS[variant].segmentor_head, VARIANTS[variant].uem_head))
    assert result.report.dropped.get("GMM training memory", 0) == gmm_files
    assert result.report.dropped["BatchNorm step counter (unused in eval mode)"] == 8
    assert result.config.read_text().startswith(f"# official_{variant}: config of")
    from anomaly_seg.network.checkpoint import read_checkpoint_metadata

    _, extra = read_checkpoint_metadata(result.checkpoint)
    assert extra["variant"] == variant and extra["source_sha256"] == result.sha256
    assert extra["source_hyper_parameters"]["MODEL"]["IGNORE_INDEX"] == 255


def test_wrong_variant_says_what_the_file_looks_like(tmp_path: Path) -> None:
    ckpt = write_lightning_checkpoint(tmp_path / "g_g.ckpt", layout_state("g_g"), "g_g")
    with pytest.raises(ConfigError, match=r"looks like a g_g checkpoint \(GMM segmentor \+ GMM UEM\), not g_d"):
        import_official(ckpt, "g_d", tmp_path / "out", log=_quiet, progress=False)
    with pytest.raises(ConfigError, match=r"head\.type: the released g_d model needs 'gmm_official'"):
        import_official(ckpt, "g_d", tmp_path / "out", config_path=CONFIG_DIR / "official_dd.yaml", log=_quiet)


def test_shape_mismatch_unknown_and_missing_keys_are_all_named(tmp_path: Path) -> None:
    state = layout_state("d_d")
    state["segmentor.backbone.learnable_layers.lateral_convs.2.weight"] = torch.zeros(256, 768, 1, 1)
    state["segmentor.backbone.learnable_layers.extra.weight"] = torch.zeros(3)
    del state["ood_projector._layers.2.bias"]
    ckpt = write_lightning_checkpoint(tmp_path / "bad.ckpt", state, "d_d")
    with pytest.raises(ModelFileError) as err:
        import_official(ckpt, "d_d", tmp_path / "out", log=_quiet, progress=False)
    text = str(err.value)
    assert "segmentor.backbone.learnable_layers.lateral_convs.2.weight (256, 768, 1, 1) -> " in text
    assert "decoder.lateral_convs.2.weight (256, 1024, 1, 1)" in text
    assert "segmentor.backbone.learnable_layers.extra.weight" in text
    assert "model tensors the file does not provide: uem.projection.2.bias" in text
    assert not (tmp_path / "out" / "official_d_d.safetensors").exists()


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_os_system_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": _Evil(marker)}, path)
    with pytest.raises(ModelFileError, match=r"refused to unpickle the global `(posix|os)\.system`"):
        read_checkpoint(path)
    assert not marker.exists()
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"state_dict": {}}))
    with pytest.raises(ModelFileError, match="not a PyTorch zip checkpoint"):
        read_checkpoint(plain)


def test_lightning_checkpoint_with_easydict_loads_where_weights_only_refuses(tmp_path: Path) -> None:
    ckpt = write_lightning_checkpoint(tmp_path / "g_g.ckpt", layout_state("g_g"), "g_g")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, map_location="cpu", weights_only=True)
    read = read_checkpoint(ckpt)
    assert read.hyper_parameters["MODEL"]["OOD_HEAD"]["NAME"] == "GMMSegHead"
    assert read.hyper_parameters["SOLVER"]["EVAL_WINDOW_SIZE"] == [518, 1036]
    assert "optimizer_states" in read.other_keys and "state_dict" not in read.other_keys
    queue = read.state_dict["segmentor.segmentation_head.queue"]
    assert queue.shape == (95, 256, 8000)
    raw = torch.load(ckpt, map_location="cpu", weights_only=False, mmap=True)
    assert type(raw["hyper_parameters"]).__module__ == "easydict"  # the real class, replaced by our stand-in
    assert EasyDictStandIn.__module__ == "anomaly_seg.network.official"


def test_segmentor_file_is_checked_against_the_embedded_copy(tmp_path: Path) -> None:
    ood = layout_state("g_d")
    seg = {k.removeprefix("segmentor."): v for k, v in ood.items() if k.startswith("segmentor.")}
    ood_ckpt = write_lightning_checkpoint(tmp_path / "g_d.ckpt", ood, "g_d")
    seg_ckpt = write_lightning_checkpoint(tmp_path / "gmm.ckpt", seg, "gmm")
    logs: list[str] = []
    import_official(ood_ckpt, "g_d", tmp_path / "a", segmentor_path=seg_ckpt, log=logs.append, progress=False)
    assert any("identical to the segmentor inside g_d.ckpt" in line for line in logs)

    other = dict(seg)
    other["segmentation_head.mask_norm.bias"] = torch.full((19,), -1.0)
    other_ckpt = write_lightning_checkpoint(tmp_path / "other.ckpt", other, "gmm")
    with pytest.raises(ModelFileError, match=r"differs from the segmentor inside .* in 1 tensors"):
        import_official(ood_ckpt, "g_d", tmp_path / "b", segmentor_path=other_ckpt, log=_quiet, progress=False)

    bare = write_lightning_checkpoint(
        tmp_path / "bare.ckpt", {k: v for k, v in ood.items() if not k.startswith("segmentor.")}, "g_d"
    )
    with pytest.raises(ConfigError, match="pass its segmentor with --segmentor"):
        import_official(bare, "g_d", tmp_path / "c", log=_quiet, progress=False)
    result = import_official(bare, "g_d", tmp_path / "c", segmentor_path=seg_ckpt, log=_quiet, progress=False)
    assert result.report.loaded == 263


def test_import_command_prints_sha256_and_release_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = write_lightning_checkpoint(tmp_path / "d_d.ckpt", layout_state("d_d"), "d_d")
    assert training_main(["import-official", str(ckpt), "--variant", "d_d", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {hashlib.sha256(ckpt.read_bytes()).hexdigest()}" in out
    assert "export --checkpoint" in out
    assert training_main(["import-official", str(tmp_path / "missing.ckpt"), "--variant", "d_d", "--out", "x"]) == 2
    assert release_url("g_d").startswith("https://github.com/NazirNayal8/UEM-likelihood-ratio/releases/download/")
    assert LAYOUT_DIR.is_dir()
