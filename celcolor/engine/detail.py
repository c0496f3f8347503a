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
flows chained since (:class:`Carry`). Chained flow drifts: each step's error adds
up, and under large motion the texture slides off the shapes it belongs to. So each
frame's chain is refined by flow from the frame's own drawing to the keyframe's
(:func:`anchor`), kept where that brings the keyframe's lines closer to the frame's.
Shown, the carried colours are softened, and more so where the chain shears or
stretches the keyframe, since there the flow has misplaced them, and far from any
line where a step does not move things rigidly, since there the flow is a guess
(:func:`smooth_colours`, :func:`uncharted`); texture once softened stays so for a
while as it moves on. That softening stays within the frame's own lines
(:mod:`.within_lines`): a blur across them spreads each shape's colours onto its
neighbours.

A detail map is ``H,W`` uint8 palette indices over textured regions (their line
pixels included) and ``NO_COLOUR`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..lineart import Regions
from ..metrics.flowcheck import pixel_grid
from ..temporal.flow import FlowBackend, sampling_map, work_positions
from .palette import NO_COLOUR, warp_index
from .within_lines import soften_within_lines

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
# (benchmarks/tune_leaks.py chose both on real keyframes no benchmark holds: session
# 22 10% and 0.7 for session 17's matcher, session 26 20% and 0.9 for its pooled one)
LEAK_AREA = 0.20
# ... the matcher's belief in its flat colour is under this ...
LEAK_SURE = 0.9
# ... and the network shows thick areas of other colours in it (as TEXTURE_SHARE).
# The motion that carries texture is smoothed over this many pixels (Gaussian sigma,
# at 640 long side: the engine's DIS patch size). DIS pins its flow on lines and only
# loosely inside flat areas; unsmoothed, texture sampled through it swims and shreds.
CARRY_SMOOTHING = 8.0
# Re-anchoring (see anchor): its refinement is kept where it lowers the difference of
# the two drawings' flow images, averaged over this many pixels (Gaussian sigma, at
# 640 long side) ...
ANCHOR_SIGMA = 3.0
# ... and skipped for a held drawing: flow images differing by less than this (mean
# absolute level of 255). Anime holds a drawing for two or three frames; re-run on the
# same drawing, the refinement creeps a little each time and the texture shimmers. Video
# compression leaves held drawings up to 5 apart; a moving drawing differs by 20 to 60.
HOLD_DIFFERENCE = 8.0
# Carried texture is shown softened by this much (Gaussian sigma, pixels at 640 long
# side). It is the keyframe's palette colours, so smooth shading shows as bands, and
# the chained flow places it a pixel or two off the drawing, so band edges crawl.
# Chosen in session 27 on the 8 dev shots of session 24 (no benchmark holds them;
# classical, 48 frames; benchmarks/tune_soften.py) as the most flicker cut that lost
# no PSNR or SSIM with either --lines auto or fill. Against none, on the 7 XDoG
# shots: 1 gave PSNR +0.13 and +0.05 dB, SSIM +0.017 and +0.011, TC -11% and -23%
# (auto, fill); 2 gave +0.15 and -0.15 dB, SSIM +0.019 and -0.005, TC -19% and -40%,
# blurring the reference's own fine lines inside textured regions (one shot lost 2.6
# dB in fill).
# An edge-preserving (bilateral) filter kept those but cut TC by 2 to 6% only.
TEXTURE_SOFTEN = 1.0
# Where the chained flow has sheared the keyframe or stretched it one way, the texture
# there is the flow's error (drawn motion moves pieces rigidly, pans, zooms and turns
# them: locally a similarity), and shown sharp it swirls and crawls. There it is shown
# softened this many times more (DISTORTED_SOFTEN x the texture softening; 0: not),
# within the frame's lines (see within_lines) ...
DISTORTED_SOFTEN = 32.0
# ... fully where the map's departure from a similarity (see distortion) reaches this,
# in proportion below it. Chosen in session 28 on session 24's 8 dev shots, rebuilt by
# benchmarks/tune_soften.py (at width 1), for a Gaussian blur of the keyframe: no
# setting tried lost PSNR or SSIM, and flicker fell further with more softening, so
# session 27's rule alone would take the widest; it stopped at 16 px at 640, where SSIM
# on the XDoG shots was highest (at 32 it fell back), and wider blurs blended colours
# across shapes. Against none, on the 7 XDoG shots: PSNR +0.41 and +0.42 dB, SSIM
# +0.011 and +0.019, TC -47% and -23% (fill, auto); the line-art shot +0.23 and +0.25
# dB, TC -23% and -21%. Full from 1 rather than 2: more flicker cut and more PSNR in
# every mode, SSIM within 0.001.
# Session 45 keeps the blur within the frame's own lines: a Gaussian of that width put
# a pale glow around dark hair and dragged a letterbox's black onto the sky. Within
# lines a wider blur no longer mixes shapes, and SSIM is flat in the width: on the 7
# XDoG dev shots (tune_soften.py, the later softenings off) 0.6222, 0.6224, 0.6218 in
# fill and 0.6491, 0.6491, 0.6486 in auto at 16, 24 and 32, falling at 48; with them
# on (scratch, 9 shots) it peaked at 32. With SSIM level, 32 takes the PSNR and the
# flicker (+0.04 dB, TC -1% against 24). Against session 44's Gaussian of 16, as
# shipped (memory and far-from-lines softening on): PSNR +0.17 and +0.10 dB, SSIM
# +0.022 and +0.012, TC -9% and -11% (fill, auto); on the camera pans, where no
# softening is due, +0.29 and +0.17 dB, TC -13% and -13%.
DISTORTION_FULL = 1.0
# That softening is worked on a grid of at most this many pixels on the long side (a
# blur of 32 px at 640 needs no finer one; lines are kept on it wherever they cover any
# of a pixel): 13 ms a frame at 1280x720 on the 2-core CPU, about 55 at 640. On the
# real suite (426x240 clips, one key, fill) it costs little against the full size:
# 19.25 against 19.29 dB, SSIM 0.6449 against 0.6455, TC 1.029 against 0.995.
LOOSE_LONG_SIDE = 320
# Texture once shown softened stays so for a while as it moves on: its softening
# fades by this factor per frame (0: each frame is softened by its own distortion
# alone). The chain's distortion rises and falls as re-anchoring and the chain's
# errors come and go, and texture turning sharp and soft again flickers by itself.
# Chosen in session 29 on session 24's 8 dev shots (benchmarks/tune_soften.py, with
# the far-from-lines softening below off): against none, on the 7 XDoG shots, PSNR
# +0.04 and +0.06 dB, SSIM +0.002 and +0.003, TC -11% and -3% (fill, auto), the most
# PSNR of 0.8 to 1; 1 (never fading) cuts more flicker in fill (-14%) for +0.01 dB.
# The line-art shot: +0.005 dB, TC -2%, SSIM -0.0009 in fill (level in auto). On
# camera pans (see UNCHARTED_MOTION) -0.04 and -0.02 dB, TC -27% and -16%.
SOFTENING_MEMORY = 0.95
# Far from any line a step's motion is a guess: the flow image DIS tracks is flat
# there (its ramp saturates at 24 px, see flow_friendly), so the flow is filled in
# from the nearest lines. Where the step is rigid around it (a pan, a zoom, a turn)
# the filled-in motion is right; where it is not (a character moving over a still
# background), it is off by about the step's departure from a similarity times the
# distance to the nearest line. Texture is shown softened in proportion to that,
# fully from this many pixels (at 640 long side; 0: not at all). Chosen in session 29
# (benchmarks/tune_soften.py, with SOFTENING_MEMORY) as the most PSNR of 4, 8 and 16
# on the 7 XDoG dev shots: against none, +0.04 dB in fill and auto, SSIM +0.004, TC
# -5% and -2%; the line-art shot +0.03 dB, TC -2%. On camera pans built from those
# shots' first frames, where no softening is due, it costs 0.12 and 0.05 dB (SSIM
# -0.002) for 8% and 5% less flicker (4: 0.30 dB; 16: 0.04 dB). A first version,
# softening any motion far from lines however rigid, lost 1.4 dB on five such pans.
# Scratch (runs/s29) on the real suite: beyond 12 px from the nearest line, carried
# texture flickered 1.3 times the truth's there, within 12 px 0.8 times.
UNCHARTED_MOTION = 8.0
# Each in-between's carried texture keeps this share of the previous frame's, moved to
# it along the step's flow (where visible and not under ink): a first-order temporal
# filter along the motion, as the consistency losses of Lai et al. 2018 ask of a
# network. At a new drawing the texture's fit to the keyframe jumps by its own errors
# (the refit, the chain's smoothing); a share of the last frame damps the jump, and
# where the flow is right it moves the same texture to the same place, so it costs
# little sharpness. Chosen in session 32 on session 24's 8 dev shots (classical, 48
# frames; scratch runs/s32/ema.py): against none, 0.3 kept PSNR level (+0.00 / -0.01
# dB, fill / auto) and cut TC 4.5% / 5.7%, lower on all 16 shot and line-mode cells;
# 0.5 cut 5.4% / 6.4% for -0.00 / -0.03 dB. On camera pans of still frames (24
# frames) 0.3 gave -0.02 / +0.01 dB, TC -20% / -11%. On bench_temporal's real suite
# (run once, after): classical 19.04 dB both, TC 1.167 to 1.094.
TEXTURE_PERSISTENCE = 0.3


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
        key_image: the keyframe's flow image (:func:`~celcolor.temporal.flow.flow_friendly`),
            to re-anchor against; None: the chain is not re-anchored.
        key_ink: the keyframe's ``h,w`` uint8 ink coverage at the flow's size
            (:attr:`~celcolor.engine.analysis.FrameAnalysis.work_ink`), to tell how much of a later
            drawing the keyframe's lines, carried along ``origin``, still explain
            (:mod:`.views`); None: not told.
        key_rgb: ``key`` rendered (``H,W,3`` uint8), set on first use by
            :func:`smooth_colours`.
        loosens: whether texture is shown softened more where the chain has distorted
            the keyframe (set with ``key_rgb``).
        loose_share: quarter-size ``h,w`` float32, how much of the more softened texture each
            pixel shows: on arrival, the larger of the previous frame's share moved
            here and faded (``SOFTENING_MEMORY``) and this step's :func:`uncharted`;
            :func:`smooth_colours` raises it to this frame's distortion. None: none.
        keyed: the keyframe is one a reference keys (not a frame re-keyed on the way):
            a frame shown as it, its drawing held, misses none of its lines.
    """

    detail: np.ndarray
    key: np.ndarray
    origin: np.ndarray | None = None
    key_image: np.ndarray | None = None
    key_ink: np.ndarray | None = None
    key_rgb: np.ndarray | None = None
    loosens: bool = False
    loose_share: np.ndarray | None = None
    keyed: bool = False


def start(
    regions: Regions,
    winner: np.ndarray,
    detail: np.ndarray | None,
    key_image: np.ndarray | None = None,
    key_ink: np.ndarray | None = None,
    keyed: bool = False,
) -> Carry | None:
    """The carry of a keyframe with detail map ``detail`` (None: nothing to carry).

    ``key_image``: the keyframe's flow image, for :func:`anchor` (None: chain only);
    ``key_ink``: its ink coverage (:attr:`Carry.key_ink`); ``keyed``: :attr:`Carry.keyed`.
    """
    if detail is None:
        return None
    key = overlay(regions.fill_with(winner), detail)
    return Carry(detail=detail, key=key, key_image=key_image, key_ink=key_ink, keyed=keyed)


def _quarter_displacement(positions: np.ndarray) -> np.ndarray:
    """The displacement of ``positions`` (``H,W,2``, minus each pixel's own) averaged
    down to a quarter size: chained and smoothed maps are smooth at that scale."""
    h, w = positions.shape[:2]
    small = (max(1, w // 4), max(1, h // 4))
    return cv2.resize(positions - pixel_grid(h, w), small, interpolation=cv2.INTER_AREA)


def smooth_motion(sample: np.ndarray) -> np.ndarray:
    """``sample`` (``H,W,2`` positions in the previous frame) with its displacement
    smoothed by ``CARRY_SMOOTHING`` (worked at a quarter size: it is smooth anyway)."""
    h, w = sample.shape[:2]
    disp = cv2.GaussianBlur(
        _quarter_displacement(sample), (0, 0), CARRY_SMOOTHING * _scale(sample.shape) / 4
    )
    return cv2.resize(disp, (w, h), interpolation=cv2.INTER_LINEAR) + pixel_grid(h, w)


def held(prev_image: np.ndarray, image: np.ndarray) -> bool:
    """Whether two frames' flow images show the same drawing (see ``HOLD_DIFFERENCE``)."""
    if prev_image.shape != image.shape:
        return False
    return cv2.norm(prev_image, image, cv2.NORM_L1) < HOLD_DIFFERENCE * image.size


def anchor(
    origin: np.ndarray, image: np.ndarray, key_image: np.ndarray, flow: FlowBackend
) -> np.ndarray:
    """``origin`` (where each pixel lies in the keyframe) re-anchored on the keyframe.

    The flow from this frame's drawing to the keyframe's, started from the chained
    ``origin`` and smoothed as the chain's steps are, is kept where the keyframe's
    flow image, sampled through it, differs less from this frame's than through
    ``origin`` (compared over ``ANCHOR_SIGMA``): a fit to the keyframe's own lines
    instead of a sum of steps. Where neither fits (flat areas far from any line) the
    chain stays.

    Args:
        origin: ``H,W,2`` float32 full-size positions in the keyframe (chained).
        image: this frame's work-size flow image.
        key_image: the keyframe's.
        flow: the flow backend; DIS refines from ``origin``.
    """
    h, w = image.shape[:2]
    full = (origin.shape[1], origin.shape[0])
    chained = work_positions(origin, (h, w))  # the flow's first estimate and a candidate
    refined = smooth_motion(sampling_map(flow(image, key_image, chained - pixel_grid(h, w)), full))
    sigma = ANCHOR_SIGMA * max(h, w) / 640.0
    here = image.astype(np.float32)
    misfit = []
    for positions in (chained, work_positions(refined, (h, w))):
        seen = cv2.remap(
            key_image, positions, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        misfit.append(cv2.GaussianBlur(cv2.absdiff(here, seen.astype(np.float32)), (0, 0), sigma))
    better = (misfit[1] < misfit[0]).astype(np.float32)
    # Soft edges between kept and refused refinement: no seam in the texture.
    better = cv2.GaussianBlur(better, (0, 0), sigma)
    keep = cv2.resize(better, full, interpolation=cv2.INTER_LINEAR)[..., None]
    return origin + keep * (refined - origin)


def follow(
    carry: Carry | None,
    regions: Regions,
    sample: np.ndarray,
    winner: np.ndarray,
    refine: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Carry | None:
    """The next frame's carry: ``sample`` maps its pixels into the previous frame.

    Regions that come mostly from the previous frame's textured pixels stay
    textured, with the keyframe's colours where the chained flow (smoothed, see
    :func:`smooth_motion`) lands. ``refine(origin, key_image)`` re-anchors the
    chain on the keyframe (:func:`anchor`); None leaves it as chained. None
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
    if refine is not None and carry.key_image is not None:
        origin = refine(origin, carry.key_image)
    textured = carried_regions(regions, warp_index(carry.detail, sample))
    source = cv2.remap(carry.key, origin, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    detail = detail_map(regions, textured, source, winner)
    if detail is None:
        return None
    share = None
    # Shown without the extra softening (--texture-soften 0, or DISTORTED_SOFTEN 0),
    # nothing reads the share: skip it.
    if carry.key_rgb is None or carry.loosens:
        share = uncharted(regions.labels, sample)
        faded = _fade(carry.loose_share, sample)
        if faded is not None:
            share = faded if share is None else np.maximum(share, faded)
    return replace(carry, detail=detail, origin=origin, loose_share=share)


def uncharted(labels: np.ndarray, sample: np.ndarray) -> np.ndarray | None:
    """Per quarter-size pixel, how far off this step's motion may be where no line
    shows it (0 to 1, full at ``UNCHARTED_MOTION``): the step's departure from a
    similarity (:func:`distortion`) times the distance to the nearest line. None
    when that softening is off.

    Args:
        labels: the frame's region labels (0 on lines).
        sample: ``H,W,2`` full-size positions in the previous frame (the step).
    """
    if UNCHARTED_MOTION <= 0:
        return None
    moved = _quarter_displacement(sample)
    qh, qw = moved.shape[:2]
    step = (labels.shape[1] / qw, labels.shape[0] / qh)
    line = cv2.resize((labels == 0).astype(np.uint8) * 255, (qw, qh), interpolation=cv2.INTER_AREA)
    # A quarter-size pixel an eighth or more covered by line counts as line.
    free = cv2.threshold(line, 31, 255, cv2.THRESH_BINARY_INV)[1]
    far = cv2.distanceTransform(free, cv2.DIST_L2, 3)
    far *= np.float32(step[0] / (_scale(labels.shape) * UNCHARTED_MOTION))
    return np.minimum(distortion(moved, step) * far, 1.0)


def _fade(share: np.ndarray | None, sample: np.ndarray) -> np.ndarray | None:
    """A quarter-size softening share moved along ``sample`` (full-size positions in
    the previous frame) and faded by ``SOFTENING_MEMORY``; None when there is none."""
    if share is None or SOFTENING_MEMORY <= 0:
        return None
    h, w = sample.shape[:2]
    qh, qw = share.shape
    scale = np.array([qw / w, qh / h], np.float32)
    # Pixel centres: full-size x lies at (x + 0.5) * qw / w - 0.5 in the quarter map.
    small = cv2.resize(sample, (qw, qh), interpolation=cv2.INTER_AREA) * scale + (scale - 1) / 2
    moved = cv2.remap(share, small, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return moved * np.float32(SOFTENING_MEMORY)


def smooth_colours(
    carry: Carry | None,
    render: Callable[[np.ndarray], np.ndarray],
    soften: float = TEXTURE_SOFTEN,
    labels: np.ndarray | None = None,
) -> np.ndarray | None:
    """The keyframe's colours where this frame's pixels lie in it, interpolated.

    The detail map samples the keyframe's palette indices at the nearest pixel, as
    the next frame's votes need; shown that way, texture moving by fractions of a
    pixel jumps a whole pixel at a time and crawls. Bilinear sampling of the rendered
    keyframe moves it smoothly (on the 8 dev shots of session 24: E_warp 9 to 19%
    lower, PSNR 0.1 to 0.4 dB higher), and the rendered keyframe is softened by
    ``soften`` (Gaussian sigma at 640 long side; 0: not at all; read when a keyframe
    is first rendered). ``render`` turns palette indices into RGB.
    On the keyframe itself (nothing moved) that softened keyframe, so that its
    texture does not turn from sharp to soft at the next frame. On the dev shots
    that flickered least: TC 2% lower than a sharp keyframe with ``--lines auto``
    and 6% with ``--lines fill``, PSNR the same (at sigma 2, 5% and 18%, where
    softening over the first 2, 4 or 8 in-betweens instead gave 2 to 11%). It costs
    keyframe benchmarks that count palette colours: a copied keyframe of another
    drawing, whose "texture" is misfit paint, shows blends.
    Where the chain has sheared the keyframe or stretched it one way
    (:func:`distortion`), the colours shown are softened ``DISTORTED_SOFTEN`` times
    more, within this frame's lines (``labels``' line pixels, label 0; None: the
    frame's edge alone bounds it), in proportion to the distortion up to
    ``DISTORTION_FULL``: the flow has misplaced that texture, and wrong detail shown
    soft costs less and swims less than shown sharp. That share is at least what the
    same texture showed in the frame before, faded by ``SOFTENING_MEMORY``, and what
    :func:`uncharted` gave this step (``carry.loose_share``, set by :func:`follow`,
    updated here). Softening 0 turns all of it off.
    None without a carry.
    """
    if carry is None:
        return None
    if carry.key_rgb is None:
        key_rgb = render(carry.key)
        if soften > 0:
            sigma = soften * _scale(key_rgb.shape)
            key_rgb = cv2.GaussianBlur(key_rgb, (0, 0), sigma)
            carry.loosens = DISTORTED_SOFTEN > 0
        carry.key_rgb = key_rgb
    if carry.origin is None:
        return carry.key_rgb
    shown = _sample(carry.key_rgb, carry.origin)
    if not carry.loosens:
        return shown
    # Worked at a quarter size, as smooth_motion.
    h, w = carry.origin.shape[:2]
    moved = _quarter_displacement(carry.origin)
    step = (w / moved.shape[1], h / moved.shape[0])
    weight = distortion(moved, step) * (1.0 / DISTORTION_FULL)
    np.minimum(weight, 1.0, out=weight)
    if carry.loose_share is not None and carry.loose_share.shape == weight.shape:
        np.maximum(weight, carry.loose_share, out=weight)
    carry.loose_share = weight  # what the next frame's carry starts from
    # Smoothed over 2 px at 640 long side: no seam where the softening starts.
    weight = cv2.GaussianBlur(weight, (0, 0), 2.0 * _scale((h, w)) / step[0])
    if not weight.any():
        return shown
    weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
    lines = labels == 0 if labels is not None and labels.shape == (h, w) else np.zeros((h, w), bool)
    sigma = DISTORTED_SOFTEN * soften * _scale((h, w))
    loose = soften_within_lines(shown, lines, sigma, LOOSE_LONG_SIDE)
    return cv2.blendLinear(shown, loose, 1.0 - weight, weight)


def _sample(image: np.ndarray, origin: np.ndarray) -> np.ndarray:
    return cv2.remap(image, origin, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def distortion(moved: np.ndarray, step: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Per pixel, how far a map is from moving the keyframe as rigid pieces (``H,W``
    float32): the Frobenius norm of the part of its Jacobian that is not a similarity.
    0 for any shift, turn or zoom; a shear ``x + s * y`` gives ``s / sqrt(2)``, a
    stretch of ``1 + s`` along one axis ``s / sqrt(2)`` too.

    Args:
        moved: ``H,W,2`` the map's displacement (position in the keyframe minus the
            pixel's own), in full-size pixels. The identity cancels out of the
            measure; and where the frame's edge is mirrored, a shift's displacement
            keeps slope 0 up to it, where positions would show a false stretch.
        step: full-size pixels per pixel of ``moved`` along x and y (a map worked at
            a quarter size: about 4).

    Of the Jacobian ``[[a, b], [c, d]]`` (``a`` = d origin_x / dx, ``b`` = d origin_x /
    dy, ...), that part is ``[[e, f], [f, -e]]`` with ``e = (a - d) / 2`` and
    ``f = (b + c) / 2``, of norm ``sqrt(2 (e^2 + f^2))``.
    """
    # Sobel's 3x3 kernels weigh a unit slope 8.
    dx = cv2.Sobel(moved, cv2.CV_32F, 1, 0, ksize=3, scale=1 / (8 * step[0]))
    dy = cv2.Sobel(moved, cv2.CV_32F, 0, 1, ksize=3, scale=1 / (8 * step[1]))
    stretch = dx[..., 0] - dy[..., 1]  # a - d
    shear = dy[..., 0] + dx[..., 1]  # b + c
    return cv2.magnitude(stretch, shear) * np.float32(np.sqrt(2) / 2)
