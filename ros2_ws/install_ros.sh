#!/usr/bin/env bash
# `make ros`: ROS 2 Jazzy from its PyPI wheels into the venv, plus the interface packages that have no wheel.
#
#   ros2_ws/install_ros.sh VENV
#
# Afterwards `VENV/bin/python -c "import rclpy, vision_msgs.msg"` works and `VENV/bin/anomaly_seg_node` starts
# with nothing sourced (the wheels put their libraries on LD_LIBRARY_PATH themselves). The wheels are CPython
# 3.11 builds: on another interpreter this says so, installs rclpy's Python sources for the type checker only,
# and the ROS tests skip with that reason. Where a ROS install is sourced (rclpy, the message packages and
# vision_msgs importable through PYTHONPATH), it is used as it is and nothing is installed.
set -euo pipefail
venv=${1:?usage: install_ros.sh VENV}
repo=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"
pip=("$py" -m pip install --quiet -c "$repo/requirements/lock.txt")
interfaces="$repo/ros2_ws/src/anomaly_seg/anomaly_seg/interfaces"
export PATH="$venv/bin:$PATH"  # the venv's tools (ament, rosidl, a cmake wheel if one is installed) come first

if "$py" -c "import rclpy._rclpy_pybind11, sensor_msgs.msg, diagnostic_msgs.msg, vision_msgs.msg" 2>/dev/null \
  && ! "$py" -m pip show --quiet ros-jazzy-rclpy 2>/dev/null; then
  echo "make ros: using the ROS 2 installation on PYTHONPATH ($("$py" -c "import rclpy; print(rclpy.__file__)"))"
  exit 0
fi

version=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$version" != "3.11" ]; then
  echo "make ros: the ROS 2 Jazzy wheels are CPython 3.11 builds and this venv runs Python $version:" \
    "ROS is not installed, the ROS tests will be skipped (use PYTHON=python3.11, or source a ROS install)." >&2
  "${pip[@]}" rclpy-intellisense
  exit 0
fi

# rclpy-intellisense (rclpy's Python sources, for mypy) would shadow the real rclpy: never both.
"$py" -m pip uninstall --quiet --yes rclpy-intellisense 2>/dev/null || true
"${pip[@]}" -r "$repo/requirements/ros.txt"

need_build_tools() {
  if ! command -v cmake >/dev/null 2>&1; then
    echo "make ros: no cmake on PATH, installing the cmake wheel into $venv"
    "${pip[@]}" cmake
  fi
  for tool in cc c++; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "make ros: building vision_msgs needs a C and a C++ compiler ('$tool' not found):" \
        "install them (Debian/Ubuntu: apt-get install build-essential) and run make ros again" >&2
      exit 1
    }
  done
}

build_interface() {  # NAME: build and install anomaly_seg/interfaces/NAME into the venv prefix
  local name=$1 build="$repo/ros2_ws/build/$1"
  if "$py" -c "import $name.msg" 2>/dev/null; then
    echo "make ros: $name already installed ($("$py" -c "import $name; print($name.__file__)"))"
    return
  fi
  need_build_tools
  echo "make ros: building $name from $interfaces/$name (about a minute)"
  rm -rf "$build" && mkdir -p "$build"
  # rosidl finds its type supports through the ament index: the venv is the prefix.
  AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" \
    cmake -S "$interfaces/$name" -B "$build" \
    -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" -DPython3_EXECUTABLE="$py" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DCMAKE_PROJECT_INCLUDE="$repo/ros2_ws/cmake/remap_wheel_include_dirs.cmake" >"$build.log" 2>&1 \
    || { tail -30 "$build.log" >&2; echo "make ros: configuring $name failed, log: $build.log" >&2; exit 1; }
  cmake --build "$build" --parallel "$(nproc)" >>"$build.log" 2>&1 \
    || { tail -30 "$build.log" >&2; echo "make ros: building $name failed, log: $build.log" >&2; exit 1; }
  cmake --install "$build" >>"$build.log" 2>&1
  "$py" -c "import $name.msg" || { echo "make ros: $name built but does not import" >&2; exit 1; }
}
build_interface vision_msgs
"$py" -c "import rclpy, sensor_msgs.msg, vision_msgs.msg, diagnostic_msgs.msg; print('make ros: ROS 2 Jazzy ready in $venv')"
