"""``anomaly-seg convert KIND SRC --out BAG``: a dataset folder as a rosbag2 (images, camera_info, ground truth)."""

from __future__ import annotations

import argparse

KINDS = ("lostandfound", "fishyscapes", "roadanomaly", "smiyc-obstacle", "smiyc-anomaly", "cityscapes", "folder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind",
        choices=KINDS,
        metavar="KIND",
        help=f"dataset layout: {', '.join(KINDS)} (cityscapes: inlier/void ground truth; folder: no ground truth)",
    )
    parser.add_argument("src", metavar="SRC", help="dataset root folder (as downloaded)")
    parser.add_argument("--out", required=True, metavar="BAG", help="output rosbag2 folder (must not exist)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="rosbag2 storage plugin")
    parser.add_argument("--camera-topic", default="/camera/image_raw", help="camera image topic")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="frame rate (Hz) of the stamps when the dataset has no timestamps"
    )
    parser.add_argument("--limit", type=int, help="convert only the first N frames")
    parser.add_argument("--split", help="dataset split (lostandfound: test|train, cityscapes: val|train|test)")
    parser.add_argument(
        "--compressed",
        action="store_true",
        help="write sensor_msgs/CompressedImage (jpeg) on <camera-topic>/compressed",
    )
    parser.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality with --compressed")
    parser.add_argument("--frame-id", default="camera", help="header frame_id of every message")


def run(args: argparse.Namespace) -> int:
    from anomaly_seg.bags.convert import ConvertOptions, convert_dataset
    from anomaly_seg.datasets import open_layout

    options = ConvertOptions(
        camera_topic=args.camera_topic,
        storage=args.storage,
        rate_hz=args.rate,
        limit=args.limit,
        compressed=args.compressed,
        jpeg_quality=args.jpeg_quality,
        frame_id=args.frame_id,
    )
    layout = open_layout(args.kind, args.src, args.split)
    summary = convert_dataset(layout, args.out, options)
    print(summary.line())
    return summary.exit_status
