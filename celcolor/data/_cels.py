"""The scene model and rasteriser behind :mod:`celcolor.data.synthetic`.

A cut is a list of cels (flat shapes) in z-order over a background. Each cel is a
polygon in its own local coordinates, with an optional shadow part (the shape minus
a disc) and highlight part (the shape inside a small ellipse), moved by one affine
matrix per frame (composed with the camera translation). Because every pixel of a
cel moves with that cel's matrix, the flow is exact: ``flow(x) = M_t' M_t^-1 x - x``.

Convention: pixel ``(row y, column x)`` has its centre at the point ``(x, y)``; flow
is ``H,W,2`` float32 with x first. Polygons are rasterised with OpenCV at 1/16 pixel
precision (``shift=4``).
"""

from __future__ import annotations

import colorsys
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from celcolor.data.synthetic import CutSpec

SHIFT = 4  # fractional bits of polygon coordinates given to OpenCV
_ONE = 1 << SHIFT

SHADOW_TRACE_RGB = (235, 20, 20)  # red trace lines mark shadow boundaries in the sketch
HIGHLIGHT_TRACE_RGB = (20, 60, 235)  # blue trace lines mark highlight boundaries
INK_RGB = (0, 0, 0)  # outlines, in the sketch and the colour frame alike
_WHITE = (255, 255, 255)

_REF_HEIGHT = 360.0  # line widths and speeds are given at 360p and scale with height


# --------------------------------------------------------------------------- geometry


def _chaikin(p: np.ndarray, iterations: int) -> np.ndarray:
    """Corner-cutting of a closed polygon: rounds corners, keeps edges straight."""
    for _ in range(iterations):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], axis=1).reshape(-1, 2)
    return p


def _signed_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _normalise(p: np.ndarray) -> np.ndarray:
    """Centre a closed polygon on its area centroid, orient it positively, max radius 1."""
    if _signed_area(p) < 0:
        p = p[::-1]
    x, y = p[:, 0], p[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cross.sum() / 2.0
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6.0 * a)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6.0 * a)
    p = p - np.array([cx, cy])
    return np.ascontiguousarray(p / np.linalg.norm(p, axis=1).max())


def _ellipse(a: float, b: float, n: int = 72, centre=(0.0, 0.0), angle: float = 0.0):
    th = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    pts = np.stack([a * np.cos(th), b * np.sin(th)], axis=1)
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]]) + np.asarray(centre, dtype=np.float64)


def _shape_outline(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A closed outline of the given kind, normalised to max radius 1."""
    if kind == "ellipse":
        p = _ellipse(1.0, rng.uniform(0.55, 1.0), 80)
    elif kind == "rounded":
        k = int(rng.integers(3, 7))
        th = np.sort(rng.uniform(-0.25, 0.25, k) * 2 * np.pi / k + np.arange(k) * 2 * np.pi / k)
        r = rng.uniform(0.75, 1.0, k)
        p = _chaikin(np.stack([r * np.cos(th), r * np.sin(th)], axis=1), 3)
    elif kind == "blob":
        th = np.linspace(0.0, 2.0 * np.pi, 96, endpoint=False)
        r = np.ones_like(th)
        for j in range(2, 6):
            r += rng.uniform(0.0, 0.3 / j) * np.cos(j * th + rng.uniform(0, 2 * np.pi))
        p = np.stack([r * np.cos(th), r * np.sin(th)], axis=1)
    elif kind == "star":
        k = int(rng.integers(4, 8))
        th = np.arange(2 * k) * np.pi / k
        r = np.where(np.arange(2 * k) % 2 == 0, 1.0, rng.uniform(0.45, 0.65))
        p = _chaikin(np.stack([r * np.cos(th), r * np.sin(th)], axis=1), 2)
    elif kind == "superellipse":
        e = 2.0 / rng.uniform(3.0, 6.0)
        th = np.linspace(0.0, 2.0 * np.pi, 88, endpoint=False)
        c, s = np.cos(th), np.sin(th)
        b = rng.uniform(0.5, 1.0)
        p = np.stack([np.sign(c) * np.abs(c) ** e, b * np.sign(s) * np.abs(s) ** e], axis=1)
    else:  # pragma: no cover - kinds are internal
        raise ValueError(f"unknown shape kind {kind!r}")
    return _normalise(p)


SHAPE_KINDS = ("ellipse", "rounded", "blob", "star", "superellipse")


def _affine(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Apply a 3x3 (or 2x3) affine matrix to points ``(N,2)``."""
    return p @ m[:2, :2].T + m[:2, 2]


def _fix(p: np.ndarray) -> np.ndarray:
    """Float pixel coordinates to OpenCV's fixed point (``shift=SHIFT``)."""
    return np.round(p * _ONE).astype(np.int32)


def _rot(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s], [s, c]])


