"""Reading bags cut short: an MCAP without its summary or footer, a bag folder without ``metadata.yaml``.

A recorder that lost power, a copy that stopped, a replay killed before it closed its writer: the file holds
complete records up to some byte and a partial one after it. :func:`recover_bag` reads records in order (framing
checked against the file size, chunk CRCs checked, the ``mcap`` package's record parser) up to the first record
that is incomplete or corrupt, and gives the connections and messages found before it; nothing after the cut is
guessed. sqlite3 bags without ``metadata.yaml`` are read from their tables (sqlite is transactional: what was
committed is whole).
"""

from __future__ import annotations

import io
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat

from anomaly_seg.errors import BagError

if TYPE_CHECKING:
    from mcap.records import Channel, Schema

MCAP_MAGIC: Final = b"\x89MCAP0\r\n"
_RECORD_HEAD: Final = struct.Struct("<BQ")
_FORMATS: Final = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}


@dataclass
class Recovery:
    """What a recovered bag holds and where reading stopped."""

    path: Path
    files: list[Path]
    connections: dict[int, Connection] = field(default_factory=dict)
    messages: int = 0
    #: where the readable part ends, e.g. ``"incomplete record at byte 1234 of x.mcap (5678 bytes)"``
    end: str = ""
    lost_bytes: int = 0

    def describe(self) -> str:
        """One line for the warning: what was recovered and what was lost."""
        lost = f", {self.lost_bytes} bytes after it unread" if self.lost_bytes else ""
        return (
            f"bag {self.path} is incomplete (no summary or metadata.yaml: cut short or not closed); recovered "
            f"{self.messages} messages on {len(self.connections)} topics; {self.end}{lost}"
        )


@dataclass(frozen=True)
class _Record:
    connection: Connection
    timestamp_ns: int
    data: bytes


def bag_files(path: Path) -> list[Path]:
    """The storage files of a bag (a folder of ``*.mcap`` / ``*.db3``, or one such file)."""
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.mcap")) or sorted(path.glob("*.db3"))
    if not files:
        raise BagError(f"bag {path}: no .mcap or .db3 file in it")
    return files


def recover_bag(path: Path) -> Recovery:
    """Scan a bag cut short: its connections, how many messages are complete, where the readable part ends."""
    recovery = Recovery(path, bag_files(path))
    for _ in iter_recovered(recovery):
        recovery.messages += 1
    return recovery


def iter_recovered(recovery: Recovery) -> Iterator[_Record]:
    """Every complete message in file order (log-time order inside each chunk); fills ``recovery``'s connections,
    ``end`` and ``lost_bytes`` as it goes."""
    for file in recovery.files:
        if file.suffix == ".db3":
            yield from _sqlite_records(file, recovery)
        else:
            yield from _mcap_records(file, recovery)
            if recovery.lost_bytes:
                return  # a later split file cannot continue a cut one


def _mcap_records(file: Path, recovery: Recovery) -> Iterator[_Record]:
    from mcap.records import Channel, Chunk, DataEnd, Footer, Message, Schema
    from mcap.stream_reader import breakup_chunk

    size = file.stat().st_size
    schemas: dict[int, Schema] = {}
    with file.open("rb") as f:
        if f.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
            raise BagError(f"bag {recovery.path}: {file.name} is not an MCAP file (bad magic)")
        offset = len(MCAP_MAGIC)
        while True:
            head = f.read(_RECORD_HEAD.size)
            if not head:
                recovery.end = f"{file.name} ends at byte {offset}, after its last complete record"
                return
            length = _RECORD_HEAD.unpack(head)[1] if len(head) == _RECORD_HEAD.size else size
            if offset + _RECORD_HEAD.size + length > size:
                recovery.end = f"{file.name} ends inside the record at byte {offset}"
                recovery.lost_bytes = size - offset
                return
            try:
                record = _parse_record(head + f.read(length))
                inner = breakup_chunk(record, validate_crc=True) if isinstance(record, Chunk) else [record]
                if record is None:
                    inner = []
            except Exception as exc:  # a record that does not parse: corrupt from here on
                recovery.end = f"corrupt record at byte {offset} of {file.name} ({type(exc).__name__}: {exc})"
                recovery.lost_bytes = size - offset
                return
            batch = []
            for item in inner:
                if isinstance(item, Schema):
                    schemas[item.id] = item
                elif isinstance(item, Channel) and item.id not in recovery.connections:
                    _add_channel(recovery, item, schemas)
                elif isinstance(item, Message) and item.channel_id in recovery.connections:
                    batch.append(_Record(recovery.connections[item.channel_id], item.log_time, bytes(item.data)))
            yield from sorted(batch, key=lambda r: r.timestamp_ns)
            if isinstance(record, DataEnd | Footer):  # the summary after it repeats what was read
                recovery.end = f"{file.name}: data section complete"
                return
            offset += _RECORD_HEAD.size + length


def _parse_record(data: bytes) -> object | None:
    """The one record in ``data`` (opcode, length, body), parsed by the mcap package (a chunk stays whole); None for
    a record type the package skips."""
    from mcap.exceptions import EndOfFile
    from mcap.stream_reader import StreamReader

    records = StreamReader(io.BytesIO(data), skip_magic=True, emit_chunks=True).records
    try:
        return next(records)
    except EndOfFile:  # an unknown opcode was skipped and nothing followed it
        return None


def _add_channel(recovery: Recovery, channel: Channel, schemas: dict[int, Schema]) -> None:
    schema = schemas.get(channel.schema_id)
    if schema is None:
        return
    recovery.connections[channel.id] = Connection(
        id=len(recovery.connections) + 1,
        topic=channel.topic,
        msgtype=schema.name,
        msgdef=MessageDefinition(_FORMATS.get(schema.encoding, MessageDefinitionFormat.NONE), schema.data.decode()),
        digest="",
        msgcount=0,
        ext=ConnectionExtRosbag2(channel.message_encoding, []),
        owner=None,
    )


def _sqlite_records(file: Path, recovery: Recovery) -> Iterator[_Record]:
    try:
        db = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        topics = db.execute("SELECT id, name, type, serialization_format FROM topics").fetchall()
        definitions: dict[str, tuple[str, str]] = {}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "message_definitions" in tables:
            rows = db.execute("SELECT topic_type, encoding, encoded_message_definition FROM message_definitions")
            definitions = {t: (enc, text) for t, enc, text in rows}
    except sqlite3.Error as exc:
        raise BagError(f"bag {recovery.path}: cannot read {file.name}: {exc}") from exc
    for topic_id, name, msgtype, serialization in topics:
        encoding, text = definitions.get(msgtype, ("", ""))
        recovery.connections[topic_id] = Connection(
            id=len(recovery.connections) + 1,
            topic=name,
            msgtype=msgtype,
            msgdef=MessageDefinition(_FORMATS.get(encoding, MessageDefinitionFormat.NONE), text),
            digest="",
            msgcount=0,
            ext=ConnectionExtRosbag2(serialization, []),
            owner=None,
        )
    try:
        for topic_id, timestamp, data in db.execute(
            "SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp"
        ):
            if topic_id in recovery.connections:
                yield _Record(recovery.connections[topic_id], int(timestamp), bytes(data))
    except sqlite3.Error as exc:
        recovery.end = f"{file.name}: unreadable from a message on ({exc})"
        return
    finally:
        db.close()
    recovery.end = f"{file.name} read whole (no metadata.yaml)"
