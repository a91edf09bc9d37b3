"""``anomaly_seg_play``: publish a rosbag2 over ROS 2 at the bag's timing (or a rate factor), for the live replay
path where ``ros2 bag play`` is not installed (a venv with ROS from wheels, CI).

    anomaly_seg_play BAG [--rate 0.5] [--topics /camera/image_raw /ground_truth/anomaly] [--qos reliable]

Messages go out as the CDR bytes stored in the bag (no deserialisation), on publishers of the recorded types,
in receive-time order, message i at ``start + (t_i - t_0) / rate``. Topics whose type is not importable here
are skipped and named. Exit status 0 when every selected message was published.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import rclpy
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.utilities import remove_ros_args, try_shutdown

from anomaly_seg.bags import list_topics, read_raw_messages
from anomaly_seg.errors import AnomalySegError
from anomaly_seg.ros import dds


def message_class(msgtype: str) -> Any:
    """``"sensor_msgs/msg/Image"`` -> the rclpy message class; ImportError/AttributeError when absent."""
    package, _, name = msgtype.rpartition("/")
    return getattr(importlib.import_module(package.replace("/", ".")), name)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options (ROS arguments removed)."""
    parser = argparse.ArgumentParser(prog="anomaly_seg_play", description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", help="rosbag2 folder or file (MCAP or sqlite3)")
    parser.add_argument("--rate", type=float, default=1.0, help="playback rate factor (default 1.0)")
    parser.add_argument("--topics", nargs="*", default=None, help="topics to publish (default: all)")
    parser.add_argument("--qos", choices=("reliable", "best_effort"), default="reliable", help="publisher QoS")
    parser.add_argument("--depth", type=int, default=100, help="publisher history depth (default 100)")
    parser.add_argument(
        "--wait-subscribers",
        type=float,
        default=10.0,
        metavar="S",
        help="wait up to S seconds for a subscriber on every topic before playing (default 10)",
    )
    args = parser.parse_args(argv)
    if not args.rate > 0:
        parser.error(f"--rate must be > 0, got {args.rate}")
    return args


def play(node: Node, args: argparse.Namespace) -> Counter[str]:
    """Publish the bag's messages; returns messages published per topic."""
    qos = QoSProfile(
        depth=args.depth,
        history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE if args.qos == "reliable" else ReliabilityPolicy.BEST_EFFORT,
    )
    log: Any = node.get_logger()
    publishers = {}
    for topic, msgtype in list_topics(args.bag).items():
        if args.topics is not None and topic not in args.topics:
            continue
        try:
            publishers[topic] = node.create_publisher(message_class(msgtype), topic, qos)
        except (ImportError, AttributeError):
            log.warning(f"skipping {topic}: message type {msgtype} is not installed here")
    deadline = time.monotonic() + args.wait_subscribers
    while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in publishers.values()):
        time.sleep(0.05)
    published: Counter[str] = Counter()
    start, first = time.monotonic(), None
    for message in read_raw_messages(args.bag, list(publishers)):
        first = message.timestamp_ns if first is None else first
        delay = start + (message.timestamp_ns - first) / 1e9 / args.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publishers[message.topic].publish(message.raw)
        published[message.topic] += 1
    if args.qos == "reliable":  # let reliable subscribers receive the tail before the publishers go away
        for publisher in publishers.values():
            publisher.wait_for_all_acked(Duration(seconds=5.0))
    return published


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``anomaly_seg_play``."""
    raw_args = list(sys.argv if argv is None else ["anomaly_seg_play", *argv])
    args = parse_args(remove_ros_args(raw_args)[1:])
    dds.apply_default_profile(os.environ)
    rclpy.init(args=raw_args)
    node = Node("anomaly_seg_play")
    code = 0
    try:
        published = play(node, args)
        total = sum(published.values())
        summary = ", ".join(f"{topic} {n}" for topic, n in sorted(published.items()))
        print(f"anomaly_seg_play: published {total} messages from {args.bag} ({summary})", file=sys.stderr)
        code = 0 if total else 1
    except AnomalySegError as exc:
        print(f"anomaly_seg_play: error ({exc.kind}): {exc}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        code = 130
    finally:
        node.destroy_node()
        try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
