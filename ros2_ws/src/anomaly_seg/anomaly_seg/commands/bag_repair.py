"""``anomaly-seg bag-repair BAG --out FIXED``: a complete copy of a bag cut short (power loss, killed recorder)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", metavar="BAG", help="bag folder or .mcap/.db3 file, possibly without footer/metadata")
    parser.add_argument("--out", required=True, metavar="FIXED", help="new bag folder (must not exist)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="storage of the copy")


def run(args: argparse.Namespace) -> int:
    from anomaly_seg.bags.repair import repair_bag

    print(repair_bag(args.bag, args.out, args.storage).line())
    return 0
