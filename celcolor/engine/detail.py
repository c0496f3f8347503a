"""Regions that are not one paint area keep the colours their source shows, per pixel.

Region snap makes every closed region one flat colour: right for cel paint, where
what differs inside a region is misalignment and anti-aliasing. But a region is
only what the extracted lines close. Line art with gaps (rough sketches, lines
extracted from finished frames) leaks, and one "region" then spans a face, the
hair and the wall behind; a finished frame's soft shading has no lines at all.
Flattening those paints a character in the wall's colour.

So where the reference is the same drawing, a region whose reference colours hold
*thick* areas of colours other than its winner (more than anti-aliasing slivers)
is textured: it keeps the reference's colour per pixel. Propagation carries that
to the next frames: a region most of whose pixels come from textured pixels of the
previous frame stays textured, its pixels taking the keyframe's colours through the
flows chained since (:class:`Carry`).

A detail map is ``H,W`` uint8 palette indices over textured regions (their line
pixels included) and ``NO_COLOUR`` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..lineart import Regions
from .palette import NO_COLOUR, warp_index

# Blobs of another colour thinner than twice this (pixels at 640 long side) are
# slivers from misalignment and anti-aliasing, not texture.
SLIVER_RADIUS = 2
# A region is textured when thick blobs of other colours cover this share of it...
TEXTURE_SHARE = 0.05
# ... and at least this many pixels (at 640 long side): a few stray pixels are noise.
TEXTURE_PIXELS = 60
# A region stays textured when this share of it comes from textured pixels.
CARRY_SHARE = 0.5
# ... and while its lines, followed back along the chained flow, still land near the
# keyframe's lines this much better than chance (0: chance, 1: all of them)...
DRIFT_AGREEMENT = 0.25
# ... judged on at least this many line pixels (at 640 long side).
DRIFT_PIXELS = 100
# The motion that carries texture is smoothed over this many pixels (Gaussian sigma,
# at 640 long side: the engine's DIS patch size). DIS pins its flow on lines and only
# loosely inside flat areas; unsmoothed, texture sampled through it swims and shreds.
CARRY_SMOOTHING = 8.0


def _scale(shape: tuple[int, ...]) -> float:
    return max(shape[:2]) / 640.0


def textured_regions(regions: Regions, source: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Per region: whether ``source`` shows thick areas of other colours than its winner.

    Args:
        regions: the frame's regions.
        source: ``H,W`` uint8 palette indices landing on the frame (NO_COLOUR: none).
        winner: per-region snapped colour.
    """
    labels = regions.labels
    s = _scale(labels.shape)
    flat = np.take(winner, labels)
    other = cv2.compare(source, flat, cv2.CMP_NE)
    other[labels == 0] = 0
    other[source == NO_COLOUR] = 0
    r = max(1, round(SLIVER_RADIUS * s))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    thick = cv2.erode(other, disk)
    if not cv2.countNonZero(thick):
        return np.zeros(regions.count, bool)
    # Erosion shrank each blob by r; grow it back to count its area.
    thick = cv2.bitwise_and(cv2.dilate(thick, disk), other)
    area = np.bincount(labels.ravel(), weights=(thick > 0).ravel(), minlength=regions.count)
    textured = (area >= TEXTURE_SHARE * regions.areas) & (area >= TEXTURE_PIXELS * s * s)
    textured[0] = False
    return textured


def carried_regions(regions: Regions, warped_detail: np.ndarray) -> np.ndarray:
    """Per region: whether most of it comes from textured pixels of the previous frame."""
    carried = cv2.compare(warped_detail, NO_COLOUR, cv2.CMP_NE)
    share = np.bincount(
        regions.labels.ravel(), weights=(carried > 0).ravel(), minlength=regions.count
    ) / np.maximum(regions.areas, 1)
    textured = share >= CARRY_SHARE
    textured[0] = False
    return textured


def detail_map(
    regions: Regions, textured: np.ndarray, source: np.ndarray, winner: np.ndarray
) -> np.ndarray | None:
    """The detail map of ``textured`` regions from ``source``; None when there are none.

    Line pixels belong to the region they are filled from; pixels the source does not
    cover take their region's winner.
    """
    if not textured.any():
        return None
    inside = regions.fill_with(textured.astype(np.uint8)).astype(bool)
    flat = regions.fill_with(winner)
    detail = np.where(source == NO_COLOUR, flat, source).astype(np.uint8)
    detail[~inside] = NO_COLOUR
    return detail


def overlay(base: np.ndarray, detail: np.ndarray | None) -> np.ndarray:
    """``base`` with the detail map's pixels on top (a new array only when needed)."""
    if detail is None:
        return base
    return np.where(detail == NO_COLOUR, base, detail).astype(base.dtype)


def choose(regions: Regions, take_first: np.ndarray, first, second) -> np.ndarray | None:
    """Per region the detail of one of two passes (``take_first``: per-region bool)."""
    if first is None and second is None:
        return None
    shape = regions.labels.shape
    first = np.full(shape, NO_COLOUR, np.uint8) if first is None else first
    second = np.full(shape, NO_COLOUR, np.uint8) if second is None else second
    pick = regions.fill_with(take_first.astype(np.uint8)).astype(bool)
    out = np.where(pick, first, second).astype(np.uint8)
    return None if (out == NO_COLOUR).all() else out


