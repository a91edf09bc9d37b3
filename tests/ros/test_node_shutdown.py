"""The node's main loop tells a shutdown race from a real error (no DDS traffic: the default context only)."""

from __future__ import annotations

import threading
import time

import rclpy

from anomaly_seg.ros.node import _context_stays_up


def test_an_executor_error_counts_as_shutdown_only_when_the_context_goes_down() -> None:
    rclpy.init(args=["--ros-args", "--disable-external-lib-logs"])
    try:
        assert _context_stays_up(0.1)  # nobody shuts it down: a real error, re-raised
        timer = threading.Timer(0.2, rclpy.shutdown)
        timer.start()
        start = time.monotonic()
        assert not _context_stays_up(5.0)  # SIGINT's shutdown shows shortly after the error: clean
        assert time.monotonic() - start < 2.0
        timer.join()
    finally:
        rclpy.try_shutdown()
    assert not _context_stays_up(5.0)
