"""Dataset folders -> rosbag2: camera images, ``camera_info`` where known, ground truth on identical stamps.

Every frame becomes one ``sensor_msgs/Image`` (rgb8) or ``CompressedImage`` (jpeg) on the camera topic and, when
the dataset has labels, one mono8 ``sensor_msgs/Image`` on :data:`GROUND_TRUTH_TOPIC` (0 inlier, 1 anomaly, 255
void) with the same header. Lost and Found frames carry their recorded timestamps and their calibration
(``sensor_msgs/CameraInfo`` on the sibling ``camera_info`` topic, the camera's pose on ``/tf``) and, with their
disparity, the stereo depth on :data:`GROUND_TRUTH_DEPTH_TOPIC`; other datasets get stamps at a fixed rate.
Messages are written at their header stamp, so ``ros2 bag play`` publishes them at the recorded pace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from anomaly_seg import messages as rm
from anomaly_seg.bags.writer import BagWriter, Storage
from anomaly_seg.datasets import (
    DatasetLayout,
    Extrinsics,
    Intrinsics,
    inlier_or_void,
    read_camera,
    read_disparity_depth,
    read_timestamp_ns,
)
from anomaly_seg.errors import ConfigError, DatasetError
from anomaly_seg.geometry import camera_rotation
from anomaly_seg.interrupts import StopRequests
from anomaly_seg.vocabulary import GROUND_TRUTH_DEPTH_TOPIC, GROUND_TRUTH_TOPIC, TF_TOPIC, VEHICLE_FRAME

DEFAULT_CAMERA_TOPIC: Final = "/camera/image_raw"
DEFAULT_FRAME_ID: Final = "camera"
DEFAULT_RATE_HZ: Final = 10.0
#: first stamp of a fixed-rate bag (2020-01-01T00:00:00Z): far from 0 so that sim time looks like wall time
DEFAULT_START_NS: Final = 1_577_836_800_000_000_000
IMAGE_TYPE: Final = "sensor_msgs/msg/Image"
COMPRESSED_TYPE: Final = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE: Final = "sensor_msgs/msg/CameraInfo"
TF_TYPE: Final = "tf2_msgs/msg/TFMessage"


def camera_pose(typestore: Any, stamp_ns: int, frame_id: str, extrinsics: Extrinsics) -> Any:
    """``TFMessage`` with the camera's optical frame ``frame_id`` in :data:`VEHICLE_FRAME` at ``stamp_ns``."""
    e = extrinsics
    rotation = camera_rotation(e.pitch, e.roll, e.yaw)
    pose = rm.FramePose(VEHICLE_FRAME, frame_id, stamp_ns, np.array([e.x, e.y, e.z]), rotation)
    return rm.tf_message(typestore, [pose])


def camera_info_topic(camera_topic: str) -> str:
    """``/ns/image_raw`` -> ``/ns/camera_info`` (the image_transport convention)."""
    parent = camera_topic.rstrip("/").rsplit("/", 1)[0]
    return f"{parent}/camera_info"


def image_topic_for(camera_topic: str, compressed: bool) -> str:
    """The topic images are written on: ``<camera_topic>/compressed`` for CompressedImage (image_transport)."""
    return f"{camera_topic.rstrip('/')}/compressed" if compressed else camera_topic


@dataclass(frozen=True)
class ConvertOptions:
    """How a dataset is written (the ``anomaly-seg convert`` flags)."""

    camera_topic: str = DEFAULT_CAMERA_TOPIC
    storage: Storage = "mcap"
    rate_hz: float = DEFAULT_RATE_HZ
    limit: int | None = None
    compressed: bool = False
    jpeg_quality: int = 95
    frame_id: str = DEFAULT_FRAME_ID
    start_ns: int = DEFAULT_START_NS

    def __post_init__(self) -> None:
        if not self.camera_topic.startswith("/") or self.camera_topic.rstrip("/") == "":
            raise ConfigError(
                f"--camera-topic must be an absolute topic name like /camera/image_raw, got {self.camera_topic!r}"
            )
        if not (self.rate_hz > 0 and np.isfinite(self.rate_hz)):
            raise ConfigError(f"--rate must be a positive number of Hz, got {self.rate_hz!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be >= 1, got {self.limit}")


@dataclass
class ConvertSummary:
    """What a conversion wrote."""

    bag: Path
    storage: str
    frames: int
    ground_truth: int
    camera_info: int
    stamps: str  # "dataset timestamps" or "fixed <rate> Hz"
    #: frames with stereo depth (dataset disparity + calibration)
    depth: int = 0
    topics: dict[str, str] = field(default_factory=dict)
    first_stamp_ns: int = 0
    last_stamp_ns: int = 0
    #: "" or why the conversion stopped early, e.g. "interrupted (SIGTERM)"
    interrupted: str = ""
    exit_status: int = 0

    def line(self) -> str:
        """One-line summary for the command line."""
        span = (self.last_stamp_ns - self.first_stamp_ns) / 1e9
        stopped = f"{self.interrupted}: " if self.interrupted else ""
        return (
            f"{stopped}wrote {self.frames} frames ({self.ground_truth} with ground truth, "
            f"{self.camera_info} camera_info, {self.depth} depth, "
            f"stamps: {self.stamps}, {span:.1f} s) to {self.bag} ({self.storage}); topics: "
            + ", ".join(f"{t} [{m.rsplit('/', 1)[-1]}]" for t, m in self.topics.items())
        )


