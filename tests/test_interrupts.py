"""SIGINT / SIGTERM as a stop flag for long runs (anomaly_seg/interrupts.py)."""

from __future__ import annotations

import signal

import pytest

from anomaly_seg.interrupts import StopRequests


def test_the_first_signal_asks_to_stop_the_second_stops_at_once_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    with StopRequests() as stop:
        assert not stop.requested and stop.exit_status == 0 and stop.describe() == ""
        signal.raise_signal(signal.SIGINT)
        assert stop.requested and stop.exit_status == 130 and stop.describe() == "interrupted (SIGINT)"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is before


def test_sigterm_gives_the_shell_status_143() -> None:
    with StopRequests() as stop:
        signal.raise_signal(signal.SIGTERM)
    assert stop.exit_status == 143 and stop.signal is signal.SIGTERM
