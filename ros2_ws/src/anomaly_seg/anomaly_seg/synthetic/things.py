"""Drawers for the countable inlier objects: vehicles, persons, riders, poles with signs/lights, trees.

Each drawer paints one object standing at lateral offset ``X`` and depth ``d`` (metres) with OpenCV
polygons; the object's id image gets the object's id, so labels follow the silhouette exactly.
"""

from __future__ import annotations

import numpy as np

from anomaly_seg.labels import NAME_TO_ID
from anomaly_seg.synthetic.camera import Camera
from anomaly_seg.synthetic.canvas import Canvas

CAR, TRUCK, BUS = NAME_TO_ID["car"], NAME_TO_ID["truck"], NAME_TO_ID["bus"]
PERSON, RIDER, BICYCLE = NAME_TO_ID["person"], NAME_TO_ID["rider"], NAME_TO_ID["bicycle"]
POLE, SIGN, LIGHT = NAME_TO_ID["pole"], NAME_TO_ID["traffic sign"], NAME_TO_ID["traffic light"]
VEGETATION = NAME_TO_ID["vegetation"]

_CAR_COLORS = np.array(
    [
        [235, 235, 235],
        [20, 20, 22],
        [120, 122, 125],
        [175, 178, 182],
        [140, 20, 20],
        [25, 45, 110],
        [60, 70, 60],
        [200, 190, 160],
        [90, 30, 50],
    ],
    np.float64,
)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _jitter(rng: np.random.Generator, color: np.ndarray, amount: float = 12.0) -> np.ndarray:
    return np.minimum(np.maximum(np.asarray(color, np.float64) + rng.normal(0, amount, 3), 0.0), 255.0)


