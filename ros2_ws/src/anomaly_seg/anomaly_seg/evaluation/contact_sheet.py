"""The report's contact sheet: a few frames spread evenly over a stream of unknown length, tiled into one image."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


class EvenSampler:
    """Keeps about ``k`` items spread evenly over a stream of unknown length (bounded: < 2k items held)."""

    def __init__(self, k: int) -> None:
        self.k = max(k, 0)
        self.stride = 1
        self.items: list[tuple[int, Any]] = []

    def wants(self, index: int) -> bool:
        """Whether item ``index`` would be kept (so the caller renders only those)."""
        return self.k > 0 and index % self.stride == 0

    def add(self, index: int, item: Any) -> None:
        """Offer item number ``index`` (0, 1, 2, ... in order)."""
        if not self.wants(index):
            return
        self.items.append((index, item))
        if len(self.items) >= 2 * self.k:
            self.stride *= 2
            self.items = [(i, x) for i, x in self.items if i % self.stride == 0]

    def chosen(self) -> list[Any]:
        """At most ``k`` of the kept items, evenly spaced."""
        if len(self.items) <= self.k:
            return [x for _, x in self.items]
        picks = np.linspace(0, len(self.items) - 1, self.k).round().astype(int)
        return [self.items[i][1] for i in picks]


def tile(thumbs: list[np.ndarray], columns: int = 3) -> np.ndarray | None:
    """BGR grid of ``thumbs`` (padded to the tallest, rows of ``columns``), or None without thumbnails."""
    if not thumbs:
        return None
    h = max(t.shape[0] for t in thumbs)
    tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0)) for t in thumbs]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i : i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)
