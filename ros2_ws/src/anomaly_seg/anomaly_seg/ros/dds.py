"""DDS settings that carry camera-size images on time (no rclpy): the shipped Fast DDS profile and when it applies.

The profile (``anomaly_seg/data/fastdds_large_data.xml``) gives Fast DDS's shared-memory transport a segment and
a message size that hold whole camera images; its header comment has the measurements. The node applies it to
its own process only when nothing else configures Fast DDS, so a user's profile always wins.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from importlib import resources
from pathlib import Path
from typing import Final

PROFILE_PATH: Final = Path(str(resources.files("anomaly_seg") / "data" / "fastdds_large_data.xml"))
"""The shipped Fast DDS profile (64 MB shared-memory segment, 32 MB messages, UDPv4 for discovery)."""

PROFILE_VARIABLES: Final = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
"""Environment variables through which Fast DDS (2.x and 3.x) reads an XML profile."""

_FASTDDS_RMWS: Final = ("", "rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")
_OTHER_FASTDDS_SETTINGS: Final = ("FASTDDS_BUILTIN_TRANSPORTS", "RMW_FASTRTPS_USE_QOS_FROM_XML")


def apply_default_profile(environ: MutableMapping[str, str], cwd: Path | None = None) -> Path | None:
    """Point Fast DDS at :data:`PROFILE_PATH` in ``environ`` unless something else configures it.

    Left alone: another RMW (e.g. Cyclone DDS), a profile variable already set, a builtin-transports choice,
    or a ``DEFAULT_FASTRTPS_PROFILES.xml`` in the working directory (which Fast DDS loads by itself).
    Returns the profile when it was applied. Must run before ``rclpy.init()``.
    """
    if environ.get("RMW_IMPLEMENTATION", "") not in _FASTDDS_RMWS:
        return None
    if any(environ.get(name) for name in (*PROFILE_VARIABLES, *_OTHER_FASTDDS_SETTINGS)):
        return None
    if ((cwd or Path.cwd()) / "DEFAULT_FASTRTPS_PROFILES.xml").is_file():
        return None
    environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(PROFILE_PATH)
    return PROFILE_PATH