# --------------------------------------------------------------------------- motion


@dataclass(frozen=True)
class _Motion:
    """Smooth affine motion: ``T(centre) R(angle) Shear Squash Scale`` at time ``tau``.

    Every term is a sum of sinusoids (plus a steady spin), so the path is bounded for
    any cut length; ``tau = motion * frame`` so ``CutSpec.motion`` only sets the speed.
    """

    centre: np.ndarray  # (2,) mean position, pixels
    amp: np.ndarray  # (2, K) translation amplitudes per axis and component, pixels
    omega: np.ndarray  # (2, K) rad per tau
    phase: np.ndarray  # (2, K)
    size: float  # radius in pixels of the normalised outline
    angle0: float
    spin: float  # rad per tau
    osc: np.ndarray  # (4, 3): amplitude, omega, phase of rotation, scale, squash, shear
    squash_axis: float

    def matrix(self, tau: float) -> np.ndarray:
        c = self.centre + (self.amp * np.sin(self.omega * tau + self.phase)).sum(axis=1)
        w = self.osc[:, 0] * np.sin(self.osc[:, 1] * tau + self.osc[:, 2])
        angle = self.angle0 + self.spin * tau + w[0]
        scale = self.size * (1.0 + w[1])
        e = 1.0 + w[2]
        ra = _rot(self.squash_axis)
        squash = ra @ np.diag([e, 1.0 / e]) @ ra.T  # area preserving squash and stretch
        shear = np.array([[1.0, w[3]], [0.0, 1.0]])
        m = np.eye(3)
        m[:2, :2] = _rot(angle) @ shear @ squash * scale
        m[:2, 2] = c
        return m

    @staticmethod
    def stretch_bound(osc: np.ndarray) -> float:
        """Upper bound of the linear part's norm divided by ``size``."""
        return (1.0 + osc[1, 0]) * (1.0 + osc[2, 0]) * (1.0 + osc[3, 0])


@dataclass(frozen=True)
class _Static:
    """A prop that does not move by itself (only with the camera)."""

    m: np.ndarray  # 3x3

    def matrix(self, tau: float) -> np.ndarray:
        return self.m


# --------------------------------------------------------------------------- cels


@dataclass(frozen=True)
class _Part:
    """A shadow or highlight: the shape outside (shadow) or inside (highlight) ``poly``."""

    poly: np.ndarray  # closed polygon, local coordinates
    inside: bool
    region: int
    rgb: tuple[int, int, int]
    trace_rgb: tuple[int, int, int]


@dataclass(frozen=True)
class _Cel:
    outline: np.ndarray  # closed polygon, local coordinates
    motion: _Motion | _Static
    line_width: int  # outline thickness, pixels
    trace_width: int  # trace line thickness, pixels
    region: int
    rgb: tuple[int, int, int]
    parts: tuple[_Part, ...]  # drawn in order: shadow then highlight
    name: str


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r * 255), round(g * 255), round(b * 255))


