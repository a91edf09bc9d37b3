"""numpy <-> ROS 2 messages: sensor_msgs Image/CompressedImage, vision_msgs detections and labels, headers.

Every builder takes a :class:`MessageFactory`, so the same code fills real ``rclpy`` messages in the
node (:func:`ros_factory`) and rosbags dataclasses in offline replay and tests
(:func:`rosbags_factory`). Builders pass every field as a keyword argument (rosbags classes have no
defaults) and plain Python scalars (rclpy's setters reject numpy scalars).

Decoding never trusts the message: the encoding, sizes, ``step`` and data length are checked first
and any problem raises :class:`~anomaly_seg.errors.ImageDecodeError` naming it.
"""

from __future__ import annotations

import array
import importlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError, ImageDecodeError

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

MAX_SIDE_PX: Final = 16384
"""Largest accepted image side, in pixels (decoded or encoded)."""
MAX_IMAGE_BYTES: Final = 400 * 1024 * 1024
"""Largest accepted image payload (``step x height``, or decoded size for compressed images)."""

ANOMALY_CLASS_ID: Final = "anomaly"


@dataclass(frozen=True)
class _Encoding:
    dtype: np.dtype[Any]
    channels: int

    @property
    def bytes_per_pixel(self) -> int:
        return self.dtype.itemsize * self.channels


_U8, _U16, _F32 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)

ENCODINGS: Final[Mapping[str, _Encoding]] = {
    "rgb8": _Encoding(_U8, 3),
    "bgr8": _Encoding(_U8, 3),
    "rgba8": _Encoding(_U8, 4),
    "bgra8": _Encoding(_U8, 4),
    "mono8": _Encoding(_U8, 1),
    "mono16": _Encoding(_U16, 1),
    "16UC1": _Encoding(_U16, 1),
    "32FC1": _Encoding(_F32, 1),
    # Packed 4:2:2, two bytes per pixel; "uyvy"/"yuyv" are the newer sensor_msgs names.
    "yuv422": _Encoding(_U8, 2),
    "uyvy": _Encoding(_U8, 2),
    "yuv422_yuy2": _Encoding(_U8, 2),
    "yuyv": _Encoding(_U8, 2),
}
"""Supported ``sensor_msgs/Image`` encodings: pixel dtype and channels (bytes per pixel for YUV)."""

_UYVY_ENCODINGS: Final = frozenset({"yuv422", "uyvy"})
_YUYV_ENCODINGS: Final = frozenset({"yuv422_yuy2", "yuyv"})


# --------------------------------------------------------------------------------------------------
# message factories


def _as_ndarray(data: np.ndarray) -> Any:
    return data


def _as_array_array(data: np.ndarray) -> Any:
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(data).data)
    return out


@dataclass(frozen=True)
class MessageFactory:
    """The message classes the builders instantiate (rclpy classes or rosbags dataclasses).

    ``byte_array`` turns a 1-D uint8 array into what the classes' ``uint8[]`` fields hold
    (numpy for rosbags, ``array.array('B')`` for rclpy).
    """

    Header: type[Any]
    Time: type[Any]
    Image: type[Any]
    CompressedImage: type[Any]
    CameraInfo: type[Any]
    RegionOfInterest: type[Any]
    Detection2DArray: type[Any]
    Detection2D: type[Any]
    BoundingBox2D: type[Any]
    Pose2D: type[Any]
    Point2D: type[Any]
    ObjectHypothesisWithPose: type[Any]
    ObjectHypothesis: type[Any]
    PoseWithCovariance: type[Any]
    Pose: type[Any]
    Point: type[Any]
    Quaternion: type[Any]
    LabelInfo: type[Any]
    VisionClass: type[Any]
    DiagnosticArray: type[Any]
    DiagnosticStatus: type[Any]
    KeyValue: type[Any]
    Float64: type[Any]
    byte_array: Callable[[np.ndarray], Any] = _as_ndarray


