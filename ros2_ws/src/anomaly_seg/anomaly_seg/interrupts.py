"""Stopping long runs cleanly: SIGINT / SIGTERM ask the run to stop after the item in progress.

Replay, conversion and evaluation loops check :attr:`StopRequests.requested` between frames, so an interrupted
run finishes the frame it is on, closes its files (an output bag gets its index and ``metadata.yaml``) and says
how far it got. A second signal stops at once (KeyboardInterrupt), as users expect from a second Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

#: exit status of a run stopped by a signal (the shell's convention, 128 + signal number)
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequests:
    """Context manager that turns SIGINT / SIGTERM into a flag while it is active (main thread only; elsewhere
    the handlers cannot be set and the flag never rises)."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.signal is not None

    @property
    def exit_status(self) -> int:
        """130 after SIGINT, 143 after SIGTERM, 0 when no stop was asked for."""
        return EXIT_STATUS.get(self.signal, 0) if self.signal is not None else 0

    def describe(self) -> str:
        """``"interrupted (SIGINT)"`` or ``""``."""
        return f"interrupted ({self.signal.name})" if self.signal is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None:  # the second one: stop now
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum)

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in EXIT_STATUS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