def _tones(rng: np.random.Generator) -> tuple[tuple[int, int, int], ...]:
    """Base, shadow and highlight colours of one cel. None is close to the trace colours:
    saturation <= 0.65 keeps every channel of a bright fill above 70, shadows are dark."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0.2, 0.65), rng.uniform(0.55, 0.95)
    base = _hsv(h, s, v)
    shadow = _hsv(h + 0.03 * math.sin(2 * np.pi * (0.7 - h)), min(s * 1.15, 0.75), v * 0.72)
    light = _hsv(h, s * 0.45, min(v * 1.1 + 0.05, 1.0))
    return base, shadow, light


def _support(p: np.ndarray, d: np.ndarray) -> float:
    return float((p @ d).max())


# --------------------------------------------------------------------------- scene


@dataclass(frozen=True)
class Scene:
    """Everything about a cut that does not change from frame to frame."""

    spec: CutSpec
    scale: float  # height / 360
    cels: tuple[_Cel, ...]  # z-order, bottom first
    background_rgb: tuple[int, int, int]
    gradient: np.ndarray | None  # (3, 3): per channel [base, d/dx, d/dy] in world coords
    camera_dir: np.ndarray  # (2,) unit
    camera_amp: float  # pixels
    camera_period: float  # frames
    region_colours: np.ndarray  # (R, 3) uint8
    region_names: tuple[str, ...]
    paper_rgb: np.ndarray  # (3,) float

    @property
    def num_regions(self) -> int:
        return len(self.region_names)

    def camera(self, t: float) -> np.ndarray:
        """Camera offset at frame ``t``: what a world point's image position gains."""
        if self.camera_amp == 0.0:
            return np.zeros(2)
        return self.camera_dir * self.camera_amp * math.sin(2 * math.pi * t / self.camera_period)

    def matrices(self, t: float) -> list[np.ndarray]:
        """Each cel's local-to-image matrix (3x3) at frame ``t``, camera included."""
        tau = t * self.spec.motion
        cam = np.eye(3)
        cam[:2, 2] = self.camera(t)
        return [cam @ c.motion.matrix(tau) for c in self.cels]

    @functools.cached_property
    def still_background(self) -> np.ndarray:
        """The background at camera offset 0 (copied for every frame when it cannot move)."""
        spec = self.spec
        if self.gradient is not None:
            return _gradient(self.gradient, spec.width, spec.height, np.zeros(2))
        return _solid((spec.height, spec.width, 3), np.uint8, self.background_rgb)

    @functools.cached_property
    def grain(self) -> np.ndarray | None:
        """Static paper grain (a little larger than the frame, cropped at random offsets)."""
        spec = self.spec
        if not spec.paper_enabled:
            return None
        rng = np.random.default_rng([spec.seed, 3])
        g = np.abs(rng.normal(0.0, 2.2, (spec.height + 32, spec.width + 32, 1)))
        return np.repeat(np.minimum(g, 12).astype(np.uint8), 3, axis=2)


def build_scene(spec: CutSpec) -> Scene:
    """Lay out the cels of a cut from its spec (deterministic for ``spec.seed``).

    The random draws of each cel come from their own stream, so changing flags such as
    ``faults``, ``motion`` or ``shadows`` does not change the other cels' shapes.
    """
    return _build_scene_cached(spec)


