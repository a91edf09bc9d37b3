"""Torch modules of the network: DINOv2 backbones, FPN decoder, inlier heads, UEM, scores and their assembly.

Importing this package imports torch; the runtime backends that need no torch never import it.
"""

from anomaly_seg.network.checkpoint import load_checkpoint, save_checkpoint
from anomaly_seg.network.config import ModelConfig
from anomaly_seg.network.dinov2 import DinoVisionTransformer, build_backbone
from anomaly_seg.network.model import AnomalySegmenter, RawOutputs, build_model, outputs_from_logits
from anomaly_seg.network.sliding import SlidingWindowSegmenter, sliding_window_inference
from anomaly_seg.network.state_dict import load_backbone_weights

__all__ = [
    "AnomalySegmenter",
    "DinoVisionTransformer",
    "ModelConfig",
    "RawOutputs",
    "SlidingWindowSegmenter",
    "build_backbone",
    "build_model",
    "load_backbone_weights",
    "load_checkpoint",
    "outputs_from_logits",
    "save_checkpoint",
    "sliding_window_inference",
]
