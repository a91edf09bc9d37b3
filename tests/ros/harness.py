"""Real ROS 2 for the tests: node processes started as the launch files start them, and an rclpy client.

Every test gets a DDS domain of its own and discovery confined to this host (``ROS_AUTOMATIC_DISCOVERY_RANGE``),
so parallel runs never see each other. The client has its own rclpy ``Context``, spins an executor for a bounded
time and returns what arrived; nothing sleeps in place of an assertion. Import :func:`require_ros` first: it
skips the module with the reason when ROS 2 (rclpy with its C extension, the message packages) is absent.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHIPPED_PARAMS = REPO / "launch" / "config" / "anomaly_seg.yaml"
_domains = itertools.count()


def require_ros() -> None:
    """Skip the calling test module, with the reason, unless ROS 2 (the venv's from ``make ros``, or a sourced
    install) is importable."""
    hint = "make ros"
    if sys.version_info[:2] != (3, 11):
        hint = f"the ROS 2 Jazzy wheels of make ros are CPython 3.11 builds, this is {sys.version.split()[0]}"
    for module, what in (
        ("rclpy._rclpy_pybind11", "rclpy with its C extension"),
        ("sensor_msgs.msg", "sensor_msgs"),
        ("diagnostic_msgs.msg", "diagnostic_msgs"),
        ("vision_msgs.msg", "vision_msgs"),
    ):
        pytest.importorskip(module, reason=f"needs {what} ({hint})")
    from anomaly_seg.ros import dds

    # The test process is a DDS participant too: same large-image settings as the node (before any rclpy.init).
    dds.apply_default_profile(os.environ)


def new_domain_id() -> int:
    """A DDS domain id for one test (1..200), spread by process id so that parallel sessions differ."""
    return 1 + (os.getpid() * 7 + next(_domains)) % 200


def ros_environment(domain_id: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of a ROS process under test: its domain, localhost-only discovery, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_LOCALHOST_ONLY", "ROS_STATIC_PEERS")}
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


@dataclass
class RosProcess:
    """A ROS executable under test; stdout and stderr go to files next to each other."""

    cmd: list[str]
    env: dict[str, str]
    log_dir: Path
    name: str
    proc: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._out = (self.log_dir / f"{self.name}.stdout").open("wb")
        self._err = (self.log_dir / f"{self.name}.stderr").open("wb")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self._out, stderr=self._err)

    @property
    def stderr(self) -> str:
        """Everything the process wrote to stderr so far."""
        self._err.flush()
        return (self.log_dir / f"{self.name}.stderr").read_text(errors="replace")

    @property
    def output(self) -> str:
        """stdout + stderr so far (rclpy logs to stderr)."""
        self._out.flush()
        return (self.log_dir / f"{self.name}.stdout").read_text(errors="replace") + self.stderr

    def wait(self, timeout: float = 30.0) -> int:
        """Exit status (waits up to ``timeout`` seconds; kills and fails the test beyond)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name} did not exit within {timeout} s; output:\n{self.output[-3000:]}")

    def interrupt(self, timeout: float = 30.0) -> int:
        """SIGINT (Ctrl-C, as ``ros2 launch`` sends it), then the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def close(self) -> None:
        """Kill if still running; close the log files."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()


@contextmanager
def ros_processes() -> Iterator[list[RosProcess]]:
    """A list to start processes into; all are killed (if still running) at the end."""
    started: list[RosProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.close()


class RosClient:
    """An rclpy node in its own context and domain: publishers, recording subscriptions, bounded spinning."""

    def __init__(self, domain_id: int, name: str = "anomaly_seg_test_client") -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list[Any]] = {}

    def subscribe(self, topic: str, msg_type: Any, qos: Any = None, *, reliable: bool = True) -> list[Any]:
        """Record every message on ``topic`` from now on; returns the (growing) list (also ``received[topic]``)."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        if qos is None:
            policy = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
            qos = QoSProfile(depth=50, reliability=policy)
        messages: list[Any] = []
        self.received[topic] = messages
        self.node.create_subscription(msg_type, topic, messages.append, qos)
        return messages

    def publisher(self, topic: str, msg_type: Any, *, reliable: bool = True, depth: int = 10) -> Any:
        """A publisher on ``topic``."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        policy = ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
        return self.node.create_publisher(msg_type, topic, QoSProfile(depth=depth, reliability=policy))

    def spin_until(self, done: Callable[[], bool], timeout: float, *, step: Callable[[], None] | None = None) -> bool:
        """Spin until ``done()`` or ``timeout`` seconds; ``step`` runs between spins (e.g. to publish again)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            if step is not None:
                step()
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def spin_for(self, seconds: float) -> None:
        """Spin for ``seconds`` (to collect what else arrives)."""
        self.spin_until(lambda: False, seconds)

    def close(self) -> None:
        """Destroy the node and shut the context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def latest_status(diagnostics: list[Any], node_name: str) -> dict[str, str] | None:
    """Key/values of the newest ``/diagnostics`` status of ``node_name`` (fully qualified), or None."""
    for array in reversed(diagnostics):
        for status in array.status:
            if status.name.startswith(f"{node_name}:"):
                return {kv.key: kv.value for kv in status.values}
    return None
