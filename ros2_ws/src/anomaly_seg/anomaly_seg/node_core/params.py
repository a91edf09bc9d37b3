"""Node parameters: one table of specs, validated once at start into :class:`NodeParams`.

The rclpy shell declares every entry of :data:`PARAMETERS` (with its range, choices and read-only flag),
reads the values back as a flat ``{dotted.name: value}`` dict and calls :meth:`NodeParams.from_dict`;
offline replay reads the same ROS parameter YAML with :meth:`NodeParams.from_yaml`. Every invalid
value raises :class:`~anomaly_seg.errors.ConfigError` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from anomaly_seg.errors import ConfigError
from anomaly_seg.node_core.naming import camera_topics
from anomaly_seg.parameters import ParamSpec, ParamValue, read_ros_params_file, validate_values
from anomaly_seg.pipeline import PipelineConfig
from anomaly_seg.pipeline.ground import Mounting
from anomaly_seg.vocabulary import (
    BACKENDS,
    ENGINE_SHARING,
    NETWORK_RESOLUTION_TOPICS,
    PRECISIONS,
    QOS_PROFILES,
    REGIONS,
    RESOLUTIONS,
    ROAD_DILATION_PX,
    VEHICLE_FRAME,
)

if TYPE_CHECKING:
    from anomaly_seg.segments import MetaClassifier

PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "model.onnx_path",
        "",
        "ONNX model exported by `python -m training export` (the portable artifact)",
        is_file=True,
    ),
    ParamSpec(
        "model.engine_path",
        "",
        "serialised TensorRT engine to load instead of the ONNX; empty = build/reuse the one cached next to the ONNX",
        is_file=True,
    ),
    ParamSpec(
        "model.backend", "auto", "inference backend; auto = TensorRT if available, else ONNX Runtime", choices=BACKENDS
    ),
    ParamSpec("model.precision", "fp16", "TensorRT build precision", choices=PRECISIONS),
    ParamSpec("model.force_engine_update", False, "rebuild the TensorRT engine even if the cached one matches"),
    ParamSpec("model.build_only", False, "build/check the engine, then exit (use on the target before driving)"),
    ParamSpec(
        "execution.pipelined",
        True,
        "overlap decode + resize, the engine and post-processing + publishing of consecutive frames (three "
        "threads); false = one thread, one frame at a time",
    ),
    ParamSpec(
        "cameras.topics",
        "",
        "one node, one engine for many cameras: YAML list of camera image topics (outputs under "
        "/<camera ns>/anomaly_seg/, as with one node per camera); empty = this node's ~/input/image",
    ),
    ParamSpec(
        "cameras.engine_sharing",
        "round_robin",
        "with cameras.topics: round_robin = one engine call per frame, cameras in turn; batched = frames that arrive "
        "together in one call (needs an engine exported with batch size >= 2)",
        choices=ENGINE_SHARING,
    ),
    ParamSpec(
        "cameras.batch_wait_ms",
        5.0,
        "batched sharing: how long the first frame waits for the other cameras' frames",
        min_value=0.0,
        max_value=100.0,
    ),
    ParamSpec("input.qos", "sensor_data", "QoS of the image subscription (depth 1)", choices=QOS_PROFILES),
    ParamSpec("input.compressed", False, "subscribe to ~/input/image/compressed (sensor_msgs/CompressedImage)"),
    ParamSpec(
        "anomaly.threshold",
        0.0,
        "anomaly score threshold of the mask (and of the segments without an operating point); unset: the "
        "model's score_threshold (ONNX metadata), else 0 (LLR: sigmoid 0.5)",
        min_value=-1.0e3,
        max_value=1.0e3,
    ),
    ParamSpec(
        "segments.min_area_px",
        64,
        "smallest obstacle segment, in network-resolution pixels",
        min_value=1,
        max_value=1_000_000,
    ),
    ParamSpec(
        "segments.max_segments", 64, "at most this many segments per frame (largest first)", min_value=1, max_value=1024
    ),
    ParamSpec(
        "segments.meta_classifier_path",
        "",
        "meta classifier JSON (`python -m training fit-meta`); empty = none",
        is_file=True,
    ),
    ParamSpec(
        "segments.meta_threshold",
        -1.0,
        "keep segments with meta probability >= this; negative = the classifier's fitted threshold",
        min_value=-1.0,
        max_value=1.0,
    ),
    ParamSpec(
        "segments.operating_point",
        True,
        "form segments at the meta classifier's operating-point threshold when its JSON has one (chosen with its "
        "meta threshold on validation); false: at anomaly.threshold",
    ),
    ParamSpec(
        "segments.region",
        "road",
        "where anomalous pixels form segments: road = on (dilated) road and sidewalk, all = anywhere",
        choices=REGIONS,
    ),
    ParamSpec(
        "segments.region_dilation_px",
        ROAD_DILATION_PX,
        "with region=road: grow the road/sidewalk area by this many network pixels so that obstacles "
        "standing on the road (predicted as another class) stay inside",
        min_value=0,
        max_value=512,
    ),
    ParamSpec(
        "output.resolution", "input", "size of the output images: input (camera) or network", choices=RESOLUTIONS
    ),
    ParamSpec(
        "output.network_topics",
        "[semantic_color, overlay]",
        "debug images published at network resolution whatever output.resolution says (a quarter of the bytes at "
        "2048x1024; intrinsics on ~/output/network/camera_info): YAML list of anomaly_score, semantic, "
        "semantic_color, overlay ('[]' = none); the mask and obstacle ids always keep output.resolution",
    ),
    ParamSpec(
        "output.overlay_alpha",
        0.5,
        "opacity of the class colours in ~/output/overlay",
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "output.qos",
        "reliable",
        "QoS of the per-frame outputs (depth 2): reliable (a slow subscriber slows delivery, nothing is lost on a "
        "good link), best_effort or sensor_data (late samples are dropped instead; what RViz and most planners use)",
        choices=QOS_PROFILES,
    ),
    ParamSpec(
        "ground.camera_height_m",
        0.0,
        "camera height above flat ground (m); > 0 enables ~/output/obstacles_3d and ~/output/anomaly_points",
        min_value=0.0,
        max_value=20.0,
    ),
    ParamSpec(
        "ground.camera_pitch_deg", 0.0, "camera pitch, positive = looking down (deg)", min_value=-45.0, max_value=45.0
    ),
    ParamSpec(
        "ground.camera_roll_deg", 0.0, "camera roll about its forward axis (deg)", min_value=-45.0, max_value=45.0
    ),
    ParamSpec(
        "ground.camera_x_m", 0.0, "camera position forward of the frame origin (m)", min_value=-50.0, max_value=50.0
    ),
    ParamSpec(
        "ground.camera_y_m", 0.0, "camera position left of the frame origin (m)", min_value=-50.0, max_value=50.0
    ),
    ParamSpec("ground.frame_id", VEHICLE_FRAME, "frame of the 3D outputs (x forward, y left, z up, z = 0 on the road)"),
    ParamSpec(
        "ground.max_range_m",
        50.0,
        "ground points farther than this are not published (m)",
        min_value=1.0,
        max_value=500.0,
    ),
    ParamSpec(
        "diagnostics.expected_fps",
        0.0,
        "WARN in /diagnostics when fewer frames per second are processed (the camera rate); 0 = no check",
        min_value=0.0,
        max_value=1000.0,
    ),
    ParamSpec(
        "diagnostics.max_transport_loss",
        0.2,
        "WARN when a larger share of the camera's frames is lost before reaching the node (DDS settings)",
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "diagnostics.stale_after_s",
        5.0,
        "ERROR when no frame arrived for this long while a camera publisher is matched",
        min_value=0.1,
        max_value=3600.0,
    ),
)

#: parameters ``ros2 param set`` may change while the node runs (validated by the same rules, applied from the next
#: frame); every other one is read-only and says so
TUNABLE: frozenset[str] = frozenset(
    {
        "anomaly.threshold",
        "segments.min_area_px",
        "segments.max_segments",
        "segments.meta_threshold",
        "segments.operating_point",
        "segments.region",
        "segments.region_dilation_px",
        "output.overlay_alpha",
        "ground.camera_height_m",
        "ground.camera_pitch_deg",
        "ground.camera_roll_deg",
        "ground.camera_x_m",
        "ground.camera_y_m",
        "ground.max_range_m",
    }
)
PARAMETERS = tuple(replace(spec, read_only=spec.name not in TUNABLE) for spec in PARAMETERS)
SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class ModelSection:
    """``model.*``."""

    onnx_path: str
    engine_path: str
    backend: str
    precision: str
    force_engine_update: bool
    build_only: bool

    @property
    def path(self) -> str:
        """The file handed to ``load_engine``: the explicit engine if given, else the ONNX."""
        return self.engine_path or self.onnx_path


@dataclass(frozen=True)
class ExecutionSection:
    """``execution.*``."""

    pipelined: bool


@dataclass(frozen=True)
class CamerasSection:
    """``cameras.*``: one node serving several cameras with one engine."""

    topics: tuple[str, ...]
    engine_sharing: str
    batch_wait_ms: float


@dataclass(frozen=True)
class InputSection:
    """``input.*``."""

    qos: str
    compressed: bool


@dataclass(frozen=True)
class SegmentsSection:
    """``segments.*``."""

    min_area_px: int
    max_segments: int
    meta_classifier_path: str
    meta_threshold: float
    operating_point: bool
    region: str
    region_dilation_px: int


@dataclass(frozen=True)
class OutputSection:
    """``output.*``."""

    resolution: str
    overlay_alpha: float
    qos: str = "reliable"
    #: topics (relative, ``output/...``) of ``NETWORK_RESOLUTION_TOPICS`` published at network resolution
    network_topics: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GroundSection:
    """``ground.*``: the camera's mounting over flat ground (height 0 = unknown: no 3D outputs)."""

    camera_height_m: float
    camera_pitch_deg: float
    camera_roll_deg: float
    camera_x_m: float
    camera_y_m: float
    frame_id: str
    max_range_m: float

    def mounting(self) -> Mounting | None:
        """The mounting, or None while ``camera_height_m`` is unset."""
        if self.camera_height_m <= 0:
            return None
        return Mounting(
            self.camera_height_m,
            self.camera_pitch_deg,
            self.camera_roll_deg,
            self.camera_x_m,
            self.camera_y_m,
            self.max_range_m,
        )