@functools.lru_cache(maxsize=8)
def _build_scene_cached(spec: CutSpec) -> Scene:
    W, H = spec.width, spec.height
    sc = H / _REF_HEIGHT
    grng = np.random.default_rng([spec.seed, 2])
    # background
    bh = grng.uniform(0, 1)
    bg = _hsv(bh, grng.uniform(0.04, 0.22), grng.uniform(0.86, 0.97))
    bg2 = _hsv(bh + grng.uniform(-0.12, 0.12), grng.uniform(0.15, 0.4), grng.uniform(0.7, 0.85))
    ga = grng.uniform(0, 2 * np.pi)
    gdir = np.array([math.cos(ga), math.sin(ga)]) / max(W, H)
    gradient = None
    if spec.background == "gradient":
        d = np.asarray(bg2, float) - np.asarray(bg, float)
        gradient = np.zeros((3, 3))
        gradient[:, 1] = d * gdir[0]
        gradient[:, 2] = d * gdir[1]
        # centre of the frame gets the mean colour
        gradient[:, 0] = (np.asarray(bg, float) + np.asarray(bg2, float)) / 2 - (
            gradient[:, 1] * W / 2 + gradient[:, 2] * H / 2
        )
        bg = tuple(round(v) for v in (np.asarray(bg, float) + np.asarray(bg2, float)) / 2)
    # camera
    ca = grng.uniform(-0.35, 0.35) + (np.pi if grng.uniform() < 0.5 else 0.0)
    camera_dir = np.array([math.cos(ca), math.sin(ca)])
    period = float(min(max(4 * spec.num_frames, 120), 240))
    camera_amp = spec.camera_pan * sc * period / (2 * np.pi)  # peak speed camera_pan * sc
    # paper
    r0 = grng.uniform(236, 250)
    g0 = r0 - grng.uniform(0, 6)
    paper = np.array([r0, g0, g0 - grng.uniform(2, 12)])

    colours: list[tuple[int, int, int]] = [tuple(int(v) for v in bg)]  # type: ignore[misc]
    names = ["background"]
    cels: list[_Cel] = []

    def new_region(name: str, rgb: tuple[int, int, int]) -> int:
        colours.append(rgb)
        names.append(name)
        return len(names) - 1

    # props: big static shapes of the set, at the bottom of the z-order
    for i in range(spec.num_props):
        rng = np.random.default_rng([spec.seed, 1, i])
        outline = _shape_outline(("blob", "ellipse", "superellipse")[i % 3], rng)
        m = np.eye(3)
        m[:2, :2] = np.diag([rng.uniform(0.35, 0.7) * W, rng.uniform(0.2, 0.4) * H])
        m[:2, 2] = [rng.uniform(0.1, 0.9) * W, rng.uniform(0.75, 1.05) * H]
        h, s, v = rng.uniform(0, 1), rng.uniform(0.1, 0.35), rng.uniform(0.5, 0.8)
        rgb = _hsv(h, s, v)
        lw = max(1, round(rng.uniform(1.5, 3.0) * sc))
        reg = new_region(f"prop{i}", rgb)
        cels.append(_Cel(outline, _Static(m), lw, 1, reg, rgb, (), f"prop{i}"))

    n = spec.num_shapes
    if spec.occlusion:
        slots = None
    else:
        cols = max(1, math.ceil(math.sqrt(n * W / H)))
        rows = max(1, math.ceil(n / cols))
        order = np.random.default_rng([spec.seed, 4]).permutation(cols * rows)[:n]
        slots = [(int(o % cols), int(o // cols), W / cols, H / rows) for o in order]
    v0 = 2.5 * sc  # mean speed in pixels per frame at motion 1
    for i in range(n):
        rng = np.random.default_rng([spec.seed, 0, i])
        kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
        outline = _shape_outline(kind, rng)
        lw = max(1, round(rng.uniform(1.5, 4.0) * sc))
        tw = max(1, round(rng.uniform(1.0, 2.0) * sc))
        osc = np.array(
            [
                [rng.uniform(0.0, 0.3), rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)],
                [rng.uniform(0.0, 0.1), rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)],
                [rng.uniform(0.0, 0.12), rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)],
                [rng.uniform(0.0, 0.1), rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)],
            ]
        )
        stretch = _Motion.stretch_bound(osc)
        margin = 3 * lw + 4  # outline, wobble and doubled strokes beyond the fill
        if slots is None:
            size = rng.uniform(0.12, 0.24) * H * min(1.0, math.sqrt(6.0 / max(n, 1)))
            centre = np.array([rng.uniform(0.25, 0.75) * W, rng.uniform(0.3, 0.7) * H])
            span = np.array([rng.uniform(0.15, 0.3) * W, rng.uniform(0.1, 0.22) * H])
            span = np.minimum(span, np.minimum(centre, [W, H] - centre) - 0.1 * np.array([W, H]))
            _ = rng.uniform()  # keep the stream aligned with the gridded layout
        else:
            cx, cy, cw, ch = slots[i]
            half = min(cw, ch) / 2
            size = max((0.8 * half - margin) / stretch, 2.0) * rng.uniform(0.75, 1.0)
            centre = np.array([(cx + 0.5) * cw, (cy + 0.5) * ch])
            reach = size * stretch + margin  # no point of the cel gets further than this
            span = np.maximum(np.array([cw / 2, ch / 2]) - reach, 0.0) * rng.uniform(0.6, 1.0)
            _ = rng.uniform(size=4)
        split = rng.uniform(0.6, 0.8)
        amp = np.stack([span * split, span * (1 - split)], axis=1)  # (2 axes, 2 comps)
        f = rng.uniform(0.6, 1.4, (2, 2))
        rms = math.sqrt(0.5 * float(((amp * f) ** 2).sum()))  # path length per radian
        omega0 = v0 / max(rms, 0.35 * size)  # mean translation speed <= v0 per tau
        omega = f * omega0
        osc[:, 1] *= omega0
        motion = _Motion(
            centre=centre,
            amp=amp,
            omega=omega,
            phase=rng.uniform(0, 2 * np.pi, (2, 2)),
            size=float(size),
            angle0=rng.uniform(0, 2 * np.pi),
            spin=rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.3) * v0 / size,
            osc=osc,
            squash_axis=rng.uniform(0, np.pi),
        )
        base, dark, light = _tones(rng)
        name = f"shape{i}"
        reg = new_region(name, base)
        # shadow: the shape outside a big disc that holds the lit side (curved terminator)
        la = rng.uniform(0, 2 * np.pi)
        nd = np.array([math.cos(la), math.sin(la)])  # from the light into the shadow
        h = _support(outline, nd)
        d = h * rng.uniform(0.15, 0.55)
        rho = rng.uniform(0.9, 3.0)
        disc = _ellipse(rho, rho * rng.uniform(0.85, 1.15), 96, nd * (d - rho), la)
        # highlight: a small ellipse towards the light
        hl = _support(outline, -nd)
        ua = la + np.pi / 2  # long axis across the light direction
        spot_c = -nd * hl * rng.uniform(0.35, 0.6)
        b = max(rng.uniform(0.06, 0.13), 2.5 * tw / size)  # at least a few pixels across
        spot = _ellipse(max(rng.uniform(0.12, 0.26), 1.6 * b), b, 48, spot_c, ua)
        has_hl = rng.uniform() < 0.75 or i == 0
        parts: list[_Part] = []
        if spec.shadows:
            r = new_region(name + ".shadow", dark)
            parts.append(_Part(disc, False, r, dark, SHADOW_TRACE_RGB))
        if spec.highlights and has_hl:
            r = new_region(name + ".highlight", light)
            parts.append(_Part(spot, True, r, light, HIGHLIGHT_TRACE_RGB))
        cels.append(_Cel(outline, motion, lw, tw, reg, base, tuple(parts), name))

    return Scene(
        spec=spec,
        scale=sc,
        cels=tuple(cels),
        background_rgb=tuple(int(v) for v in bg),  # type: ignore[arg-type]
        gradient=gradient,
        camera_dir=camera_dir,
        camera_amp=camera_amp,
        camera_period=period,
        region_colours=np.array(colours, dtype=np.uint8).reshape(-1, 3),
        region_names=tuple(names),
        paper_rgb=paper,
    )