@dataclass
class Carry:
    """Textured regions' colours on their way from the keyframe that showed them.

    Each frame samples the keyframe's colours through the flows chained since
    (``origin``), not the previous frame's samples: nearest-neighbour resampling
    frame after frame would break fine texture into speckle that swims.

    Attributes:
        detail: this frame's detail map.
        key: the keyframe's filled palette index map (its detail included).
        origin: ``H,W,2`` float32, where each pixel of this frame lies in the
            keyframe (for ``cv2.remap``); None on the keyframe itself.
    """

    detail: np.ndarray
    key: np.ndarray
    origin: np.ndarray | None = None
    key_lines: np.ndarray | None = None


def start(
    regions: Regions, winner: np.ndarray, detail: np.ndarray | None, lines: np.ndarray | None = None
) -> Carry | None:
    """The carry of a keyframe with detail map ``detail`` (None: nothing to carry).

    ``lines``: the keyframe's ``H,W`` uint8 line mask (0/1), to tell later when the chained flow
    has drifted off it (see :func:`lines_agree`).
    """
    if detail is None:
        return None
    near = None
    if lines is not None:
        near = cv2.dilate(lines, np.ones((5, 5), np.uint8))
    return Carry(detail=detail, key=overlay(regions.fill_with(winner), detail), key_lines=near)


def lines_agree(
    regions: Regions,
    textured: np.ndarray,
    lines: np.ndarray,
    key_near: np.ndarray,
    origin: np.ndarray,
) -> np.ndarray:
    """Per region: how much better than chance its lines land near the keyframe's.

    ``lines``: the frame's uint8 line mask; ``key_near``: the keyframe's, dilated;
    ``origin``: ``H,W,2`` where each pixel lies in the keyframe.

    Each line pixel of a textured region (its region: :attr:`Regions.filled`) is
    followed back along the chained flow (``origin``); where the chain holds, it
    lands near a keyframe line. Chance is
    the same count with the landings moved far off (as :func:`line_overlap`): a
    dense drawing lies near many lines anywhere. NaN where a region has too few
    line pixels to tell.
    """
    filled = regions.filled
    sel = (lines > 0) & np.take(textured, filled)
    out = np.full(regions.count, np.nan)
    if not sel.any():
        return out
    label = filled[sel]
    ox, oy = origin[..., 0][sel], origin[..., 1][sel]
    h, w = lines.shape

    def hits(dy: int, dx: int, every: int = 1) -> np.ndarray:
        x = np.clip(np.rint(ox[::every] + dx), 0, w - 1).astype(np.intp)
        y = np.clip(np.rint(oy[::every] + dy), 0, h - 1).astype(np.intp)
        return key_near[y, x] > 0

    # Chance is a mean over four shifts: every fourth pixel estimates it well enough.
    shifts = ((h // 8, w // 6), (-h // 8, w // 6), (h // 8, -w // 6), (-h // 8, -w // 6))
    chance = np.mean([hits(dy, dx, 4) for dy, dx in shifts], axis=0)
    n = np.bincount(label, minlength=regions.count)
    hit = np.bincount(label, weights=hits(0, 0), minlength=regions.count)
    by_chance = 4 * np.bincount(label[::4], weights=chance, minlength=regions.count)
    enough = n >= DRIFT_PIXELS * _scale(lines.shape) ** 2
    out[enough] = ((hit - by_chance) / np.maximum(n - by_chance, 1e-9))[enough]
    return out


def smooth_motion(sample: np.ndarray) -> np.ndarray:
    """``sample`` (``H,W,2`` positions in the previous frame) with its displacement
    smoothed by ``CARRY_SMOOTHING`` (worked at a quarter size: it is smooth anyway)."""
    h, w = sample.shape[:2]
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    small = (max(1, w // 4), max(1, h // 4))
    disp = cv2.resize(sample - grid, small, interpolation=cv2.INTER_AREA)
    disp = cv2.GaussianBlur(disp, (0, 0), CARRY_SMOOTHING * _scale(sample.shape) / 4)
    return cv2.resize(disp, (w, h), interpolation=cv2.INTER_LINEAR) + grid


def follow(
    carry: Carry | None,
    regions: Regions,
    sample: np.ndarray,
    winner: np.ndarray,
    lines: np.ndarray | None = None,
) -> Carry | None:
    """The next frame's carry: ``sample`` maps its pixels into the previous frame.

    Regions that come mostly from the previous frame's textured pixels stay
    textured, with the keyframe's colours where the chained flow (smoothed, see
    :func:`smooth_motion`) lands, unless
    ``lines`` (the frame's uint8 line mask) shows the chain has drifted off the
    drawing (:func:`lines_agree` under ``DRIFT_AGREEMENT``): then the region is
    flat. None (the previous frame had no textured regions) stays None.
    """
    if carry is None:
        return None
    sample = smooth_motion(sample)
    if carry.origin is None:
        origin = sample
    else:
        origin = cv2.remap(
            carry.origin, sample, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    textured = carried_regions(regions, warp_index(carry.detail, sample))
    if lines is not None and carry.key_lines is not None:
        # A region whose chain has drifted off the drawing takes its flat colour:
        # texture sampled through a broken chain is smeared paint.
        agree = lines_agree(regions, textured, lines, carry.key_lines, origin)
        drifted = agree < DRIFT_AGREEMENT
        textured &= ~drifted
    source = cv2.remap(carry.key, origin, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    detail = detail_map(regions, textured, source, winner)
    return (
        None
        if detail is None
        else Carry(detail=detail, key=carry.key, origin=origin, key_lines=carry.key_lines)
    )