_FACTORY_TYPES: Final[Mapping[str, str]] = {
    "Header": "std_msgs/msg/Header",
    "Time": "builtin_interfaces/msg/Time",
    "Image": "sensor_msgs/msg/Image",
    "CompressedImage": "sensor_msgs/msg/CompressedImage",
    "CameraInfo": "sensor_msgs/msg/CameraInfo",
    "RegionOfInterest": "sensor_msgs/msg/RegionOfInterest",
    "Detection2DArray": "vision_msgs/msg/Detection2DArray",
    "Detection2D": "vision_msgs/msg/Detection2D",
    "BoundingBox2D": "vision_msgs/msg/BoundingBox2D",
    "Pose2D": "vision_msgs/msg/Pose2D",
    "Point2D": "vision_msgs/msg/Point2D",
    "ObjectHypothesisWithPose": "vision_msgs/msg/ObjectHypothesisWithPose",
    "ObjectHypothesis": "vision_msgs/msg/ObjectHypothesis",
    "PoseWithCovariance": "geometry_msgs/msg/PoseWithCovariance",
    "Pose": "geometry_msgs/msg/Pose",
    "Point": "geometry_msgs/msg/Point",
    "Quaternion": "geometry_msgs/msg/Quaternion",
    "LabelInfo": "vision_msgs/msg/LabelInfo",
    "VisionClass": "vision_msgs/msg/VisionClass",
    "DiagnosticArray": "diagnostic_msgs/msg/DiagnosticArray",
    "DiagnosticStatus": "diagnostic_msgs/msg/DiagnosticStatus",
    "KeyValue": "diagnostic_msgs/msg/KeyValue",
    "Float64": "std_msgs/msg/Float64",
}


def rosbags_factory(typestore: Typestore | None = None) -> MessageFactory:
    """Factory of rosbags dataclasses from ``typestore`` (default: :func:`anomaly_seg.bags.get_typestore`)."""
    if typestore is None:
        from anomaly_seg.bags import get_typestore

        typestore = get_typestore()
    missing = sorted(name for name in _FACTORY_TYPES.values() if name not in typestore.types)
    if missing:
        raise ConfigError(f"typestore lacks message types {missing}; use anomaly_seg.bags.get_typestore()")
    return MessageFactory(**{attr: typestore.types[name] for attr, name in _FACTORY_TYPES.items()})


def ros_factory() -> MessageFactory:
    """Factory of the real ROS 2 message classes (needs a sourced ROS 2 environment)."""
    classes = {}
    for attr, name in _FACTORY_TYPES.items():
        package, _, cls = name.split("/")
        classes[attr] = getattr(importlib.import_module(f"{package}.msg"), cls)
    return MessageFactory(**classes, byte_array=_as_array_array)


# --------------------------------------------------------------------------------------------------
# headers


def make_header(factory: MessageFactory, sec: int, nanosec: int, frame_id: str) -> Any:
    """``std_msgs/Header`` with stamp ``sec.nanosec`` and ``frame_id``."""
    return factory.Header(stamp=factory.Time(sec=int(sec), nanosec=int(nanosec)), frame_id=str(frame_id))


def header_from_ns(factory: MessageFactory, stamp_ns: int, frame_id: str) -> Any:
    """``std_msgs/Header`` for a stamp in integer nanoseconds."""
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return make_header(factory, sec, nanosec, frame_id)


