"""Reading rosbag2 bags (MCAP or sqlite3) into messages, in time order."""

from __future__ import annotations

import logging
import struct
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from rosbags.interfaces import Connection, ConnectionExtRosbag2
from rosbags.rosbag2 import Reader
from rosbags.typesys.store import Typestore

from anomaly_seg.bags.recover import Recovery, bag_files, iter_recovered
from anomaly_seg.errors import BagError
from anomaly_seg.messages.typestore import get_typestore, register_connection_types

_log = logging.getLogger("anomaly_seg.bags")

IMAGE_MSGTYPES: Final = frozenset({"sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"})


@dataclass(frozen=True)
class BagMessage:
    """One deserialised message and where it came from."""

    topic: str
    msgtype: str
    timestamp_ns: int
    """Receive (log) time recorded in the bag."""
    msg: Any


@dataclass(frozen=True)
class RawMessage:
    """One message as stored (CDR bytes, what an rclpy publisher sends with ``publish(bytes)``)."""

    topic: str
    msgtype: str
    timestamp_ns: int
    """Receive (log) time recorded in the bag."""
    raw: bytes


class _Source(Protocol):
    """An open bag: its connections and its messages (complete bags through rosbags, cut ones recovered)."""

    @property
    def connections(self) -> list[Connection]: ...

    def messages(self, connections: list[Connection]) -> Iterator[tuple[Connection, int, bytes]]: ...


class _RosbagsSource:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    @property
    def connections(self) -> list[Connection]:
        return list(self.reader.connections)

    def messages(self, connections: list[Connection]) -> Iterator[tuple[Connection, int, bytes]]:
        if not connections:  # rosbags treats an empty filter as "all topics"
            return iter(())
        return self.reader.messages(connections=connections)


class _RecoveredSource:
    """A bag cut short (:mod:`anomaly_seg.bags.recover`): messages in file order up to the cut."""

    def __init__(self, recovery: Recovery, counts: dict[str, int]) -> None:
        self.recovery = recovery
        self._connections = [c._replace(msgcount=counts.get(c.topic, 0)) for c in recovery.connections.values()]

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections)

    def messages(self, connections: list[Connection]) -> Iterator[tuple[Connection, int, bytes]]:
        by_topic = {c.topic: c for c in connections}
        for record in iter_recovered(Recovery(self.recovery.path, self.recovery.files)):
            conn = by_topic.get(record.connection.topic)
            if conn is not None:
                yield conn, record.timestamp_ns, record.data


