"""Lost and Found, original layout (``leftImg8bit`` + ``gtCoarse``), read by :mod:`anomaly_seg.datasets`."""

from __future__ import annotations

from pathlib import Path

from anomaly_seg.datasets import LostAndFoundLayout
from training.datasets.base import AnomalyDataset, Transform


class LostAndFound(AnomalyDataset):
    """``leftImg8bit/<split>/<seq>/<stem>_leftImg8bit.png`` + ``gtCoarse/<split>/<seq>/<stem>_gtCoarse_labelIds.png``.

    anomaly = 1 on obstacles (ids >= 2), 0 on free space, 255 elsewhere; trainIds = road on free space, void elsewhere.
    """

    name = "lost_and_found"

    def __init__(self, root: str | Path, split: str = "test", transform: Transform | None = None) -> None:
        super().__init__(LostAndFoundLayout(root, split), transform)
        self.split = split
