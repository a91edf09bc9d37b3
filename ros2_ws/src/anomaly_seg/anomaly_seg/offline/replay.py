"""Offline replay: every camera image of a bag through :class:`~anomaly_seg.node_core.core.NodeCore` into an output bag.

The same code path as the live node (rosbags message classes instead of rclpy ones), without its latest-frame
slot: nothing is dropped, so frames in = frames processed + frames rejected. Outputs are written on
``/<node_name>/output/...`` and ``/<node_name>/debug/...`` at the input image's header stamp; ground truth (anomaly
and stereo depth), ``camera_info`` and ``/tf`` are copied through unchanged, so the output bag alone is enough for
``anomaly-seg evaluate``. The camera's pose on ``/tf`` (a converted Lost and Found bag) is the node's mounting for
the 3D outputs while ``ground.camera_height_m`` is unset, as tf would be on a vehicle.
Rejected frames (bad encoding, corrupt data, engine errors) are counted by reason; they are data problems,
not crashes.

SIGINT / SIGTERM stop the replay after the frame in progress: the output bag is closed with its index and
``metadata.yaml`` and holds every frame processed so far. ``resume=True`` continues such a run: the output's
messages are kept (read up to the cut even if the bag was never closed), frames whose outputs are all there are
skipped by stamp, and the rest are processed into a new complete bag that replaces the old one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from anomaly_seg import messages as rm
from anomaly_seg import vocabulary
from anomaly_seg.bags.reader import IMAGE_MSGTYPES, list_topics, message_count, read_messages, read_raw_messages
from anomaly_seg.bags.writer import BagWriter, Storage
from anomaly_seg.engines.base import Engine
from anomaly_seg.errors import BagError, ConfigError
from anomaly_seg.interrupts import StopRequests
from anomaly_seg.node_core import core
from anomaly_seg.node_core.params import NodeParams
from anomaly_seg.pipeline.ground import Mounting
from anomaly_seg.vocabulary import GROUND_TRUTH_DEPTH_TOPIC, GROUND_TRUTH_TOPIC, TF_TOPIC

DEFAULT_NODE_NAME: Final = "anomaly_seg"
CAMERA_INFO_TYPE: Final = "sensor_msgs/msg/CameraInfo"
_MSGTYPES: Final = {
    "Image": "sensor_msgs/msg/Image",
    "Detection2DArray": "vision_msgs/msg/Detection2DArray",
    "Float64": "std_msgs/msg/Float64",
    "CameraInfo": CAMERA_INFO_TYPE,
    "Detection3DArray": "vision_msgs/msg/Detection3DArray",
    "PointCloud2": "sensor_msgs/msg/PointCloud2",
}
DIAGNOSTICS_PERIOD_NS: Final = 1_000_000_000


def output_topic(node_name: str, topic: str) -> str:
    """Absolute name of a NodeCore topic (``output/semantic`` -> ``/<node_name>/output/semantic``)."""
    return topic if topic.startswith("/") else f"/{node_name.strip('/')}/{topic}"


def find_camera_topic(topics: dict[str, str], exclude: set[str]) -> str:
    """The only Image/CompressedImage topic of a bag outside ``exclude``; BagError naming the candidates otherwise."""
    candidates = sorted(t for t, m in topics.items() if m in IMAGE_MSGTYPES and t not in exclude)
    candidates = [t for t in candidates if "/output/" not in t and t != GROUND_TRUTH_DEPTH_TOPIC]
    if len(candidates) != 1:
        raise BagError(
            f"cannot tell the camera topic: {'several' if candidates else 'no'} image topics {candidates}; "
            "pass --camera-topic"
        )
    return candidates[0]


@dataclass
class ReplaySummary:
    """Counts of one replay."""

    bag: Path
    out: Path
    camera_topic: str
    backend: str
    frames_in: int = 0
    processed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    copied: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    #: frames already in the output of an interrupted run (``resume``), skipped
    resumed: int = 0
    #: "" or why the replay stopped early, e.g. "interrupted (SIGINT)"
    interrupted: str = ""
    exit_status: int = 0
    #: ``/tf`` transforms that could not be read (non-finite): those frames keep the previous pose
    bad_camera_poses: int = 0

    @property
    def rejected_total(self) -> int:
        """Frames that produced no outputs."""
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        """The closing lines: ``frames in: N, processed: M, rejected: K``, then one line per rejection reason."""
        out = [f"frames in: {self.frames_in}, processed: {self.processed}, rejected: {self.rejected_total}"]
        if self.resumed:
            out[0] += f", already in the output (resumed): {self.resumed}"
        out += [f"  rejected ({reason}): {n}" for reason, n in sorted(self.rejected.items())]
        if self.bad_camera_poses:
            out.append(f"  unreadable camera poses on {TF_TOPIC}: {self.bad_camera_poses}")
        if self.interrupted:
            out.append(
                f"{self.interrupted}: the output bag is complete up to here ({self.resumed + self.processed} frames "
                "with outputs); `anomaly-seg replay ... --resume` continues it"
            )
        return out


def check_mode(engine: Engine, mode: str | None) -> str:
    """The engine's export mode (``full`` or ``sliding``); ConfigError when ``mode`` asks for the other one."""
    exported = engine.metadata.get("anomaly_seg.mode", "full")
    if mode is not None and mode != exported:
        raise ConfigError(
            f"--mode {mode}: the model was exported with mode {exported!r}; export it with "
            f"`python -m training export --mode {mode}` (sliding: --size <camera HxW>)"
        )
    return exported


