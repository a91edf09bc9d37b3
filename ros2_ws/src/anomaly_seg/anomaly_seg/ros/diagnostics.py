"""Bounded rolling statistics for diagnostics: latency percentiles and frame rate."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

PERCENTILES = (50, 90, 99)


class RollingWindow:
    """The last ``size`` samples of a quantity (bounded memory), with percentiles."""

    def __init__(self, size: int = 300) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        """Record one sample."""
        with self._lock:
            self._values.append(float(value))

    def __len__(self) -> int:
        return len(self._values)

    def percentiles(self, qs: tuple[int, ...] = PERCENTILES) -> dict[int, float]:
        """``{q: value}`` over the window (NaN when empty)."""
        with self._lock:
            values = np.fromiter(self._values, np.float64, len(self._values))
        if values.size == 0:
            return dict.fromkeys(qs, float("nan"))
        return {q: float(v) for q, v in zip(qs, np.percentile(values, qs))}


class RateMeter:
    """Events per second over the last ``size`` event times (monotonic seconds)."""

    def __init__(self, size: int = 100) -> None:
        self._times: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def tick(self, t: float) -> None:
        """Record an event at time ``t``."""
        with self._lock:
            self._times.append(t)

    def rate(self, now: float, max_age_s: float = 5.0) -> float:
        """Events per second among the recorded ones; 0 if none in the last ``max_age_s`` seconds."""
        with self._lock:
            times = list(self._times)
        if not times or now - times[-1] > max_age_s:
            return 0.0
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])