def copy_header(factory: MessageFactory, header: Any) -> Any:
    """A new header of ``factory``'s class with the same stamp and frame_id (works across factories)."""
    return make_header(factory, header.stamp.sec, header.stamp.nanosec, header.frame_id)


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` to integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


# --------------------------------------------------------------------------------------------------
# raw image decoding


def _as_bytes(data: Any, what: str) -> np.ndarray:
    """A 1-D uint8 view of a message's ``data`` field without copying where the container allows."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageDecodeError(f"{what} data has dtype {data.dtype}, expected uint8")
        return data.reshape(-1)
    if isinstance(data, array.array) and data.typecode not in ("B", "b"):
        raise ImageDecodeError(f"{what} data is array.array('{data.typecode}'), expected 'B'")
    if isinstance(data, (bytes, bytearray, memoryview, array.array)):
        try:
            return np.frombuffer(data, dtype=np.uint8)
        except (ValueError, TypeError) as exc:
            raise ImageDecodeError(f"{what} data buffer is not readable as bytes: {exc}") from exc
    if isinstance(data, (list, tuple)):
        values = np.asarray(data)
        if values.size and (values.dtype.kind not in "iu" or values.min() < 0 or values.max() > 255):
            raise ImageDecodeError(f"{what} data list holds values that are not bytes (0..255)")
        return values.astype(np.uint8).reshape(-1)
    raise ImageDecodeError(f"{what} data has unsupported type {type(data).__name__}")


def _check_size(height: int, width: int, nbytes: int, what: str) -> None:
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"{what} has zero size ({width}x{height})")
    if height > MAX_SIDE_PX or width > MAX_SIDE_PX:
        raise ImageDecodeError(f"{what} is too large ({width}x{height}, at most {MAX_SIDE_PX} px a side)")
    if nbytes > MAX_IMAGE_BYTES:
        raise ImageDecodeError(f"{what} is too large ({nbytes} bytes, at most {MAX_IMAGE_BYTES})")


def _encoding(name: str) -> _Encoding:
    spec = ENCODINGS.get(name)
    if spec is None:
        raise ImageDecodeError(f"unknown image encoding {name!r} (supported: {', '.join(ENCODINGS)})")
    return spec


def image_to_array(msg: Any) -> np.ndarray:
    """Pixels of a ``sensor_msgs/Image`` in its own encoding: HxW (one channel) or HxWxC, native byte order.

    Row padding (``step``) is dropped and big-endian data is byte-swapped. Without either, the result is a
    view of the message buffer (possibly read-only, possibly non-contiguous rows). YUV 4:2:2 encodings give
    the packed HxWx2 bytes.
    """
    encoding = str(msg.encoding)
    spec = _encoding(encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    what = f"{encoding} image"
    _check_size(height, width, step * height, what)
    row_bytes = width * spec.bytes_per_pixel
    if step < row_bytes:
        raise ImageDecodeError(f"{what}: step {step} < width {width} x {spec.bytes_per_pixel} bytes per pixel")
    if spec.channels == 2 and width % 2:
        raise ImageDecodeError(f"{what}: width {width} is odd, 4:2:2 needs pixel pairs")
    buf = _as_bytes(msg.data, what)
    if buf.size != step * height:
        raise ImageDecodeError(f"{what}: data has {buf.size} bytes, expected step x height = {step}x{height}")
    rows = buf.reshape(height, step)[:, :row_bytes]
    if spec.dtype.itemsize == 1:
        pixels = rows
    else:
        wire = spec.dtype.newbyteorder(">" if msg.is_bigendian else "<")
        pixels = rows.view(wire)
        if not wire.isnative:
            pixels = pixels.astype(spec.dtype)
    if spec.channels == 1:
        return pixels
    return pixels.reshape(height, width, spec.channels)


def image_to_rgb(msg: Any) -> np.ndarray:
    """HxWx3 uint8 RGB for the network from any supported ``sensor_msgs/Image`` encoding.

    rgb8 input is returned without a copy (a possibly read-only view). mono16/16UC1 keep the high byte;
    32FC1 is read as intensity in [0, 1] (NaN -> 0).
    """
    pixels = image_to_array(msg)
    encoding = str(msg.encoding)
    if encoding == "rgb8":
        return pixels
    if encoding == "bgr8":
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if encoding == "rgba8":
        return cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB)
    if encoding == "bgra8":
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    if encoding in _UYVY_ENCODINGS:
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_YUV2RGB_UYVY)
    if encoding in _YUYV_ENCODINGS:
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_YUV2RGB_YUY2)
    if pixels.dtype == np.uint16:
        gray = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype == np.float32:
        gray = (np.clip(np.nan_to_num(pixels, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(
            np.uint8
        )
    else:
        gray = pixels
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


# --------------------------------------------------------------------------------------------------
# raw image encoding


def _to_u8(values: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out


def rgb_to_yuv422(rgb: np.ndarray, order: Literal["uyvy", "yuyv"] = "uyvy") -> np.ndarray:
    """Packed 4:2:2 HxWx2 bytes from HxWx3 uint8 RGB (BT.601 limited range, the inverse of OpenCV's decode).

    Chroma is the mean of each horizontal pixel pair; the width must be even.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageDecodeError(f"rgb_to_yuv422 needs HxWx3 uint8 RGB, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    if width % 2:
        raise ImageDecodeError(f"rgb_to_yuv422: width {width} is odd, 4:2:2 needs pixel pairs")
    x = rgb.astype(np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    pair_r, pair_g, pair_b = (c.reshape(height, width // 2, 2).mean(axis=2) for c in (r, g, b))
    u = 128.0 - 37.797 * pair_r - 74.203 * pair_g + 112.0 * pair_b
    v = 128.0 + 112.0 * pair_r - 93.786 * pair_g - 18.214 * pair_b
    out = np.empty((height, width // 2, 4), np.uint8)
    y_pairs = _to_u8(y).reshape(height, width // 2, 2)
    if order == "uyvy":
        out[..., 0], out[..., 1], out[..., 2], out[..., 3] = _to_u8(u), y_pairs[..., 0], _to_u8(v), y_pairs[..., 1]
    else:
        out[..., 0], out[..., 1], out[..., 2], out[..., 3] = y_pairs[..., 0], _to_u8(u), y_pairs[..., 1], _to_u8(v)
    return out.reshape(height, width, 2)


def array_to_image(factory: MessageFactory, array: np.ndarray, encoding: str, header: Any) -> Any:
    """``sensor_msgs/Image`` from pixels in ``encoding`` (little-endian, ``is_bigendian=0``, no row padding).

    The array must be HxW (or HxWx1) for one-channel encodings and HxWxC otherwise, with the encoding's
    dtype. For yuv422/yuv422_yuy2 (uyvy/yuyv) either the packed HxWx2 bytes or HxWx3 RGB (converted with
    :func:`rgb_to_yuv422`) are accepted.
    """
    spec = _encoding(encoding)
    pixels = np.asarray(array)
    if spec.channels == 2 and pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = rgb_to_yuv422(pixels, "uyvy" if encoding in _UYVY_ENCODINGS else "yuyv")
    if spec.channels == 1 and pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    expected_ndim = 2 if spec.channels == 1 else 3
    if pixels.ndim != expected_ndim or (expected_ndim == 3 and pixels.shape[2] != spec.channels):
        raise ImageDecodeError(
            f"cannot encode {pixels.shape} array as {encoding}: expected "
            + ("HxW" if spec.channels == 1 else f"HxWx{spec.channels}")
        )
    if (pixels.dtype.kind, pixels.dtype.itemsize) != (spec.dtype.kind, spec.dtype.itemsize):
        raise ImageDecodeError(f"cannot encode {pixels.dtype} array as {encoding}: expected {spec.dtype}")
    height, width = pixels.shape[:2]
    _check_size(height, width, pixels.nbytes, f"{encoding} image")
    if spec.channels == 2 and width % 2:
        raise ImageDecodeError(f"{encoding} image: width {width} is odd, 4:2:2 needs pixel pairs")
    data = np.ascontiguousarray(pixels, dtype=spec.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)
    return factory.Image(
        header=header,
        height=int(height),
        width=int(width),
        encoding=encoding,
        is_bigendian=0,
        step=int(width * spec.bytes_per_pixel),
        data=factory.byte_array(data),
    )


# --------------------------------------------------------------------------------------------------
# compressed images

_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (all SOFn except DHT 0xC4, JPG 0xC8, DAC 0xCC).
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _parse_compressed_format(fmt: str) -> tuple[str | None, str]:
    """(codec or None to sniff, encoding of the compressed pixels) from a CompressedImage ``format``."""
    text = fmt.strip().lower()
    if "compresseddepth" in text:
        raise ImageDecodeError(f"compressed format {fmt!r} (compressedDepth) is not supported")
    codec: str | None
    if "jpeg" in text or "jpg" in text:
        codec = "jpeg"
    elif "png" in text:
        codec = "png"
    elif text == "":
        codec = None
    else:
        raise ImageDecodeError(f"unsupported compressed format {fmt!r} (jpeg or png)")
    _, sep, pixel_encoding = text.partition("compressed ")
    return codec, pixel_encoding.strip() if sep else "bgr8"


def _compressed_dimensions(data: memoryview) -> tuple[int, int] | None:
    """(width, height) read from a PNG IHDR or a JPEG SOF header without decoding; None if not found."""
    if data[:8].tobytes() == _PNG_MAGIC and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:3].tobytes() == _JPEG_MAGIC:
        pos = 2
        while pos + 9 <= len(data):
            if data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return int(width), int(height)
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            pos += 2 + length
    return None


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """HxWx3 uint8 RGB from a jpeg or png ``sensor_msgs/CompressedImage``.

    ``format`` may be plain ("jpeg", "png"), image_transport style ("rgb8; jpeg compressed bgr8") or empty
    (the codec is then recognised from the data). The header is checked against the size limits before
    decoding, so a decompression bomb is rejected without allocating it.
    """
    fmt = str(msg.format)
    codec, pixel_encoding = _parse_compressed_format(fmt)
    buf = _as_bytes(msg.data, "compressed image")
    what = f"compressed image ({fmt or 'no format'})"
    if buf.size == 0:
        raise ImageDecodeError(f"{what} has no data")
    head = buf.data
    magic = head[:8].tobytes()
    sniffed = "jpeg" if magic.startswith(_JPEG_MAGIC) else "png" if magic == _PNG_MAGIC else None
    if sniffed is None or (codec is not None and sniffed != codec):
        raise ImageDecodeError(f"{what}: data is not a {codec or 'jpeg/png'} stream (corrupt or mislabelled)")
    dims = _compressed_dimensions(head)
    if dims is None:
        raise ImageDecodeError(f"{what}: corrupt {sniffed} header")
    _check_size(dims[1], dims[0], dims[0] * dims[1] * 4, what)
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ImageDecodeError(f"{what}: corrupt {sniffed} data, OpenCV could not decode it")
    if decoded.dtype == np.uint16:
        decoded = np.right_shift(decoded, 8).astype(np.uint8)
    elif decoded.dtype != np.uint8:
        raise ImageDecodeError(f"{what}: unsupported decoded pixel type {decoded.dtype}")
    if decoded.ndim == 2:
        return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    channels = decoded.shape[2]
    # OpenCV decodes to BGR(A) order; a stream declared "compressed rgb8" was encoded from RGB bytes.
    rgb_order = pixel_encoding.startswith("rgb")
    if channels == 3:
        return decoded if rgb_order else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    if channels == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_RGBA2RGB if rgb_order else cv2.COLOR_BGRA2RGB)
    raise ImageDecodeError(f"{what}: unsupported channel count {channels}")


def rgb_to_compressed(
    factory: MessageFactory,
    rgb: np.ndarray,
    header: Any,
    fmt: Literal["jpeg", "png"] = "jpeg",
    quality: int = 90,
) -> Any:
    """``sensor_msgs/CompressedImage`` (image_transport format string) from HxWx3 RGB or HxW mono uint8."""
    if fmt not in ("jpeg", "png"):
        raise ConfigError(f"compressed format must be 'jpeg' or 'png', got {fmt!r}")
    if not 1 <= int(quality) <= 100:
        raise ConfigError(f"jpeg quality must be in 1..100, got {quality}")
    pixels = np.asarray(rgb)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ImageDecodeError(f"cannot compress {pixels.dtype} {pixels.shape} array: expected HxWx3 or HxW uint8")
    _check_size(pixels.shape[0], pixels.shape[1], pixels.nbytes, "image to compress")
    if pixels.ndim == 2:
        source, target = "mono8", "mono8"
    else:
        source, target = "rgb8", "bgr8"
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if fmt == "jpeg":
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ImageDecodeError(f"OpenCV failed to encode a {pixels.shape} image as {fmt}")
    return factory.CompressedImage(
        header=header, format=f"{source}; {fmt} compressed {target}", data=factory.byte_array(encoded.reshape(-1))
    )


# --------------------------------------------------------------------------------------------------
# vision_msgs


def detection2d_array(
    factory: MessageFactory,
    header: Any,
    ids: Sequence[int] | np.ndarray,
    boxes_xyxy: Sequence[Sequence[float]] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    class_id: str = ANOMALY_CLASS_ID,
) -> Any:
    """``vision_msgs/Detection2DArray`` with one Detection2D per segment.

    Boxes are ``(x0, y0, x1, y1)`` in pixel-edge coordinates (x1 = x0 + width). Each detection gets
    ``id = str(segment id)``, an axis-aligned bbox (centre, size_x, size_y, theta 0), and one hypothesis
    ``class_id`` with ``score`` (the meta-classifier probability).
    """
    seg_ids = np.asarray(ids).reshape(-1)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    probs = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not len(seg_ids) == len(boxes) == len(probs):
        raise ValueError(f"ids, boxes and scores differ in length: {len(seg_ids)}, {len(boxes)}, {len(probs)}")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    sizes = boxes[:, 2:] - boxes[:, :2]
    detections = [
        factory.Detection2D(
            header=copy_header(factory, header),
            results=[
                factory.ObjectHypothesisWithPose(
                    hypothesis=factory.ObjectHypothesis(class_id=class_id, score=float(score)),
                    pose=factory.PoseWithCovariance(
                        pose=factory.Pose(
                            position=factory.Point(x=0.0, y=0.0, z=0.0),
                            orientation=factory.Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
                        ),
                        covariance=np.zeros(36, np.float64),
                    ),
                )
            ],
            bbox=factory.BoundingBox2D(
                center=factory.Pose2D(position=factory.Point2D(x=float(cx), y=float(cy)), theta=0.0),
                size_x=float(sx),
                size_y=float(sy),
            ),
            id=str(int(seg_id)),
        )
        for seg_id, (cx, cy), (sx, sy), score in zip(seg_ids, centres, sizes, probs)
    ]
    return factory.Detection2DArray(header=copy_header(factory, header), detections=detections)


def detections_to_arrays(msg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids int64 [N], boxes_xyxy float64 [N, 4], scores float64 [N]) from a ``Detection2DArray``.

    The inverse of :func:`detection2d_array`; the score is that of the first hypothesis (0 if none).
    """
    dets = list(msg.detections)
    ids = np.array([int(d.id) for d in dets], dtype=np.int64)
    centre = np.array([(d.bbox.center.position.x, d.bbox.center.position.y) for d in dets], np.float64)
    size = np.array([(d.bbox.size_x, d.bbox.size_y) for d in dets], np.float64)
    scores = np.array([d.results[0].hypothesis.score if len(d.results) else 0.0 for d in dets], np.float64)
    boxes = np.concatenate([centre - size / 2.0, centre + size / 2.0], axis=1) if dets else np.zeros((0, 4))
    return ids, boxes, scores


def label_info(
    factory: MessageFactory, header: Any, class_names: Sequence[str] | Mapping[int, str], threshold: float
) -> Any:
    """``vision_msgs/LabelInfo``: class map (index or mapping key -> name) and the confidence threshold."""
    items = class_names.items() if isinstance(class_names, Mapping) else enumerate(class_names)
    class_map = [factory.VisionClass(class_id=int(key), class_name=str(name)) for key, name in items]
    # Rounded to float32 here so the message holds exactly the value it serialises to.
    threshold32 = float(np.float32(threshold))
    return factory.LabelInfo(header=copy_header(factory, header), class_map=class_map, threshold=threshold32)
