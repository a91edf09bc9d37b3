"""Obstacle patches of kinds that no inlier class looks like, for scenes and for outlier pasting.

Every kind draws into an ``h x w`` canvas with OpenCV and returns the RGB pixels and the object mask.
Kinds are split into :data:`TRAIN_OBSTACLE_KINDS` (may be pasted as training negatives) and the disjoint
:data:`HELDOUT_OBSTACLE_KINDS` (only ever used for evaluation on unseen obstacle kinds).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError

TRAIN_OBSTACLE_KINDS: tuple[str, ...] = (
    "crate",
    "tyre",
    "rock",
    "cardboard_box",
    "checker_polygon",
    "striped_polygon",
    "cone",
    "sack",
)
HELDOUT_OBSTACLE_KINDS: tuple[str, ...] = (
    "animal",
    "lost_cargo",
    "noise_polygon",
    "barrel",
    "dotted_blob",
    "toy_bricks",
)
OBSTACLE_KINDS: tuple[str, ...] = TRAIN_OBSTACLE_KINDS + HELDOUT_OBSTACLE_KINDS

#: Typical width / height ratio range of each kind, used when a scene sizes an obstacle.
OBSTACLE_ASPECT: dict[str, tuple[float, float]] = {
    "crate": (0.9, 1.8),
    "tyre": (0.8, 1.1),
    "rock": (1.0, 2.0),
    "cardboard_box": (0.8, 1.6),
    "checker_polygon": (0.6, 2.0),
    "striped_polygon": (0.6, 2.0),
    "cone": (0.5, 0.75),
    "sack": (1.0, 1.8),
    "animal": (1.2, 2.0),
    "lost_cargo": (1.2, 2.5),
    "noise_polygon": (0.6, 2.0),
    "barrel": (0.55, 0.8),
    "dotted_blob": (0.8, 1.8),
    "toy_bricks": (1.0, 2.2),
}

Patch = tuple[np.ndarray, np.ndarray]
_SHIFT = 4
_ONE = 1 << _SHIFT


def _pts(xy: np.ndarray) -> np.ndarray:
    """Float pixel coordinates -> fixed-point int32 points for OpenCV drawing with ``shift=_SHIFT``."""
    return np.round(np.asarray(xy, dtype=np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _saturated(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """``n`` vivid RGB colours (high saturation: away from the greys, greens and browns of inlier classes)."""
    hue = rng.integers(0, 180, n, dtype=np.uint8)
    sat = rng.integers(190, 256, n, dtype=np.uint8)
    val = rng.integers(170, 256, n, dtype=np.uint8)
    hsv = np.stack([hue, sat, val], axis=-1).reshape(n, 1, 3)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).reshape(n, 3).astype(np.int32)


def _noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Per-pixel Gaussian noise (float32, std ``scale``), broadcastable over RGB."""
    return (rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(scale)).astype(np.float32)


def _finish(canvas: np.ndarray, rng: np.random.Generator, noise: float, shade: bool = True) -> np.ndarray:
    """Add texture noise and a top-lit vertical shading, clip to uint8."""
    h, w = canvas.shape[:2]
    out = canvas.astype(np.float32)
    if shade:
        out *= np.linspace(1.1, 0.75, h, dtype=np.float32)[:, None, None]
    if noise > 0:
        out += _noise(rng, h, w, noise)
    return np.clip(out, 0, 255).astype(np.uint8)