# --------------------------------------------------------------------------- faults


def _arclength(p: np.ndarray) -> np.ndarray:
    """Cumulative arclength of a closed polygon, ``N+1`` values ending at the perimeter."""
    seg = np.roll(p, -1, axis=0) - p
    return np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])


def _arc(p: np.ndarray, s: np.ndarray, a: float, b: float) -> np.ndarray:
    """The open polyline along closed polygon ``p`` from arclength ``a`` to ``b``.

    ``0 <= a < perimeter`` and ``a < b <= a + perimeter`` where ``perimeter = s[-1]``.
    """
    n, perimeter = len(p), s[-1]
    s2 = np.concatenate([s[:-1], s[:-1] + perimeter, [2 * perimeter]])
    p2 = np.vstack([p, p, p[:1]])

    def at(u: float) -> np.ndarray:
        i = min(int(np.searchsorted(s2, u, side="right")) - 1, 2 * n - 1)
        t = (u - s2[i]) / max(s2[i + 1] - s2[i], 1e-12)
        return p2[i] + t * (p2[i + 1] - p2[i])

    inner = p2[(s2 > a) & (s2 < b)]
    return np.vstack([at(a), inner, at(b)])


def _normals(p: np.ndarray, closed: bool) -> np.ndarray:
    """Unit normals (outward for a positively oriented closed polygon)."""
    t = np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0) if closed else np.gradient(p, axis=0)
    nrm = np.stack([t[:, 1], -t[:, 0]], axis=1)
    return nrm / np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)


