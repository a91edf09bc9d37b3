"""Exception types: one per kind of failure, all derived from :class:`AnomalySegError`.

Callers that must never crash (the node callback, bag replay) catch :class:`AnomalySegError`, count
it by ``kind`` and carry on; command-line tools print its message and exit non-zero.
"""

from __future__ import annotations


class AnomalySegError(Exception):
    """Base class. ``kind`` is a short stable name used as a counter key in diagnostics and reports."""

    kind = "error"


class ImageDecodeError(AnomalySegError):
    """An image message cannot be turned into pixels (encoding, size, step, corrupt data)."""

    kind = "bad_image"


class EngineError(AnomalySegError):
    """The inference engine failed or returned unusable outputs (e.g. NaN/Inf)."""

    kind = "engine"


class ModelFileError(AnomalySegError):
    """A model file (weights, ONNX, engine, meta classifier) is missing, corrupt or mismatched."""

    kind = "model_file"


class ConfigError(AnomalySegError):
    """A configuration or parameter value is invalid; the message names the key."""

    kind = "config"


class BagError(AnomalySegError):
    """A rosbag cannot be read or written, or holds unknown topics/types."""

    kind = "bag"


class DatasetError(AnomalySegError):
    """A dataset folder does not have the expected layout; the message names the missing path."""

    kind = "dataset"
