"""Cityscapes label definitions: labelIds, trainIds (0..18, 255 = void), names and palette.

Single source for every module that maps ids, names classes or colours a label image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOID = 255
NUM_CLASSES = 19


@dataclass(frozen=True)
class Label:
    """One Cityscapes label: ``id`` as in ``*_labelIds.png``, ``train_id`` as in ``*_labelTrainIds.png``."""

    name: str
    id: int
    train_id: int
    color: tuple[int, int, int]


LABELS: tuple[Label, ...] = (
    Label("unlabeled", 0, VOID, (0, 0, 0)),
    Label("ego vehicle", 1, VOID, (0, 0, 0)),
    Label("rectification border", 2, VOID, (0, 0, 0)),
    Label("out of roi", 3, VOID, (0, 0, 0)),
    Label("static", 4, VOID, (0, 0, 0)),
    Label("dynamic", 5, VOID, (111, 74, 0)),
    Label("ground", 6, VOID, (81, 0, 81)),
    Label("road", 7, 0, (128, 64, 128)),
    Label("sidewalk", 8, 1, (244, 35, 232)),
    Label("parking", 9, VOID, (250, 170, 160)),
    Label("rail track", 10, VOID, (230, 150, 140)),
    Label("building", 11, 2, (70, 70, 70)),
    Label("wall", 12, 3, (102, 102, 156)),
    Label("fence", 13, 4, (190, 153, 153)),
    Label("guard rail", 14, VOID, (180, 165, 180)),
    Label("bridge", 15, VOID, (150, 100, 100)),
    Label("tunnel", 16, VOID, (150, 120, 90)),
    Label("pole", 17, 5, (153, 153, 153)),
    Label("polegroup", 18, VOID, (153, 153, 153)),
    Label("traffic light", 19, 6, (250, 170, 30)),
    Label("traffic sign", 20, 7, (220, 220, 0)),
    Label("vegetation", 21, 8, (107, 142, 35)),
    Label("terrain", 22, 9, (152, 251, 152)),
    Label("sky", 23, 10, (70, 130, 180)),
    Label("person", 24, 11, (220, 20, 60)),
    Label("rider", 25, 12, (255, 0, 0)),
    Label("car", 26, 13, (0, 0, 142)),
    Label("truck", 27, 14, (0, 0, 70)),
    Label("bus", 28, 15, (0, 60, 100)),
    Label("caravan", 29, VOID, (0, 0, 90)),
    Label("trailer", 30, VOID, (0, 0, 110)),
    Label("train", 31, 16, (0, 80, 100)),
    Label("motorcycle", 32, 17, (0, 0, 230)),
    Label("bicycle", 33, 18, (119, 11, 32)),
)

TRAIN_LABELS: tuple[Label, ...] = tuple(
    sorted((lb for lb in LABELS if lb.train_id != VOID), key=lambda lb: lb.train_id)
)
CLASS_NAMES: tuple[str, ...] = tuple(lb.name for lb in TRAIN_LABELS)
NAME_TO_TRAIN_ID: dict[str, int] = {lb.name: lb.train_id for lb in TRAIN_LABELS}
NAME_TO_ID: dict[str, int] = {lb.name: lb.id for lb in LABELS}

#: ``PALETTE[train_id]`` is the RGB colour of that class; row 255 (void) is black.
PALETTE: np.ndarray = np.zeros((256, 3), dtype=np.uint8)
for _lb in TRAIN_LABELS:
    PALETTE[_lb.train_id] = _lb.color

#: ``ID_TO_TRAIN_ID[label_id]`` maps a labelIds image to trainIds with one fancy-index (unknown ids -> void).
ID_TO_TRAIN_ID: np.ndarray = np.full(256, VOID, dtype=np.uint8)
for _lb in LABELS:
    ID_TO_TRAIN_ID[_lb.id] = _lb.train_id


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes ``labelIds`` image (uint8) to ``trainIds`` (uint8, 255 = void)."""
    return ID_TO_TRAIN_ID[np.asarray(label_ids, dtype=np.uint8)]


def colorize(train_ids: np.ndarray) -> np.ndarray:
    """RGB image (H, W, 3, uint8) of a trainId image with the Cityscapes palette."""
    return PALETTE[np.asarray(train_ids, dtype=np.uint8)]
