"""``bag-repair``: a complete copy of a bag cut short (like ``ros2 bag reindex`` + ``mcap recover``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from anomaly_seg.bags.reader import list_topics, read_raw_messages, register_bag_types
from anomaly_seg.bags.writer import BagWriter, Storage
from anomaly_seg.errors import BagError
from anomaly_seg.messages.typestore import get_typestore


@dataclass
class RepairSummary:
    """What the repaired copy holds."""

    source: Path
    out: Path
    messages: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """One line for the command line."""
        total = sum(self.messages.values())
        return f"wrote {total} messages on {len(self.messages)} topics from {self.source} to {self.out}"


def repair_bag(source: str | Path, out: str | Path, storage: Storage = "mcap") -> RepairSummary:
    """Copy every readable message of ``source`` (every complete one before the cut, for a bag cut short) into a
    new, complete bag ``out`` with its index and ``metadata.yaml``; types come from the definitions in the bag."""
    source, out = Path(source), Path(out)
    topics = list_topics(source)  # recovers (and warns) when the bag is incomplete
    store = get_typestore()
    summary = RepairSummary(source, out, dict.fromkeys(topics, 0))
    register_bag_types(source, store)
    missing = sorted(t for t in topics.values() if t not in store.types)
    if missing:
        raise BagError(f"bag {source}: no definition of {missing} in the bag or the typestore")
    with BagWriter(out, storage, typestore=store) as writer:
        for topic, msgtype in topics.items():
            writer.add_topic(topic, msgtype, latched=topic.endswith("/label_info"))
        for raw in read_raw_messages(source):
            writer.write_raw(raw.topic, raw.timestamp_ns, raw.raw)
            summary.messages[raw.topic] += 1
    return summary
