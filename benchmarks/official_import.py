"""Memory and time of ``import-official`` on a full-size released-layout checkpoint (random values, GMM memory
included: 1.2 GB like the real G-G file), against loading the same file with plain ``torch.load``.

Each variant runs in a fresh process; peak RSS is that process's ``VmHWM`` (``/proc/self/status``; unlike
``ru_maxrss`` it is not inherited across fork + exec). It counts file pages the process touched, so a
memory-mapped tensor that is never read costs nothing.

    .venv/bin/python benchmarks/official_import.py [--variant g_g] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

IMPORT = """
from training.import_official import import_official
import_official(sys.argv[1], sys.argv[2], sys.argv[3], log=lambda _: None, progress=False)
"""
PLAIN = """
import torch
ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
"""
NAIVE = """
import torch
from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.model import build_model
from anomaly_seg.network.official import VARIANTS, combined_state, load_official_state, OfficialCheckpoint
from training.import_official import CONFIG_DIR
ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
state = OfficialCheckpoint(sys.argv[1], dict(ckpt["state_dict"]), {}, [])
spec = VARIANTS[sys.argv[2]]
model = build_model(ModelConfig.from_yaml(CONFIG_DIR / spec.config))
load_official_state(model, combined_state(state, None, lambda _: None)[1], spec)
"""
BASELINE = """
from training.import_official import import_official
from anomaly_seg.network.model import build_model
from anomaly_seg.network.config import ModelConfig
build_model(ModelConfig.from_yaml("models/configs/official_gg.yaml"))
"""


# Around every step: a clock, then its seconds and peak RSS (MiB) on the last line.
START = "import sys, time\nt = time.time()\n"
PEAK = (
    "\nhwm = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))"
    "\nprint(time.time() - t, hwm / 1024)"
)


def _run(code: str, *args: str) -> tuple[float, float]:
    cmd = [sys.executable, "-c", START + code + PEAK, *args]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    seconds, mib = out.stdout.split()[-2:]
    return float(seconds), float(mib)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="g_g")
    parser.add_argument("--keep", type=Path, help="write the checkpoint here (default: a temporary folder)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import torch

    from tests.network.official_layout import LAYOUT_DIR, layout_state, write_lightning_checkpoint

    if not (LAYOUT_DIR / f"{args.variant}.txt").is_file():
        print(f"needs the released layouts in {LAYOUT_DIR} (shared data absent)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        state = layout_state(args.variant, values="random")
        for key, value in state.items():  # materialise the GMM memory as a real file would hold it
            if key.endswith(".queue"):
                state[key] = torch.randn(value.shape)
        t = time.time()
        ckpt = write_lightning_checkpoint(folder / f"{args.variant}.ckpt", state, args.variant)
        del state
        size = ckpt.stat().st_size / 2**20
        print(f"wrote {ckpt.name}: {size:.0f} MiB in {time.time() - t:.1f} s (random values, official layout)\n")
        rows = [
            ("build the empty model only (baseline)", _run(BASELINE)),
            ("plain torch.load(weights_only=False), whole file", _run(PLAIN, str(ckpt))),
            ("plain torch.load + build model + copy (no mmap)", _run(NAIVE, str(ckpt), args.variant)),
            ("import-official (restricted, mmap, strict map, write)", _run(IMPORT, str(ckpt), args.variant, tmp)),
        ]
    print("| step | seconds | peak RSS MiB | peak RSS / file size |")
    print("|---|---|---|---|")
    for name, (seconds, mib) in rows:
        print(f"| {name} | {seconds:.1f} | {mib:.0f} | {mib / size:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
