"""numpy <-> ROS 2 message conversions (anomaly_seg.messages) against hand-built messages."""

from __future__ import annotations

import array
import dataclasses
import struct
from typing import Any

import cv2
import numpy as np
import pytest

from anomaly_seg import messages as rm
from anomaly_seg.errors import ConfigError, ImageDecodeError
from anomaly_seg.messages.typestore import get_typestore

STORE = get_typestore()
F = rm.rosbags_factory(STORE)
HEADER = rm.make_header(F, 1_700_000_000, 123_456_789, "camera_front")

# encoding -> (dtype, channels) as the sensor_msgs/image_encodings.hpp definitions say
ENCODING_LAYOUT: dict[str, tuple[type[np.generic], int]] = {
    "rgb8": (np.uint8, 3),
    "bgr8": (np.uint8, 3),
    "rgba8": (np.uint8, 4),
    "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1),
    "mono16": (np.uint16, 1),
    "16UC1": (np.uint16, 1),
    "32FC1": (np.float32, 1),
    "yuv422": (np.uint8, 2),
    "yuv422_yuy2": (np.uint8, 2),
}


def random_pixels(encoding: str, height: int = 6, width: int = 10, seed: int = 0) -> np.ndarray:
    dtype, channels = ENCODING_LAYOUT[encoding]
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype is np.float32:
        return rng.normal(size=shape).astype(np.float32)
    return rng.integers(0, np.iinfo(np.dtype(dtype).name).max, size=shape, endpoint=True).astype(dtype)


def image_msg(
    pixels: np.ndarray, encoding: str, *, pad: int = 0, big_endian: bool = False, data_type: type = np.ndarray
) -> Any:
    """An Image message built by hand (independent of array_to_image), with ``pad`` bytes of row padding."""
    height, width = pixels.shape[:2]
    wire = pixels.astype(pixels.dtype.newbyteorder(">" if big_endian else "<"))
    rows = wire.reshape(height, -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((height, pad), 0xAB, np.uint8)], axis=1)
    raw = padded.tobytes()
    data: Any = {
        np.ndarray: np.frombuffer(raw, np.uint8),
        bytes: raw,
        bytearray: bytearray(raw),
        memoryview: memoryview(raw),
        list: list(raw),
        array.array: array.array("B", raw),
    }[data_type]
    return F.Image(
        header=HEADER,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(big_endian),
        step=padded.shape[1],
        data=data,
    )


def cdr_roundtrip(msg: Any) -> Any:
    return STORE.deserialize_cdr(STORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def assert_messages_equal(a: Any, b: Any, path: str = "msg") -> None:
    if dataclasses.is_dataclass(a):
        assert type(a).__name__ == type(b).__name__, path
        for f in dataclasses.fields(a):
            assert_messages_equal(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_messages_equal(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


# -------------------------------------------------------------------------------- raw images


@pytest.mark.parametrize("encoding", list(ENCODING_LAYOUT))
def test_array_to_image_round_trips_every_encoding_through_cdr(encoding: str) -> None:
    pixels = random_pixels(encoding)
    msg = rm.array_to_image(F, pixels, encoding, HEADER)
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian) == (6, 10, encoding, 0)
    assert msg.step == 10 * pixels.dtype.itemsize * (1 if pixels.ndim == 2 else pixels.shape[2])
    assert msg.data.dtype == np.uint8 and msg.data.size == msg.step * msg.height
    back = cdr_roundtrip(msg)
    assert_messages_equal(msg, back)
    np.testing.assert_array_equal(rm.image_to_array(back), pixels)


@pytest.mark.parametrize("encoding", list(ENCODING_LAYOUT))
@pytest.mark.parametrize("pad", [0, 3, 7])
def test_image_to_array_drops_step_padding(encoding: str, pad: int) -> None:
    pixels = random_pixels(encoding, seed=pad)
    decoded = rm.image_to_array(image_msg(pixels, encoding, pad=pad))
    assert decoded.dtype == pixels.dtype and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "32FC1"])
@pytest.mark.parametrize("pad", [0, 5])
def test_image_to_array_reads_big_endian_data(encoding: str, pad: int) -> None:
    pixels = random_pixels(encoding, seed=3)
    decoded = rm.image_to_array(image_msg(pixels, encoding, pad=pad, big_endian=True))
    assert decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, pixels)


