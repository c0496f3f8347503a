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
from ..metrics.flowcheck import pixel_grid
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
# A matched keyframe's region (another drawing) keeps the exemplar network's colours
# per pixel when it covers more than this share of the frame ...
LEAK_AREA = 0.10
# ... the matcher's belief in its flat colour is under this ...
LEAK_SURE = 0.7
# ... and the network shows thick areas of other colours in it (as TEXTURE_SHARE).
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


def leaking_regions(
    regions: Regions, predicted: np.ndarray, winner: np.ndarray, sure: np.ndarray
) -> np.ndarray:
    """Per region of a matched keyframe: whether it is a leak the network paints better.

    Real line art leaks (the lines of finished frames have gaps), and one "region" then
    spans a face and the wall behind it, where one flat colour loses the picture. Clean
    cels do not, and in their large regions the network's noise would cost accuracy;
    so only a large region (``LEAK_AREA``) whose matched colour is in doubt
    (``LEAK_SURE``) and where the network's prediction holds thick areas of other
    colours is kept per pixel. Session 22 chose the two thresholds on 40 real keyframes
    of the training clips and 20 generated ones, then checked them once on
    bench_exemplar: generated keyframes unchanged (84.0% of regions), the real pairs
    matched at 19.2 dB against 17.7.

    Args:
        regions: the keyframe's regions.
        predicted: ``H,W`` uint8 palette indices of the network's prediction.
        winner: per-region matched colour.
        sure: per-region belief in it (:func:`region_match.choose_with_belief`).
    """
    big = regions.areas > LEAK_AREA * regions.labels.size
    return big & (sure < LEAK_SURE) & textured_regions(regions, predicted, winner)


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


def start(regions: Regions, winner: np.ndarray, detail: np.ndarray | None) -> Carry | None:
    """The carry of a keyframe with detail map ``detail`` (None: nothing to carry)."""
    if detail is None:
        return None
    return Carry(detail=detail, key=overlay(regions.fill_with(winner), detail))


def smooth_motion(sample: np.ndarray) -> np.ndarray:
    """``sample`` (``H,W,2`` positions in the previous frame) with its displacement
    smoothed by ``CARRY_SMOOTHING`` (worked at a quarter size: it is smooth anyway)."""
    h, w = sample.shape[:2]
    grid = pixel_grid(h, w)
    small = (max(1, w // 4), max(1, h // 4))
    disp = cv2.resize(sample - grid, small, interpolation=cv2.INTER_AREA)
    disp = cv2.GaussianBlur(disp, (0, 0), CARRY_SMOOTHING * _scale(sample.shape) / 4)
    return cv2.resize(disp, (w, h), interpolation=cv2.INTER_LINEAR) + grid


def follow(
    carry: Carry | None, regions: Regions, sample: np.ndarray, winner: np.ndarray
) -> Carry | None:
    """The next frame's carry: ``sample`` maps its pixels into the previous frame.

    Regions that come mostly from the previous frame's textured pixels stay
    textured, with the keyframe's colours where the chained flow (smoothed, see
    :func:`smooth_motion`) lands. None
    (the previous frame had no textured regions) stays None.
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
    source = cv2.remap(carry.key, origin, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    detail = detail_map(regions, textured, source, winner)
    return None if detail is None else Carry(detail=detail, key=carry.key, origin=origin)
