"""``anomaly_seg_node``'s exit contract at shutdown, in process: an rclpy call that fails because SIGINT has already
shut the context down (rclpy does that from its own thread) is a clean exit; the same failure while the context
is up is an error."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.ros.harness import require_ros

require_ros()

from rclpy.node import Node  # noqa: E402
from rclpy.utilities import try_shutdown  # noqa: E402

from anomaly_seg.ros import node as node_module  # noqa: E402

pytestmark = pytest.mark.ros


class _FakeNode(Node):
    stopped = False

    def __init__(self) -> None:
        super().__init__("anomaly_seg_shutdown_test")
        self.params = SimpleNamespace(model=SimpleNamespace(build_only=False))

    def stop(self) -> None:
        type(self).stopped = True


def _executor(shutdown_first: bool) -> type:
    class Executor:
        def add_node(self, node: Any) -> None:
            pass

        def spin(self) -> None:
            if shutdown_first:
                try_shutdown()  # what rclpy's SIGINT handler thread does
            raise RuntimeError("publisher's context is invalid")  # what the interrupted publish() then raises

    return Executor


@pytest.mark.parametrize("shutdown_first", [True, False])
def test_a_publish_failing_after_the_sigint_shutdown_is_a_clean_exit(
    monkeypatch: pytest.MonkeyPatch, shutdown_first: bool
) -> None:
    monkeypatch.setattr(node_module, "AnomalySegNode", _FakeNode)
    monkeypatch.setattr(node_module, "SingleThreadedExecutor", _executor(shutdown_first))
    _FakeNode.stopped = False
    if shutdown_first:
        assert node_module.main([]) == 0
    else:
        with pytest.raises(RuntimeError, match="context is invalid"):
            node_module.main([])
    assert _FakeNode.stopped  # the runners are stopped either way


def test_main_leaves_the_test_process_sigint_handler_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    before = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(node_module, "AnomalySegNode", _FakeNode)
    monkeypatch.setattr(node_module, "SingleThreadedExecutor", _executor(True))
    assert node_module.main([]) == 0
    assert signal.getsignal(signal.SIGINT) is before
