"""Tuning a running node: ``ros2 param set`` (the SetParameters service) changes the threshold and the mask
follows from the next frame; invalid values and read-only parameters are refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.ros.harness import RosClient, require_ros, ros_processes

require_ros()

from anomaly_seg import messages as rm  # noqa: E402
from anomaly_seg import vocabulary  # noqa: E402
from tests.ros.test_node_process import client as client  # noqa: E402  (the fixture)
from tests.ros.test_node_process import frame, plans, serve, stamp  # noqa: E402
from tests.ros.test_node_process import model as model  # noqa: E402  (the fixture)

pytestmark = pytest.mark.ros


def set_parameters(ros: RosClient, node: str, **values: Any) -> list[Any]:
    """Call ``<node>/set_parameters`` as ``ros2 param set`` does; returns the per-parameter results."""
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    service = ros.node.create_client(SetParameters, f"{node}/set_parameters")
    assert ros.spin_until(service.service_is_ready, 20.0), "set_parameters service not available"
    request = SetParameters.Request()
    for name, value in values.items():
        if isinstance(value, float):
            v = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
        elif isinstance(value, int):
            v = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
        else:
            v = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
        request.parameters.append(Parameter(name=name.replace("_dot_", "."), value=v))
    future = service.call_async(request)
    assert ros.spin_until(future.done, 20.0), "no answer from set_parameters"
    return list(future.result().results)


def test_the_threshold_changes_while_the_node_runs_and_bad_values_are_refused(
    model: Path, client: RosClient, tmp_path: Path
) -> None:
    f = rm.ros_factory()
    (plan,) = plans(model)
    with ros_processes() as procs:
        _, outputs, pub = serve(procs, plan, client, tmp_path)
        masks = outputs[vocabulary.TOPIC_ANOMALY_MASK]
        sent = [0]

        def publish() -> None:
            sent[0] += 1
            pub.publish(frame(f, sent[0], "cam"))

        assert client.spin_until(lambda: bool(masks), 30.0, step=publish)
        assert rm.image_to_array(masks[-1]).max() == 255  # red square above threshold 0

        (ok,) = set_parameters(client, plan.full_name, anomaly_dot_threshold=100.0)
        assert ok.successful, ok.reason
        changed_at = sent[0]
        assert client.spin_until(
            lambda: any(stamp(m) > stamp(frame(f, changed_at, "cam")) for m in masks), 30.0, step=publish
        )
        later = [m for m in masks if stamp(m) > stamp(frame(f, changed_at, "cam"))]
        assert all(not rm.image_to_array(m).any() for m in later)  # nothing scores 100: the mask follows

        (bad,) = set_parameters(client, plan.full_name, segments_dot_region="sky")
        assert not bad.successful and "segments.region" in bad.reason
        (locked,) = set_parameters(client, plan.full_name, model_dot_backend="torch")
        assert not locked.successful and "read-only" in locked.reason
        (range_,) = set_parameters(client, plan.full_name, output_dot_overlay_alpha=2.0)
        assert not range_.successful  # outside the declared range
        assert np.isfinite(stamp(masks[-1]))
