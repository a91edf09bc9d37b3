"""Writing rosbag2 bags (MCAP by default, sqlite3 on request) with the rosbags library."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

from rosbags.interfaces import Connection, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from anomaly_seg.errors import BagError
from anomaly_seg.messages.typestore import get_typestore

Storage = Literal["mcap", "sqlite3"]

_STORAGE_PLUGINS: Final[dict[str, StoragePlugin]] = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# Bag format version 8: the newest whose QoS metadata rosbag2 in Humble still parses (9 changed it).
_BAG_VERSION: Final = 8
_ZERO: Final = QosTime(sec=0, nsec=0)


def _qos(latched: bool) -> Qos:
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=1 if latched else 10,
        reliability=QosReliability.RELIABLE,
        durability=QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE,
        deadline=_ZERO,
        lifespan=_ZERO,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_ZERO,
        avoid_ros_namespace_conventions=False,
    )


class BagWriter:
    """Context manager that writes messages to a new rosbag2 directory.

    >>> with BagWriter(path) as bag:
    ...     bag.add_topic("/camera/image_raw", "sensor_msgs/msg/Image")
    ...     bag.write("/camera/image_raw", stamp_ns, image_msg)

    The bag is closed with its index and ``metadata.yaml`` however the block ends: normally, on an exception or on
    an interruption (KeyboardInterrupt, or SIGTERM where the CLI turns it into one), so it holds, readable, every
    message written before.
    """

    def __init__(self, path: str | Path, storage: Storage = "mcap", *, typestore: Typestore | None = None) -> None:
        self.path = Path(path)
        if storage not in _STORAGE_PLUGINS:
            raise BagError(f"bag {self.path}: storage must be 'mcap' or 'sqlite3', got {storage!r}")
        if self.path.exists():
            raise BagError(f"bag {self.path} exists already; not overwriting")
        self.storage: Storage = storage
        self.typestore = typestore if typestore is not None else get_typestore()
        self._writer = Writer(self.path, version=_BAG_VERSION, storage_plugin=_STORAGE_PLUGINS[storage])
        self._connections: dict[str, Connection] = {}
        self._open = False

    def __enter__(self) -> BagWriter:
        try:
            self._writer.open()
        except Exception as exc:
            raise BagError(f"cannot create bag {self.path}: {exc}") from exc
        self._open = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open = False
        try:
            self._writer.close()
        except Exception as error:
            with suppress(Exception):
                self._writer.abort()
            if exc_type is None:
                raise BagError(f"cannot finish bag {self.path}: {error}") from error

    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type of the topics added so far."""
        return {topic: conn.msgtype for topic, conn in self._connections.items()}

    def add_topic(self, topic: str, msgtype: str, *, latched: bool = False) -> None:
        """Declare ``topic`` with ``msgtype`` (``pkg/msg/Type``); ``latched`` records transient-local QoS.

        Adding the same topic again with the same type does nothing; with another type raises BagError.
        """
        if not self._open:
            raise BagError(f"bag {self.path} is not open; use BagWriter as a context manager")
        if topic in self._connections:
            if self._connections[topic].msgtype != msgtype:
                raise BagError(
                    f"bag {self.path}: topic {topic} already has type {self._connections[topic].msgtype}, not {msgtype}"
                )
            return
        if msgtype not in self.typestore.types:
            raise BagError(f"bag {self.path}: unknown message type {msgtype!r} for topic {topic}")
        try:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore, offered_qos_profiles=[_qos(latched)]
            )
        except Exception as exc:
            raise BagError(f"bag {self.path}: cannot add topic {topic} ({msgtype}): {exc}") from exc

    def write(self, topic: str, timestamp_ns: int, msg: Any) -> None:
        """Serialise ``msg`` and write it on ``topic`` at receive time ``timestamp_ns``."""
        conn = self._connections.get(topic)
        if conn is None:
            raise BagError(f"bag {self.path}: topic {topic} was not added (known: {sorted(self._connections)})")
        msgtype = getattr(msg, "__msgtype__", conn.msgtype)
        if msgtype != conn.msgtype:
            raise BagError(f"bag {self.path}: topic {topic} has type {conn.msgtype}, got a {msgtype} message")
        if int(timestamp_ns) < 0:
            raise BagError(f"bag {self.path}: negative timestamp {timestamp_ns} on {topic}")
        try:
            data = self.typestore.serialize_cdr(msg, conn.msgtype)
        except Exception as exc:
            raise BagError(f"bag {self.path}: cannot serialise {conn.msgtype} for {topic}: {exc}") from exc
        try:
            self._writer.write(conn, int(timestamp_ns), data)
        except Exception as exc:
            raise BagError(f"bag {self.path}: cannot write {topic}: {exc}") from exc

    def write_raw(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        """Write an already serialised (CDR) message on ``topic``, e.g. copied from another bag."""
        conn = self._connections.get(topic)
        if conn is None:
            raise BagError(f"bag {self.path}: topic {topic} was not added (known: {sorted(self._connections)})")
        try:
            self._writer.write(conn, int(timestamp_ns), data)
        except Exception as exc:
            raise BagError(f"bag {self.path}: cannot write {topic}: {exc}") from exc

    def write_stamped(self, topic: str, msg: Any) -> None:
        """Write a message with a ``header`` at its header stamp (as ``ros2 bag record`` would see it live)."""
        header = getattr(msg, "header", None)
        if header is None:
            raise BagError(f"bag {self.path}: {type(msg).__name__} on {topic} has no header to take a stamp from")
        self.write(topic, int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec), msg)
