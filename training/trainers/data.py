"""Training and validation data: synthetic scenes or Cityscapes, per-sample deterministic augmentation and pasting.

Every random draw of a training sample comes from ``np.random.default_rng([seed, epoch, index])``, so a sample is
the same whatever the number of DataLoader workers or DDP processes, and a resumed run sees the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import islice

import numpy as np
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from anomaly_seg.network import ModelConfig
from training.augment import AugmentParams, augment
from training.config import DataConfig, OutlierConfig, TrainConfig
from training.datasets.base import Sample, collate_samples, resize_image
from training.pasting import OutlierPaster, OutlierSource, PasteParams

#: Seed offsets keep the synthetic train, validation and test scenes disjoint.
TRAIN_SEED, VAL_SEED, TEST_SEED = 0, 1_000_000, 2_000_000


class SyntheticScenes(Dataset[Sample]):
    """``n`` generated road scenes (seeds ``seed_offset + i``); inlier-only unless ``kinds`` and ``n_obstacles``.

    Scenes are cached after the first access (per process) when ``cache`` is set.
    """

    def __init__(
        self,
        n: int,
        size: tuple[int, int],
        seed_offset: int,
        *,
        kinds: tuple[str, ...] = (),
        n_obstacles: tuple[int, int] = (0, 0),
        cache: bool = True,
    ) -> None:
        self.n, self.size, self.seed_offset = n, size, seed_offset
        self.kinds, self.n_obstacles = kinds, n_obstacles if kinds else (0, 0)
        self.cache: dict[int, Sample] | None = {} if cache else None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Sample:
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        from anomaly_seg.synthetic.scene import generate_scene

        seed = self.seed_offset + index
        scene = generate_scene(*self.size, seed, obstacle_kinds=self.kinds, n_obstacles=self.n_obstacles)
        sample = Sample(scene.image, f"synthetic_{seed:07d}", scene.train_ids, scene.anomaly)
        if self.cache is not None:
            self.cache[index] = sample
        return sample


class TrainSamples(Dataset[Sample]):
    """Augmented (scale, crop to the network size, flip, jitter) and optionally outlier-pasted samples."""

    def __init__(
        self,
        base: Dataset[Sample],
        params: AugmentParams,
        paster: OutlierPaster | None = None,
        seed: int = 0,
        whole_image_probability: float = 0.0,
    ) -> None:
        self.base, self.params, self.paster, self.seed = base, params, paster, seed
        self.whole_image_probability = whole_image_probability if paster is not None else 0.0
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.whole_image_probability and rng.random() < self.whole_image_probability:
            from training.pasting import whole_outlier_image

            assert self.paster is not None
            return whole_outlier_image(self.paster.source, self.params.crop_size, rng, f"{index:07d}")
        sample = self.base[index]
        present = [t for t in (sample.train_ids, sample.anomaly) if t is not None]
        image, out = augment(sample.image, present, rng, self.params)
        train_ids = out.pop(0) if sample.train_ids is not None else None
        anomaly = out.pop(0) if sample.anomaly is not None else None
        sample = replace(sample, image=image, train_ids=train_ids, anomaly=anomaly)
        return self.paster.paste(sample, rng).sample if self.paster is not None else sample


class EvalSamples(Dataset[Sample]):
    """Validation samples: optional outlier pasting (fixed per index), image resized to the network size.

    Targets stay at their own resolution; the evaluator upsamples logits to them.
    """

    def __init__(
        self, base: Dataset[Sample], size: tuple[int, int], paster: OutlierPaster | None = None, seed: int = 0
    ) -> None:
        self.base, self.size, self.paster, self.seed = base, size, paster, seed

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Sample:
        sample = self.base[index]
        if self.paster is not None:
            sample = self.paster.paste(sample, np.random.default_rng([self.seed, index])).sample
        return replace(sample, image=resize_image(sample.image, self.size))


def outlier_source(config: OutlierConfig, split: str = "train") -> OutlierSource:
    """Synthetic TRAIN-kind patches or filtered COCO instances (``train2017`` / ``val2017`` by ``split``)."""
    from training.pasting import CocoOutlierSource, SyntheticOutlierSource

    if config.source == "coco":
        from training.datasets.coco import CocoOutliers

        assert config.coco_root is not None
        return CocoOutlierSource(CocoOutliers(config.coco_root, "train2017" if split == "train" else "val2017"))
    return SyntheticOutlierSource(config.kinds, config.patch_size_range)


def _paster(config: OutlierConfig, probability: float, split: str, seed: int) -> OutlierPaster:
    params = PasteParams(probability=probability, area_range=config.area_range)
    return OutlierPaster(outlier_source(config, split), params, seed)


def base_dataset(config: TrainConfig, model: ModelConfig, split: str) -> Dataset[Sample]:
    """Un-augmented inlier images of ``split`` (``train`` or ``val``)."""
    data = config.data
    if data.dataset == "cityscapes":
        from training.datasets.cityscapes import Cityscapes

        assert data.root is not None
        return Cityscapes(data.root, data.train_split if split == "train" else data.val_split)
    size = data.scene_size or model.input.size
    n = data.synthetic_train if split == "train" else data.synthetic_val
    return SyntheticScenes(n, size, config.seed + (TRAIN_SEED if split == "train" else VAL_SEED))


def train_dataset(config: TrainConfig, model: ModelConfig) -> TrainSamples:
    """Training samples of the recipe's stage (stage 2: with pasted outliers; stage 1: with pasted void outliers
    when ``outliers.stage1_probability`` > 0)."""
    data = config.data
    params = AugmentParams(
        crop_size=model.input.size,
        scale_range=data.scale_range,
        hflip_prob=data.hflip_prob,
        jitter_prob=data.jitter_prob,
    )
    paster = None
    probability = config.outliers.probability if config.stage == 2 else config.outliers.stage1_probability
    if probability > 0:
        paster = _paster(config.outliers, probability, "train", config.seed)
    whole = config.outliers.whole_image_probability if config.stage == 2 else 0.0
    return TrainSamples(base_dataset(config, model, "train"), params, paster, config.seed, whole)


def val_dataset(config: TrainConfig, model: ModelConfig) -> EvalSamples:
    """Model-selection set: held-out inlier images (stage 1), the same with pasted TRAIN-kind outliers (stage 2)."""
    base = base_dataset(config, model, "val")
    if config.data.val_max_images is not None and config.data.val_max_images < len(base):  # type: ignore[arg-type]
        from torch.utils.data import Subset

        base = Subset(base, range(config.data.val_max_images))
    paster = None
    if config.stage == 2:
        paster = _paster(config.outliers, config.outliers.val_probability, "val", config.seed + 7)
    return EvalSamples(base, model.input.size, paster, config.seed + 7)


class ResumableSampler(DistributedSampler[int]):
    """DistributedSampler (shuffled per epoch, this rank's share) that can start ``start`` samples into the epoch."""

    start = 0

    def __iter__(self) -> Iterator[int]:
        return islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return super().__len__() - self.start


def micro_batch_size(data: DataConfig, accumulate: int, world_size: int) -> int:
    """Per-process micro-batch: the global batch split over processes and accumulation steps."""
    from anomaly_seg.errors import ConfigError

    parts = accumulate * world_size
    if data.batch_size % parts:
        raise ConfigError(
            f"data.batch_size: {data.batch_size} is not divisible by optim.accumulate x processes = {parts}"
        )
    return data.batch_size // parts


def make_loader(
    dataset: Dataset[Sample], batch_size: int, num_workers: int, sampler: DistributedSampler[int] | None = None
) -> DataLoader[Sample]:
    """DataLoader that stacks samples with :func:`collate_samples` (drops the last partial batch when sampling)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_samples,
        drop_last=sampler is not None,
        persistent_workers=False,
    )