def test_array_to_image_writes_little_endian_from_big_endian_input() -> None:
    pixels = np.array([[1, 258], [65535, 4096]], dtype=">u2")
    msg = rm.array_to_image(F, pixels, "mono16", HEADER)
    assert msg.is_bigendian == 0
    assert msg.data.tobytes() == struct.pack("<4H", 1, 258, 65535, 4096)


@pytest.mark.parametrize("data_type", [np.ndarray, bytes, bytearray, memoryview, list, array.array])
def test_image_to_array_accepts_every_data_container(data_type: type) -> None:
    pixels = random_pixels("rgb8")
    np.testing.assert_array_equal(rm.image_to_array(image_msg(pixels, "rgb8", pad=2, data_type=data_type)), pixels)


def test_image_to_array_and_rgb8_to_rgb_do_not_copy() -> None:
    msg = image_msg(random_pixels("rgb8"), "rgb8")
    assert np.shares_memory(rm.image_to_array(msg), msg.data)
    assert np.shares_memory(rm.image_to_rgb(msg), msg.data)


def test_array_array_factory_builds_rclpy_style_data() -> None:
    factory = dataclasses.replace(F, byte_array=lambda a: array.array("B", a.tobytes()))
    pixels = random_pixels("bgra8")
    msg = rm.array_to_image(factory, pixels, "bgra8", HEADER)
    assert isinstance(msg.data, array.array) and msg.data.typecode == "B"
    np.testing.assert_array_equal(rm.image_to_array(msg), pixels)
    compressed = rm.rgb_to_compressed(factory, random_pixels("rgb8"), HEADER, "png")
    assert isinstance(compressed.data, array.array)


