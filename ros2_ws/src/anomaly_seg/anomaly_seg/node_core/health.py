"""The node's health: counters, bounded rolling latency windows, frame rate and the ``DiagnosticArray`` they make.

``NodeHealth`` is thread-safe (the runner's stages and the shell's callbacks all report to it); its memory is
bounded whatever the run length.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class HealthExpectations:
    """What healthy looks like (``diagnostics.*`` parameters). ``expected_fps`` 0 = no rate check;
    ``max_transport_loss``: share of the camera's frames lost before the node, per report; ``stale_after_s``: no
    frame for this long while a publisher is matched is an error."""

    expected_fps: float = 0.0
    max_transport_loss: float = 0.2
    stale_after_s: float = 5.0


#: what to do about frames lost before they reach the node (the usual cause: a driver on Fast DDS defaults)
TRANSPORT_LOSS_FIX = (
    "likely cause: the camera driver's DDS settings for large images (README, 'DDS settings': use the shipped "
    "Fast DDS profile, or reliable QoS / shared memory); check with `ros2 topic hz` on the camera topic"
)


@dataclass(frozen=True)
class NodeStats:
    """Counters since start. ``frames_in = frames_processed + frames_failed + frames_dropped`` once the frames in
    flight are done; ``frames_lost_in_transport`` never reached the node (not in ``frames_in``)."""

    frames_in: int
    frames_processed: int
    frames_failed: int
    frames_dropped: int
    errors: dict[str, int] = field(default_factory=dict)
    frames_lost_in_transport: int = 0  # never reached the node (publisher sequence gaps)
    last_error: str = ""
    segments_published: int = 0
    segments_rejected: int = 0  # by the meta classifier
    segments_dropped: int = 0  # below min area or beyond max_segments


class NodeHealth:
    """Counters and latency windows of one node (or one camera of a shared node)."""

    def __init__(self, window: int = 300, expectations: HealthExpectations | None = None) -> None:
        self.expectations = expectations or HealthExpectations()
        self._lock = threading.Lock()
        self._last_arrival: float | None = None  # monotonic time of the last frame that reached the node
        self._report_in_lost = (0, 0)  # (frames in, lost in transport) at the previous report
        self._frames_in = self._processed = self._failed = self._dropped = 0
        self._seg_published = self._seg_rejected = self._seg_dropped = 0
        self._errors: dict[str, int] = {}
        self._lost_in_transport = 0
        self._last_sequence: int | None = None
        self._last_error = ""
        self.last_input_size: tuple[int, int] | None = None
        self.windows: dict[str, RollingWindow] = {
            name: RollingWindow(window)
            for name in ("processing_ms", "pipeline_latency_ms", "engine_ms", "input_transport_ms", "publish_ms")
        }
        self._rate = RateMeter(min(window, 100))
        self._last_report: tuple[int, int] = (0, 0)  # (processed, failed) at the previous report

    def frame_in(self, n: int = 1, *, dropped: bool = False) -> None:
        """Count ``n`` frames arriving (``dropped``: replaced by a newer one before they were processed)."""
        with self._lock:
            self._frames_in += n
            self._last_arrival = time.monotonic()
            if dropped:
                self._dropped += n

    def error(self, kind: str, reason: str) -> None:
        """Count one failed frame under its error kind."""
        with self._lock:
            self._failed += 1
            self._errors[kind] = self._errors.get(kind, 0) + 1
            self._last_error = f"{kind}: {reason}"

    def processed(
        self,
        *,
        processing_ms: float,
        latency_ms: float,
        engine_ms: float,
        segments: tuple[int, int, int],
        input_size: tuple[int, int],
    ) -> None:
        """Count one processed frame: its times and its segments (published, rejected, dropped)."""
        self.windows["processing_ms"].add(processing_ms)
        self.windows["pipeline_latency_ms"].add(latency_ms)
        self.windows["engine_ms"].add(engine_ms)
        self._rate.tick(time.monotonic())
        with self._lock:
            self._processed += 1
            self._seg_published += segments[0]
            self._seg_rejected += segments[1]
            self._seg_dropped += segments[2]
            self.last_input_size = input_size

    def arrival(self, sequence: int | None, sent_ns: int | None, received_ns: int | None) -> None:
        """What the middleware says of one input message: the publisher's sequence number (a gap = frames lost
        before the node, e.g. replaced in the depth-1 reader queue; one publisher per topic assumed) and the
        send / receive times (input transport latency)."""
        with self._lock:
            if sequence is not None and sequence > 0:
                if self._last_sequence is not None and sequence > self._last_sequence + 1:
                    self._lost_in_transport += sequence - self._last_sequence - 1
                self._last_sequence = sequence  # smaller: a new or restarted publisher
        if sent_ns and received_ns:
            self.windows["input_transport_ms"].add((received_ns - sent_ns) / 1e6)

    def stats(self) -> NodeStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return NodeStats(
                frames_in=self._frames_in,
                frames_processed=self._processed,
                frames_failed=self._failed,
                frames_dropped=self._dropped,
                errors=dict(self._errors),
                frames_lost_in_transport=self._lost_in_transport,
                last_error=self._last_error,
                segments_published=self._seg_published,
                segments_rejected=self._seg_rejected,
                segments_dropped=self._seg_dropped,
            )

    def assess(self, publishers: int | None = None) -> tuple[int, str]:
        """(level 0 OK / 1 WARN / 2 ERROR, message) since the previous call; ``publishers``: matched publishers of
        the input topic (None = unknown). In order of severity: every frame failed, or no frame for
        ``stale_after_s`` with a publisher matched (ERROR); some frames failed, more than ``max_transport_loss`` of
        the camera's frames lost in transport, or a processed rate below ``expected_fps`` (WARN), each with its
        likely cause and fix. Frames replaced by newer ones (inference slower than the camera) are counted, not
        warned about."""
        e, now = self.expectations, time.monotonic()
        stats = self.stats()
        processed_since = stats.frames_processed - self._last_report[0]
        failed_since = stats.frames_failed - self._last_report[1]
        in_since = stats.frames_in - self._report_in_lost[0]
        lost_since = stats.frames_lost_in_transport - self._report_in_lost[1]
        self._last_report = (stats.frames_processed, stats.frames_failed)
        self._report_in_lost = (stats.frames_in, stats.frames_lost_in_transport)
        silent = now - self._last_arrival if self._last_arrival is not None else None
        fps = self._rate.rate(now)
        if failed_since and not processed_since:
            return 2, f"every frame failed since the last report ({stats.last_error})"
        if publishers and silent is not None and silent > e.stale_after_s:
            return 2, (
                f"no frame for {silent:.1f} s although {publishers} publisher(s) are matched: the camera stopped "
                "sending, or QoS/DDS settings drop every frame"
            )
        if failed_since:
            return 1, f"{failed_since} frame(s) failed ({stats.last_error})"
        if lost_since and lost_since / (lost_since + in_since) > e.max_transport_loss:
            share = 100 * lost_since / (lost_since + in_since)
            return (
                1,
                f"{share:.0f} % of the camera's frames lost in transport since the last report: {TRANSPORT_LOSS_FIX}",
            )
        if e.expected_fps > 0 and stats.frames_in and fps < e.expected_fps:
            return 1, (
                f"processing {fps:.1f} frames/s, expected {e.expected_fps:g}: the engine is too slow for the "
                "camera (fp16/int8 model, output.resolution: network, fewer cameras per engine) or frames are lost"
            )
        if stats.frames_in == 0:
            return 0, "waiting for images"
        return 0, "ok"

    def diagnostic_array(
        self,
        factory: Any,
        header: Any,
        *,
        name: str,
        hardware_id: str,
        settings: dict[str, str],
        assessed: tuple[int, str],
    ) -> Any:
        """``diagnostic_msgs/DiagnosticArray`` with one status, level and message ``assessed`` (:meth:`assess`):
        ``settings`` first, then rates, latencies, counters."""
        f = factory
        level_index, message = assessed
        level = (f.DiagnosticStatus.OK, f.DiagnosticStatus.WARN, f.DiagnosticStatus.ERROR)[level_index]
        stats = self.stats()
        values = dict(settings)
        values["fps"] = f"{self._rate.rate(time.monotonic()):.2f}"
        for label, window in self.windows.items():
            for q, v in window.percentiles(PERCENTILES).items():
                values[f"{label}_p{q}"] = f"{v:.2f}"
        values.update(
            frames_in=str(stats.frames_in),
            frames_processed=str(stats.frames_processed),
            frames_failed=str(stats.frames_failed),
            frames_dropped=str(stats.frames_dropped),
            frames_lost_in_transport=str(stats.frames_lost_in_transport),
            segments_published=str(stats.segments_published),
            segments_rejected=str(stats.segments_rejected),
            segments_dropped=str(stats.segments_dropped),
        )
        values.update({f"errors.{kind}": str(n) for kind, n in sorted(stats.errors.items())})
        if stats.last_error:
            values["last_error"] = stats.last_error
        status = f.DiagnosticStatus(
            level=level,
            name=name,
            message=message,
            hardware_id=hardware_id,
            values=[f.KeyValue(key=k, value=v) for k, v in values.items()],
        )
        return f.DiagnosticArray(header=header, status=[status])
