"""Write synthetic scenes in the published folder layouts of Cityscapes and the road-anomaly benchmarks.

Each writer creates ``n`` frames under ``root`` (frame ``i`` is generated from a seed derived from
``(seed, i)``, so a dataset is reproducible and frames are independent), writes labels as lossless
single-channel PNGs exactly where and how the real datasets keep them, and returns the image paths.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from anomaly_seg.errors import DatasetError
from anomaly_seg.geometry import camera_rotation
from anomaly_seg.labels import NAME_TO_ID, VOID
from anomaly_seg.synthetic.obstacles import HELDOUT_OBSTACLE_KINDS, OBSTACLE_KINDS
from anomaly_seg.synthetic.scene import Scene, generate_scene

#: Lost and Found ``gtCoarse`` ids: 0 unlabeled, 1 free space (road), one id >= 2 per obstacle kind.
LOSTANDFOUND_FREE_SPACE = 1
LOSTANDFOUND_CLASS_IDS: dict[str, int] = {kind: 2 + i for i, kind in enumerate(OBSTACLE_KINDS)}
#: Road Anomaly ``labels_semantic.png`` value of anomalous pixels (everything else is 0).
ROAD_ANOMALY_ID = 2
_PROGRESS_MIN = 50
_ROAD = NAME_TO_ID["road"]


def _frames(
    n: int,
    height: int,
    width: int,
    seed: int,
    kinds: Sequence[str],
    n_obstacles: tuple[int, int],
    desc: str,
) -> Iterator[tuple[int, Scene]]:
    """Generate frame ``i`` from its own seed; a tqdm bar when ``n`` is large."""
    from tqdm import tqdm

    for i in tqdm(range(n), desc=desc, unit="frame", disable=n <= _PROGRESS_MIN):
        scene = generate_scene(height, width, frame_seed(seed, i), obstacle_kinds=kinds, n_obstacles=n_obstacles)
        yield i, scene


def frame_seed(seed: int, index: int) -> int:
    """Seed of frame ``index`` of a dataset written with ``seed`` (independent streams per frame)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _write_image(path: Path, array: np.ndarray, params: Sequence[int] = ()) -> Path:
    """Write an RGB (converted to BGR for OpenCV) or single-channel image; DatasetError naming the path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create folder {path.parent}: {exc}") from exc
    data = cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array
    if not cv2.imwrite(str(path), data, list(params)):
        raise DatasetError(f"cannot write image {path}")
    return path


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot write {path}: {exc}") from exc


def _road_void_mask(scene: Scene) -> np.ndarray:
    """Fishyscapes L&F / SMIYC obstacle-track ground truth: 1 obstacle, 0 road, 255 everything else."""
    out = np.full(scene.anomaly.shape, VOID, np.uint8)
    out[scene.label_ids == _ROAD] = 0
    out[scene.anomaly == 1] = 1
    return out


def write_cityscapes_layout(
    root: str | Path,
    n: int,
    *,
    height: int,
    width: int,
    seed: int,
    split: str = "train",
    city: str = "synthcity",
    obstacle_kinds: Sequence[str] = (),
    n_obstacles: tuple[int, int] = (0, 0),
) -> list[Path]:
    """Cityscapes: ``leftImg8bit/<split>/<city>/<city>_<seq:06d>_000019_leftImg8bit.png`` and ``gtFine`` labels.

    Writes ``*_gtFine_labelIds.png``, ``*_gtFine_labelTrainIds.png`` (uint8) and ``*_gtFine_instanceIds.png``
    (uint16). Inlier-only by default; obstacles, if asked for, are 'unlabeled' (void) as in real Cityscapes.
    """
    root = Path(root)
    paths: list[Path] = []
    for i, scene in _frames(n, height, width, seed, obstacle_kinds, n_obstacles, f"cityscapes {split}"):
        stem = f"{city}_{i:06d}_000019"
        gt = root / "gtFine" / split / city
        _write_image(gt / f"{stem}_gtFine_labelIds.png", scene.label_ids)
        _write_image(gt / f"{stem}_gtFine_labelTrainIds.png", scene.train_ids)
        _write_image(gt / f"{stem}_gtFine_instanceIds.png", scene.instance_ids)
        paths.append(_write_image(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", scene.image))
    return paths


def write_lostandfound_layout(
    root: str | Path,
    n: int,
    *,
    height: int,
    width: int,
    seed: int,
    split: str = "test",
    sequences: int = 2,
    obstacle_kinds: Sequence[str] = HELDOUT_OBSTACLE_KINDS,
    n_obstacles: tuple[int, int] = (1, 3),
) -> list[Path]:
    """Lost and Found (original): ``leftImg8bit/<split>/<seq>/<seq>_000000_<frame:06d>_leftImg8bit.png``.

    Also ``gtCoarse/<split>/<seq>/<stem>_gtCoarse_labelIds.png`` (0 unlabeled, 1 free space = road, obstacles
    :data:`LOSTANDFOUND_CLASS_IDS`), ``timestamp/<split>/<seq>/<stem>_timestamp.txt`` (nanoseconds, monotonic at
    10-20 Hz within a sequence), ``camera/<split>/<seq>/<stem>_camera.json`` (Cityscapes camera format) and
    ``disparity/<split>/<seq>/<stem>_disparity.png`` (Cityscapes disparity encoding) with the stereo depth of the
    obstacles only (:func:`obstacle_depth`; elsewhere "unknown"). Frames are spread over ``sequences`` sequences in
    order.
    """
    root = Path(root)
    sequences = max(1, min(sequences, max(n, 1)))
    timing = np.random.default_rng(np.random.SeedSequence([seed, 2**31]))
    per_seq = -(-n // sequences)
    paths: list[Path] = []
    stamp = 0
    for i, scene in _frames(n, height, width, seed, obstacle_kinds, n_obstacles, f"lostandfound {split}"):
        k, j = divmod(i, per_seq)
        seq = f"{k + 1:02d}_Synth_Weg_{k + 1}"
        if j == 0:  # a new drive starts an hour after the previous one
            stamp = 1_400_000_000_000_000_000 + k * 3_600_000_000_000
        else:
            stamp += int(1e9 / timing.uniform(10.0, 20.0))
        stem = f"{seq}_000000_{10 * j:06d}"
        gt = np.zeros(scene.label_ids.shape, np.uint8)
        gt[scene.label_ids == _ROAD] = LOSTANDFOUND_FREE_SPACE
        class_of = np.zeros(256, np.uint8)
        for idx, obstacle in enumerate(scene.obstacles, start=1):
            class_of[idx] = LOSTANDFOUND_CLASS_IDS[obstacle.kind]
        obstacle_mask = scene.obstacle_ids > 0
        gt[obstacle_mask] = class_of[scene.obstacle_ids[obstacle_mask]]
        _write_image(root / "gtCoarse" / split / seq / f"{stem}_gtCoarse_labelIds.png", gt)
        _write_text(root / "timestamp" / split / seq / f"{stem}_timestamp.txt", f"{stamp}\n")
        calibration = scene.camera.to_cityscapes_json()
        _write_text(root / "camera" / split / seq / f"{stem}_camera.json", json.dumps(calibration, indent=4) + "\n")
        disparity = disparity_png(obstacle_depth(scene), scene.camera.fx, calibration["extrinsic"]["baseline"])
        _write_image(root / "disparity" / split / seq / f"{stem}_disparity.png", disparity)
        paths.append(_write_image(root / "leftImg8bit" / split / seq / f"{stem}_leftImg8bit.png", scene.image))
    return paths


def obstacle_depth(scene: Scene) -> np.ndarray:
    """Stereo depth (float32 metres along the optical axis, NaN elsewhere) of every obstacle pixel, for the camera of
    the scene's JSON: the pixel's ray meets the vertical plane at the obstacle's distance ahead (the depth its
    generator placed it at), as a stereo camera would measure an upright obstacle's face."""
    cam = scene.camera
    v, u = np.nonzero(scene.obstacle_ids)
    k = np.array([[cam.fx, 0.0, cam.u0], [0.0, cam.fy, cam.v0], [0.0, 0.0, 1.0]])
    rays = np.linalg.solve(k, np.stack([u + 0.5, v + 0.5, np.ones(u.size)]))  # optical, z = 1
    ahead = (camera_rotation(cam.pitch_rad, math.radians(cam.roll_deg), cam.yaw_rad) @ rays)[0]
    distance = np.array([o.depth_m for o in scene.obstacles], np.float64)[scene.obstacle_ids[v, u] - 1]
    depth = np.full(scene.obstacle_ids.shape, np.nan, np.float32)
    depth[v, u] = np.where(ahead > 0, distance / np.maximum(ahead, 1e-9), np.nan)
    return depth


