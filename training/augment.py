"""Training augmentation on numpy arrays: random scale, crop (with padding), horizontal flip, colour jitter.

Every function takes an explicit ``np.random.Generator`` so a run is reproducible from its seed. Images are
resampled bilinearly (area-averaged when shrinking), label maps with exact nearest neighbour, so targets never
get values that were not in them; padding is 0 in the image and void (255) in the targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import VOID
from training.datasets.base import Sample


@dataclass(frozen=True)
class AugmentParams:
    """Augmentation settings; ``crop_size`` is (height, width); jitter strengths follow torchvision's ColorJitter."""

    crop_size: tuple[int, int] = (518, 1036)
    scale_range: tuple[float, float] = (0.5, 2.0)
    hflip_prob: float = 0.5
    jitter_prob: float = 0.8
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    hue: float = 0.05

    def __post_init__(self) -> None:
        if min(self.crop_size) < 1:
            raise ConfigError(f"augment.crop_size must be positive (height, width), got {self.crop_size}")
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ConfigError(f"augment.scale_range must satisfy 0 < lo <= hi, got {self.scale_range}")
        for key in ("hflip_prob", "jitter_prob"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"augment.{key} must be within [0, 1], got {getattr(self, key)}")
        for key in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ConfigError(f"augment.{key} must be within [0, 1), got {getattr(self, key)}")
        if not 0.0 <= self.hue <= 0.5:
            raise ConfigError(f"augment.hue must be within [0, 0.5], got {self.hue}")


def rescale(image: np.ndarray, targets: Sequence[np.ndarray], factor: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Resize image and targets by ``factor`` (at least 1 pixel per side)."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp), [
        cv2.resize(t, size, interpolation=cv2.INTER_NEAREST_EXACT) for t in targets
    ]


def random_crop(
    image: np.ndarray, targets: Sequence[np.ndarray], size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Crop ``size = (height, width)`` at a uniform random place, padding bottom/right first when smaller."""
    ch, cw = size
    h, w = image.shape[:2]
    pad_h, pad_w = max(0, ch - h), max(0, cw - w)
    if pad_h or pad_w:
        border = cv2.BORDER_CONSTANT
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, border, value=(0, 0, 0))
        targets = [cv2.copyMakeBorder(t, 0, pad_h, 0, pad_w, border, value=VOID) for t in targets]
        h, w = image.shape[:2]
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    window = (slice(y0, y0 + ch), slice(x0, x0 + cw))
    return np.ascontiguousarray(image[window]), [np.ascontiguousarray(t[window]) for t in targets]


def hflip(image: np.ndarray, targets: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mirror image and targets left-right."""
    return cv2.flip(image, 1), [cv2.flip(t, 1) for t in targets]


def color_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.25,
    contrast: float = 0.25,
    saturation: float = 0.25,
    hue: float = 0.05,
) -> np.ndarray:
    """Brightness, contrast, saturation (factors in [1 - x, 1 + x]) and hue shift (fraction of the colour circle
    in [-hue, hue]) applied in random order, as torchvision's ColorJitter does, on an RGB uint8 image."""
    img = image.astype(np.float32)
    for op in rng.permutation(4):
        if op == 0 and brightness:
            img = np.clip(img * rng.uniform(1 - brightness, 1 + brightness), 0, 255)
        elif op == 1 and contrast:
            mean = float(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).mean())
            img = np.clip((img - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean, 0, 255)
        elif op == 2 and saturation:
            gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None]
            img = np.clip((img - gray) * rng.uniform(1 - saturation, 1 + saturation) + gray, 0, 255)
        elif op == 3 and hue:
            hsv = cv2.cvtColor(img / 255.0, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360)
            hsv[..., 0] = np.mod(hsv[..., 0] + 360.0 * rng.uniform(-hue, hue), 360.0)
            img = np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0, 0, 255)
    return np.rint(img).astype(np.uint8)


def augment(
    image: np.ndarray, targets: Sequence[np.ndarray], rng: np.random.Generator, params: AugmentParams
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Random scale, crop to ``params.crop_size``, flip and colour jitter; targets follow the geometry only."""
    image, out = rescale(image, targets, float(rng.uniform(*params.scale_range)))
    image, out = random_crop(image, out, params.crop_size, rng)
    if rng.random() < params.hflip_prob:
        image, out = hflip(image, out)
    if rng.random() < params.jitter_prob:
        image = color_jitter(image, rng, params.brightness, params.contrast, params.saturation, params.hue)
    return image, out


class WorkerRng:
    """A generator per DataLoader worker: ``seed`` in the main process, ``[seed, worker seed]`` in a worker, so
    workers (and epochs, whose worker seeds torch draws anew) never repeat each other's draws. Re-created when the
    owning transform lands in a new worker."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng: np.random.Generator | None = None
        self._worker_key: object = None

    def get(self) -> np.random.Generator:
        """This process's generator."""
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        key = None if info is None else (info.id, info.seed)
        if self._rng is None or key != self._worker_key:
            self._rng = np.random.default_rng(self.seed if info is None else [self.seed, info.seed])
            self._worker_key = key
        return self._rng


class Augment:
    """Dataset transform: :func:`augment` on a :class:`Sample` and its ``train_ids`` / ``anomaly`` targets."""

    def __init__(self, params: AugmentParams | None = None, seed: int = 0) -> None:
        self.params = params or AugmentParams()
        self.seed = seed
        self._rng = WorkerRng(seed)

    @property
    def rng(self) -> np.random.Generator:
        """This process's generator (see :class:`WorkerRng`)."""
        return self._rng.get()

    def __call__(self, sample: Sample) -> Sample:
        present = [t for t in (sample.train_ids, sample.anomaly) if t is not None]
        image, out = augment(sample.image, present, self.rng, self.params)
        train_ids = out.pop(0) if sample.train_ids is not None else None
        anomaly = out.pop(0) if sample.anomaly is not None else None
        return replace(sample, image=image, train_ids=train_ids, anomaly=anomaly)
