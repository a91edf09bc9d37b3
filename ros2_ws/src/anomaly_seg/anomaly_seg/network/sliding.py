"""Sliding-window inference inside the graph, for a fixed camera size.

``SlidingWindowSegmenter`` takes the whole camera image (uint8 ``[B, H, W, 3]``), cuts windows of the network size
with static slices (the image is zero-padded after normalisation when it is smaller than a window), runs ONE
batched network call, stitches class and UEM logits by averaging (precomputed count map) and only then takes
argmax / LLR. It returns the same three outputs as :class:`AnomalySegmenter`, so one ONNX/TensorRT contract
serves both modes (input = network size for full frame, camera size for sliding window).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from anomaly_seg.network.model import AnomalySegmenter, outputs_from_logits


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets covering ``[0, length)``; the last window ends exactly at ``length`` (one window if it fits)."""
    if length <= window:
        return [0]
    n = math.ceil((length - window) / stride) + 1
    return [min(i * stride, length - window) for i in range(n)]


def _pad_bottom_right(x: Tensor, height: int, width: int) -> Tensor:
    """Zero-pad ``[B, C, H, W]`` to ``height x width`` with Concat (ONNX Pad has no opset 18 -> 17 adapter)."""
    B, C, H, W = x.shape
    if width > W:
        x = torch.cat((x, x.new_zeros(B, C, H, width - W)), dim=3)
    if height > H:
        x = torch.cat((x, x.new_zeros(B, C, height - H, width)), dim=2)
    return x


class SlidingWindowSegmenter(nn.Module):
    """Windows of ``window`` (default: the model's network size) every ``stride`` px over ``image_size`` inputs.

    For export keep ``window`` equal to the network size (the positional embeddings are stored for it).
    """

    def __init__(
        self,
        model: AnomalySegmenter,
        image_size: tuple[int, int],
        window: tuple[int, int] | None = None,
        stride: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.image_size = image_size
        self.window = window or model.input_size
        self.stride = stride or model.config.sliding.stride
        wh, ww = self.window
        self.padded_size = (max(image_size[0], wh), max(image_size[1], ww))
        self.rows = window_starts(self.padded_size[0], wh, self.stride[0])
        self.cols = window_starts(self.padded_size[1], ww, self.stride[1])
        count = torch.zeros(1, 1, *self.padded_size)
        for y in self.rows:
            for x in self.cols:
                count[..., y : y + wh, x : x + ww] += 1
        self.register_buffer("inverse_count", count.reciprocal(), persistent=False)
        self.train(model.training)

    inverse_count: Tensor

    @property
    def num_windows(self) -> int:
        """Windows per image (the batch of the single network call, per image)."""
        return len(self.rows) * len(self.cols)

    def stitched_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """uint8 ``[B, H, W, 3]`` -> averaged (class logits [B, K, H, W], UEM logits [B, 2, H, W])."""
        B, H, W, _ = images.shape
        wh, ww = self.window
        Hp, Wp = self.padded_size
        x = _pad_bottom_right(self.model.normalize(images), Hp, Wp)  # zeros = the mean colour
        windows = torch.cat([x[:, :, y : y + wh, c : c + ww] for y in self.rows for c in self.cols], dim=0)
        class_logits, uem_logits = self.model.logits(windows)
        K = class_logits.shape[1]
        canvas = torch.zeros(B, K + uem_logits.shape[1], Hp, Wp, dtype=class_logits.dtype, device=x.device)
        for i, (y, c) in enumerate((y, c) for y in self.rows for c in self.cols):
            sl = slice(i * B, (i + 1) * B)
            win = torch.cat(
                (
                    F.interpolate(class_logits[sl], size=self.window, mode="bilinear", align_corners=False),
                    F.interpolate(uem_logits[sl], size=self.window, mode="bilinear", align_corners=False),
                ),
                dim=1,
            )
            # In-place add on an internal buffer (not an input): exports as a static slice update.
            canvas[:, :, y : y + wh, c : c + ww] += win
        canvas = (canvas * self.inverse_count.to(canvas.dtype))[:, :, :H, :W]
        return canvas[:, :K], canvas[:, K:]

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """uint8 ``[B, H, W, 3]`` at :attr:`image_size` -> ``semantic``, ``anomaly_score``, ``uncertainty``."""
        class_logits, uem_logits = self.stitched_logits(images)
        return outputs_from_logits(class_logits, uem_logits, score=self.model.config.score)


def sliding_window_inference(
    model: AnomalySegmenter, images: Tensor, stride: tuple[int, int] | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Eager sliding-window outputs for uint8 ``[B, H, W, 3]`` of any size (windows of the network size)."""
    segmenter = SlidingWindowSegmenter(model, (images.shape[1], images.shape[2]), stride=stride)
    return segmenter.to(images.device)(images)  # type: ignore[no-any-return]
