"""Bags cut short: every complete message before the cut is read and nothing after it is invented; folders without
metadata.yaml; bag-repair writes a complete copy."""

from __future__ import annotations

import io
import logging
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from anomaly_seg import messages as rm
from anomaly_seg.bags import BagWriter, list_topics, message_count, read_messages, read_raw_messages
from anomaly_seg.cli import main
from anomaly_seg.errors import BagError
from anomaly_seg.messages.typestore import get_typestore

T0 = 1_700_000_000_000_000_000
CAMERA = "/camera/image_raw"
VALUE = "/value"
Message = tuple[str, int, bytes]


def write_bag(path: Path, frames: int = 100, storage: str = "mcap") -> None:
    """Noise images (incompressible: several 1 MiB chunks) and a Float64 per frame, in time order."""
    store = get_typestore()
    f = rm.rosbags_factory(store)
    rng = np.random.default_rng(0)
    with BagWriter(path, storage, typestore=store) as bag:  # type: ignore[arg-type]
        bag.add_topic(CAMERA, "sensor_msgs/msg/Image")
        bag.add_topic(VALUE, "std_msgs/msg/Float64")
        for i in range(frames):
            stamp = T0 + i * 50_000_000
            image = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
            bag.write(CAMERA, stamp, rm.array_to_image(f, image, "rgb8", rm.header_from_ns(f, stamp, "cam")))
            bag.write(VALUE, stamp, f.Float64(data=float(i)))


def chunk_layout(mcap: Path) -> list[tuple[int, int, list[Message]]]:
    """(start byte, end byte, messages) of every chunk of a complete MCAP, framed by the spec (opcode, uint64
    length) and parsed by the mcap library's own record reader: the reference for what a cut leaves readable."""
    from mcap.records import Channel
    from mcap.records import Message as McapMessage
    from mcap.stream_reader import StreamReader, breakup_chunk

    data = mcap.read_bytes()
    topics: dict[int, str] = {}
    chunks = []
    pos = 8
    while pos < len(data):
        opcode, length = struct.unpack_from("<BQ", data, pos)
        end = pos + 9 + length
        if opcode == 0x06:  # Chunk
            record = next(StreamReader(io.BytesIO(data[pos:end]), skip_magic=True, emit_chunks=True).records)
            messages = []
            for item in breakup_chunk(record):  # type: ignore[arg-type]
                if isinstance(item, Channel):
                    topics[item.id] = item.topic
                elif isinstance(item, McapMessage):
                    messages.append((topics[item.channel_id], item.log_time, bytes(item.data)))
            chunks.append((pos, end, messages))
        if opcode == 0x0F:  # DataEnd: the summary follows
            break
        pos = end
    return chunks


def read_all(path: Path) -> list[Message]:
    return [(m.topic, m.timestamp_ns, m.raw) for m in read_raw_messages(path)]


def cut_copy(src: Path, dst: Path, size: int) -> Path:
    """A copy of bag folder ``src`` without metadata.yaml, its MCAP truncated to ``size`` bytes."""
    shutil.copytree(src, dst)
    (dst / "metadata.yaml").unlink()
    (mcap,) = dst.glob("*.mcap")
    with mcap.open("r+b") as f:
        f.truncate(size)
    return dst


def test_a_cut_bag_gives_exactly_the_messages_of_the_chunks_before_the_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_bag(tmp_path / "full")
    (mcap,) = (tmp_path / "full").glob("*.mcap")
    chunks = chunk_layout(mcap)
    assert len(chunks) >= 3, "the bag must span several chunks for the cuts to mean something"
    full = read_all(tmp_path / "full")
    assert sorted(full) == sorted(m for _, _, ms in chunks for m in ms)  # the reference sees every message

    cuts = {8, 20}  # inside the magic + first record header
    for start, end, _ in chunks:
        cuts |= {start, start + 5, (start + end) // 2, end - 1, end}  # boundary, header, inside chunk, last byte
    for i, cut in enumerate(sorted(cuts)):
        bag = cut_copy(tmp_path / "full", tmp_path / f"cut{i}", cut)
        expected = [m for _, end, ms in chunks if end <= cut for m in ms]
        if not expected:
            with pytest.raises(BagError, match="nothing recoverable"):
                read_all(bag)
            continue
        with caplog.at_level(logging.WARNING, logger="anomaly_seg.bags"):
            got = read_all(bag)
        assert got == sorted(expected, key=lambda m: m[1]), f"cut at byte {cut}"  # same bytes, time order
        assert f"recovered {len(expected)} messages" in caplog.text
        assert message_count(bag) == len(expected) and set(list_topics(bag)) <= {CAMERA, VALUE}


def test_a_folder_without_metadata_reads_whole_for_mcap_and_sqlite3(tmp_path: Path) -> None:
    for storage in ("mcap", "sqlite3"):
        write_bag(tmp_path / storage, frames=20, storage=storage)
        full = read_all(tmp_path / storage)
        (tmp_path / storage / "metadata.yaml").unlink()
        assert sorted(read_all(tmp_path / storage)) == sorted(full), storage
        values = [m.msg.data for m in read_messages(tmp_path / storage, [VALUE])]
        assert values == [float(i) for i in range(20)], storage


def test_bag_repair_writes_a_complete_copy_of_what_a_cut_bag_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_bag(tmp_path / "full")
    (mcap,) = (tmp_path / "full").glob("*.mcap")
    _, end, _ = chunk_layout(mcap)[1]
    cut = cut_copy(tmp_path / "full", tmp_path / "cut", end + 1000)
    recovered = read_all(cut)
    assert main(["bag-repair", str(cut), "--out", str(tmp_path / "fixed")]) == 0
    assert f"wrote {len(recovered)} messages on 2 topics" in capsys.readouterr().out
    with Reader(tmp_path / "fixed") as reader:  # rosbags opens it: summary, footer and metadata.yaml are there
        assert sum(c.msgcount for c in reader.connections) == len(recovered)
    assert read_all(tmp_path / "fixed") == recovered
    assert main(["bag-repair", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