def replay_bag(
    bag: str | Path,
    out: str | Path,
    engine: Engine,
    params: NodeParams,
    *,
    camera_topic: str | None = None,
    ground_truth_topic: str = GROUND_TRUTH_TOPIC,
    node_name: str = DEFAULT_NODE_NAME,
    storage: Storage = "mcap",
    mode: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    resume: bool = False,
) -> ReplaySummary:
    """Replay every image of ``camera_topic`` (default: the bag's only image topic) through NodeCore into ``out``.

    Raises BagError when the input cannot be read or the output cannot be written, ConfigError for a model
    that does not fit ``mode``; bad frames are counted in the summary, never raised. ``resume``: continue the
    interrupted replay whose output is ``out`` (see the module docstring); without it ``out`` must not exist.
    """
    from tqdm import tqdm

    from anomaly_seg.messages.typestore import get_typestore

    bag, out = Path(bag), Path(out)
    topics = list_topics(bag)
    exported_mode = check_mode(engine, mode)
    camera = camera_topic or find_camera_topic(topics, {ground_truth_topic})
    if camera not in topics:
        raise BagError(f"bag {bag} has no topic {camera}; it has {sorted(topics)}")
    if topics[camera] not in IMAGE_MSGTYPES:
        raise BagError(f"bag {bag}: topic {camera} holds {topics[camera]}, not sensor_msgs Image/CompressedImage")
    info_topic = camera.rstrip("/").removesuffix("/compressed").rsplit("/", 1)[0] + "/camera_info"
    evaluated = {ground_truth_topic, GROUND_TRUTH_DEPTH_TOPIC, TF_TOPIC}  # copied through for `anomaly-seg evaluate`
    copy = {t: m for t, m in topics.items() if t in evaluated or (t == info_topic and m == CAMERA_INFO_TYPE)}
    total = message_count(bag, [camera])

    store = get_typestore()
    factory = rm.rosbags_factory(store)
    clock = _SimClock()
    node = core.NodeCore(params, engine, factory, clock, name=node_name)
    summary = ReplaySummary(bag, out, camera, engine.name)
    expected_size = engine.input_size if exported_mode == "sliding" else None
    previous = _PreviousOutput.read(out, node_name) if resume and out.exists() else None
    target = out.with_name(out.name + ".resuming") if previous is not None else out
    if previous is not None and target.exists():
        raise BagError(f"{target} exists (left by an earlier --resume); remove it and resume again")
    t_start = time.perf_counter()
    with StopRequests() as stop, BagWriter(target, storage, typestore=store) as writer:
        output = _OutputBag(writer, node, node_name, copy)
        if previous is not None:
            previous.copy_into(writer, output)
        bar = tqdm(total=total, desc=f"replay {engine.name}", unit="frame", disable=not progress)
        pending: Any = None  # the camera frame waiting for the other messages of its time (its camera_info)

        def take(message: Any) -> None:
            if previous is not None and rm.stamp_to_ns(message.msg.header.stamp) in previous.done:
                summary.resumed += 1
            else:
                summary.frames_in += 1
                if expected_size is not None:
                    _check_sliding_size(message.msg, expected_size)
                output.frame(message.msg, clock)
            bar.update(1)

        for message in read_messages(bag, [camera, *copy], typestore=store):
            if pending is not None and (message.topic == camera or message.timestamp_ns > pending.timestamp_ns):
                take(pending)
                pending = None
            if stop.requested and pending is None:
                break  # what belongs to the frames taken (ground truth at their time) has been copied
            if message.topic == camera:
                pending = message
                continue
            if message.topic == info_topic:
                node.record_camera_info(message.msg)
            if message.topic == TF_TOPIC:
                _record_camera_pose(node, message.msg, summary)
            if previous is None or (message.topic, message.timestamp_ns) not in previous.copied:
                writer.write(message.topic, message.timestamp_ns, message.msg)
                summary.copied[message.topic] = summary.copied.get(message.topic, 0) + 1
        if pending is not None:
            take(pending)
        bar.close()
        output.close()
    summary.interrupted, summary.exit_status = stop.describe(), stop.exit_status
    if previous is not None:
        _replace(out, target)
    stats = node.stats()
    summary.processed = stats.frames_processed
    summary.rejected = dict(stats.errors)
    summary.wall_s = time.perf_counter() - t_start
    if log is not None:
        for line in summary.lines():
            log(line)
    return summary


