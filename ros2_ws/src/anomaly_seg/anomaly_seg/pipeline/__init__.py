"""anomaly_seg.pipeline: camera frame -> engine -> anomaly mask, obstacle segments, meta classifier -> Result."""

from anomaly_seg.pipeline.pipeline import FrameBuffers, Pipeline, PipelineConfig
from anomaly_seg.pipeline.result import Obstacles, Result, Timings

__all__ = ["FrameBuffers", "Obstacles", "Pipeline", "PipelineConfig", "Result", "Timings"]