def bt601_yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Float64 BT.601 limited-range YCbCr -> RGB (the reference, independent of OpenCV)."""
    c, d, e = (y.astype(np.float64) - 16) * 255 / 219, (u - 128.0) * 255 / 224, (v - 128.0) * 255 / 224
    r = c + 1.402 * e
    g = c - 0.344136 * d - 0.714136 * e
    b = c + 1.772 * d
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2", "uyvy", "yuyv"])
def test_image_to_rgb_decodes_yuv422_like_bt601(encoding: str) -> None:
    rng = np.random.default_rng(1)
    packed = rng.integers(16, 236, size=(4, 8, 2), dtype=np.uint8)
    quads = packed.reshape(4, 4, 4)
    if encoding in ("yuv422", "uyvy"):
        u, y0, v, y1 = (quads[..., i] for i in range(4))
    else:
        y0, u, y1, v = (quads[..., i] for i in range(4))
    y = np.stack([y0, y1], axis=-1).reshape(4, 8)
    expected = bt601_yuv_to_rgb(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    msg = F.Image(header=HEADER, height=4, width=8, encoding=encoding, is_bigendian=0, step=16, data=packed.ravel())
    rgb = rm.image_to_rgb(msg)
    assert rgb.shape == (4, 8, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb - expected).max() <= 2.0


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2"])
def test_yuv422_encode_then_decode_recovers_a_smooth_image(encoding: str) -> None:
    yy, xx = np.mgrid[0:32, 0:48].astype(np.float64)
    rgb = np.stack([20 + 4 * xx, 30 + 6 * yy, 200 - 2 * xx - 2 * yy], axis=-1).round().astype(np.uint8)
    msg = rm.array_to_image(F, rgb, encoding, HEADER)
    assert msg.step == 48 * 2
    back = rm.image_to_rgb(cdr_roundtrip(msg)).astype(np.int64)
    assert np.abs(back - rgb).max() <= 4


@pytest.mark.parametrize(
    ("encoding", "reference"),
    [
        ("bgr8", lambda p: p[..., ::-1]),
        ("rgba8", lambda p: p[..., :3]),
        ("bgra8", lambda p: p[..., 2::-1]),
        ("mono8", lambda p: np.repeat(p[..., None], 3, axis=2)),
        ("mono16", lambda p: np.repeat((p // 256).astype(np.uint8)[..., None], 3, axis=2)),
        ("16UC1", lambda p: np.repeat((p // 256).astype(np.uint8)[..., None], 3, axis=2)),
    ],
)
def test_image_to_rgb_matches_channel_reference(encoding: str, reference: Any) -> None:
    pixels = random_pixels(encoding, seed=7)
    rgb = rm.image_to_rgb(image_msg(pixels, encoding, pad=3))
    assert rgb.shape == (6, 10, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, reference(pixels))


def test_image_to_rgb_reads_32fc1_as_unit_intensity() -> None:
    pixels = np.array([[0.0, 0.5, 1.0, 2.0], [-1.0, np.nan, np.inf, 0.25]], np.float32)
    rgb = rm.image_to_rgb(image_msg(pixels, "32FC1"))
    np.testing.assert_array_equal(rgb[..., 0], [[0, 128, 255, 255], [0, 0, 255, 64]])


def raw_msg(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "header": HEADER,
        "height": 4,
        "width": 6,
        "encoding": "rgb8",
        "is_bigendian": 0,
        "step": 18,
        "data": np.zeros(72, np.uint8),
    }
    fields.update(overrides)
    return F.Image(**fields)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"encoding": "rgb16"}, "unknown image encoding 'rgb16'"),
        ({"encoding": ""}, "unknown image encoding ''"),
        ({"data": np.zeros(71, np.uint8)}, "data has 71 bytes, expected step x height = 18x4"),
        ({"data": np.zeros(90, np.uint8)}, "data has 90 bytes"),
        ({"step": 17, "data": np.zeros(68, np.uint8)}, "step 17 < width 6 x 3 bytes per pixel"),
        ({"width": 0, "step": 0, "data": np.zeros(0, np.uint8)}, "zero size (0x4)"),
        ({"height": 0, "data": np.zeros(0, np.uint8)}, "zero size (6x0)"),
        ({"width": 16385, "step": 49155}, "too large (16385x4"),
        ({"height": 10000, "width": 12000, "encoding": "rgba8", "step": 48000}, "bytes, at most"),
        ({"encoding": "yuv422", "width": 5, "step": 10, "data": np.zeros(40, np.uint8)}, "width 5 is odd"),
        ({"data": np.zeros(18, np.uint32)}, "dtype uint32, expected uint8"),
        ({"data": [0, 1, 256] * 24}, "not bytes"),
        ({"data": "not bytes" * 8}, "unsupported type str"),
        ({"data": array.array("H", [0] * 36)}, "array.array('H')"),
    ],
)
def test_image_to_array_rejects_bad_messages(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ImageDecodeError) as info:
        rm.image_to_array(raw_msg(**overrides))
    assert message in str(info.value)
    assert info.value.kind == "bad_image"


@pytest.mark.parametrize(
    ("array_in", "encoding", "message"),
    [
        (np.zeros((4, 6, 3), np.uint16), "rgb8", "expected uint8"),
        (np.zeros((4, 6), np.uint8), "rgb8", "expected HxWx3"),
        (np.zeros((4, 6, 3), np.uint8), "mono8", "expected HxW"),
        (np.zeros((4, 6), np.float64), "32FC1", "expected float32"),
        (np.zeros((0, 6), np.uint8), "mono8", "zero size"),
        (np.zeros((4, 5, 3), np.uint8), "yuv422", "width 5 is odd"),
        (np.zeros((4, 6), np.uint8), "bayer_rggb8", "unknown image encoding"),
    ],
)
def test_array_to_image_rejects_mismatched_arrays(array_in: np.ndarray, encoding: str, message: str) -> None:
    with pytest.raises(ImageDecodeError) as info:
        rm.array_to_image(F, array_in, encoding, HEADER)
    assert message in str(info.value)


def test_array_to_image_accepts_single_channel_last_axis() -> None:
    pixels = random_pixels("mono8")
    np.testing.assert_array_equal(rm.image_to_array(rm.array_to_image(F, pixels[..., None], "mono8", HEADER)), pixels)


# -------------------------------------------------------------------------------- compressed images


def smooth_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([2 * xx + 40, 3 * yy + 20, 180 - xx - yy], axis=-1).round().astype(np.uint8)


def compressed_msg(data: bytes | np.ndarray, fmt: str) -> Any:
    return F.CompressedImage(header=HEADER, format=fmt, data=np.frombuffer(bytes(data), np.uint8))


def test_png_compression_round_trip_is_exact_and_valid_cdr() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    msg = rm.rgb_to_compressed(F, rgb, HEADER, "png")
    assert msg.format == "rgb8; png compressed bgr8"
    back = cdr_roundtrip(msg)
    assert_messages_equal(msg, back)
    np.testing.assert_array_equal(rm.compressed_to_rgb(back), rgb)


def test_jpeg_compression_round_trip_is_close() -> None:
    rgb = smooth_rgb()
    msg = rm.rgb_to_compressed(F, rgb, HEADER, "jpeg", quality=95)
    assert msg.format == "rgb8; jpeg compressed bgr8"
    assert msg.data[:3].tobytes() == b"\xff\xd8\xff"
    decoded = rm.compressed_to_rgb(cdr_roundtrip(msg)).astype(np.int64)
    assert decoded.shape == rgb.shape
    assert np.abs(decoded - rgb).mean() < 2.0


def test_mono_compression_decodes_to_gray_rgb() -> None:
    gray = smooth_rgb()[..., 0]
    msg = rm.rgb_to_compressed(F, gray, HEADER, "png")
    assert msg.format == "mono8; png compressed mono8"
    np.testing.assert_array_equal(rm.compressed_to_rgb(msg), np.repeat(gray[..., None], 3, axis=2))


@pytest.mark.parametrize("fmt", ["png", "PNG", "", "bgr8; png compressed bgr8", "rgb8; png compressed bgr8"])
def test_compressed_to_rgb_reads_format_variants(fmt: str) -> None:
    rgb = smooth_rgb()
    ok, encoded = cv2.imencode(".png", rgb[..., ::-1])
    assert ok
    np.testing.assert_array_equal(rm.compressed_to_rgb(compressed_msg(encoded, fmt)), rgb)


def test_compressed_rgb8_stream_keeps_channel_order() -> None:
    rgb = smooth_rgb()
    ok, encoded = cv2.imencode(".png", rgb)  # RGB bytes written as they are, as "compressed rgb8" declares
    assert ok
    np.testing.assert_array_equal(rm.compressed_to_rgb(compressed_msg(encoded, "rgb8; png compressed rgb8")), rgb)


def test_compressed_16bit_png_keeps_high_byte() -> None:
    depth = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", depth)
    assert ok
    rgb = rm.compressed_to_rgb(compressed_msg(encoded, "16UC1; png compressed 16UC1"))
    np.testing.assert_array_equal(rgb[..., 1], depth // 256)


def png_with_size(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    return bytes(data)


def jpeg_with_size(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def valid_png() -> bytes:
    ok, encoded = cv2.imencode(".png", smooth_rgb())
    assert ok
    return encoded.tobytes()


def valid_jpeg() -> bytes:
    ok, encoded = cv2.imencode(".jpg", smooth_rgb())
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"", "jpeg", "has no data"),
        (bytes(range(256)) * 4, "jpeg", "not a jpeg stream"),
        (bytes(range(256)) * 4, "", "not a jpeg/png stream"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "png", "zero size (0x0)"),
        (b"\x89PNG\r\n\x1a\n", "png", "corrupt png header"),
        (valid_png()[:60], "png", "corrupt png data"),
        (valid_jpeg(), "png", "not a png stream"),
        (valid_png(), "bgr8; compressedDepth png", "compressedDepth"),
        (valid_png(), "tiff", "unsupported compressed format 'tiff'"),
        (png_with_size(20000, 100), "png", "too large (20000x100"),
        (png_with_size(0, 100), "png", "zero size"),
        (png_with_size(16000, 16000), "png", "bytes, at most"),
        (jpeg_with_size(30000, 30000), "jpeg", "too large (30000x30000"),
    ],
)
def test_compressed_to_rgb_rejects_bad_data(data: bytes, fmt: str, message: str) -> None:
    with pytest.raises(ImageDecodeError) as info:
        rm.compressed_to_rgb(compressed_msg(data, fmt))
    assert message in str(info.value)


def test_rgb_to_compressed_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="'webp'"):
        rm.rgb_to_compressed(F, smooth_rgb(), HEADER, "webp")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="quality"):
        rm.rgb_to_compressed(F, smooth_rgb(), HEADER, "jpeg", quality=0)
    with pytest.raises(ImageDecodeError, match="expected HxWx3 or HxW uint8"):
        rm.rgb_to_compressed(F, smooth_rgb().astype(np.float32), HEADER)


# -------------------------------------------------------------------------------- vision_msgs and headers


def test_detection2d_array_fields() -> None:
    boxes = np.array([[10, 20, 30, 60], [0, 0, 1, 1]], np.int32)
    msg = rm.detection2d_array(F, HEADER, np.array([3, 7], np.uint16), boxes, np.array([0.9, 0.25], np.float32))
    assert msg.__msgtype__ == "vision_msgs/msg/Detection2DArray"
    assert_messages_equal(msg.header, HEADER)
    first, second = msg.detections
    assert (first.id, second.id) == ("3", "7")
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (20.0, 40.0)
    assert (first.bbox.size_x, first.bbox.size_y, first.bbox.center.theta) == (20.0, 40.0, 0.0)
    assert (second.bbox.center.position.x, second.bbox.size_x) == (0.5, 1.0)
    assert len(first.results) == 1
    assert first.results[0].hypothesis.class_id == "anomaly"
    assert first.results[0].hypothesis.score == pytest.approx(0.9)
    assert first.results[0].pose.pose.orientation.w == 1.0
    assert_messages_equal(first.header, HEADER)
    assert_messages_equal(msg, cdr_roundtrip(msg))
    ids, boxes_back, scores = rm.detections_to_arrays(cdr_roundtrip(msg))
    np.testing.assert_array_equal(ids, [3, 7])
    np.testing.assert_array_equal(boxes_back, boxes)
    np.testing.assert_allclose(scores, [0.9, 0.25], rtol=1e-6)


def test_detection2d_array_empty_and_mismatched() -> None:
    msg = rm.detection2d_array(F, HEADER, [], np.zeros((0, 4)), [])
    assert msg.detections == []
    assert_messages_equal(msg, cdr_roundtrip(msg))
    assert rm.detections_to_arrays(msg)[1].shape == (0, 4)
    with pytest.raises(ValueError, match="differ in length"):
        rm.detection2d_array(F, HEADER, [1, 2], [[0, 0, 1, 1]], [0.5, 0.5])


def test_label_info_from_names_and_mapping() -> None:
    msg = rm.label_info(F, HEADER, ["road", "sidewalk", "building"], 0.35)
    assert [(c.class_id, c.class_name) for c in msg.class_map] == [(0, "road"), (1, "sidewalk"), (2, "building")]
    assert msg.threshold == pytest.approx(0.35)
    back = cdr_roundtrip(msg)
    assert_messages_equal(msg, back)
    mapped = rm.label_info(F, HEADER, {1: "anomaly", 65535: "UNLABELED"}, 0.5)
    assert [(c.class_id, c.class_name) for c in mapped.class_map] == [(1, "anomaly"), (65535, "UNLABELED")]


def test_headers_copy_and_convert_stamps() -> None:
    copied = rm.copy_header(F, HEADER)
    assert copied is not HEADER
    assert_messages_equal(copied, HEADER)
    assert rm.stamp_to_ns(HEADER.stamp) == 1_700_000_000_123_456_789
    from_ns = rm.header_from_ns(F, 1_700_000_000_123_456_789, "camera_front")
    assert_messages_equal(from_ns, HEADER)
    other_store_factory = rm.rosbags_factory(get_typestore())
    assert_messages_equal(rm.copy_header(other_store_factory, HEADER), HEADER)


def test_rosbags_factory_has_every_message_class() -> None:
    for field in dataclasses.fields(rm.MessageFactory):
        if field.name == "byte_array":
            continue
        cls = getattr(F, field.name)
        assert cls.__msgtype__.endswith("/" + field.name)
    float_msg = F.Float64(data=12.5)
    diag = F.DiagnosticArray(
        header=HEADER,
        status=[
            F.DiagnosticStatus(
                level=2, name="anomaly_seg", message="ok", hardware_id="cam", values=[F.KeyValue(key="fps", value="30")]
            )
        ],
    )
    for msg in (float_msg, diag):
        assert_messages_equal(msg, cdr_roundtrip(msg))


def test_rosbags_factory_rejects_store_without_vision_msgs() -> None:
    from rosbags.typesys import Stores
    from rosbags.typesys import get_typestore as plain_typestore

    with pytest.raises(ConfigError, match="vision_msgs/msg/Detection2D"):
        rm.rosbags_factory(plain_typestore(Stores.ROS2_HUMBLE))


def test_ros_factory_uses_real_rclpy_classes() -> None:
    pytest.importorskip("sensor_msgs.msg", reason="needs a sourced ROS 2 environment (sensor_msgs)")
    factory = rm.ros_factory()
    pixels = random_pixels("rgb8")
    msg = rm.array_to_image(factory, pixels, "rgb8", rm.make_header(factory, 1, 2, "cam"))
    np.testing.assert_array_equal(rm.image_to_array(msg), pixels)