def disparity_png(depth: np.ndarray, fx: float, baseline: float) -> np.ndarray:
    """Cityscapes' 16-bit disparity encoding ``256 d + 1`` (0 = unknown) of a depth map for a stereo ``baseline``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = np.float64(baseline * fx) / np.asarray(depth, np.float64)
    known = np.isfinite(disparity) & (disparity > 0)
    raw = np.zeros(depth.shape, np.uint16)
    raw[known] = np.clip(np.rint(disparity[known] * 256.0) + 1.0, 1, 65535).astype(np.uint16)
    return raw


def write_fishyscapes_layout(
    root: str | Path,
    n: int,
    *,
    height: int,
    width: int,
    seed: int,
    obstacle_kinds: Sequence[str] = HELDOUT_OBSTACLE_KINDS,
    n_obstacles: tuple[int, int] = (1, 3),
) -> list[Path]:
    """Fishyscapes Lost and Found: ``images/<name>.png`` + ``labels_masks/<name>.png``.

    Masks are 0 road, 1 obstacle, 255 void (everything outside road and obstacles), as in FS L&F.
    """
    root = Path(root)
    paths: list[Path] = []
    for i, scene in _frames(n, height, width, seed, obstacle_kinds, n_obstacles, "fishyscapes"):
        name = f"{i:04d}_synth"
        _write_image(root / "labels_masks" / f"{name}.png", _road_void_mask(scene))
        paths.append(_write_image(root / "images" / f"{name}.png", scene.image))
    return paths


def write_road_anomaly_layout(
    root: str | Path,
    n: int,
    *,
    height: int,
    width: int,
    seed: int,
    obstacle_kinds: Sequence[str] = HELDOUT_OBSTACLE_KINDS,
    n_obstacles: tuple[int, int] = (1, 3),
    jpeg_quality: int = 95,
) -> list[Path]:
    """Road Anomaly: ``frames/<name>.jpg`` + ``frames/<name>.labels/labels_semantic.png`` (2 anomaly, 0 else)."""
    root = Path(root)
    paths: list[Path] = []
    for i, scene in _frames(n, height, width, seed, obstacle_kinds, n_obstacles, "road anomaly"):
        name = f"synth{i:04d}"
        labels = np.where(scene.anomaly == 1, np.uint8(ROAD_ANOMALY_ID), np.uint8(0))
        _write_image(root / "frames" / f"{name}.labels" / "labels_semantic.png", labels)
        image = root / "frames" / f"{name}.jpg"
        paths.append(_write_image(image, scene.image, (cv2.IMWRITE_JPEG_QUALITY, jpeg_quality)))
    return paths


def write_smiyc_layout(
    root: str | Path,
    n: int,
    *,
    height: int,
    width: int,
    seed: int,
    track: str = "obstacle",
    extension: str = "",
    obstacle_kinds: Sequence[str] = HELDOUT_OBSTACLE_KINDS,
    n_obstacles: tuple[int, int] = (1, 3),
) -> list[Path]:
    """SegmentMeIfYouCan: ``dataset_{Obstacle,Anomaly}Track/images/<name>.<ext>`` + ``labels_masks``.

    Masks ``<name>_labels_semantic.png`` are 0 inlier, 1 anomaly, 255 void; the obstacle track voids
    everything off the road, the anomaly track only the pixels without a Cityscapes class. ``extension``
    defaults to the real datasets' (``webp`` obstacle track, ``jpg`` anomaly track); ``png`` is lossless.
    """
    if track not in ("obstacle", "anomaly"):
        raise DatasetError(f"SMIYC track must be 'obstacle' or 'anomaly', got {track!r}")
    ext = extension or ("webp" if track == "obstacle" else "jpg")
    base = Path(root) / ("dataset_ObstacleTrack" if track == "obstacle" else "dataset_AnomalyTrack")
    paths: list[Path] = []
    for i, scene in _frames(n, height, width, seed, obstacle_kinds, n_obstacles, f"smiyc {track}"):
        name = f"validation_{i:04d}"
        mask = _road_void_mask(scene) if track == "obstacle" else scene.anomaly
        _write_image(base / "labels_masks" / f"{name}_labels_semantic.png", mask)
        params = (
            (cv2.IMWRITE_JPEG_QUALITY, 95)
            if ext == "jpg"
            else ((cv2.IMWRITE_WEBP_QUALITY, 95) if ext == "webp" else ())
        )
        paths.append(_write_image(base / "images" / f"{name}.{ext}", scene.image, params))
    return paths
