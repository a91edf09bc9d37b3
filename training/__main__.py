"""``python -m training``: the command line for people who train, evaluate and export models.

Each subcommand lives in ``training.commands.<module>`` with ``add_arguments(parser)`` and
``run(args) -> int``; only the chosen one is imported.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from anomaly_seg.errors import AnomalySegError

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "stage 1 (inlier segmentor) or stage 2 (UEM) training from a YAML config"),
    "evaluate": ("evaluate", "pixel metrics of all scores on an anomaly dataset, plots and report"),
    "fit-meta": ("fit_meta", "fit the logistic meta classifier on a dataset's obstacle segments"),
    "import-official": ("import_official", "turn a released UEM checkpoint (likelihood-ratio paper) into ours"),
    "export": ("export", "export a model to ONNX (fixed size, engine I/O contract) with golden outputs"),
    "smoke": ("smoke", "the whole training chain on synthetic scenes with the tiny config (CPU, minutes)"),
    "compare": ("compare", "one model per seed method (UEM, entropy maximisation, outlier head) on the same frames"),
    "contact-sheet": ("contact_sheet", "PNG grid of augmented training samples with their targets"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m training``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train, evaluate and export models.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        if name == command:
            module = importlib.import_module(f"training.commands.{module_name}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    args = parser.parse_args(args_list)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if command is None else 2
    try:
        return int(args._run(args))
    except AnomalySegError as exc:
        print(f"python -m training {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
