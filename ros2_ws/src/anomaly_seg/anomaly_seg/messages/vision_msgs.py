"""The vision_msgs 4.1 (Jazzy) message definitions, read from the ``.msg`` files shipped with this package.

``anomaly_seg/interfaces/vision_msgs/`` holds the interface package that ``make ros`` builds where no
vision_msgs is installed; the same files register the types in the rosbags typestore. Their field lines are
those of ros-perception/vision_msgs 4.1.1 (comments are ours), so their RIHS01 type hashes match the upstream
generated code, which the tests check.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

INTERFACE_PACKAGE: Final = Path(str(resources.files("anomaly_seg") / "interfaces" / "vision_msgs"))
"""Folder of the fallback vision_msgs interface package (package.xml, CMakeLists.txt, msg/*.msg)."""


def _read_definitions() -> dict[str, str]:
    return {
        f"vision_msgs/msg/{path.stem}": path.read_text(encoding="utf-8")
        for path in sorted((INTERFACE_PACKAGE / "msg").glob("*.msg"))
    }


VISION_MSGS_DEFINITIONS: Final[dict[str, str]] = _read_definitions()
"""``{"vision_msgs/msg/Name": msg text}`` of every vision_msgs message."""
