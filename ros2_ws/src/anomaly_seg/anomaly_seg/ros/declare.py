"""rclpy parameter declarations from a :class:`~anomaly_seg.parameters.ParamSpec` table (descriptions, ranges,
choices, read-only), shared by the node and the evaluator node."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from anomaly_seg.parameters import ParamSpec


def descriptor(spec: ParamSpec) -> Any:
    """``rcl_interfaces/ParameterDescriptor`` of one spec."""
    # rcl_interfaces ships no type information outside a ROS install; its classes are only constructed here.
    msgs = importlib.import_module("rcl_interfaces.msg")
    descriptor = msgs.ParameterDescriptor(
        name=spec.name,
        description=spec.description + (f" ({'|'.join(spec.choices)})" if spec.choices else ""),
        read_only=spec.read_only,
    )
    if spec.min_value is not None and spec.max_value is not None:
        if spec.type is int:
            descriptor.integer_range = [
                msgs.IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)
            ]
        elif spec.type is float:
            descriptor.floating_point_range = [
                msgs.FloatingPointRange(from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)
            ]
    return descriptor


def declare_table(node: Any, specs: Sequence[ParamSpec]) -> None:
    """Declare every spec on ``node`` with its default and descriptor (overrides from the command line apply)."""
    for spec in specs:
        node.declare_parameter(spec.name, spec.default, descriptor(spec))
