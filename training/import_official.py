"""``import-official``: a released UEM checkpoint -> our safetensors checkpoint + config, ready for ``export``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from anomaly_seg.errors import ConfigError
from anomaly_seg.files import sha256_file
from anomaly_seg.network.checkpoint import save_checkpoint
from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.model import build_model
from anomaly_seg.network.official import (
    VARIANTS,
    ImportReport,
    check_config,
    combined_state,
    load_official_state,
    read_checkpoint,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "models" / "configs"


@dataclass(frozen=True)
class ImportResult:
    """Files written by :func:`import_official` and what was loaded."""

    checkpoint: Path
    config: Path
    sha256: str
    report: ImportReport


def import_official(
    ckpt_path: str | Path,
    variant: str,
    out_dir: str | Path,
    segmentor_path: str | Path | None = None,
    config_path: str | Path | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> ImportResult:
    """Read ``ckpt_path`` (restricted unpickler), check it is ``variant``, map it strictly onto the model of
    ``config_path`` (default ``models/configs/<variant config>``) and write ``<out_dir>/official_<variant>``
    ``.safetensors`` + ``.yaml``."""
    if variant not in VARIANTS:
        raise ConfigError(f"--variant: {variant!r} is not one of {', '.join(VARIANTS)}")
    spec = VARIANTS[variant]
    config_file = Path(config_path) if config_path else CONFIG_DIR / spec.config
    config = ModelConfig.from_yaml(config_file)
    config = replace(config, name=f"official_{variant}")
    check_config(config, spec)
    ckpt_path = Path(ckpt_path)
    ckpt = read_checkpoint(ckpt_path)  # checks the file first; tensors stay memory-mapped
    sha = sha256_file(ckpt_path, progress=progress)
    log(f"{ckpt_path.name}: sha256 {sha}")
    segmentor = read_checkpoint(segmentor_path) if segmentor_path else None
    detected, state = combined_state(ckpt, segmentor, log)
    if detected != variant:
        looks = VARIANTS[detected].description if detected in VARIANTS else "an unreleased layout"
        raise ConfigError(
            f"--variant {variant}: {ckpt_path} looks like a {detected} checkpoint ({looks}), not {variant} "
            f"({spec.description})"
        )
    model = build_model(config).eval()
    report = load_official_state(model, state, spec, source=str(ckpt_path))
    hyper_parameters = ckpt.hyper_parameters
    del state, ckpt, segmentor
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"official_{variant}"
    extra = {
        "source": "released UEM checkpoint (NazirNayal8/UEM-likelihood-ratio, MIT licence)",
        "source_file": ckpt_path.name,
        "source_sha256": sha,
        "variant": variant,
        "uem_trained": not spec.is_segmentor,
        "score_threshold": 0.0,
        "source_hyper_parameters": hyper_parameters,  # the released training config, for provenance
    }
    checkpoint = save_checkpoint(out_dir / f"{stem}.safetensors", model, config, extra)
    config_out = out_dir / f"{stem}.yaml"
    import yaml

    header = f"# {stem}: config of {checkpoint.name} (imported from {ckpt_path.name}, sha256 {sha})\n"
    config_out.write_text(header + yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    dropped = ", ".join(f"{n} {why}" for why, n in report.dropped.items()) or "none"
    log(
        f"loaded {report.loaded} tensors ({report.loaded_elements / 1e6:.1f} M values); dropped {dropped} "
        f"({report.dropped_elements / 1e6:.1f} M values); left at their defaults: "
        f"{json.dumps(_summarise(report.left_default))}"
    )
    if spec.is_segmentor:
        log(
            "NOTE: a segmentor file has no UEM: the UEM is RANDOMLY INITIALISED. The semantic output is the released "
            "segmentor's; anomaly scores mean nothing until stage 2 is trained on this checkpoint."
        )
    log(f"wrote {checkpoint} and {config_out}")
    return ImportResult(checkpoint, config_out, sha, report)


def _summarise(keys: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        kind = "num_batches_tracked" if key.endswith("num_batches_tracked") else key.split(".")[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts
