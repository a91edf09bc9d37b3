"""Sliding-window segmenter: window grid, any frame size (padding), stitching by averaging, one network call."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from anomaly_seg.network import scores
from anomaly_seg.network.config import InputConfig, ModelConfig
from anomaly_seg.network.model import AnomalySegmenter, build_model
from anomaly_seg.network.sliding import SlidingWindowSegmenter, sliding_window_inference, window_starts

TINY = Path(__file__).resolve().parents[2] / "models" / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def model() -> AnomalySegmenter:
    torch.manual_seed(0)
    return build_model(ModelConfig.from_yaml(TINY)).eval()


def frame(size: tuple[int, int], batch: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (batch, *size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_window_starts_cover_the_frame_like_the_reference() -> None:
    rows, cols = window_starts(1024, 518, 140), window_starts(2048, 1036, 140)
    assert len(rows) * len(cols) == 45  # the reference: 45 windows of 518x1036 on a Cityscapes frame
    assert rows[0] == 0 and rows[-1] == 1024 - 518 and cols[-1] == 2048 - 1036
    assert all(b - a <= 140 for a, b in itertools.pairwise(rows))
    assert window_starts(300, 518, 140) == [0] and window_starts(518, 518, 140) == [0]


@pytest.mark.parametrize("length", [1024, 1078, 1100, 518, 658, 2048])
def test_window_starts_equal_the_released_code_where_it_covers_the_frame(length: int) -> None:
    """The released UEM code: starts ``range(0, L - w, s)`` plus ``L - w`` when ``(L - w) % s``. It leaves the
    last rows uncovered (NaN) when ``(L - w) % s == 0`` (1078, 658) or ``L == w``; ours ends a window there."""
    w, s = 518, 140
    official = list(range(0, length - w, s)) + ([length - w] if (length - w) % s else [])
    ours = window_starts(length, w, s)
    if (length - w) % s:
        assert ours == official
    else:
        assert ours == [*official, length - w]
    assert ours[-1] + w == length and all(b - a <= s for a, b in itertools.pairwise(ours))


@pytest.mark.parametrize(
    ("size", "stride"),
    [
        ((1024, 2048), (112, 224)),
        ((720, 1280), (56, 112)),
        ((518, 1036), (56, 112)),
        ((300, 400), (56, 112)),
        ((60, 100), (56, 112)),
    ],
)
def test_any_frame_size_gives_finite_outputs_of_that_size(
    model: AnomalySegmenter, size: tuple[int, int], stride: tuple[int, int]
) -> None:
    segmenter = SlidingWindowSegmenter(model, size, stride=stride)
    with torch.no_grad():
        semantic, score, uncertainty = segmenter(frame(size))
    assert semantic.shape == (1, *size) and semantic.dtype == torch.uint8
    assert score.shape == (1, *size) and uncertainty.shape == (1, 3, *size)
    assert torch.isfinite(score).all() and torch.isfinite(uncertainty).all()
    assert torch.isfinite(segmenter.inverse_count).all()


def test_one_window_equals_full_frame(model: AnomalySegmenter) -> None:
    x = frame((112, 224), batch=2)
    with torch.no_grad():
        full = model(x)
        sliding = SlidingWindowSegmenter(model, (112, 224))(x)
    assert torch.equal(full[0], sliding[0])
    for a, b in zip(full[1:], sliding[1:]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)  # only the reduction order over a strided view differs


def test_stitching_averages_upsampled_window_logits(model: AnomalySegmenter) -> None:
    size, stride = (140, 300), (28, 76)
    x = frame(size)
    segmenter = SlidingWindowSegmenter(model, size, stride=stride)
    with torch.no_grad():
        cls, uem = segmenter.stitched_logits(x)
        # Reference: every window through the model separately, averaged with an explicit count.
        acc_c, acc_u, count = torch.zeros(1, 19, *size), torch.zeros(1, 2, *size), torch.zeros(1, 1, *size)
        for y in segmenter.rows:
            for c in segmenter.cols:
                win = model.normalize(x[:, y : y + 112, c : c + 224])
                wc, wu = model.logits(win)
                acc_c[..., y : y + 112, c : c + 224] += F.interpolate(wc, size=(112, 224), mode="bilinear")
                acc_u[..., y : y + 112, c : c + 224] += F.interpolate(wu, size=(112, 224), mode="bilinear")
                count[..., y : y + 112, c : c + 224] += 1
        semantic, score, _ = segmenter(x)
    assert segmenter.num_windows == len(window_starts(140, 112, 28)) * len(window_starts(300, 224, 76)) == 4
    torch.testing.assert_close(cls, acc_c / count, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(uem, acc_u / count, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(score, scores.llr(acc_c / count, acc_u / count), rtol=1e-4, atol=1e-4)
    assert (semantic == (acc_c / count).argmax(1)).float().mean() > 0.999


def test_windows_go_through_one_batched_network_call(model: AnomalySegmenter, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    original = model.logits
    monkeypatch.setattr(model, "logits", lambda x: batches.append(x.shape[0]) or original(x))
    segmenter = SlidingWindowSegmenter(model, (200, 400), stride=(56, 112))
    with torch.no_grad():
        segmenter(frame((200, 400), batch=2))
    assert batches == [2 * segmenter.num_windows]


def test_padding_keeps_the_image_content_in_place(model: AnomalySegmenter) -> None:
    x = frame((100, 200))  # smaller than the 112x224 window: padded with the mean colour
    padded = torch.zeros(1, 112, 224, 3)
    padded[:, :100, :200] = x.float()
    padded[:, 100:, :] = torch.tensor([0.485, 0.456, 0.406]) * 255
    padded[:, :, 200:] = torch.tensor([0.485, 0.456, 0.406]) * 255
    with torch.no_grad():
        _, score, _ = sliding_window_inference(model, x)
        _, full_score, _ = model(padded)
    torch.testing.assert_close(score, full_score[:, :100, :200], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_tiny_model_at_real_window_and_camera_sizes() -> None:
    torch.manual_seed(0)
    config = ModelConfig.from_yaml(TINY)
    config = replace(config, input=InputConfig(size=(520, 1040)))  # about 518x1036 in multiples of the 8 px patch
    model = build_model(config).eval()
    segmenter = SlidingWindowSegmenter(model, (1024, 2048), stride=(506, 1012))
    with torch.no_grad():
        semantic, score, uncertainty = segmenter(frame((1024, 2048)))
    assert segmenter.num_windows == 4
    assert semantic.shape == (1, 1024, 2048) and uncertainty.shape == (1, 3, 1024, 2048)
    assert torch.isfinite(score).all() and torch.isfinite(uncertainty).all()
