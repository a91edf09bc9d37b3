"""``anomaly-seg download-weights``: official DINOv2 backbone weights, or with ``--official`` a released UEM
checkpoint of the likelihood-ratio paper, with a recorded/verified SHA-256. Never called at run time."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_CHECKSUMS = Path("models/weights.sha256")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``download-weights``."""
    parser.add_argument(
        "name",
        help="backbone: vits14, vitb14, vitl14, vitg14 or a *_reg4 variant (dinov2_ prefix ok); with --official a "
        "released UEM model: gmm, discriminative, g_g, g_d, d_d",
    )
    parser.add_argument(
        "--official", action="store_true", help="NAME is a released UEM checkpoint (GitHub release model-weights)"
    )
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
    from anomaly_seg.network.weights import download_file, weights_filename, weights_url

    if args.official:
        from anomaly_seg.errors import ConfigError
        from anomaly_seg.network.official import RELEASE_PAGE, VARIANTS, release_url

        if args.name not in VARIANTS:
            raise ConfigError(f"--official: {args.name!r} is not one of {', '.join(VARIANTS)}")
        url, filename = args.url or release_url(args.name), VARIANTS[args.name].asset
        print(f"released UEM model {args.name} ({VARIANTS[args.name].description}); release page {RELEASE_PAGE}")
        print("the asset name is the expected one; if the release names it otherwise, pass its link with --url")
    else:
        url, filename = args.url or weights_url(args.name), weights_filename(args.name)
    print(f"downloading {url}")
    path, sha = download_file(url, filename, args.out, args.checksums)
    verified = "verified against " + str(args.checksums) if args.checksums.is_file() else "not verified (no list)"
    print(f"sha256 {sha} ({verified}); recorded in {path.name}.sha256")
    print(f"weights: {path}")
    if args.official:
        print(f"next: python -m training import-official {path} --variant {args.name} --out models/official")
    return 0
