"""The ROS 2 typestore used for every bag: ROS 2 Humble message types plus vision_msgs 4.x."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.interfaces.typing import Typesdict
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg
from rosbags.typesys import get_typestore as _rosbags_typestore
from rosbags.typesys.store import Typestore

from anomaly_seg.errors import BagError
from anomaly_seg.messages.vision_msgs import VISION_MSGS_DEFINITIONS

ROS_STORE = Stores.ROS2_HUMBLE
"""Base message set (Humble is the distribution of the Jetson images; the types used here are identical in Jazzy)."""

_IDL_SEPARATOR = "=" * 80 + "\n"


@cache
def _vision_types() -> Typesdict:
    types: Typesdict = {}
    for name, text in VISION_MSGS_DEFINITIONS.items():
        types.update(get_types_from_msg(text, name))
    return types


def get_typestore() -> Typestore:
    """A new typestore with the ROS 2 Humble types and vision_msgs 4.x registered (a few ms).

    Each call returns a fresh store, so registering a bag's own types never leaks between callers.
    """
    store = _rosbags_typestore(ROS_STORE)
    store.register(_vision_types())
    return store


def register_connection_types(store: Typestore, connections: Iterable[Connection], path: Path) -> None:
    """Register the message definitions embedded in a bag for ``connections`` whose types ``store`` lacks.

    Types the store knows are checked against the bag's definition; a bag recorded with a different
    definition (e.g. vision_msgs 3.x) raises :class:`BagError` naming the topic and type.
    """
    for conn in connections:
        fmt, text = conn.msgdef.format, conn.msgdef.data
        if fmt == MessageDefinitionFormat.NONE or not text.strip():
            if conn.msgtype not in store.types:
                raise BagError(f"bag {path}: topic {conn.topic} has unknown type {conn.msgtype} and no definition")
            continue
        types: Typesdict
        try:
            if fmt == MessageDefinitionFormat.MSG:
                types = get_types_from_msg(text, conn.msgtype)
            elif text.startswith(_IDL_SEPARATOR + "IDL: "):
                types = {}
                for part in text.split(_IDL_SEPARATOR)[1:]:
                    types.update(get_types_from_idl(part.split("\n", 1)[1]))
            else:
                types = get_types_from_idl(text)
            store.register(types)
        except TypesysError as exc:
            raise BagError(
                f"bag {path}: topic {conn.topic} type {conn.msgtype} does not match the known definition: {exc}"
            ) from exc
        except Exception as exc:  # the parsers raise assorted errors on malformed text
            raise BagError(f"bag {path}: unreadable definition of {conn.msgtype} on {conn.topic}: {exc}") from exc
