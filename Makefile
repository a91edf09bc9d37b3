# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PKG := ros2_ws/src/anomaly_seg
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
# on a machine where the default index would resolve a CUDA build.
TORCH_PIP_ARGS ?=

.PHONY: venv ros demo test lint typecheck pytest clean

$(VENV)/.installed: requirements/lock.txt $(PKG)/setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PY) -m pip install --quiet -c requirements/lock.txt -r requirements/dev.txt
	$(PY) -m pip install --quiet -c requirements/lock.txt --no-build-isolation -e "$(PKG)[torch,train]"
	touch $@

venv: $(VENV)/.installed

# TensorRT's published stubs, for mypy only: outside sys.path (they must not import as `tensorrt`), made parseable.
STUBS := $(VENV)/typing-stubs
$(STUBS)/.installed: $(VENV)/.installed requirements/fix_tensorrt_stubs.py
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(STUBS) -c requirements/lock.txt tensorrt-stubs
	$(PY) requirements/fix_tensorrt_stubs.py $(STUBS)
	touch $@

# ROS 2 Jazzy from PyPI wheels (CPython 3.11) + vision_msgs built from anomaly_seg/interfaces; nothing to source.
INTERFACES := $(wildcard $(PKG)/anomaly_seg/interfaces/*/msg/*.msg $(PKG)/anomaly_seg/interfaces/*/*.txt)
$(VENV)/.ros-installed: $(VENV)/.installed requirements/ros.txt ros2_ws/install_ros.sh $(INTERFACES)
	ros2_ws/install_ros.sh $(VENV)
	touch $@

ros: $(VENV)/.ros-installed

demo: venv
	$(VENV)/bin/anomaly-seg demo --out demo_output

lint: venv
	$(VENV)/bin/ruff check $(PKG)/anomaly_seg training tests benchmarks models launch requirements
	$(VENV)/bin/ruff format --check $(PKG)/anomaly_seg training tests benchmarks models launch requirements
	$(VENV)/bin/lint-imports

typecheck: ros $(STUBS)/.installed
	$(VENV)/bin/mypy

pytest: ros
	$(PY) -m pytest

test: ros lint typecheck pytest

clean:
	rm -rf $(VENV) build install log ros2_ws/build ros2_ws/install ros2_ws/log
