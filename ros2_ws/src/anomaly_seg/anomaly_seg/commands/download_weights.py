"""``anomaly-seg download-weights``: official DINOv2 backbone weights with a recorded/verified SHA-256."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_CHECKSUMS = Path("models/weights.sha256")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``download-weights``."""
    parser.add_argument("name", help="backbone: vits14, vitb14, vitl14, vitg14 or a *_reg4 variant (dinov2_ prefix ok)")
    parser.add_argument("--out", type=Path, default=Path("models/weights"), help="output folder")
    parser.add_argument(
        "--checksums",
        type=Path,
        default=DEFAULT_CHECKSUMS,
        help="sha256sum-style list to verify against, if the file exists and names the file "
        "(the official site publishes no checksums)",
    )
    parser.add_argument("--url", default=None, help="override the official URL (mirror or file:// URL)")


def run(args: argparse.Namespace) -> int:
    """Download, print the SHA-256 and where the file is."""
    from anomaly_seg.network.weights import download_weights, weights_url

    url = args.url or weights_url(args.name)
    print(f"downloading {url}")
    path, sha = download_weights(args.name, args.out, url=url, checksums=args.checksums)
    verified = "verified against " + str(args.checksums) if args.checksums.is_file() else "not verified (no list)"
    print(f"sha256 {sha} ({verified}); recorded in {path.name}.sha256")
    print(f"weights: {path}")
    return 0
