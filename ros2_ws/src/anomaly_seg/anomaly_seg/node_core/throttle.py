"""Throttled logging: at most one line per key and period, with the count of lines held back.

A camera at 30 Hz sending a bad encoding would otherwise write 30 identical errors a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class ThrottledLogger:
    """Wraps a :class:`logging.Logger`; ``log(level, key, msg)`` emits a key at most once per ``period_s``."""

    def __init__(
        self, logger: logging.Logger, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.period_s = period_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, key: str, msg: str, *, exc_info: bool = False) -> bool:
        """Log ``msg`` unless ``key`` was logged less than ``period_s`` ago; returns whether it was logged."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            held_back = self._suppressed.pop(key, 0)
        if held_back:
            msg = f"{msg} [{held_back} similar message(s) suppressed since the last one]"
        self.logger.log(level, msg, exc_info=exc_info)
        return True
