"""Obstacle segments: threshold the anomaly score, optionally restrict to a region, 8-connected components.

Everything after the connected-component pass works on the list of anomalous pixels (a few percent of a
frame), never on full-image label look-ups, so the cost stays close to one threshold + one labelling pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import NUM_CLASSES
from anomaly_seg.vocabulary import REGION_ROAD, REGIONS, ROAD_DILATION_PX, ROAD_TRAIN_IDS


@dataclass(frozen=True)
class SegmentParams:
    """How pixel scores become segments.

    ``threshold``: a pixel is anomalous where ``score >= threshold``. ``min_area_px``: smaller components are
    removed. ``max_segments``: cap per frame; the largest segments are kept (ties: raster order), the rest are
    counted in :attr:`Segments.dropped_over_cap`. ``region``: trainIds of the predicted semantic map that
    anomalous pixels must lie in (``None`` = everything), grown by ``region_dilation_px`` pixels (square kernel,
    i.e. Chebyshev distance) so that obstacles standing on the road, predicted as another class, stay inside.
    """

    threshold: float
    min_area_px: int = 0
    max_segments: int = 64
    region: tuple[int, ...] | None = None
    region_dilation_px: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, int | float) or not math.isfinite(self.threshold):
            raise ConfigError(f"segments: threshold must be a finite number, got {self.threshold!r}")
        for key in ("min_area_px", "max_segments", "region_dilation_px"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ConfigError(f"segments: {key} must be an integer >= 0, got {value!r}")
        if self.max_segments < 1 or self.max_segments > np.iinfo(np.uint16).max:
            raise ConfigError(f"segments: max_segments must be in 1..65535, got {self.max_segments!r}")
        if self.region is not None:
            bad = [c for c in self.region if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < NUM_CLASSES]
            if bad or not self.region:
                raise ConfigError(
                    f"segments: region must be a non-empty list of trainIds 0..{NUM_CLASSES - 1}, "
                    f"got {list(self.region)!r}"
                )

    @classmethod
    def for_region(
        cls,
        region: str,
        *,
        threshold: float,
        min_area_px: int = 0,
        max_segments: int = 64,
        region_dilation_px: int = ROAD_DILATION_PX,
    ) -> SegmentParams:
        """The rule for a named region (:data:`~anomaly_seg.vocabulary.REGIONS`): ``road`` = road + sidewalk grown
        by ``region_dilation_px``, ``all`` = anywhere (no dilation)."""
        if region not in REGIONS:
            raise ConfigError(f"segments: region must be one of {'|'.join(REGIONS)}, got {region!r}")
        road = region == REGION_ROAD
        return cls(
            threshold=threshold,
            min_area_px=min_area_px,
            max_segments=max_segments,
            region=ROAD_TRAIN_IDS if road else None,
            region_dilation_px=region_dilation_px if road else 0,
        )


@dataclass(frozen=True)
class Segments:
    """Connected anomalous regions of one frame.

    ``ids``: uint16 ``HxW``, 0 = no segment, segments numbered ``1..count`` in raster order of their first pixel.
    ``areas`` int64 ``[N]``; ``boxes_xyxy`` int32 ``[N, 4]`` as ``(x0, y0, x1, y1)`` in pixels with ``x1``/``y1``
    **exclusive** (width = x1 - x0); ``centroids`` float64 ``[N, 2]`` as ``(x, y)`` pixel coordinates. Row ``i``
    describes segment id ``i + 1``. ``removed_small``: components below ``min_area_px``; ``dropped_over_cap``:
    components above the area limit that the ``max_segments`` cap removed. ``pixel_index``: int64 flat indices of
    all segment pixels grouped by id (id 1 first; ``areas`` are the group lengths), raster order inside a group; a
    cache so that features never scan the full frame again.
    """

    ids: np.ndarray
    count: int
    areas: np.ndarray
    boxes_xyxy: np.ndarray
    centroids: np.ndarray
    dropped_over_cap: int = 0
    removed_small: int = 0
    pixel_index: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the label image."""
        return int(self.ids.shape[0]), int(self.ids.shape[1])

    @classmethod
    def empty(cls, height: int, width: int) -> Segments:
        """A frame without segments."""
        return _pack(np.zeros((height, width), np.uint16), np.zeros(0, np.int64), np.zeros(0, np.int64))

    @classmethod
    def from_ids(cls, ids: np.ndarray) -> Segments:
        """Segments of an existing id image (every id ``1..N`` must be present; 0 = none; segments may touch)."""
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype != np.uint16:
            raise ValueError(f"segment ids must be a uint16 HxW image, got {ids.dtype} {ids.shape}")
        index = np.flatnonzero(ids)
        labels = ids.ravel()[index]
        areas = np.bincount(labels)[1:]
        if (areas == 0).any():
            raise ValueError(f"segment ids must be consecutive from 1; missing {np.flatnonzero(areas == 0) + 1}")
        return _pack(ids, index[np.argsort(labels, kind="stable")], areas.astype(np.int64))

    def select(self, keep: np.ndarray) -> Segments:
        """The segments where ``keep`` (bool ``[N]``) is true, renumbered ``1..M`` in their previous order."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.count,):
            raise ValueError(f"keep must have shape ({self.count},), got {keep.shape}")
        index = pixel_lists(self)
        starts = np.concatenate(([0], np.cumsum(self.areas)[:-1])).astype(np.int64)
        kept = _gather_runs(index, starts[keep], self.areas[keep])
        ids = np.zeros_like(self.ids)
        ids.ravel()[kept] = np.repeat(np.arange(1, int(keep.sum()) + 1, dtype=np.uint16), self.areas[keep])
        return Segments(
            ids,
            int(keep.sum()),
            self.areas[keep],
            self.boxes_xyxy[keep],
            self.centroids[keep],
            self.dropped_over_cap,
            self.removed_small,
            kept,
        )


def pixel_lists(segments: Segments) -> np.ndarray:
    """Flat indices of all segment pixels grouped by id (see :attr:`Segments.pixel_index`)."""
    if segments.pixel_index is not None:
        return segments.pixel_index
    return Segments.from_ids(segments.ids).pixel_index  # type: ignore[return-value]


def _gather_runs(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``values[s : s + n]`` for each ``(s, n)``, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return values[:0]
    offsets = np.cumsum(lengths) - lengths
    return values[np.repeat(starts - offsets, lengths) + np.arange(total)]


def region_mask(semantic: np.ndarray, train_ids: tuple[int, ...], dilation_px: int = 0) -> np.ndarray:
    """uint8 ``HxW`` mask (1 inside): pixels predicted as one of ``train_ids``, grown by ``dilation_px``."""
    lut = np.zeros(256, np.uint8)
    lut[list(train_ids)] = 1
    mask: np.ndarray = cv2.LUT(np.ascontiguousarray(semantic, dtype=np.uint8), lut)
    if dilation_px > 0:
        size = 2 * dilation_px + 1
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    return mask


def anomaly_mask(score: np.ndarray, semantic: np.ndarray | None, params: SegmentParams) -> np.ndarray:
    """Bool ``HxW``: ``score >= threshold`` inside the region (NaN scores are never anomalous)."""
    mask: np.ndarray = np.asarray(score) >= params.threshold
    if params.region is not None:
        if semantic is None:
            raise ValueError("a semantic map is needed when SegmentParams.region is set")
        mask &= region_mask(semantic, params.region, params.region_dilation_px).view(bool)
    return mask


def _connected_components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """8-connected components (OpenCV, BBDT); 16-bit labels unless a noisy mask overflows them."""
    u8 = mask.view(np.uint8)
    try:
        n, labels = cv2.connectedComponentsWithAlgorithm(u8, 8, cv2.CV_16U, cv2.CCL_GRANA)
    except cv2.error:
        n, labels = cv2.connectedComponentsWithAlgorithm(u8, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return int(n), labels


def extract_segments(score: np.ndarray, semantic: np.ndarray | None, params: SegmentParams) -> Segments:
    """Obstacle segments of one frame: threshold, region, 8-connected components, min area, cap, relabel.

    ``score``: float ``HxW`` anomaly score (higher = more anomalous); ``semantic``: uint8 ``HxW`` trainIds (only
    read when ``params.region`` is set). Only the labelling pass touches every pixel; the rest works on the list
    of anomalous pixels.
    """
    score = np.asarray(score)
    if score.ndim != 2:
        raise ValueError(f"score must be HxW, got shape {score.shape}")
    if semantic is not None and np.shape(semantic) != score.shape:
        raise ValueError(f"semantic shape {np.shape(semantic)} does not match score shape {score.shape}")
    height, width = score.shape
    mask = np.ascontiguousarray(anomaly_mask(score, semantic, params))
    n, cc_labels = _connected_components(mask)
    if n <= 1:
        return Segments.empty(height, width)
    index = np.flatnonzero(mask)
    labels = cc_labels.ravel()[index]
    order = np.argsort(labels, kind="stable")  # radix sort for 16-bit labels
    index = index[order]
    areas = np.bincount(labels, minlength=n)[1:].astype(np.int64)
    starts = np.cumsum(areas) - areas
    first = index[starts]  # raster position of each component's first pixel
    candidates = np.flatnonzero(areas >= params.min_area_px)
    removed_small = n - 1 - candidates.size
    dropped = max(0, candidates.size - params.max_segments)
    if dropped:
        by_size = np.lexsort((first[candidates], -areas[candidates]))
        candidates = candidates[by_size[: params.max_segments]]
    kept = candidates[np.argsort(first[candidates], kind="stable")]
    index = _gather_runs(index, starts[kept], areas[kept])
    ids = np.zeros((height, width), np.uint16)
    ids.ravel()[index] = np.repeat(np.arange(1, kept.size + 1, dtype=np.uint16), areas[kept])
    return _pack(ids, index, areas[kept], dropped_over_cap=dropped, removed_small=removed_small)


def _pack(
    ids: np.ndarray, index: np.ndarray, areas: np.ndarray, *, dropped_over_cap: int = 0, removed_small: int = 0
) -> Segments:
    """Boxes and centroids from the grouped pixel list (``areas`` = group lengths)."""
    count = int(areas.size)
    boxes = np.zeros((count, 4), np.int32)
    centroids = np.zeros((count, 2), np.float64)
    if count:
        width = ids.shape[1]
        ys = index // width
        xs = index - ys * width
        starts = np.cumsum(areas) - areas
        boxes[:, 0] = np.minimum.reduceat(xs, starts)
        boxes[:, 1] = ys[starts]  # raster order inside a group: first pixel has the smallest y
        boxes[:, 2] = np.maximum.reduceat(xs, starts) + 1
        boxes[:, 3] = ys[starts + areas - 1] + 1
        centroids[:, 0] = np.add.reduceat(xs, starts) / areas
        centroids[:, 1] = np.add.reduceat(ys, starts) / areas
    return Segments(ids, count, areas, boxes, centroids, dropped_over_cap, removed_small, index)
