"""Outlier pasting (AnomalyMix style) with randomly scaled negatives (Bevandić et al.).

The instance pixels of a filtered COCO image (or a synthetic obstacle) are rescaled so that they cover a
log-uniform random share of the image area, pasted at a random place, marked 1 in the outlier target and
void (255) in the inlier target, so the inlier loss never sees them. The result says exactly where it pasted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from training.augment import WorkerRng
from training.datasets.base import Sample
from training.datasets.coco import CocoOutliers


@dataclass(frozen=True)
class PasteParams:
    """``probability`` of pasting per image; ``area_range`` = (min, max) share of the image area the outlier covers."""

    probability: float = 0.2
    area_range: tuple[float, float] = (0.001, 0.1)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"paste.probability must be within [0, 1], got {self.probability}")
        lo, hi = self.area_range
        if not 0.0 < lo <= hi <= 1.0:
            raise ConfigError(f"paste.area_range must satisfy 0 < lo <= hi <= 1, got {self.area_range}")


@dataclass
class PasteResult:
    """The sample after pasting; ``mask`` (bool HxW) is True exactly on the pasted pixels (all False: no paste)."""

    sample: Sample
    mask: np.ndarray
    box_xyxy: tuple[int, int, int, int] | None

    @property
    def pasted(self) -> bool:
        return self.box_xyxy is not None


class OutlierSource(Protocol):
    """Something that draws outlier patches: ``(rgb HxWx3 uint8, mask HxW bool)``, mask non-empty."""

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]: ...


def crop_to_mask(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crop a patch to the bounding box of its mask."""
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return rgb[y : y + h, x : x + w], mask[y : y + h, x : x + w].astype(bool)


class CocoOutlierSource:
    """Random filtered COCO image, cropped to the union of its instances."""

    def __init__(self, dataset: CocoOutliers) -> None:
        self.dataset = dataset

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        sample = self.dataset[int(rng.integers(len(self.dataset)))]
        return crop_to_mask(sample.image, sample.mask)


class SyntheticOutlierSource:
    """Synthetic obstacle patches from :func:`anomaly_seg.synthetic.obstacle_patch` (for runs without COCO)."""

    def __init__(self, kinds: Sequence[str] | None = None, size_range: tuple[int, int] = (48, 160)) -> None:
        from anomaly_seg.synthetic.obstacles import TRAIN_OBSTACLE_KINDS

        self.kinds = tuple(kinds) if kinds else TRAIN_OBSTACLE_KINDS
        self.size_range = size_range

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        from anomaly_seg.synthetic.obstacles import obstacle_patch

        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        h, w = (int(v) for v in rng.integers(self.size_range[0], self.size_range[1] + 1, size=2))
        return crop_to_mask(*obstacle_patch(kind, h, w, rng))