def _record_camera_pose(node: core.NodeCore, msg: Any, summary: ReplaySummary) -> None:
    """A converted bag's ``/tf``: the camera's pose in ``ground.frame_id`` becomes the node's mounting (used while
    ``ground.camera_height_m`` is unset); an unreadable transform is counted."""
    try:
        poses = rm.tf_poses(msg, parent=node.params.ground.frame_id)
    except ValueError:
        summary.bad_camera_poses += 1
        return
    for pose in poses:
        node.record_camera_pose(Mounting.from_pose(pose.translation, pose.rotation))


@dataclass
class _PreviousOutput:
    """The output bag of an interrupted replay: its raw messages, the stamps whose outputs are all there, and the
    copied (topic, receive time) pairs."""

    path: Path
    node_name: str
    done: set[int]
    copied: set[tuple[str, int]]

    @classmethod
    def read(cls, path: Path, node_name: str) -> _PreviousOutput:
        per_frame = {output_topic(node_name, topic) for topic in vocabulary.OUTPUT_TYPES}
        seen: dict[int, int] = {}
        copied: set[tuple[str, int]] = set()
        for raw in read_raw_messages(path):
            if raw.topic in per_frame:
                seen[raw.timestamp_ns] = seen.get(raw.timestamp_ns, 0) + 1
            elif not raw.topic.startswith(f"/{node_name.strip('/')}/") and raw.topic != vocabulary.TOPIC_DIAGNOSTICS:
                copied.add((raw.topic, raw.timestamp_ns))
        done = {stamp for stamp, n in seen.items() if n == len(per_frame)}
        return cls(path, node_name, done, copied)

    def copy_into(self, writer: BagWriter, output: _OutputBag) -> None:
        """Every message of the complete frames, the copied topics and the node's latched / periodic topics."""
        types = {**vocabulary.OUTPUT_TYPES, **vocabulary.CONDITIONAL_OUTPUT_TYPES}
        per_frame = {output_topic(self.node_name, topic) for topic in types}
        topics = list_topics(self.path)
        for raw in read_raw_messages(self.path):
            if raw.topic in per_frame and raw.timestamp_ns not in self.done:
                continue  # a frame without all its outputs (a run killed mid-frame) is processed again
            writer.add_topic(raw.topic, topics[raw.topic], latched=raw.topic == output.label_info_topic)
            writer.write_raw(raw.topic, raw.timestamp_ns, raw.raw)
            if raw.topic == output.label_info_topic:
                output.next_diagnostics = raw.timestamp_ns + DIAGNOSTICS_PERIOD_NS
            if raw.topic in per_frame:
                output.last_stamp = max(output.last_stamp, raw.timestamp_ns)


