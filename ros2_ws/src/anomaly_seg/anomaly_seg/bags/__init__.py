"""rosbag2 input/output (MCAP or sqlite3) with the ``rosbags`` library; no ROS installation needed."""

from anomaly_seg.bags.reader import (
    BagMessage,
    RawMessage,
    list_topics,
    message_count,
    read_images,
    read_messages,
    read_raw_messages,
)
from anomaly_seg.bags.writer import BagWriter, Storage

__all__ = [
    "BagMessage",
    "BagWriter",
    "RawMessage",
    "Storage",
    "list_topics",
    "message_count",
    "read_images",
    "read_messages",
    "read_raw_messages",
]