def _resized_patch(
    rgb: np.ndarray, mask: np.ndarray, target_area: float, area_bounds: tuple[float, float], max_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Patch rescaled so its mask covers about ``target_area`` pixels, within ``area_bounds``, inside ``max_hw``."""
    ph, pw = mask.shape
    scale = math.sqrt(target_area / max(1, int(mask.sum())))
    out_rgb, out_mask = rgb, mask
    for _ in range(4):  # mask area is not exactly quadratic in the scale after rounding; refine a few times
        scale = min(scale, max_hw[0] / ph, max_hw[1] / pw)
        size = (max(1, min(max_hw[1], round(pw * scale))), max(1, min(max_hw[0], round(ph * scale))))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        out_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST_EXACT).astype(bool)
        out_rgb = cv2.resize(rgb, size, interpolation=interp)
        area = int(out_mask.sum())
        if area_bounds[0] <= area <= area_bounds[1] and abs(area - target_area) <= 0.05 * target_area:
            break
        scale *= math.sqrt(target_area / max(area, 1))
    return out_rgb, out_mask


def outlier_target(sample: Sample) -> np.ndarray:
    """The sample's outlier target; without one, 0 where the inlier target is known and 255 where it is void."""
    if sample.anomaly is not None:
        return sample.anomaly.copy()
    h, w = sample.image.shape[:2]
    if sample.train_ids is None:
        return np.zeros((h, w), dtype=np.uint8)
    return np.where(sample.train_ids == VOID, np.uint8(VOID), np.uint8(0))


def paste_outlier(
    sample: Sample,
    patch_rgb: np.ndarray,
    patch_mask: np.ndarray,
    rng: np.random.Generator,
    area_range: tuple[float, float] = (0.001, 0.1),
) -> PasteResult:
    """Paste the masked pixels of a patch, rescaled to a log-uniform share of the image area within ``area_range``.

    The outlier target (see :func:`outlier_target`) becomes 1 on the pasted pixels and ``train_ids`` becomes void
    there. The patch lands inside the bounding box of the pixels with a known target, so it never floats in the
    crop's padding. Nothing is pasted (``box_xyxy`` None) when the rescaled patch cannot meet the area bounds.
    """
    h, w = sample.image.shape[:2]
    anomaly = outlier_target(sample)
    known = (anomaly != VOID).astype(np.uint8)
    rx, ry, rw, rh = cv2.boundingRect(known) if known.any() else (0, 0, w, h)
    lo, hi = area_range
    bounds = (lo * h * w, hi * h * w)
    share = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    rgb, mask = _resized_patch(patch_rgb, patch_mask.astype(bool), share * h * w, bounds, (rh, rw))
    full = np.zeros((h, w), dtype=bool)
    if not bounds[0] <= int(mask.sum()) <= bounds[1]:
        return PasteResult(replace(sample, anomaly=anomaly), full, None)
    ph, pw = mask.shape
    y0 = ry + int(rng.integers(0, rh - ph + 1))
    x0 = rx + int(rng.integers(0, rw - pw + 1))
    full[y0 : y0 + ph, x0 : x0 + pw] = mask

    image = sample.image.copy()
    image[y0 : y0 + ph, x0 : x0 + pw][mask] = rgb[mask]
    anomaly[full] = 1
    train_ids = None
    if sample.train_ids is not None:
        train_ids = sample.train_ids.copy()
        train_ids[full] = VOID
    pasted = replace(sample, image=image, train_ids=train_ids, anomaly=anomaly)
    return PasteResult(pasted, full, (x0, y0, x0 + pw, y0 + ph))


class OutlierPaster:
    """Dataset transform: with probability ``params.probability`` paste one outlier from ``source``.

    Samples without a paste still get an ``anomaly`` target (0 inlier, 255 void) so batches stack.
    """

    def __init__(self, source: OutlierSource, params: PasteParams | None = None, seed: int = 0) -> None:
        self.source = source
        self.params = params or PasteParams()
        self.seed = seed
        self._rng = WorkerRng(seed + 1)

    @property
    def rng(self) -> np.random.Generator:
        """This process's generator (see :class:`~training.augment.WorkerRng`)."""
        return self._rng.get()

    def paste(self, sample: Sample, rng: np.random.Generator) -> PasteResult:
        """Maybe paste (probability ``params.probability``), reporting where."""
        if rng.random() < self.params.probability:
            rgb, mask = self.source.draw(rng)
            return paste_outlier(sample, rgb, mask, rng, self.params.area_range)
        return PasteResult(
            replace(sample, anomaly=outlier_target(sample)), np.zeros(sample.image.shape[:2], bool), None
        )

    def __call__(self, sample: Sample) -> Sample:
        return self.paste(sample, self.rng).sample


def whole_outlier_image(source: OutlierSource, size: tuple[int, int], rng: np.random.Generator, name: str) -> Sample:
    """A whole negative image of ``size`` (H, W): an outlier drawn from ``source`` (a COCO crop, a synthetic patch)
    resized to fill the frame, every pixel labelled outlier (``anomaly`` 1) and void for the inlier classes. The
    labels are noisy by design (Bevandic et al.): background around the object counts as negative too."""
    rgb, _ = source.draw(rng)
    h, w = size
    image = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    return Sample(image, f"{name}_whole_outlier", np.full((h, w), VOID, np.uint8), np.ones((h, w), np.uint8))
