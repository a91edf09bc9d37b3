"""``sensor_msgs/CompressedImage`` <-> numpy: JPEG/PNG header parsing (sizes checked before decoding), codecs."""

from __future__ import annotations

import struct
from typing import Any, Final, Literal

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError, ImageDecodeError
from anomaly_seg.messages.factory import MessageFactory
from anomaly_seg.messages.images import check_image_size, message_bytes

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
    buf = message_bytes(msg.data, "compressed image")
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
    check_image_size(dims[1], dims[0], dims[0] * dims[1] * 4, what)
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
    check_image_size(pixels.shape[0], pixels.shape[1], pixels.nbytes, "image to compress")
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