def _recover(bag: Path) -> _RecoveredSource:
    """Scan a bag that rosbags cannot open (once per file state: the scan and its warning are cached)."""
    files = bag_files(bag)
    key = (str(bag.resolve()), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key not in _recovered:
        recovery = Recovery(bag, files)
        counts: dict[str, int] = {}
        for record in iter_recovered(recovery):
            counts[record.connection.topic] = counts.get(record.connection.topic, 0) + 1
        recovery.messages = sum(counts.values())
        if not recovery.connections:
            raise BagError(f"nothing recoverable ({recovery.end or 'no topics'})")
        _log.warning(recovery.describe())
        _recovered.clear()  # one bag at a time is enough
        _recovered[key] = _RecoveredSource(recovery, counts)
    return _recovered[key]


_recovered: dict[tuple[object, ...], _RecoveredSource] = {}


@contextmanager
def _open(path: str | Path) -> Iterator[_Source]:
    bag = Path(path)
    if not bag.exists():
        raise BagError(f"bag {bag} does not exist")
    try:
        reader = Reader(bag)
        reader.open()
    except Exception as exc:  # rosbags raises assorted errors (yaml, sqlite3, struct, ...) on corrupt bags
        error = exc
    else:
        try:
            yield _RosbagsSource(reader)
        finally:
            reader.close()
        return
    try:
        source = _recover(bag)
    except BagError as recovery_error:
        raise BagError(f"cannot open bag {bag}: {error}; recovery: {recovery_error}") from error
    yield source


def _raw_messages(
    source: _Source, connections: list[Connection], path: Path
) -> Iterator[tuple[Connection, int, bytes]]:
    stream = source.messages(connections)
    while True:
        try:
            item = next(stream)
        except StopIteration:
            return
        except Exception as exc:  # corrupt chunk/page in the middle of a bag
            raise BagError(f"bag {path} is corrupt: {exc}") from exc
        yield item


def _select(source: _Source, topics: Collection[str] | None, path: Path) -> list[Connection]:
    connections = source.connections
    if topics is not None:
        missing = set(topics) - {c.topic for c in connections}
        if missing:
            raise BagError(
                f"bag {path} has no topic(s) {sorted(missing)}; it has {sorted({c.topic for c in connections})}"
            )
        connections = [c for c in connections if c.topic in topics]
    for conn in connections:
        if isinstance(conn.ext, ConnectionExtRosbag2) and conn.ext.serialization_format != "cdr":
            raise BagError(f"bag {path}: topic {conn.topic} uses serialization {conn.ext.serialization_format!r}")
    return connections


def register_bag_types(path: str | Path, store: Typestore) -> None:
    """Register in ``store`` the message types that the bag defines and ``store`` lacks (BagError on a conflict)."""
    bag = Path(path)
    with _open(bag) as source:
        register_connection_types(store, source.connections, bag)


def list_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type (``pkg/msg/Type``) of every connection in the bag."""
    with _open(path) as source:
        return {conn.topic: conn.msgtype for conn in source.connections}


def message_count(path: str | Path, topics: Collection[str] | None = None) -> int:
    """Number of messages in the bag (on ``topics`` if given), from the bag's index."""
    with _open(path) as source:
        return sum(conn.msgcount for conn in _select(source, topics, Path(path)))


def read_messages(
    path: str | Path, topics: Collection[str] | None = None, *, typestore: Typestore | None = None
) -> Iterator[BagMessage]:
    """Deserialised messages of ``topics`` (default: all) in receive-time order.

    Types missing from the typestore are registered from the definitions stored in the bag. A missing or
    corrupt bag, an unknown topic, or a type that cannot be deserialised raises :class:`BagError`.
    """
    bag = Path(path)
    store = typestore if typestore is not None else get_typestore()
    with _open(bag) as source:
        connections = _select(source, topics, bag)
        register_connection_types(store, connections, bag)
        for conn, timestamp, raw in _raw_messages(source, connections, bag):
            try:
                msg = store.deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:
                raise BagError(
                    f"bag {bag}: cannot deserialise {conn.msgtype} on {conn.topic} at {timestamp}: {exc}"
                ) from exc
            yield BagMessage(conn.topic, conn.msgtype, timestamp, msg)


def read_raw_messages(path: str | Path, topics: Collection[str] | None = None) -> Iterator[RawMessage]:
    """Serialised messages of ``topics`` (default: all) in receive-time order, without deserialising them."""
    bag = Path(path)
    with _open(bag) as source:
        for conn, timestamp, raw in _raw_messages(source, _select(source, topics, bag), bag):
            yield RawMessage(conn.topic, conn.msgtype, timestamp, bytes(raw))


def _header_stamp_ns(raw: bytes, where: str) -> int:
    """Stamp of the leading ``std_msgs/Header`` read straight from the CDR bytes (no deserialisation)."""
    if len(raw) < 12:
        raise BagError(f"{where}: message of {len(raw)} bytes is too short for a header")
    little_endian = raw[1] & 1  # encapsulation kind: 0 = CDR_BE, 1 = CDR_LE
    sec, nanosec = struct.unpack_from("<iI" if little_endian else ">iI", raw, 4)
    return int(sec) * 1_000_000_000 + int(nanosec)


def read_images(path: str | Path, topic: str, *, typestore: Typestore | None = None) -> Iterator[BagMessage]:
    """Image or CompressedImage messages of ``topic`` in header-stamp order (ties keep receive order).

    A first pass reads only the stamps from the raw bytes; the second yields messages, holding back only
    those that arrived before their turn, so memory stays bounded by how out of order the bag is.
    """
    bag = Path(path)
    with _open(bag) as source:
        connections = _select(source, [topic], bag)
        wrong = sorted({c.msgtype for c in connections} - IMAGE_MSGTYPES)
        if wrong:
            raise BagError(f"bag {bag}: topic {topic} holds {wrong}, not sensor_msgs Image/CompressedImage")
        stamps = [
            _header_stamp_ns(raw, f"bag {bag} topic {topic}") for _, _, raw in _raw_messages(source, connections, bag)
        ]
    order = sorted(range(len(stamps)), key=stamps.__getitem__)  # stable: ties keep receive order
    rank = [0] * len(order)
    for position, index in enumerate(order):
        rank[index] = position
    pending: dict[int, BagMessage] = {}
    next_rank = 0
    for index, message in enumerate(read_messages(bag, [topic], typestore=typestore)):
        pending[rank[index]] = message
        while next_rank in pending:
            yield pending.pop(next_rank)
            next_rank += 1
