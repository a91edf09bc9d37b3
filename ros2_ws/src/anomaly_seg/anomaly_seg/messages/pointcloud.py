"""``sensor_msgs/PointCloud2`` of x, y, z float32 points, in the layout ``sensor_msgs_py.point_cloud2`` reads."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from anomaly_seg.messages.factory import MessageFactory

FLOAT32: Final = 7  # sensor_msgs/PointField.FLOAT32


def xyz_cloud(factory: MessageFactory, header: Any, points: np.ndarray) -> Any:
    """An unorganised cloud (height 1) of ``points`` ``[N, 3]``: fields x, y, z (float32, offsets 0, 4, 8),
    little-endian, 12 bytes a point, dense (no NaN)."""
    xyz = np.ascontiguousarray(np.asarray(points, np.float32).reshape(-1, 3))
    fields = [factory.PointField(name=name, offset=4 * i, datatype=FLOAT32, count=1) for i, name in enumerate("xyz")]
    return factory.PointCloud2(
        header=header,
        height=1,
        width=len(xyz),
        fields=fields,
        is_bigendian=False,
        point_step=12,
        row_step=12 * len(xyz),
        data=factory.byte_array(xyz.view(np.uint8).reshape(-1)),
        is_dense=bool(np.isfinite(xyz).all()),
    )


def cloud_points(msg: Any) -> np.ndarray:
    """``[N, 3]`` float32 x, y, z of a cloud written by :func:`xyz_cloud` (for readers and tests)."""
    data = np.frombuffer(bytes(msg.data), np.float32)
    return data.reshape(int(msg.height) * int(msg.width), int(msg.point_step) // 4)[:, :3]