def _wobble(p: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth hand-drawn jitter along the normal of a closed polygon (new every frame)."""
    s = _arclength(p)
    u = s[:-1] / s[-1]
    d = np.zeros(len(p))
    for _ in range(3):
        f = int(rng.integers(2, 10))
        d += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * u + rng.uniform(0, 2 * np.pi))
    d *= amplitude / max(np.abs(d).max(), 1e-9)
    return p + d[:, None] * _normals(p, closed=True)


Stroke = tuple[np.ndarray, bool, int]  # points (float pixels), closed, thickness


def _strokes(cel: _Cel, poly: np.ndarray, scene: Scene, t: int, k: int) -> list[Stroke]:
    """The ink strokes of a cel's outline in frame ``t``, with the drawing faults asked for."""
    spec = scene.spec
    lw = cel.line_width
    if not (spec.wobble_enabled or spec.gaps_enabled or spec.doubled_enabled):
        return [(poly, True, lw)]
    rng = np.random.default_rng([spec.seed, 7, t, k])
    wob, gap, dbl = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(3))
    if spec.wobble_enabled:
        poly = _wobble(poly, max(0.35 * lw, 0.4), wob)
    s = _arclength(poly)
    perimeter = s[-1]
    strokes: list[Stroke] = []
    ngaps = min(int(gap.poisson(1.2)), 3) if spec.gaps_enabled else 0
    if ngaps == 0 or perimeter < 8 * lw:
        strokes.append((poly, True, lw))
    else:
        starts = np.sort(gap.uniform(0, perimeter, ngaps))
        # Round caps eat lw/2 at each end: visible gaps are about 0.2..1.2 lw + scale.
        ends = starts + gap.uniform(1.2, 2.2, ngaps) * lw + scene.scale
        for i in range(ngaps):
            a = ends[i]
            b = starts[i + 1] if i + 1 < ngaps else starts[0] + perimeter
            if b - a <= 0.5:
                continue
            if a >= perimeter:
                a, b = a - perimeter, b - perimeter
            strokes.append((_arc(poly, s, a, b), False, lw))
    if spec.doubled_enabled and dbl.uniform() < 0.5 and perimeter > 8 * lw:
        a = dbl.uniform(0, perimeter)
        q = _arc(poly, s, a, a + dbl.uniform(0.15, 0.4) * perimeter)
        if len(q) >= 3:
            u = np.linspace(0.0, 1.0, len(q))
            off = dbl.choice([-1.0, 1.0]) * dbl.uniform(0.8, 1.5) * lw * np.sin(np.pi * u) ** 0.7
            strokes.append((q + off[:, None] * _normals(q, closed=False), False, max(1, lw // 2)))
    return strokes


def _paper(scene: Scene, t: int) -> np.ndarray:
    """An off-white, unevenly toned sheet (each frame is a different scanned sheet)."""
    spec = scene.spec
    W, H = spec.width, spec.height
    rng = np.random.default_rng([spec.seed, 6, t])
    small = rng.normal(0.0, 1.0, (H // 24 + 3, W // 24 + 3)).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), 1.2) * 0.04 + rng.normal(0.0, 0.006)
    tone = np.clip(scene.paper_rgb[None, None, :] * (1.0 + small[..., None]), 0, 255)
    paper = cv2.resize(tone.astype(np.uint8), (W, H), interpolation=cv2.INTER_LINEAR)
    grain = scene.grain
    assert grain is not None
    dx, dy = (int(v) for v in rng.integers(0, 32, 2))
    cv2.subtract(paper, grain[dy : dy + H, dx : dx + W], dst=paper)
    return paper


def _specks(sketch: np.ndarray, scene: Scene, t: int) -> None:
    """Dirt, dust and hairs on the sheet (sketch only: they are no part of the drawing)."""
    spec = scene.spec
    W, H, sc = spec.width, spec.height, scene.scale
    rng = np.random.default_rng([spec.seed, 5, t])
    for _ in range(int(rng.poisson(30 * W * H / (640 * 360)))):
        g = int(rng.uniform(30, 170))
        c = np.array([rng.uniform(0, W), rng.uniform(0, H)])
        if rng.uniform() < 0.15:  # a hair
            steps = rng.normal(0, 1, (4, 2)).cumsum(axis=0)
            steps *= rng.uniform(4, 15) * sc / max(np.linalg.norm(steps[-1] - steps[0]), 1e-6)
            cv2.polylines(sketch, [_fix(c + steps)], False, (g, g, g), 1, cv2.LINE_AA, SHIFT)
        else:
            r = rng.uniform(0.5, 1.8) * sc
            axes = (int(r * _ONE), int(r * rng.uniform(0.5, 1.0) * _ONE))
            centre = (int(c[0] * _ONE), int(c[1] * _ONE))
            cv2.ellipse(
                sketch, centre, axes, rng.uniform(0, 180), 0, 360, (g, g, g), -1, cv2.LINE_AA, SHIFT
            )


# --------------------------------------------------------------------------- rendering


def _background(scene: Scene, cam: np.ndarray) -> np.ndarray:
    spec = scene.spec
    W, H = spec.width, spec.height
    if scene.gradient is None or scene.camera_amp == 0.0:
        return scene.still_background.copy()
    return _gradient(scene.gradient, W, H, cam)


def _gradient(g: np.ndarray, W: int, H: int, cam: np.ndarray) -> np.ndarray:
    """A linear gradient anchored in the world: it moves with the camera offset ``cam``."""
    xs = np.arange(W, dtype=np.float32) - np.float32(cam[0])
    ys = np.arange(H, dtype=np.float32) - np.float32(cam[1])
    planes = []
    for c in range(3):
        v = (float(g[c, 1]) * xs)[None, :] + (float(g[c, 2]) * ys + float(g[c, 0]) + 0.5)[:, None]
        planes.append(np.clip(v, 0, 255).astype(np.uint8))
    return cv2.merge(planes)


def _solid(shape: tuple[int, ...], dtype: type, value: object) -> np.ndarray:
    """A constant image (OpenCV fills multi-channel images much faster than numpy)."""
    img = np.empty(shape, dtype)
    if img.ndim == 2:
        img.fill(value)  # type: ignore[arg-type]
    else:
        cv2.rectangle(img, (0, 0), (shape[1] - 1, shape[0] - 1), value, -1)  # type: ignore[arg-type]
    return img


Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def _flows(
    scene: Scene,
    owners: np.ndarray,
    boxes: list[Box | None],
    mats: list[np.ndarray],
    t: int,
    targets: list[int],
) -> list[np.ndarray]:
    """Exact flows from frame ``t`` to each frame of ``targets``, on frame ``t``'s pixels."""
    spec = scene.spec
    H, W = spec.height, spec.width
    planes = []  # per target: x and y planes, contiguous for fast masked copies
    for t2 in targets:
        d = scene.camera(t2) - scene.camera(t)  # the background moves with the camera
        planes.append([np.full((H, W), np.float32(d[c]), np.float32) for c in range(2)])
    mats2 = [scene.matrices(t2) for t2 in targets]
    eye = np.eye(3)
    for k, box in enumerate(boxes):
        if box is None:
            continue
        x0, y0, x1, y1 = box
        own = cv2.compare(owners[y0:y1, x0:x1], k + 1, cv2.CMP_EQ)
        if not cv2.countNonZero(own):
            continue
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)
        inv = np.linalg.inv(mats[k])
        for j in range(len(targets)):
            d = mats2[j][k] @ inv - eye  # flow(x) = (M_t2 M_t^-1 - I) x
            for c in range(2):
                a, b, e = (float(v) for v in d[c])
                f = (a * xs)[None, :] + (b * ys + e)[:, None]
                cv2.copyTo(f, own, planes[j][c][y0:y1, x0:x1])
    return [cv2.merge(p) for p in planes]


@dataclass
class Rendered:
    """The images and maps of one frame (see :class:`celcolor.data.synthetic.SyntheticFrame`)."""

    colour: np.ndarray
    sketch: np.ndarray
    regions: np.ndarray
    ink: np.ndarray
    owners: np.ndarray
    flow_fwd: np.ndarray | None = None
    flow_bwd: np.ndarray | None = None


def render(scene: Scene, t: int, *, flow: bool = True) -> Rendered:
    """Render frame ``t``: colour, sketch, regions, ink, owners and (optionally) flows."""
    spec = scene.spec
    W, H = spec.width, spec.height
    mats = scene.matrices(t)
    colour = _background(scene, scene.camera(t))
    sketch = np.full((H, W, 3), 255, np.uint8)
    regions = np.zeros((H, W), np.int32)
    ink = np.zeros((H, W), np.uint8)
    owners = np.zeros((H, W), np.uint8)  # 0: background (camera), k + 1: cel k
    boxes: list[Box | None] = []
    L8, AA = cv2.LINE_8, cv2.LINE_AA
    for k, (cel, m) in enumerate(zip(scene.cels, mats, strict=True)):
        poly = _affine(m, cel.outline)
        pad = 3 * cel.line_width + 6
        lo = np.floor(poly.min(axis=0)).astype(int) - pad
        hi = np.ceil(poly.max(axis=0)).astype(int) + pad + 1
        x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
        x1, y1 = min(int(hi[0]), W), min(int(hi[1]), H)
        if x0 >= x1 or y0 >= y1:
            boxes.append(None)  # off screen
            continue
        boxes.append((x0, y0, x1, y1))
        fill = [_fix(poly)]
        cv2.fillPoly(colour, fill, cel.rgb, L8, SHIFT)
        cv2.fillPoly(regions, fill, cel.region, L8, SHIFT)
        cv2.fillPoly(sketch, fill, _WHITE, L8, SHIFT)  # hides the lines of cels beneath
        cv2.fillPoly(ink, fill, 0, L8, SHIFT)
        cv2.fillPoly(owners, fill, k + 1, L8, SHIFT)
        if cel.parts:
            roi = np.s_[y0:y1, x0:x1]
            h, w = y1 - y0, x1 - x0
            off = np.array([x0, y0], np.float64)
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [_fix(poly - off)], 1, L8, SHIFT)
            for part in cel.parts:
                q = [_fix(_affine(m, part.poly) - off)]
                pm = np.zeros_like(mask) if part.inside else mask.copy()
                cv2.fillPoly(pm, q, 1 if part.inside else 0, L8, SHIFT)
                # the trace line is painted in the part's colour: it vanishes in the colour
                cv2.polylines(pm, q, True, 1, cel.trace_width, L8, SHIFT)
                cv2.bitwise_and(pm, mask, dst=pm)  # clipped to the shape
                cv2.copyTo(_solid((h, w, 3), np.uint8, part.rgb), pm, colour[roi])
                cv2.copyTo(_solid((h, w), np.int32, part.region), pm, regions[roi])
                # in the sketch: a coloured trace line (or a black one: line art drawn
                # without colour trace, or extracted from a finished frame), clipped
                trace_rgb = part.trace_rgb if spec.trace_colours else INK_RGB
                for img, value in ((sketch, trace_rgb), (ink, 255)):
                    scratch = img[roi].copy()
                    cv2.polylines(scratch, q, True, value, cel.trace_width, AA, SHIFT)
                    cv2.copyTo(scratch, mask, img[roi])
        for pts, closed, th in _strokes(cel, poly, scene, t, k):
            line = [_fix(pts)]
            cv2.polylines(colour, line, closed, INK_RGB, th, AA, SHIFT)
            cv2.polylines(sketch, line, closed, INK_RGB, th, AA, SHIFT)
            cv2.polylines(ink, line, closed, 255, th, AA, SHIFT)
            cv2.polylines(owners, line, closed, k + 1, th + 5, L8, SHIFT)  # AA fringe too
    if spec.paper_enabled:
        sketch = cv2.multiply(sketch, _paper(scene, t), scale=1.0 / 255.0)
    if spec.specks_enabled:
        _specks(sketch, scene, t)
    out = Rendered(colour, sketch, regions, ink, owners)
    if flow:
        targets = [t2 for t2 in (t + 1, t - 1) if 0 <= t2 < spec.num_frames]
        for t2, f in zip(targets, _flows(scene, owners, boxes, mats, t, targets), strict=True):
            if t2 > t:
                out.flow_fwd = f
            else:
                out.flow_bwd = f
    return out