@dataclass(frozen=True)
class DiagnosticsSection:
    """``diagnostics.*``: what healthy looks like."""

    expected_fps: float
    max_transport_loss: float
    stale_after_s: float


@dataclass(frozen=True)
class NodeParams:
    """Validated node parameters (DESIGN.md §4)."""

    model: ModelSection
    execution: ExecutionSection
    cameras: CamerasSection
    input: InputSection
    anomaly_threshold: float
    segments: SegmentsSection
    output: OutputSection
    ground: GroundSection
    diagnostics: DiagnosticsSection
    #: names the user set (parameter file, command line, run-time tuning); the rest took their defaults
    given: frozenset[str] = field(default=frozenset(), compare=False)
    #: segments' threshold when it differs from the mask's (the meta classifier's operating point; see resolved)
    segment_threshold: float | None = None

    @classmethod
    def defaults(cls) -> dict[str, ParamValue]:
        """Flat ``{dotted.name: default}`` of every parameter."""
        return {spec.name: spec.default for spec in PARAMETERS}

    @classmethod
    def from_dict(
        cls, values: Mapping[str, Any], *, check_files: bool = True, given: Collection[str] | None = None
    ) -> NodeParams:
        """Validate a flat dict with dotted keys; missing keys take their defaults. ``given``: the names the user
        set (default: the keys of ``values``), which decides whether the model's operating point applies.

        Raises ConfigError naming the parameter for an unknown key, a wrong type, a value out of range
        or not among the choices, or (with ``check_files``) a file that does not exist.
        """
        merged = validate_values(PARAMETERS, values, check_files=check_files)
        if check_files and not (merged["model.onnx_path"] or merged["model.engine_path"]):
            raise ConfigError("parameter 'model.onnx_path' is empty (and so is 'model.engine_path'): no model to load")
        v: dict[str, Any] = merged
        return cls(
            model=ModelSection(
                onnx_path=v["model.onnx_path"],
                engine_path=v["model.engine_path"],
                backend=v["model.backend"],
                precision=v["model.precision"],
                force_engine_update=v["model.force_engine_update"],
                build_only=v["model.build_only"],
            ),
            execution=ExecutionSection(pipelined=v["execution.pipelined"]),
            cameras=CamerasSection(
                topics=_camera_topics(v["cameras.topics"]),
                engine_sharing=v["cameras.engine_sharing"],
                batch_wait_ms=v["cameras.batch_wait_ms"],
            ),
            input=InputSection(qos=v["input.qos"], compressed=v["input.compressed"]),
            anomaly_threshold=v["anomaly.threshold"],
            segments=SegmentsSection(
                min_area_px=v["segments.min_area_px"],
                max_segments=v["segments.max_segments"],
                meta_classifier_path=v["segments.meta_classifier_path"],
                meta_threshold=v["segments.meta_threshold"],
                operating_point=v["segments.operating_point"],
                region=v["segments.region"],
                region_dilation_px=v["segments.region_dilation_px"],
            ),
            output=OutputSection(
                resolution=v["output.resolution"],
                overlay_alpha=v["output.overlay_alpha"],
                qos=v["output.qos"],
                network_topics=network_topics(str(v["output.network_topics"])),
            ),
            ground=GroundSection(
                camera_height_m=v["ground.camera_height_m"],
                camera_pitch_deg=v["ground.camera_pitch_deg"],
                camera_roll_deg=v["ground.camera_roll_deg"],
                camera_x_m=v["ground.camera_x_m"],
                camera_y_m=v["ground.camera_y_m"],
                frame_id=v["ground.frame_id"],
                max_range_m=v["ground.max_range_m"],
            ),
            given=frozenset(values if given is None else given) & frozenset(SPECS),
            diagnostics=DiagnosticsSection(
                expected_fps=v["diagnostics.expected_fps"],
                max_transport_loss=v["diagnostics.max_transport_loss"],
                stale_after_s=v["diagnostics.stale_after_s"],
            ),
        )

    @classmethod
    def from_yaml(cls, path: str | Path, *, node_name: str | None = None, check_files: bool = True) -> NodeParams:
        """Read a ROS 2 parameter file (``/**: ros__parameters: {...}`` nested dicts) and validate it.

        Sections for ``/**`` and, if given, for ``node_name`` (with or without namespace / leading slash)
        are merged in file order; relative file paths stay relative to the working directory, as under ROS.
        """
        flat = read_ros_params_file(path, node_name=node_name)
        try:
            return cls.from_dict(flat, check_files=check_files)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def resolved(
        self,
        meta: MetaClassifier | None,
        model_threshold: float | None,
        model_operating_point: Mapping[str, Any] | None = None,
    ) -> NodeParams:
        """These values with what the model files decide: ``anomaly.threshold``, unless given, is the model's
        suggested threshold (``score_threshold`` in the ONNX metadata: pixel-F1-optimal on validation); the
        segment threshold is the meta classifier's operating point (chosen with it on validation: its JSON's, else
        the one ``export --meta`` wrote into the ONNX, whose meta threshold then applies unless
        ``segments.meta_threshold`` is given) while ``segments.operating_point`` is true, else ``anomaly.threshold``."""
        out = self
        if model_threshold is not None and "anomaly.threshold" not in self.given:
            out = replace(out, anomaly_threshold=float(model_threshold))
        if meta is None or not self.segments.operating_point:
            return replace(out, segment_threshold=None)
        if meta.score_threshold is not None:
            return replace(out, segment_threshold=meta.score_threshold)
        if model_operating_point is not None:
            out = replace(out, segment_threshold=float(model_operating_point["threshold"]))
            if "segments.meta_threshold" not in self.given:
                m = float(model_operating_point["meta_threshold"])
                out = replace(out, segments=replace(out.segments, meta_threshold=m))
            return out
        return replace(out, segment_threshold=None)

    def pipeline_config(self) -> PipelineConfig:
        """The pipeline's settings (threshold, segment rule, meta threshold, output resolution) from these values."""
        s = self.segments
        return PipelineConfig(
            threshold=self.anomaly_threshold,
            segment_threshold=self.segment_threshold,
            min_area_px=s.min_area_px,
            max_segments=s.max_segments,
            region=s.region,
            region_dilation_px=s.region_dilation_px,
            meta_threshold=s.meta_threshold,
            resolution=self.output.resolution,
        )

    def to_dict(self) -> dict[str, ParamValue]:
        """Flat ``{dotted.name: value}`` (the inverse of :meth:`from_dict`)."""
        out: dict[str, ParamValue] = {}
        for spec in PARAMETERS:
            group, _, leaf = spec.name.partition(".")
            out[spec.name] = self.anomaly_threshold if group == "anomaly" else getattr(getattr(self, group), leaf)
        out["cameras.topics"] = str(list(self.cameras.topics)) if self.cameras.topics else ""
        names = [t.rsplit("/", 1)[-1] for t in NETWORK_RESOLUTION_TOPICS if t in self.output.network_topics]
        out["output.network_topics"] = "[" + ", ".join(names) + "]"
        return out


def network_topics(text: str) -> frozenset[str]:
    """``"[overlay, semantic_color]"`` (YAML list; ``output/`` prefixes allowed) -> the relative output topics."""
    allowed = {t.rsplit("/", 1)[-1]: t for t in NETWORK_RESOLUTION_TOPICS}
    problem = f"parameter 'output.network_topics' must be a YAML list of {', '.join(allowed)}, got {text!r}"
    try:
        value = yaml.safe_load(text) if text.strip() else []
    except yaml.YAMLError:
        raise ConfigError(problem) from None
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if items is None or not all(isinstance(i, str) and i.removeprefix("output/") in allowed for i in items):
        raise ConfigError(problem)
    return frozenset(allowed[i.removeprefix("output/")] for i in items)


def _camera_topics(text: str) -> tuple[str, ...]:
    if not text.strip():
        return ()
    try:
        return tuple(camera_topics(text))
    except ValueError as exc:
        raise ConfigError(f"parameter 'cameras.topics': {exc}") from None
