"""``sensor_msgs/Image`` <-> numpy: encodings, size limits, raw and YUV 4:2:2 decoding and encoding.

Decoding never trusts the message: the encoding, sizes, ``step`` and data length are checked first and any
problem raises :class:`~anomaly_seg.errors.ImageDecodeError` naming it.
"""

from __future__ import annotations

import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import cv2
import numpy as np

from anomaly_seg.errors import ImageDecodeError
from anomaly_seg.messages.factory import MessageFactory

MAX_SIDE_PX: Final = 16384
"""Largest accepted image side, in pixels (decoded or encoded)."""
MAX_IMAGE_BYTES: Final = 400 * 1024 * 1024
"""Largest accepted image payload (``step x height``, or decoded size for compressed images)."""


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


def message_bytes(data: Any, what: str) -> np.ndarray:
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


def check_image_size(height: int, width: int, nbytes: int, what: str) -> None:
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
    check_image_size(height, width, step * height, what)
    row_bytes = width * spec.bytes_per_pixel
    if step < row_bytes:
        raise ImageDecodeError(f"{what}: step {step} < width {width} x {spec.bytes_per_pixel} bytes per pixel")
    if spec.channels == 2 and width % 2:
        raise ImageDecodeError(f"{what}: width {width} is odd, 4:2:2 needs pixel pairs")
    buf = message_bytes(msg.data, what)
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
    check_image_size(height, width, pixels.nbytes, f"{encoding} image")
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
