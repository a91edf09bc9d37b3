"""``anomaly-seg``: the command line for users of the node, models and bags.

Each subcommand lives in ``anomaly_seg.commands.<module>`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen subcommand's module is imported,
so ``anomaly-seg convert`` never pays for importing torch. Heavy imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from anomaly_seg.errors import AnomalySegError

#: name -> (module under anomaly_seg.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "synthetic scenes -> tiny model -> ONNX -> bag -> replay -> evaluation report (CPU)"),
    "convert": ("convert", "convert a dataset folder (Lost and Found, Fishyscapes, ...) into a rosbag2"),
    "replay": ("replay", "feed every image of a bag through the node pipeline into an output bag"),
    "evaluate": ("evaluate", "pixel and segment metrics, plots and a report from a replayed bag"),
    "bag-repair": ("bag_repair", "write a complete copy of a bag cut short (no footer / metadata.yaml)"),
    "info": ("info", "parameters, shapes and FLOPs of a model config"),
    "download-weights": ("download_weights", "download official DINOv2 backbone weights (needs internet)"),
    "check-onnx": ("check_onnx", "checks of an exported ONNX model that need no GPU"),
    "build-engine": ("build_engine", "build a TensorRT engine from an ONNX model on this GPU"),
    "selftest": ("selftest", "compare a backend's outputs with the golden outputs stored at export"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Top-level parser; only ``command``'s arguments are loaded (all names are listed in help)."""
    parser = argparse.ArgumentParser(
        prog="anomaly-seg",
        description="Road anomaly segmentation: models, engines, bags and evaluation.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        if name == command:
            module = importlib.import_module(f"anomaly_seg.commands.{module_name}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``anomaly-seg`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(args_list)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if command is None else 2
    try:
        return int(args._run(args))
    except AnomalySegError as exc:
        print(f"anomaly-seg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
