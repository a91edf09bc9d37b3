"""Parameter tables: one :class:`ParamSpec` per parameter, validated into plain values with messages that name it.

The node (:mod:`anomaly_seg.node_core.params`) and the evaluator node declare their parameters from such tables
and validate overrides with :func:`validate_values`; offline tools read the same ROS 2 parameter files with
:func:`read_ros_params_file`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from anomaly_seg.config_schema import read_yaml_mapping
from anomaly_seg.errors import ConfigError

ParamValue = bool | int | float | str

#: ROS itself may put these into a parameter file; they are not ours to validate.
ROS_BUILTIN_PREFIXES = ("use_sim_time", "qos_overrides.", "start_type_description_service")


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: name, type (of ``default``), bounds and documentation."""

    name: str
    default: ParamValue
    description: str
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    #: read at start only (changing it means restarting the node); False: may change while the node runs
    read_only: bool = True
    #: a non-empty string value must name an existing file
    is_file: bool = False
    #: NaN stands for "not set" (a float parameter whose default is NaN)
    nan_allowed: bool = False

    @property
    def type(self) -> type:
        """Python type of the value (``bool``, ``int``, ``float`` or ``str``)."""
        return type(self.default)


def validate_values(
    specs: Sequence[ParamSpec], given: Mapping[str, Any], *, check_files: bool = True
) -> dict[str, ParamValue]:
    """Every parameter of ``specs``: its value in ``given`` (validated) or its default.

    Raises ConfigError naming the parameter for an unknown key, a wrong type, a value out of range or not among
    the choices, or (with ``check_files``) a file that does not exist. ROS's own parameters are ignored.
    """
    by_name = {spec.name: spec for spec in specs}
    merged: dict[str, ParamValue] = {spec.name: spec.default for spec in specs}
    for key, value in given.items():
        if key.startswith(ROS_BUILTIN_PREFIXES):
            continue
        if key not in by_name:
            raise ConfigError(f"unknown parameter '{key}' (known: {', '.join(by_name)})")
        merged[key] = validate_value(by_name[key], value, check_files=check_files)
    return merged


def read_ros_params_file(path: str | Path, *, node_name: str | None = None) -> dict[str, Any]:
    """Flat ``{dotted.name: value}`` of the sections of a ROS 2 parameter file that apply to ``node_name``."""
    path = Path(path)
    doc = read_yaml_mapping(path, "ROS parameter file (node names -> ros__parameters)")
    wanted = {"/**", "**"}
    if node_name:
        wanted |= {node_name, node_name.lstrip("/"), "/" + node_name.lstrip("/"), node_name.rsplit("/", 1)[-1]}
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if str(section) not in wanted:
            continue
        if not isinstance(body, dict) or not isinstance(body.get("ros__parameters"), dict):
            raise ConfigError(f"{path}: section '{section}' has no 'ros__parameters' mapping")
        flat.update(_flatten(body["ros__parameters"]))
    if not flat:
        raise ConfigError(
            f"{path}: no 'ros__parameters' section for '/**'" + (f" or '{node_name}'" if node_name else "")
        )
    return flat


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def validate_value(spec: ParamSpec, value: Any, *, check_files: bool = True) -> ParamValue:
    """``value`` checked against ``spec`` (YAML ints accepted for floats); ConfigError naming the parameter."""
    name = spec.name
    expected = spec.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # YAML `0` for a double; ROS would reject it, we are lenient offline
    if type(value) is not expected:
        raise ConfigError(f"parameter '{name}' must be {expected.__name__}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value) and not (spec.nan_allowed and math.isnan(value)):
        raise ConfigError(f"parameter '{name}' must be finite, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise ConfigError(f"parameter '{name}' must be one of {'|'.join(spec.choices)}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.min_value is not None and value < spec.min_value:
            raise ConfigError(f"parameter '{name}' must be >= {spec.min_value}, got {value!r}")
        if spec.max_value is not None and value > spec.max_value:
            raise ConfigError(f"parameter '{name}' must be <= {spec.max_value}, got {value!r}")
    if spec.is_file and check_files and isinstance(value, str) and value and not Path(value).is_file():
        raise ConfigError(f"parameter '{name}': file not found: {value}")
    return cast(ParamValue, value)