def _replace(out: Path, new: Path) -> None:
    """Put the completed bag ``new`` in the place of the interrupted ``out`` (old one removed only afterwards)."""
    import shutil

    old = out.with_name(out.name + ".interrupted")
    if old.exists():
        shutil.rmtree(old)
    out.rename(old)
    new.rename(out)
    shutil.rmtree(old)


class _SimClock:
    """Replay's node clock: the stamp of the frame being processed plus the wall time spent on it so far."""

    def __init__(self) -> None:
        self.stamp_ns = 0
        self._started_ns = 0

    def start(self, stamp_ns: int) -> None:
        """A new frame with header stamp ``stamp_ns`` starts now."""
        self.stamp_ns, self._started_ns = stamp_ns, time.perf_counter_ns()

    def __call__(self) -> int:
        return self.stamp_ns + (time.perf_counter_ns() - self._started_ns)


class _OutputBag:
    """Writes the node's outputs into the output bag under ``/<node_name>/``: the per-frame topics, the latched
    LabelInfo at the first frame and the diagnostics once per :data:`DIAGNOSTICS_PERIOD_NS` of stamps."""

    def __init__(self, writer: BagWriter, node: core.NodeCore, node_name: str, copied: dict[str, str]) -> None:
        self.writer, self.node, self.node_name = writer, node, node_name
        types = {**vocabulary.OUTPUT_TYPES, **vocabulary.CONDITIONAL_OUTPUT_TYPES}
        self.names = {topic: output_topic(node_name, topic) for topic in types}
        for topic, type_name in types.items():
            writer.add_topic(self.names[topic], _MSGTYPES[type_name])
        self.label_info_topic = output_topic(node_name, vocabulary.TOPIC_LABEL_INFO)
        writer.add_topic(self.label_info_topic, "vision_msgs/msg/LabelInfo", latched=True)
        writer.add_topic(vocabulary.TOPIC_DIAGNOSTICS, "diagnostic_msgs/msg/DiagnosticArray")
        for topic, msgtype in copied.items():
            writer.add_topic(topic, msgtype)
        self.next_diagnostics: int | None = None
        self.last_stamp = 0

    def frame(self, msg: Any, clock: _SimClock) -> None:
        """Process one camera message through the node and write its outputs at the input stamp."""
        stamp = rm.stamp_to_ns(msg.header.stamp)
        if self.next_diagnostics is None:
            label_info = self.node.label_info_message()
            label_info.header = rm.header_from_ns(self.node.factory, stamp, msg.header.frame_id)
            self.writer.write(self.label_info_topic, stamp, label_info)
            self.next_diagnostics = stamp + DIAGNOSTICS_PERIOD_NS
        clock.start(stamp)
        for topic, out in self.node.process(msg):
            self.writer.write(self.names[topic], stamp, out)
        self.last_stamp = max(self.last_stamp, stamp)
        if stamp >= self.next_diagnostics:
            self.writer.write(vocabulary.TOPIC_DIAGNOSTICS, stamp, self.node.diagnostics(stamp))
            self.next_diagnostics = stamp + DIAGNOSTICS_PERIOD_NS

    def close(self) -> None:
        """The final diagnostics (the node's counters over the whole bag)."""
        self.writer.write(vocabulary.TOPIC_DIAGNOSTICS, self.last_stamp, self.node.diagnostics(self.last_stamp))


def _check_sliding_size(msg: object, expected: tuple[int, int]) -> None:
    height, width = int(getattr(msg, "height", expected[0])), int(getattr(msg, "width", expected[1]))
    if (height, width) != tuple(expected):
        raise ConfigError(
            f"--mode sliding: camera images are {width}x{height} (WxH) but the sliding-window model takes "
            f"{expected[1]}x{expected[0]}; export it with --size {height}x{width}"
        )
