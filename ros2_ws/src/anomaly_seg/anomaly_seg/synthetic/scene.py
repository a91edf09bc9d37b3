"""Seeded synthetic road scenes with Cityscapes labels and Fishyscapes-style anomaly masks.

A scene is laid out in metres on a flat ground plane (road with lanes and a bend, sidewalks, terrain,
facades of buildings, walls, fences and vegetation, cars, trucks, buses, pedestrians, cyclists, poles
with signs and lights, trees, obstacles of unknown kinds on the road), projected with a random
vehicle camera and painted far to near with OpenCV into an RGB image and an object-id image. Texture
noise at three scales (amplitude per class), cast shadows, vignetting, a global colour cast and a slight
camera roll are applied to the whole image. Everything is drawn from one ``np.random.Generator``
seeded by ``seed``, so the same arguments give byte-identical scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from anomaly_seg.errors import ConfigError
from anomaly_seg.labels import ID_TO_TRAIN_ID, NAME_TO_ID, VOID
from anomaly_seg.synthetic import things
from anomaly_seg.synthetic.camera import Camera, sample_camera
from anomaly_seg.synthetic.canvas import Canvas
from anomaly_seg.synthetic.obstacles import OBSTACLE_ASPECT, OBSTACLE_KINDS, obstacle_patch

ROAD, SIDEWALK, TERRAIN = NAME_TO_ID["road"], NAME_TO_ID["sidewalk"], NAME_TO_ID["terrain"]
BUILDING, WALL, FENCE = NAME_TO_ID["building"], NAME_TO_ID["wall"], NAME_TO_ID["fence"]
VEGETATION, SKY = NAME_TO_ID["vegetation"], NAME_TO_ID["sky"]
EGO, BORDER = NAME_TO_ID["ego vehicle"], NAME_TO_ID["rectification border"]

MIN_SIZE = 16
MAX_SIDE = 4096
#: Size limits of an obstacle in pixels (height), before clipping by the image border.
MIN_OBSTACLE_PX = 3

# Texture amplitudes (grey levels) per labelId at fine / medium / coarse scale.
_TEXTURE: dict[int, tuple[float, float, float]] = {
    SKY: (1.5, 2.0, 10.0),
    ROAD: (7.0, 4.0, 9.0),
    SIDEWALK: (7.0, 6.0, 6.0),
    BUILDING: (5.0, 5.0, 10.0),
    WALL: (9.0, 6.0, 8.0),
    FENCE: (6.0, 3.0, 4.0),
    VEGETATION: (16.0, 18.0, 14.0),
    TERRAIN: (15.0, 9.0, 12.0),
    things.POLE: (4.0, 2.0, 4.0),
    things.SIGN: (3.0, 2.0, 3.0),
    things.LIGHT: (3.0, 2.0, 3.0),
    things.PERSON: (5.0, 4.0, 3.0),
    things.RIDER: (5.0, 4.0, 3.0),
    things.CAR: (3.0, 3.0, 6.0),
    things.TRUCK: (3.0, 3.0, 6.0),
    things.BUS: (3.0, 3.0, 6.0),
    things.BICYCLE: (3.0, 2.0, 3.0),
    EGO: (2.0, 2.0, 8.0),
}


@dataclass(frozen=True)
class ObstacleInstance:
    """One obstacle as it is visible in the final image."""

    kind: str
    box_xyxy: tuple[int, int, int, int]  # inclusive-exclusive pixel box of the visible pixels
    area: int  # visible pixels
    depth_m: float = float("nan")  # where its base stands: metres ahead along the camera's forward axis


@dataclass(frozen=True)
class Scene:
    """A synthetic frame: image and aligned labels (all ``H x W``).

    ``label_ids``: Cityscapes labelIds (obstacles are 0 'unlabeled'); ``train_ids``: trainIds, 255 void;
    ``anomaly``: 0 inlier, 1 obstacle, 255 void (non-obstacle pixels without a trainId);
    ``instance_ids``: Cityscapes instanceIds (uint16, ``labelId * 1000 + k`` for things, labelId for stuff);
    ``obstacle_ids``: 0 none, ``i + 1`` for ``obstacles[i]``.
    """

    image: np.ndarray
    label_ids: np.ndarray
    train_ids: np.ndarray
    anomaly: np.ndarray
    instance_ids: np.ndarray
    obstacle_ids: np.ndarray
    obstacles: tuple[ObstacleInstance, ...]
    camera: Camera


def _color(rng: np.random.Generator, base: Sequence[float], jitter: float = 12.0) -> np.ndarray:
    """``base`` with a random brightness shift (std ``jitter``) and a smaller hue shift."""
    shift = rng.normal(0.0, jitter) + rng.normal(0.0, jitter / 3, 3)
    return np.minimum(np.maximum(np.asarray(base, np.float64) + shift, 0.0), 255.0)


def _band(cam: Camera, x0: Callable[[np.ndarray], np.ndarray] | float, x1: float, d: np.ndarray) -> np.ndarray:
    """Ground polygon between lateral offsets ``x0`` and ``x1`` over depths ``d``."""
    left = cam.project(x0, 0.0, d)
    right = cam.project(x1, 0.0, d[::-1])
    return np.concatenate([left, right])


class _SceneBuilder:
    """Lays out and paints one scene; kept as a class only to share the canvas, camera and RNG."""

    def __init__(self, height: int, width: int, rng: np.random.Generator) -> None:
        self.h, self.w, self.rng = height, width, rng
        self.cam = sample_camera(height, width, rng)
        self.cv = Canvas(height, width)
        cam = self.cam
        self.d_near = cam.ground_depth(height - 0.5)
        self.d_far = rng.uniform(60.0, 140.0)
        self.depths = np.geomspace(self.d_near * 0.6, self.d_far, 14)
        lane_w = rng.uniform(2.8, 3.7)
        n_lanes = int(rng.integers(1, 5))
        ego_lane = int(rng.integers(n_lanes))
        self.lane_w = lane_w
        self.road_l = -lane_w * (ego_lane + 0.5) - rng.uniform(-0.4, 0.4)
        self.road_r = self.road_l + n_lanes * lane_w
        self.n_lanes = n_lanes
        self.things: list[tuple[float, Callable[[], None]]] = []

    # -- background -------------------------------------------------------------------------------
    def sky_and_horizon(self) -> None:
        rng, cv, cam = self.rng, self.cv, self.cam
        hy = int(np.clip(np.ceil(cam.horizon_y), 0, self.h))
        if rng.random() < 0.65:
            top, bottom = _color(rng, (70, 125, 195), 15), _color(rng, (185, 205, 225), 10)
        else:  # overcast
            grey = rng.uniform(170, 225)
            top, bottom = _color(rng, (grey - 15, grey - 8, grey), 5), _color(rng, (grey, grey, grey + 5), 5)
        if hy > 0:
            t = np.linspace(0.0, 1.0, hy)[:, None]
            column = (top * (1 - t) + bottom * t).astype(np.uint8)[:, None, :]
            cv.img[:hy] = cv2.resize(column, (self.w, hy), interpolation=cv2.INTER_NEAREST)
        cv.obj[:hy] = SKY
        # Far skyline: a run of building blocks and tree lines standing on the far ground.
        y_far = cam.project(0.0, 0.0, self.d_far)[1] + 1.0
        x, polys_b, polys_v = -5.0, [], []
        while x < self.w + 5:
            seg = self.w * rng.uniform(0.04, 0.2)
            top_y = cam.horizon_y - self.h * rng.uniform(0.01, 0.12)
            if rng.random() < 0.55:
                polys_b.append(np.array([[x, y_far], [x, top_y], [x + seg, top_y], [x + seg, y_far]]))
            else:
                xs = np.linspace(x, x + seg, 7)
                ys = top_y + self.h * rng.uniform(-0.02, 0.02, 7)
                polys_v.append(np.concatenate([[[x, y_far]], np.stack([xs, ys], -1), [[x + seg, y_far]]]))
            x += seg
        cv.fill(polys_b, _color(rng, (150, 150, 160), 20), BUILDING)
        cv.fill(polys_v, _color(rng, (70, 95, 60), 10), VEGETATION)

    def ground(self) -> None:
        """Terrain everywhere, then per side an optional grass strip, curb and sidewalk, then the road."""
        rng, cv, cam, d = self.rng, self.cv, self.cam, self.depths
        terrain = _color(rng, (135, 150, 85), 12)
        sidewalk = _color(rng, (170, 160, 155), 12)
        road = _color(rng, (105, 103, 108), 10)
        cv.fill([_band(cam, -400.0, 400.0, d)], terrain, TERRAIN)
        self.facade_x: list[float] = []
        for side in (-1, 1):
            edge = self.road_l if side < 0 else self.road_r
            x = edge
            if rng.random() < 0.3:  # grass strip along the road
                x += side * rng.uniform(0.8, 3.0)
            if rng.random() < 0.85:
                sw = rng.uniform(1.5, 5.0)
                a, b = sorted((x, x + side * sw))
                cv.fill([_band(cam, a, b, d)], sidewalk, SIDEWALK)
                if rng.random() < 0.6:  # paving joints
                    self._sidewalk_joints(a, b, sidewalk * 0.8)
                a, b = sorted((x, x + side * 0.2))
                cv.fill([_band(cam, a, b, d)], np.minimum(sidewalk * 1.15, 255), SIDEWALK)  # curb
                x += side * sw
            self.facade_x.append(x + side * (rng.uniform(0.0, 5.0) if rng.random() < 0.4 else 0.0))
        cv.fill([_band(cam, self.road_l, self.road_r, d)], road, ROAD)
        self.road_color = road
        self._road_details(road)

    def _sidewalk_joints(self, a: float, b: float, color: np.ndarray) -> None:
        cam = self.cam
        d = np.arange(max(self.d_near * 0.8, 1.0), min(30.0, self.d_far), self.rng.uniform(0.8, 1.5))
        segs = np.stack([cam.project(a, 0, d), cam.project(b, 0, d)], axis=1)
        self.cv.lines(segs, color, None, 1)

    def _road_details(self, road: np.ndarray) -> None:
        rng, cv, cam = self.rng, self.cv, self.cam
        white = _color(rng, (225, 225, 220), 8)
        dn, df = self.d_near * 0.6, self.d_far
        # Repaired patches and cracks, in road colour variations.
        for _ in range(int(rng.integers(0, 4))):
            x0 = rng.uniform(self.road_l, self.road_r - 1)
            d0 = rng.uniform(self.d_near, 40)
            poly = cam.project(
                x0 + np.array([0, rng.uniform(0.5, 3), rng.uniform(0.5, 3), 0]),
                0,
                d0 + np.array([0, 0, rng.uniform(1, 6), rng.uniform(1, 6)]),
            )
            cv.fill([poly], road * rng.uniform(0.75, 0.92), ROAD)
        # Lane marks: dashed between lanes, solid along the edges.
        dash, gap = rng.uniform(2.0, 4.0), rng.uniform(4.0, 8.0)
        starts = np.arange(dn - rng.uniform(0, dash + gap), df, dash + gap)
        half = 0.07
        polys: list[np.ndarray] = []
        for k in range(1, self.n_lanes):
            xl = self.road_l + k * self.lane_w
            for s0 in starts[starts + dash > dn]:
                da = np.array([max(s0, dn), max(s0, dn), s0 + dash, s0 + dash])
                polys.append(cam.project(xl + np.array([-half, half, half, -half]), 0, da))
        if rng.random() < 0.7:
            dd = np.geomspace(dn, df, 10)
            for xe in (self.road_l + 0.3, self.road_r - 0.3):
                polys.append(_band(cam, xe - half, xe + half, dd))
        if rng.random() < 0.25:  # zebra crossing
            dz = rng.uniform(self.d_near + 2, 25)
            for xs in np.arange(self.road_l + 0.3, self.road_r - 0.5, 1.0):
                polys.append(cam.project(np.array([xs, xs + 0.5, xs + 0.5, xs]), 0, np.array([dz, dz, dz + 3, dz + 3])))
        cv.fill(polys, white, ROAD)

    # -- facades ----------------------------------------------------------------------------------
    def facades(self) -> None:
        rng = self.rng
        for side, x in zip((-1, 1), self.facade_x):
            urban = rng.random() < 0.65
            kinds = ("building", "wall", "vegetation", "fence", "gap")
            probs = (0.62, 0.1, 0.16, 0.06, 0.06) if urban else (0.15, 0.1, 0.45, 0.15, 0.15)
            segments = []
            d = self.d_near * 0.3
            while d < self.d_far:
                length = rng.uniform(6.0, 30.0) * (1.0 + d / 40.0)  # far blocks are only a few pixels wide
                segments.append((d, d + length, kinds[int(rng.choice(5, p=probs))]))
                d += length
            for d0, d1, kind in reversed(segments):  # far first
                if kind == "building":
                    self._building(x, d0, d1, side)
                elif kind == "wall":
                    self._wall(x, d0, d1)
                elif kind == "vegetation":
                    self._hedge(x, d0, d1)
                elif kind == "fence":
                    self._hedge(x + side * 2.0, d0, d1, low=True)
                    self._fence(x, d0, d1)

    def _facade(
        self, x: float, d0: float, d1: float, z_bottom: float | np.ndarray, z_top: float | np.ndarray, n: int = 4
    ) -> np.ndarray:
        ds = np.linspace(d0, d1, n)
        return np.concatenate([self.cam.project(x, z_bottom, ds), self.cam.project(x, z_top, ds[::-1])])

    def _building(self, x: float, d0: float, d1: float, side: int) -> None:
        rng, cam = self.rng, self.cam
        z = rng.uniform(6.0, 25.0)
        palette = np.array([[205, 190, 165], [165, 90, 70], [225, 225, 215], [140, 140, 145], [190, 170, 120]])
        color = _color(rng, palette[rng.integers(len(palette))], 10)
        self.cv.fill([self._facade(x, d0, d1, 0.0, z)], color, BUILDING)
        # Windows: a regular grid projected onto the facade, one fillPoly for all of them.
        floor, col = rng.uniform(2.8, 3.5), rng.uniform(2.0, 3.5)
        ww, wh = col * rng.uniform(0.35, 0.6), floor * rng.uniform(0.35, 0.55)
        zs = np.arange(rng.uniform(0.8, 1.5), z - wh, floor)
        ds = np.arange(d0 + 0.5, d1 - ww, col)
        ds = ds[(ds > self.d_near * 0.3) & (cam.fx * ww / np.maximum(ds, 1e-3) > 1.5)]
        if len(zs) and len(ds):
            Zg, Dg = np.meshgrid(zs, ds, indexing="ij")
            Zc = Zg[..., None] + np.array([0, 0, wh, wh])
            Dc = Dg[..., None] + np.array([0, ww, ww, 0])
            quads = cam.project(x, Zc, Dc).reshape(-1, 4, 2)
            glass = _color(rng, (45, 55, 70), 12)
            self.cv.fill(quads, glass, None)
            frame = quads.mean(axis=1, keepdims=True)
            self.cv.fill(frame + (quads - frame) * 0.85, glass * rng.uniform(1.2, 1.8), None)
        if rng.random() < 0.4:  # shop front at street level
            self.cv.fill([self._facade(x, d0 + 0.5, d1 - 0.5, 0.2, 2.6)], _color(rng, (50, 55, 60), 10), None)

    def _wall(self, x: float, d0: float, d1: float) -> None:
        z = self.rng.uniform(1.0, 3.0)
        color = _color(self.rng, (160, 155, 145), 15)
        self.cv.fill([self._facade(x, d0, d1, 0.0, z)], color, WALL)
        self.cv.fill([self._facade(x, d0, d1, z - 0.15, z)], color * 0.75, WALL)

    def _hedge(self, x: float, d0: float, d1: float, low: bool = False) -> None:
        rng = self.rng
        n = 12
        z = (rng.uniform(1.0, 2.5) if low else rng.uniform(3.0, 10.0)) + rng.uniform(-0.6, 0.6, n)
        self.cv.fill([self._facade(x, d0, d1, 0.0, z[::-1], n)], _color(rng, (60, 90, 40), 10), VEGETATION)

    def _fence(self, x: float, d0: float, d1: float) -> None:
        rng, cam = self.rng, self.cam
        z = rng.uniform(1.0, 2.0)
        color = _color(rng, (130, 110, 90) if rng.random() < 0.5 else (150, 155, 160), 12)
        step = rng.uniform(0.15, 0.4)
        ds = np.arange(max(d0, self.d_near * 0.5), d1, step)[:300]
        posts = np.stack([cam.project(x, 0.0, ds), cam.project(x, z, ds)], axis=1)
        thick = np.maximum(1, (cam.fx * 0.05 / np.maximum(ds, 1e-3)).astype(int))
        self.cv.lines(posts[thick == 1], color, FENCE, 1)
        self.cv.lines(posts[thick > 1], color, FENCE, int(thick.max()))
        for zr in (0.15 * z, 0.9 * z):
            self.cv.fill([self._facade(x, d0, d1, zr, zr + 0.08)], color, FENCE)

    # -- things -----------------------------------------------------------------------------------
    def populate(self, kinds: Sequence[str], n_obstacles: tuple[int, int]) -> None:
        rng, cam = self.rng, self.cam
        cv = self.cv
        dn = self.d_near
        add = self.things.append
        n_cars = int(rng.integers(0, 8))
        for _ in range(n_cars):
            r = rng.random()
            label = things.CAR if r < 0.82 else (things.TRUCK if r < 0.92 else things.BUS)
            lane = int(rng.integers(-1, self.n_lanes + 1))  # -1 / n_lanes: parked along an edge
            if 0 <= lane < self.n_lanes:
                X = self.road_l + (lane + 0.5) * self.lane_w + rng.uniform(-0.3, 0.3)
            else:
                X = (self.road_l + 1.1) if lane < 0 else (self.road_r - 1.1)
            d = rng.uniform(dn + 2.0, 70.0)
            if abs(X) < 1.2 and d < dn + 6:  # not right on our bonnet
                d += 8.0
            oncoming = X < 0 and rng.random() < 0.7 and lane >= 0
            add((d, partial(things.vehicle, cv, cam, rng, X, d, label, oncoming)))
        for _ in range(int(rng.integers(0, 7))):
            edge, outer = (self.road_l, self.facade_x[0]) if rng.random() < 0.5 else (self.road_r, self.facade_x[1])
            X = edge + np.sign(outer - edge) * rng.uniform(0.3, max(0.4, abs(outer - edge) - 0.3))
            d = rng.uniform(dn + 1.0, 50.0)
            if rng.random() < 0.1:
                X = rng.uniform(self.road_l, self.road_r)
            add((d, partial(things.person, cv, cam, rng, X, d)))
        for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.4 else 0):
            X = self.road_r - 0.8 if rng.random() < 0.5 else self.road_l + 0.8
            d = rng.uniform(dn + 3.0, 40.0)
            add((d, partial(things.cyclist, cv, cam, rng, X, d)))
        for side_edge, outer in ((self.road_l, self.facade_x[0]), (self.road_r, self.facade_x[1])):
            spacing = rng.uniform(10.0, 30.0)
            X = side_edge + np.sign(outer - side_edge) * rng.uniform(0.4, 0.8)
            for d in np.arange(rng.uniform(dn, dn + spacing), 70.0, spacing):
                kind = str(rng.choice(["sign", "light", "lamp", "bare"], p=[0.4, 0.2, 0.3, 0.1]))
                add((d, partial(things.pole, cv, cam, rng, X, d, kind)))
            if rng.random() < 0.5:
                Xt = (side_edge + outer) / 2 if abs(outer - side_edge) > 2 else outer
                for d in np.arange(rng.uniform(dn, dn + 10), 60.0, rng.uniform(8.0, 20.0)):
                    add((d + 0.5, partial(things.tree, cv, cam, rng, Xt, d)))
        lo, hi = n_obstacles
        for _ in range(int(rng.integers(lo, hi + 1)) if kinds else 0):
            kind = str(kinds[int(rng.integers(len(kinds)))])
            add(self._obstacle(kind))

    def _obstacle(self, kind: str) -> tuple[float, Callable[[], None]]:
        rng, cam, cv = self.rng, self.cam, self.cv
        d = float(np.exp(rng.uniform(np.log(self.d_near * 1.05), np.log(60.0))))
        X = rng.uniform(self.road_l + 0.3, self.road_r - 0.3)
        size_m = float(np.exp(rng.uniform(np.log(0.12), np.log(2.2))))
        aspect = rng.uniform(*OBSTACLE_ASPECT[kind])
        ph = int(np.clip(round(cam.fy * size_m / d), MIN_OBSTACLE_PX, 0.6 * self.h))
        pw = int(np.clip(round(ph * aspect), MIN_OBSTACLE_PX, 0.8 * self.w))
        bx, by = cam.project(X, 0.0, d)
        oid = cv.new_obstacle(kind, d)

        def draw() -> None:
            rgb, mask = obstacle_patch(kind, ph, pw, rng)
            x0, y0 = round(bx - pw / 2), round(by - ph * 0.97)
            # Contact shadow on the road below the object.
            cv.ellipse((bx, by), (pw * 0.55, max(1.0, ph * 0.08)), self.road_color * 0.35, None)
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + pw, self.w), min(y0 + ph, self.h)
            if xa >= xb or ya >= yb:
                return
            m = mask[ya - y0 : yb - y0, xa - x0 : xb - x0]
            cv.img[ya:yb, xa:xb][m] = rgb[ya - y0 : yb - y0, xa - x0 : xb - x0][m]
            cv.obj[ya:yb, xa:xb][m] = oid

        return d, draw

    def draw_things(self) -> None:
        for _, draw in sorted(self.things, key=lambda t: -t[0]):
            draw()

    # -- camera and photometry ------------------------------------------------------------------
    def roll(self) -> None:
        angle = self.cam.roll_deg
        if angle == 0.0:
            return
        m = cv2.getRotationMatrix2D((self.w / 2, self.h / 2), angle, 1.0)
        size = (self.w, self.h)
        self.cv.img = cv2.warpAffine(self.cv.img, m, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        self.cv.obj = cv2.warpAffine(self.cv.obj, m, size, flags=cv2.INTER_NEAREST, borderValue=BORDER)

    def ego_vehicle(self) -> None:
        rng = self.rng
        if rng.random() < 0.5:
            return
        top = self.h * rng.uniform(0.05, 0.12)
        color = _color(rng, (40, 42, 48), 10)
        self.cv.ellipse((self.w * rng.uniform(0.45, 0.55), self.h + top * 2), (self.w * 0.75, top * 3), color, EGO)

    def photometry(self) -> np.ndarray:
        rng, h, w = self.rng, self.h, self.w
        obj = self.cv.obj
        label_lut = np.asarray(self.cv.tables()[0])
        amps = np.zeros((3, 256), np.float32)
        for lid, a in _TEXTURE.items():
            amps[:, label_lut == lid] = np.asarray(a, np.float32)[:, None]
        amps[0] += 2.0  # sensor grain on everything, obstacles included (they bring their own texture)
        noise: np.ndarray = self._fine_noise() * cv2.LUT(obj, amps[0])
        noise += self._smooth_noise(8) * cv2.LUT(obj, amps[1])
        noise += self._smooth_noise(48) * cv2.LUT(obj, amps[2])
        # Multiplicative light: vignetting and soft cast shadows on the ground, at 1/8 resolution.
        sh, sw = h // 8 + 2, w // 8 + 2
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        r2 = ((xx / sw - 0.5) ** 2 + (yy / sh - 0.5) ** 2) * 2
        light = 1.0 - np.float32(rng.uniform(0.0, 0.35)) * r2
        hy = max(self.cam.horizon_y / 8, 0)
        for _ in range(int(rng.integers(0, 4))):
            cx, cy = rng.uniform(0, sw), rng.uniform(hy, sh)
            pts = np.stack([cx + rng.uniform(-0.4, 0.4, 5) * sw, cy + rng.uniform(-0.15, 0.15, 5) * sh], -1)
            cv2.fillPoly(light, [cv2.convexHull(pts.astype(np.float32)).astype(np.int32)], rng.uniform(0.55, 0.8))
        light = cv2.GaussianBlur(light, (0, 0), 1.0)
        light = cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)
        # Noise and light act on luma only (2-D arrays: far cheaper than broadcasting over RGB).
        ycc = cv2.cvtColor(self.cv.img, cv2.COLOR_RGB2YCrCb)
        luma = ycc[..., 0].astype(np.float32)
        luma += noise
        luma *= light
        np.maximum(luma, 0.0, out=luma)
        ycc[..., 0] = cv2.convertScaleAbs(luma)
        img = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
        # Global exposure, contrast and colour cast as one affine colour transform (saturating).
        gain = rng.uniform(0.75, 1.2) * (1 + rng.normal(0, 0.05, 3))
        m = np.zeros((3, 4), np.float32)
        m[np.arange(3), np.arange(3)] = gain
        m[:, 3] = 110.0 * (1 - gain) + rng.uniform(-20, 20) + rng.normal(0, 4, 3)
        return cv2.transform(img, m)

    def _fine_noise(self) -> np.ndarray:
        """Per-pixel grain, zero mean and unit variance (uniform: uint8 draws are the cheapest RNG output)."""
        grain = self.rng.integers(0, 256, (self.h, self.w), dtype=np.uint8).astype(np.float32)
        grain -= np.float32(127.5)
        grain *= np.float32(1 / 73.9)
        return grain

    def _smooth_noise(self, cell: int) -> np.ndarray:
        """Smooth unit-variance noise with blobs about ``cell`` pixels across."""
        h, w = self.h, self.w
        small = self.rng.standard_normal((h // cell + 2, w // cell + 2), dtype=np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)

    def build(self, kinds: Sequence[str], n_obstacles: tuple[int, int]) -> Scene:
        self.sky_and_horizon()
        self.ground()
        self.facades()
        self.populate(kinds, n_obstacles)
        self.draw_things()
        self.roll()
        self.ego_vehicle()
        image = self.photometry()
        label_lut, instance_lut, obstacle_lut = self.cv.tables()
        obj = self.cv.obj
        label_ids = cv2.LUT(obj, label_lut)
        train_ids = cv2.LUT(label_ids, ID_TO_TRAIN_ID)
        instance_ids = cv2.LUT(obj, instance_lut)
        obstacle_ids, obstacles = self._visible_obstacles(cv2.LUT(obj, obstacle_lut))
        anomaly = np.where(train_ids == VOID, np.uint8(VOID), np.uint8(0))
        anomaly[obstacle_ids > 0] = 1
        return Scene(image, label_ids, train_ids, anomaly, instance_ids, obstacle_ids, obstacles, self.cam)

    def _visible_obstacles(self, ids: np.ndarray) -> tuple[np.ndarray, tuple[ObstacleInstance, ...]]:
        kinds = self.cv.obstacle_kinds
        if not kinds:
            return ids, ()
        rows, cols = np.flatnonzero(ids.any(axis=1)), np.flatnonzero(ids.any(axis=0))
        if len(rows) == 0:
            return ids, ()
        y0, x0 = rows[0], cols[0]
        crop = ids[y0 : rows[-1] + 1, x0 : cols[-1] + 1]
        areas = np.bincount(crop.ravel(), minlength=len(kinds) + 1)
        remap = np.zeros(256, np.uint8)
        out: list[ObstacleInstance] = []
        for i, kind in enumerate(kinds, start=1):
            if areas[i] == 0:
                continue
            x, y, bw, bh = cv2.boundingRect((crop == i).astype(np.uint8))
            box = (x0 + x, y0 + y, x0 + x + bw, y0 + y + bh)
            out.append(ObstacleInstance(kind, box, int(areas[i]), self.cv.obstacle_depths[i - 1]))
            remap[i] = len(out)
        if len(out) < len(kinds):
            ids = cv2.LUT(ids, remap)
        return ids, tuple(out)


def generate_scene(
    height: int,
    width: int,
    seed: int,
    *,
    obstacle_kinds: Sequence[str] = OBSTACLE_KINDS,
    n_obstacles: tuple[int, int] = (0, 3),
) -> Scene:
    """Generate one synthetic road scene of ``height x width`` pixels, deterministic in ``seed``.

    ``obstacle_kinds`` are drawn uniformly for the ``n_obstacles = (lo, hi)`` (inclusive) obstacles placed on
    the road; pass ``n_obstacles=(0, 0)`` or no kinds for inlier-only frames.
    """
    if not (MIN_SIZE <= height <= MAX_SIDE and MIN_SIZE <= width <= MAX_SIDE):
        raise ConfigError(f"scene size must be within {MIN_SIZE}..{MAX_SIDE} pixels per side, got {height}x{width}")
    unknown = [k for k in obstacle_kinds if k not in OBSTACLE_ASPECT]
    if unknown:
        raise ConfigError(f"obstacle_kinds has unknown kinds {unknown}; known kinds: {', '.join(OBSTACLE_KINDS)}")
    lo, hi = n_obstacles
    if not 0 <= lo <= hi <= 64:
        raise ConfigError(f"n_obstacles must satisfy 0 <= lo <= hi <= 64, got {n_obstacles}")
    rng = np.random.default_rng(seed)
    return _SceneBuilder(int(height), int(width), rng).build(tuple(obstacle_kinds), (int(lo), int(hi)))