def vehicle(
    cv: Canvas, cam: Camera, rng: np.random.Generator, X: float, d: float, label_id: int, oncoming: bool
) -> None:
    """A car, truck or bus as a box: visible side face, rear (or front) face, cabin, windows, wheels, lights."""
    if label_id == CAR:
        w, h, length = rng.uniform(1.7, 2.0), rng.uniform(1.4, 1.6), rng.uniform(4.0, 4.8)
        color = _jitter(rng, _CAR_COLORS[rng.integers(len(_CAR_COLORS))], 8)
    elif label_id == TRUCK:
        w, h, length = rng.uniform(2.3, 2.5), rng.uniform(3.0, 3.8), rng.uniform(7.0, 10.0)
        color = _jitter(rng, np.array([225, 225, 220]) if rng.random() < 0.6 else _CAR_COLORS[rng.integers(9)], 10)
    else:
        w, h, length = 2.5, rng.uniform(3.0, 3.4), rng.uniform(11.0, 13.0)
        color = _jitter(rng, np.array([[230, 200, 40], [200, 30, 30], [240, 240, 235]])[rng.integers(3)], 10)
    oid = cv.new_instance(label_id)
    dark = color * 0.55
    glass = np.array([35, 45, 55]) + rng.uniform(0, 25)
    d1 = d + length
    xl, xr = X - w / 2, X + w / 2
    # Shadow on the ground (image only: the ground keeps its label).
    foot = np.concatenate([cam.project([xl - 0.2, xr + 0.2], 0, d - 0.3), cam.project([xr + 0.2, xl - 0.2], 0, d1)])
    cv.fill([foot], (25, 25, 28), None)
    # Side face facing the camera, if any.
    side_x = xl if w / 2 < X else (xr if -w / 2 > X else None)
    cabin_z = 0.55 * h if label_id == CAR else 0.15 * h
    if side_x is not None:
        ds = np.array([d, d1, d1, d])
        zs = np.array([0.25, 0.25, cabin_z, cabin_z]) if label_id == CAR else np.array([0.3, 0.3, h, h])
        cv.fill([cam.project(side_x, zs, ds)], dark * 1.1, oid)
        if label_id == CAR:
            dc0, dc1 = d + 0.25 * length, d + 0.8 * length
            cabin = cam.project(
                side_x,
                np.array([cabin_z, cabin_z, 0.95 * h, 0.95 * h]),
                np.array([dc0 - 0.4, dc1, dc1 - 0.5, dc0 + 0.3]),
            )
            cv.fill([cabin], dark, oid)
            cv.fill(
                [
                    cam.project(
                        side_x,
                        np.array([cabin_z + 0.08, cabin_z + 0.08, 0.88 * h, 0.88 * h]),
                        np.array([dc0, dc1 - 0.2, dc1 - 0.6, dc0 + 0.4]),
                    )
                ],
                glass,
                None,
            )
        elif label_id == BUS:
            n_win = int(length // 1.6)
            dd = d + 0.4 + np.arange(n_win) * 1.6
            wins = [cam.project(side_x, np.array([1.3, 1.3, 2.6, 2.6]), np.array([a, a + 1.3, a + 1.3, a])) for a in dd]
            cv.fill(wins, glass, None)
        for dw in (d + 0.15 * length, d + 0.85 * length):
            c = cam.project(side_x, 0.33, dw)
            r = cam.fx * 0.33 / dw
            cv.ellipse(c, (0.45 * r, r), (18, 18, 20), oid)
    # Rear/front face.
    s = cam.fx / d
    bx, by = cam.project(X, 0, d)
    if label_id == CAR:
        body = _rect(bx - s * w / 2, by - s * cabin_z, bx + s * w / 2, by - s * 0.2)
        cabin = np.array(
            [
                [bx - s * w * 0.42, by - s * cabin_z],
                [bx + s * w * 0.42, by - s * cabin_z],
                [bx + s * w * 0.33, by - s * h],
                [bx - s * w * 0.33, by - s * h],
            ]
        )
        window = np.array(
            [
                [bx - s * w * 0.37, by - s * (cabin_z + 0.05)],
                [bx + s * w * 0.37, by - s * (cabin_z + 0.05)],
                [bx + s * w * 0.3, by - s * (h - 0.08)],
                [bx - s * w * 0.3, by - s * (h - 0.08)],
            ]
        )
        cv.fill([body, cabin], color, oid)
        cv.fill([window], glass, None)
    else:
        body = _rect(bx - s * w / 2, by - s * h, bx + s * w / 2, by - s * 0.3)
        cv.fill([body], color, oid)
        if label_id == BUS or oncoming:
            cv.fill([_rect(bx - s * w * 0.42, by - s * h * 0.92, bx + s * w * 0.42, by - s * h * 0.55)], glass, None)
        else:
            cv.lines(np.array([[[bx, by - s * h], [bx, by - s * 0.35]]]), color * 0.6, None, max(1, int(s * 0.05)))
    wheel_w = 0.25 * s
    for sx in (-1, 1):
        wx = bx + sx * s * (w / 2 - 0.2)
        cv.fill([_rect(wx - wheel_w, by - s * 0.45, wx + wheel_w, by)], (18, 18, 20), oid)
        lamp = (250, 250, 215) if oncoming else (200, 15, 15)
        lx = bx + sx * s * (w / 2 - 0.22)
        cv.fill([_rect(lx - 0.12 * s, by - s * 0.8, lx + 0.12 * s, by - s * 0.65)], lamp, None)
    cv.fill([_rect(bx - 0.25 * s, by - s * 0.55, bx + 0.25 * s, by - s * 0.43)], (235, 235, 235), None)


def person(cv: Canvas, cam: Camera, rng: np.random.Generator, X: float, d: float, label_id: int = PERSON) -> None:
    """A standing or walking pedestrian: legs, torso, arms, head."""
    oid = cv.new_instance(label_id)
    h = rng.uniform(1.55, 1.95)
    s = cam.fx / d
    bx, by = cam.project(X, 0, d)
    u = s * h  # pixels per body height
    stride = rng.uniform(0.0, 0.12)
    pants = _jitter(rng, np.array([[40, 45, 70], [30, 30, 30], [90, 80, 70], [150, 140, 120]])[rng.integers(4)])
    shirt = np.clip(rng.uniform(20, 240, 3), 0, 255)
    skin = _jitter(rng, np.array([[230, 190, 160], [190, 140, 100], [120, 80, 55]])[rng.integers(3)], 8)
    hair = _jitter(rng, np.array([[30, 25, 20], [110, 70, 30], [200, 170, 110]])[rng.integers(3)], 8)
    legs = [
        np.array(
            [
                [bx - 0.09 * u, by - 0.48 * u],
                [bx + 0.0 * u, by - 0.48 * u],
                [bx - (0.02 + stride) * u, by],
                [bx - (0.08 + stride) * u, by],
            ]
        ),
        np.array(
            [
                [bx + 0.0 * u, by - 0.48 * u],
                [bx + 0.09 * u, by - 0.48 * u],
                [bx + (0.08 + stride) * u, by],
                [bx + (0.02 + stride) * u, by],
            ]
        ),
    ]
    cv.fill(legs, pants, oid)
    torso = np.array(
        [
            [bx - 0.12 * u, by - 0.82 * u],
            [bx + 0.12 * u, by - 0.82 * u],
            [bx + 0.1 * u, by - 0.46 * u],
            [bx - 0.1 * u, by - 0.46 * u],
        ]
    )
    arms = [
        _rect(bx - 0.17 * u, by - 0.81 * u, bx - 0.115 * u, by - 0.5 * u),
        _rect(bx + 0.115 * u, by - 0.81 * u, bx + 0.17 * u, by - 0.5 * u),
    ]
    cv.fill([torso, *arms], shirt, oid)
    cv.fill([_rect(bx - 0.04 * u, by - 0.86 * u, bx + 0.04 * u, by - 0.8 * u)], skin, oid)
    cv.ellipse((bx, by - 0.92 * u), (0.065 * u, 0.08 * u), skin, oid)
    cv.ellipse((bx, by - 0.95 * u), (0.065 * u, 0.05 * u), hair, oid)


def cyclist(cv: Canvas, cam: Camera, rng: np.random.Generator, X: float, d: float) -> None:
    """A bicycle seen from the side with a rider on it (separate bicycle and rider instances)."""
    bid = cv.new_instance(BICYCLE)
    s = cam.fx / d
    bx, by = cam.project(X, 0, d)
    r = 0.34 * s
    frame_color = _jitter(rng, rng.uniform(30, 220, 3))
    centers = [(bx - 0.55 * s, by - r), (bx + 0.55 * s, by - r)]
    thick = max(1, int(0.05 * s))
    for c in centers:
        ring = np.stack(
            [c[0] + r * np.cos(np.linspace(0, 2 * np.pi, 24)), c[1] + r * np.sin(np.linspace(0, 2 * np.pi, 24))], -1
        )
        cv.lines(np.stack([ring[:-1], ring[1:]], 1), (20, 20, 20), bid, thick)
    seat = (bx - 0.2 * s, by - 0.95 * s)
    bar = (bx + 0.45 * s, by - 1.0 * s)
    crank = (bx, by - r)
    frame = np.array(
        [[centers[0], crank], [crank, seat], [seat, centers[0]], [crank, bar], [bar, centers[1]], [seat, bar]]
    )
    cv.lines(frame, frame_color, bid, thick)
    # Rider: a person drawn a bit higher, torso leaning forward.
    rid = cv.new_instance(RIDER)
    u = 1.75 * s
    jacket = np.clip(rng.uniform(20, 240, 3), 0, 255)
    skin = _jitter(rng, np.array([220, 180, 150]), 15)
    torso = np.array(
        [
            [seat[0] - 0.08 * u, seat[1]],
            [seat[0] + 0.06 * u, seat[1]],
            [seat[0] + 0.22 * u, seat[1] - 0.33 * u],
            [seat[0] + 0.1 * u, seat[1] - 0.36 * u],
        ]
    )
    leg = np.array(
        [
            [seat[0] - 0.04 * u, seat[1]],
            [seat[0] + 0.05 * u, seat[1]],
            [crank[0] + 0.03 * u, crank[1]],
            [crank[0] - 0.03 * u, crank[1]],
        ]
    )
    arm = np.array(
        [
            [seat[0] + 0.16 * u, seat[1] - 0.32 * u],
            [seat[0] + 0.2 * u, seat[1] - 0.3 * u],
            [bar[0], bar[1] + 0.02 * u],
            [bar[0] - 0.03 * u, bar[1]],
        ]
    )
    cv.fill([leg], (40, 40, 60), rid)
    cv.fill([torso, arm], jacket, rid)
    cv.ellipse((seat[0] + 0.19 * u, seat[1] - 0.42 * u), (0.06 * u, 0.07 * u), skin, rid)


def pole(cv: Canvas, cam: Camera, rng: np.random.Generator, X: float, d: float, kind: str) -> None:
    """A pole, optionally carrying a traffic sign (``sign``), a traffic light (``light``) or a lamp (``lamp``)."""
    s = cam.fx / d
    bx, by = cam.project(X, 0, d)
    height = {"sign": rng.uniform(2.2, 3.2), "light": rng.uniform(3.0, 4.5), "lamp": rng.uniform(5.0, 8.0)}.get(
        kind, 4.0
    )
    half = max(0.5, 0.07 * s)
    grey = _jitter(rng, np.array([120, 122, 125]), 15)
    cv.fill([_rect(bx - half, by - s * height, bx + half, by)], grey, POLE)
    top = by - s * height
    if kind == "sign":
        r = s * rng.uniform(0.3, 0.45)
        shape = int(rng.integers(4))
        faces = np.array([[200, 20, 25], [20, 60, 170], [240, 240, 240], [245, 200, 0]], np.float64)
        face = _jitter(rng, faces[rng.integers(4)], 6)
        cy = top + r
        if shape == 0:
            cv.ellipse((bx, cy), (r, r), face, SIGN)
            cv.ellipse((bx, cy), (0.7 * r, 0.7 * r), (240, 240, 240) if face[0] > 150 else face * 0.6, None)
        elif shape == 1:
            tri = np.array([[bx, cy - r], [bx + r, cy + 0.8 * r], [bx - r, cy + 0.8 * r]])
            cv.fill([tri], (200, 20, 25), SIGN)
            cv.fill([0.5 * tri + 0.5 * tri.mean(0)], (240, 240, 240), None)
        elif shape == 2:
            cv.fill([_rect(bx - 1.3 * r, cy - 0.8 * r, bx + 1.3 * r, cy + 0.8 * r)], face, SIGN)
            cv.fill([_rect(bx - 1.1 * r, cy - 0.2 * r, bx + 1.1 * r, cy + 0.2 * r)], 255 - face, None)
        else:
            ang = np.linspace(0, 2 * np.pi, 8, endpoint=False) + np.pi / 8
            cv.fill([np.stack([bx + r * np.cos(ang), cy + r * np.sin(ang)], -1)], (200, 20, 25), SIGN)
    elif kind == "light":
        hw, hh = 0.18 * s, 0.45 * s
        housing = _jitter(rng, np.array([30, 32, 30]) if rng.random() < 0.7 else np.array([200, 170, 20]), 6)
        cv.fill([_rect(bx - hw, top - 0.2 * s, bx + hw, top - 0.2 * s + 2 * hh)], housing, LIGHT)
        lit = int(rng.integers(3))
        colors = ((255, 40, 30), (255, 190, 20), (40, 255, 120))
        for i, col in enumerate(colors):
            c = (bx, top - 0.2 * s + hh * (0.35 + 0.65 * i))
            cv.ellipse(c, (0.65 * hw, 0.65 * hw), col if i == lit else (50, 50, 45), LIGHT)
    elif kind == "lamp":
        arm = np.array([[[bx, top], [bx + (-1 if X > 0 else 1) * 1.2 * s, top - 0.2 * s]]])
        cv.lines(arm, grey, POLE, max(1, int(0.1 * s)))
        cv.ellipse((arm[0, 1, 0], arm[0, 1, 1] + 0.05 * s), (0.3 * s, 0.1 * s), (210, 210, 200), POLE)


def tree(cv: Canvas, cam: Camera, rng: np.random.Generator, X: float, d: float) -> None:
    """A tree: trunk and a crown of overlapping blobs in several greens (all labelled vegetation)."""
    s = cam.fx / d
    bx, by = cam.project(X, 0, d)
    trunk_h = rng.uniform(2.0, 4.0)
    half = max(0.5, rng.uniform(0.12, 0.2) * s)
    cv.fill([_rect(bx - half, by - s * trunk_h, bx + half, by)], _jitter(rng, np.array([85, 65, 45]), 10), VEGETATION)
    crown_r = rng.uniform(1.5, 3.0)
    n = int(rng.integers(3, 7))
    base = _jitter(rng, np.array([55, 95, 35]), 10)
    offsets = rng.uniform(-1, 1, (n, 2)) * crown_r * 0.7
    radii = rng.uniform(0.5, 0.9, n) * crown_r
    shades = rng.uniform(0.7, 1.3, n)
    for (ox, oz), rad, sh in zip(offsets, radii, shades):
        c = (bx + s * ox, by - s * (trunk_h + crown_r * 0.8 + oz))
        cv.ellipse(c, (s * rad, s * rad * 0.9), np.clip(base * sh, 0, 255), VEGETATION)