def frame_stamps(layout: DatasetLayout, count: int, options: ConvertOptions) -> tuple[list[int], str]:
    """Stamps (ns) of the first ``count`` frames: the dataset's own if all are present and distinct, else fixed rate."""
    items = layout.items[:count]
    if items and all(item.timestamp is not None for item in items):
        stamps = [read_timestamp_ns(item.timestamp) for item in items if item.timestamp is not None]
        if len(set(stamps)) == len(stamps):
            return stamps, "dataset timestamps"
    period_ns = 1e9 / options.rate_hz
    return [options.start_ns + round(i * period_ns) for i in range(count)], f"fixed {options.rate_hz:g} Hz"


def camera_info_message(factory: rm.MessageFactory, header: Any, height: int, width: int, k: Intrinsics) -> Any:
    """``sensor_msgs/CameraInfo`` of a rectified pinhole camera (no distortion, identity rectification)."""
    K = np.array([k.fx, 0.0, k.u0, 0.0, k.fy, k.v0, 0.0, 0.0, 1.0], np.float64)
    P = np.array([k.fx, 0.0, k.u0, 0.0, 0.0, k.fy, k.v0, 0.0, 0.0, 0.0, 1.0, 0.0], np.float64)
    return factory.CameraInfo(
        header=header,
        height=int(height),
        width=int(width),
        distortion_model="plumb_bob",
        d=np.zeros(5, np.float64),
        k=K,
        r=np.eye(3, dtype=np.float64).reshape(-1),
        p=P,
        binning_x=0,
        binning_y=0,
        roi=factory.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )


def convert_dataset(
    layout: DatasetLayout,
    out: str | Path,
    options: ConvertOptions | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> ConvertSummary:
    """Write ``layout``'s frames (in its order, at most ``options.limit``) into a new bag at ``out``.

    Frames are written in stamp order. Raises DatasetError naming the file for unreadable images or labels and
    BagError when the bag cannot be written (an existing ``out`` is never overwritten).
    """
    from tqdm import tqdm

    from anomaly_seg.messages.typestore import get_typestore

    opts = options or ConvertOptions()
    count = len(layout) if opts.limit is None else min(opts.limit, len(layout))
    if count == 0:
        raise DatasetError(f"{layout.root}: no frames to convert")
    stamps, stamp_source = frame_stamps(layout, count, opts)
    order = sorted(range(count), key=stamps.__getitem__)
    store = get_typestore()
    factory = rm.rosbags_factory(store)
    image_topic = image_topic_for(opts.camera_topic, opts.compressed)
    info_topic = camera_info_topic(opts.camera_topic)
    summary = ConvertSummary(Path(out), opts.storage, 0, 0, 0, stamp_source)
    with StopRequests() as stop, BagWriter(out, opts.storage, typestore=store) as bag:
        bag.add_topic(image_topic, COMPRESSED_TYPE if opts.compressed else IMAGE_TYPE)
        for index in tqdm(order, desc=f"convert {layout.name}", unit="frame", disable=not progress):
            if stop.requested:
                break
            frame = layout.load(index)
            item = layout.items[index]
            header = rm.header_from_ns(factory, stamps[index], opts.frame_id)
            if opts.compressed:
                msg = rm.rgb_to_compressed(factory, frame.image, header, "jpeg", opts.jpeg_quality)
            else:
                msg = rm.array_to_image(factory, frame.image, "rgb8", header)
            bag.write_stamped(image_topic, msg)
            anomaly = frame.anomaly
            if anomaly is None and frame.train_ids is not None:
                anomaly = inlier_or_void(frame.train_ids)
            if anomaly is not None:
                bag.add_topic(GROUND_TRUTH_TOPIC, IMAGE_TYPE)
                gt = rm.array_to_image(factory, np.ascontiguousarray(anomaly, np.uint8), "mono8", header)
                bag.write_stamped(GROUND_TRUTH_TOPIC, gt)
                summary.ground_truth += 1
            if item.camera is not None:
                height, width = frame.image.shape[:2]
                calibration = read_camera(item.camera)
                intrinsics, extrinsics = calibration.intrinsics, calibration.extrinsics
                info = camera_info_message(factory, header, height, width, intrinsics)
                bag.add_topic(info_topic, CAMERA_INFO_TYPE)
                bag.write_stamped(info_topic, info)
                summary.camera_info += 1
                if extrinsics is not None:
                    bag.add_topic(TF_TOPIC, TF_TYPE)
                    bag.write(TF_TOPIC, stamps[index], camera_pose(store, stamps[index], opts.frame_id, extrinsics))
                if item.disparity is not None and extrinsics is not None:
                    depth = read_disparity_depth(item.disparity, intrinsics.fx, extrinsics.baseline)
                    if depth.shape != (height, width):
                        raise DatasetError(f"{item.disparity}: disparity {depth.shape} is not the image's size")
                    bag.add_topic(GROUND_TRUTH_DEPTH_TOPIC, IMAGE_TYPE)
                    bag.write_stamped(GROUND_TRUTH_DEPTH_TOPIC, rm.array_to_image(factory, depth, "32FC1", header))
                    summary.depth += 1
            summary.frames += 1
            summary.last_stamp_ns = stamps[index]
        summary.topics = bag.topics
    summary.interrupted, summary.exit_status = stop.describe(), stop.exit_status
    summary.first_stamp_ns = stamps[order[0]]
    if log is not None:
        log(summary.line())
    return summary
