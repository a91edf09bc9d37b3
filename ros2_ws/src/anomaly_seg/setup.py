"""anomaly_seg: an ament_python ROS 2 package that is also pip-installable outside ROS.

The launch files, parameter YAMLs and RViz configs live in the repository's top-level ``launch/``
folder (reached through the ``launch`` symlink next to this file) and are installed into
``share/anomaly_seg/`` so that ``ros2 launch anomaly_seg camera.launch.py`` finds them.
"""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "anomaly_seg"
HERE = Path(__file__).resolve().parent


def _share(sub: str, pattern: str) -> list[str]:
    return sorted(str(p.relative_to(HERE)) for p in (HERE / sub).glob(pattern) if p.is_file())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed", "data/*", "interfaces/vision_msgs/*", "interfaces/vision_msgs/msg/*.msg"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _share("launch", "*.launch.py")),
        (f"share/{PACKAGE}/config", _share("launch/config", "*.yaml")),
        (f"share/{PACKAGE}/rviz", _share("launch/rviz", "*.rviz")),
    ],
    python_requires=">=3.10",
    # Lower bounds are what Ubuntu 22.04 / ROS 2 Humble ships (python3-numpy 1.21, python3-opencv 4.5, ...).
    install_requires=[
        "numpy>=1.21",
        "opencv-python-headless>=4.5",
        "rosbags>=0.10",
        "mcap>=1.1",  # reads MCAP bags cut short (no summary / footer) record by record
        "onnxruntime>=1.17",
        "onnx>=1.16",  # model metadata (network size, export parity) is read with it at load time
        "PyYAML>=5.4",
        "tqdm>=4.60",
        "matplotlib>=3.5",
    ],
    extras_require={
        # torch is pinned by the Makefile (CPU wheel); it is never pulled in implicitly here.
        "torch": ["onnxscript>=0.1", "safetensors>=0.4", "onnxconverter-common>=1.14"],  # export incl. fp16 models
        "train": ["scikit-learn>=1.3", "scipy>=1.10", "pycocotools>=2.0.7", "tensorboard>=2.14"],
    },
    zip_safe=False,
    maintainer="anomaly_seg maintainers",
    maintainer_email="maintainers@anomaly-seg.invalid",
    description="Road anomaly segmentation node (DINOv2 + FPN + UEM) for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "anomaly-seg = anomaly_seg.cli:main",
            "anomaly_seg_node = anomaly_seg.ros.node:main",
            "anomaly_seg_eval = anomaly_seg.ros.eval_node:main",
            "anomaly_seg_play = anomaly_seg.ros.player:main",
        ],
    },
)