def _random_polygon(rng: np.random.Generator, h: int, w: int, n: int, jitter: float) -> np.ndarray:
    """A star-shaped polygon filling most of the ``h x w`` box (vertices at jittered radii)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(-0.3, 0.3, n) * (2 * np.pi / n)
    rad = rng.uniform(1 - jitter, 1.0, n)
    x = (w - 1) / 2 + (w - 1) / 2 * rad * np.cos(ang)
    y = (h - 1) / 2 + (h - 1) / 2 * rad * np.sin(ang)
    return np.stack([x, y], axis=-1)


def _poly_mask(h: int, w: int, poly: np.ndarray) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [_pts(poly)], 1, cv2.LINE_8, _SHIFT)
    return mask


def _box3d(canvas: np.ndarray, mask: np.ndarray, rng: np.random.Generator, color: np.ndarray) -> np.ndarray:
    """Draw a box seen slightly from above (front, top and one side face); return the front-face polygon."""
    h, w = mask.shape
    top = rng.uniform(0.15, 0.3) * (h - 1)
    side = rng.uniform(0.1, 0.3) * (w - 1)
    left = bool(rng.integers(2))
    x0, x1 = (side, w - 1.0) if left else (0.0, w - 1.0 - side)
    front = np.array([[x0, top], [x1, top], [x1, h - 1.0], [x0, h - 1.0]])
    dx = -side if left else side
    top_face = np.array([[x0, top], [x1, top], [x1 + dx, 0.0], [x0 + dx, 0.0]])
    xs = x0 if left else x1
    side_face = np.array([[xs, top], [xs + dx, 0.0], [xs + dx, h - 1.0 - top], [xs, h - 1.0]])
    for poly, gain in ((side_face, 0.7), (top_face, 1.15), (front, 1.0)):
        c = np.clip(color * gain, 0, 255).tolist()
        cv2.fillPoly(canvas, [_pts(poly)], c, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(mask, [_pts(poly)], 1, cv2.LINE_8, _SHIFT)
    return front


def _crate(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    wood = np.array([rng.uniform(150, 210), rng.uniform(95, 130), rng.uniform(40, 70)])
    front = _box3d(canvas, mask, rng, wood)
    # Planks: dark horizontal gaps and a diagonal brace on the front face.
    (x0, y0), (x1, _), (_, y1) = front[0], front[1], front[2]
    n_planks = int(rng.integers(3, 6))
    for y in np.linspace(y0, y1, n_planks + 1)[1:-1]:
        cv2.line(canvas, (int(x0), int(y)), (int(x1), int(y)), (60, 35, 15), max(1, h // 40))
    cv2.line(canvas, (int(x0), int(y1)), (int(x1), int(y0)), (120, 75, 30), max(1, h // 15))
    grain = np.sin(np.arange(w, dtype=np.float32) * rng.uniform(0.8, 1.6))[None, :, None] * 12
    return np.clip(_finish(canvas, rng, 10).astype(np.float32) + grain, 0, 255).astype(np.uint8), mask > 0


def _cardboard_box(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    tan = np.array([rng.uniform(185, 225), rng.uniform(145, 175), rng.uniform(90, 120)])
    front = _box3d(canvas, mask, rng, tan)
    (x0, y0), (x1, _), (_, y1) = front[0], front[1], front[2]
    tape = _saturated(rng)[0].tolist()
    xm = (x0 + x1) / 2
    cv2.line(canvas, (int(xm), int(y0)), (int(xm), int(y1)), tape, max(1, int((x1 - x0) / 8)))
    # Printed arrows / symbols: a few dark marks.
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        cv2.circle(canvas, (int(cx), int(cy)), max(1, int(h / 14)), (30, 30, 30), -1)
    return _finish(canvas, rng, 6), mask > 0


def _tyre(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    c = ((w - 1) / 2 * _ONE, (h - 1) / 2 * _ONE)
    axes = ((w - 1) / 2, (h - 1) / 2)
    center = (round(c[0]), round(c[1]))
    outer = (round(axes[0] * _ONE), round(axes[1] * _ONE))
    cv2.ellipse(canvas, center, outer, 0, 0, 360, (25, 25, 28), -1, cv2.LINE_8, _SHIFT)
    cv2.ellipse(mask, center, outer, 0, 0, 360, 1, -1, cv2.LINE_8, _SHIFT)
    # Tread: radial light stripes on the outer band, then a rim (or a hole) in the middle.
    n = int(rng.integers(16, 32))
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r0, r1 = 0.72, 0.98
    p0 = np.stack([(w - 1) / 2 * (1 + r0 * np.cos(ang)), (h - 1) / 2 * (1 + r0 * np.sin(ang))], -1)
    p1 = np.stack([(w - 1) / 2 * (1 + r1 * np.cos(ang)), (h - 1) / 2 * (1 + r1 * np.sin(ang))], -1)
    lines = np.stack([p0, p1], axis=1)
    cv2.polylines(canvas, [_pts(seg) for seg in lines], False, (85, 85, 90), max(1, w // 30), cv2.LINE_8, _SHIFT)
    inner = (round(axes[0] * 0.55 * _ONE), round(axes[1] * 0.55 * _ONE))
    if rng.random() < 0.5:
        cv2.ellipse(mask, center, inner, 0, 0, 360, 0, -1, cv2.LINE_8, _SHIFT)
    else:
        cv2.ellipse(canvas, center, inner, 0, 0, 360, (150, 150, 160), -1, cv2.LINE_8, _SHIFT)
    return _finish(canvas, rng, 5, shade=False), mask > 0


def _rock(h: int, w: int, rng: np.random.Generator) -> Patch:
    poly = _random_polygon(rng, h, w, int(rng.integers(7, 13)), 0.35)
    poly[:, 1] = np.minimum(poly[:, 1] * 1.15, h - 1)  # flat base
    mask = _poly_mask(h, w, poly)
    base = np.array([rng.uniform(120, 175), rng.uniform(90, 125), rng.uniform(55, 80)], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.2 - 0.6 * (yy / max(h - 1, 1)) - 0.25 * (xx / max(w - 1, 1))
    canvas = base[None, None, :] * light[..., None]
    canvas += _noise(rng, h, w, 22)  # speckle, far stronger than the road grain
    return np.clip(canvas, 0, 255).astype(np.uint8), mask > 0


def _pattern_polygon(h: int, w: int, rng: np.random.Generator, pattern: str) -> Patch:
    poly = _random_polygon(rng, h, w, int(rng.integers(4, 8)), 0.3)
    mask = _poly_mask(h, w, poly)
    colors = _saturated(rng, 3)
    if rng.random() < 0.5:
        colors[1] = rng.choice([0, 255]) * np.ones(3, np.int32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    period = max(2.0, rng.uniform(0.08, 0.3) * max(h, w))
    u = xx * np.cos(theta) + yy * np.sin(theta)
    if pattern == "checker":
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        idx = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.intp)
    else:
        idx = (np.floor(u / period) % 3).astype(np.intp)
    canvas = colors[idx].astype(np.float32)
    canvas += _noise(rng, h, w, 6)
    return np.clip(canvas, 0, 255).astype(np.uint8), mask > 0


def _checker_polygon(h: int, w: int, rng: np.random.Generator) -> Patch:
    return _pattern_polygon(h, w, rng, "checker")


def _striped_polygon(h: int, w: int, rng: np.random.Generator) -> Patch:
    return _pattern_polygon(h, w, rng, "stripes")


def _cone(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    base_h = max(1.0, 0.1 * h)
    body = np.array(
        [
            [(w - 1) / 2 - 0.06 * w, 0],
            [(w - 1) / 2 + 0.06 * w, 0],
            [0.85 * (w - 1), h - 1 - base_h],
            [0.15 * (w - 1), h - 1 - base_h],
        ]
    )
    foot = np.array([[0, h - 1 - base_h], [w - 1, h - 1 - base_h], [w - 1, h - 1], [0, h - 1]])
    orange = [255, int(rng.integers(60, 120)), int(rng.integers(0, 40))]
    for poly, col in ((foot, [30, 30, 30]), (body, orange)):
        cv2.fillPoly(canvas, [_pts(poly)], col, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(mask, [_pts(poly)], 1, cv2.LINE_8, _SHIFT)
    band = (canvas[..., 0] == 255) & ((np.arange(h) // max(1, h // 6)) % 2 == 1)[:, None]
    canvas[band] = 245
    return _finish(canvas, rng, 5), mask > 0


def _sack(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    color = _saturated(rng)[0]
    if rng.random() < 0.3:
        color = np.array([235, 235, 240])
    for _ in range(int(rng.integers(2, 5))):  # lumpy outline from overlapping ellipses
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.45, 0.65) * h
        ax, ay = rng.uniform(0.25, 0.5) * w, rng.uniform(0.3, 0.45) * h
        box = ((cx, cy), (2 * ax, 2 * ay), rng.uniform(-20, 20))
        cv2.ellipse(canvas, box, (color * rng.uniform(0.8, 1.05)).clip(0, 255).tolist(), -1)
        cv2.ellipse(mask, box, 1, -1)
    # Wrinkles: bright and dark creases.
    for _ in range(int(rng.integers(3, 7))):
        p = rng.uniform(0.2, 0.8, 4) * np.array([w, h, w, h])
        c = (255, 255, 255) if rng.random() < 0.5 else (20, 20, 20)
        cv2.line(canvas, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), c, max(1, h // 25))
    canvas[mask == 0] = 0
    return _finish(canvas, rng, 5), mask > 0


def _animal(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    fur = [[120, 80, 40], [230, 225, 215], [35, 30, 28], [210, 120, 40], [150, 150, 145]][int(rng.integers(5))]
    body_y, leg_top = 0.45 * h, 0.6 * h
    parts: list[tuple[str, tuple[float, ...]]] = [
        ("ell", (0.5 * w, body_y, 0.62 * w, 0.38 * h, 0.0)),
        ("ell", (0.12 * w if rng.random() < 0.5 else 0.88 * w, 0.25 * h, 0.2 * w, 0.26 * h, 0.0)),
    ]
    for fx in (0.25, 0.35, 0.65, 0.75):
        parts.append(("rect", (fx * w - 0.04 * w, leg_top, fx * w + 0.04 * w, h - 1.0)))
    for kind, p in parts:
        if kind == "ell":
            box = ((p[0], p[1]), (p[2], p[3]), p[4])
            cv2.ellipse(canvas, box, fur, -1)
            cv2.ellipse(mask, box, 1, -1)
        else:
            poly = np.array([[p[0], p[1]], [p[2], p[1]], [p[2], p[3]], [p[0], p[3]]])
            cv2.fillPoly(canvas, [_pts(poly)], fur, cv2.LINE_8, _SHIFT)
            cv2.fillPoly(mask, [_pts(poly)], 1, cv2.LINE_8, _SHIFT)
    if rng.random() < 0.5:  # patches of a second fur colour
        spots = (cv2.resize(rng.random((4, 6), dtype=np.float32), (w, h)) > 0.6) & (mask > 0)
        canvas[spots] = [40, 30, 25] if fur[0] > 100 else [230, 225, 215]
    return _finish(canvas, rng, 14), mask > 0


def _touching_origin(mask: np.ndarray, bw: float, bh: float, rng: np.random.Generator) -> tuple[float, float]:
    """Top-left corner of a ``bw x bh`` piece centred on a random pixel of ``mask``: the pile stays connected."""
    ys, xs = np.nonzero(mask)
    k = int(rng.integers(len(ys)))
    return float(xs[k]) - bw / 2, float(ys[k]) - bh / 2


def _lost_cargo(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    n = int(rng.integers(2, 6))
    colors = _saturated(rng, n)
    for i in range(n):
        bw, bh = rng.uniform(0.3, 0.6) * w, rng.uniform(0.3, 0.6) * h
        if i == 0:  # the first piece rests on the ground
            x0, y0 = rng.uniform(0, w - bw), h - bh
        else:
            x0, y0 = _touching_origin(mask, bw, bh, rng)
        poly = np.array([[x0, y0], [x0 + bw, y0], [x0 + bw, y0 + bh], [x0, y0 + bh]])
        cv2.fillPoly(canvas, [_pts(poly)], colors[i].tolist(), cv2.LINE_8, _SHIFT)
        cv2.polylines(canvas, [_pts(poly)], True, (15, 15, 15), 1, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(mask, [_pts(poly)], 1, cv2.LINE_8, _SHIFT)
    return _finish(canvas, rng, 6), mask > 0


def _noise_polygon(h: int, w: int, rng: np.random.Generator) -> Patch:
    poly = _random_polygon(rng, h, w, int(rng.integers(4, 9)), 0.4)
    mask = _poly_mask(h, w, poly)
    cell = int(rng.integers(1, 4))
    small = rng.integers(0, 256, (max(1, h // cell), max(1, w // cell), 3), dtype=np.uint8)
    canvas = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return canvas, mask > 0


def _barrel(h: int, w: int, rng: np.random.Generator) -> Patch:
    color = _saturated(rng)[0].astype(np.float32)
    xx = np.linspace(-1, 1, w, dtype=np.float32)
    shade = 0.55 + 0.55 * np.sqrt(np.clip(1 - xx**2, 0, 1))  # cylinder shading across
    canvas = np.broadcast_to(color[None, None, :] * shade[None, :, None], (h, w, 3)).copy()
    rims = (np.arange(h) * 5 // max(h, 1)) % 2 == 1
    rim_rows = rims & (np.arange(h) % max(1, h // 5) < max(1, h // 25))
    canvas[rim_rows] *= 0.5
    mask = np.zeros((h, w), np.uint8)
    cap = max(1.0, 0.08 * h)
    body = np.array([[0, cap], [w - 1, cap], [w - 1, h - 1 - cap], [0, h - 1 - cap]])
    cv2.fillPoly(mask, [_pts(body)], 1, cv2.LINE_8, _SHIFT)
    for cy in (cap, h - 1 - cap):
        cv2.ellipse(mask, (((w - 1) / 2, cy), (w - 1, 2 * cap), 0.0), 1, -1)
    top = np.zeros((h, w), np.uint8)
    cv2.ellipse(top, (((w - 1) / 2, cap), (w - 1, 2 * cap), 0.0), 1, -1)
    canvas[top > 0] = color * 0.4
    canvas += _noise(rng, h, w, 4)
    return np.clip(canvas, 0, 255).astype(np.uint8), mask > 0


def _dotted_blob(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    c0, c1 = _saturated(rng, 2)
    box = (((w - 1) / 2, (h - 1) / 2), (w * 0.98, h * 0.98), 0.0)
    cv2.ellipse(canvas, box, c0.tolist(), -1)
    cv2.ellipse(mask, box, 1, -1)
    step = max(3.0, rng.uniform(0.12, 0.25) * min(h, w))
    ys, xs = np.mgrid[step / 2 : h : step, step / 2 : w : step]
    radius = max(1, int(step / 3))
    for x, y in zip(xs.ravel(), ys.ravel()):
        cv2.circle(canvas, (int(x), int(y)), radius, c1.tolist(), -1)
    canvas[mask == 0] = 0
    return _finish(canvas, rng, 5), mask > 0


def _toy_bricks(h: int, w: int, rng: np.random.Generator) -> Patch:
    canvas = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    primaries = np.array([[220, 20, 20], [20, 70, 220], [250, 210, 0], [20, 170, 50], [250, 250, 250]])
    for _ in range(int(rng.integers(3, 8))):
        col = primaries[int(rng.integers(len(primaries)))].tolist()
        bw, bh = rng.uniform(0.25, 0.55) * w, rng.uniform(0.25, 0.55) * h
        if mask.any():
            x0, y0 = _touching_origin(mask, bw, bh, rng)
        else:
            x0, y0 = (w - bw) / 2, (h - bh) / 2
        if rng.random() < 0.5:
            box = ((x0 + bw / 2, y0 + bh / 2), (bw, bh), 0.0)
            cv2.ellipse(canvas, box, col, -1)
            cv2.ellipse(mask, box, 1, -1)
        else:
            poly = np.array([[x0, y0], [x0 + bw, y0], [x0 + bw, y0 + bh], [x0, y0 + bh]])
            cv2.fillPoly(canvas, [_pts(poly)], col, cv2.LINE_8, _SHIFT)
            cv2.fillPoly(mask, [_pts(poly)], 1, cv2.LINE_8, _SHIFT)
    return _finish(canvas, rng, 4, shade=False), mask > 0


_DRAWERS: dict[str, Callable[[int, int, np.random.Generator], Patch]] = {
    "crate": _crate,
    "tyre": _tyre,
    "rock": _rock,
    "cardboard_box": _cardboard_box,
    "checker_polygon": _checker_polygon,
    "striped_polygon": _striped_polygon,
    "cone": _cone,
    "sack": _sack,
    "animal": _animal,
    "lost_cargo": _lost_cargo,
    "noise_polygon": _noise_polygon,
    "barrel": _barrel,
    "dotted_blob": _dotted_blob,
    "toy_bricks": _toy_bricks,
}


def obstacle_patch(kind: str, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one obstacle of ``kind`` filling an ``h x w`` box.

    Returns ``(rgb, mask)``: ``rgb`` uint8 ``(h, w, 3)`` (zero outside the object) and ``mask`` bool ``(h, w)``,
    never empty. Deterministic given the state of ``rng``.
    """
    drawer = _DRAWERS.get(kind)
    if drawer is None:
        raise ConfigError(f"obstacle kind {kind!r} is unknown; known kinds: {', '.join(OBSTACLE_KINDS)}")
    if h < 1 or w < 1:
        raise ConfigError(f"obstacle patch size must be at least 1x1, got {h}x{w}")
    rgb, mask = drawer(int(h), int(w), rng)
    if not mask.any():  # a few pixels can be too small for the shape: keep a solid blob
        mask[:] = True
    rgb[~mask] = 0
    return rgb, mask
