"""Ink extraction: any sketch in, an ink map in [0, 1] out.

The model behind it: a sketch pixel is paper with a line laid over it,
``s = paper * (1 - a) + line * a``. With the paper estimated (white, or a tone
that varies slowly across a scan) the darkness ``d = max_c (1 - s_c / paper_c)``
is the line's coverage ``a`` for any line colour that has one channel at zero
(black, pure red, pure blue). ``d`` is then cut at a noise floor (JPEG ringing,
paper grain) and cleaned of specks.

Everything on the per-frame path is OpenCV on uint8: numpy reductions over a
1280x720x3 array cost tens of milliseconds, cv2 a fraction of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError

# Reference area for scaling pixel-size constants with resolution.
_BASE_AREA = 640 * 360


@dataclass(frozen=True)
class InkOptions:
    """Settings of :func:`extract_ink`.

    Attributes:
        noise_floor: darkness (0..1) below which a pixel is paper (JPEG noise, grain).
        full_ink: darkness at and above which a pixel is fully ink.
        speck_area: the size of dirt at 640x360 (scaled with the frame area): ink
            blobs more than 2 px from other ink that would cover fewer than
            ``max(2, speck_area / 3)`` cells of a 2 px grid on average are removed
            (at 640x360 blobs of 1 or 2 pixels; at 1280x720 up to about 4x4).
        trace_chroma: chroma (0..255) of the un-composited line colour above which an
            ink pixel is a colour-trace line (red/blue/green shadow and highlight lines).
        invert: "auto" detects white-on-black line art, True/False forces it.
        flatten_paper: "auto" estimates an uneven paper tone when the page is not
            plain white; True always does, False assumes white paper.
    """

    noise_floor: float = 0.12
    full_ink: float = 0.6
    speck_area: int = 6
    trace_chroma: float = 80.0
    invert: bool | str = "auto"
    flatten_paper: bool | str = "auto"


@dataclass
class LineArt:
    """One frame's line art.

    Attributes:
        ink_u8: ``H,W`` uint8 coverage of ink, 0..255 (0 paper, 255 solid line).
        sketch: ``H,W,3`` uint8 RGB, the sketch normalised to white paper (and
            un-inverted), from which the lines' own colours are taken.
        trace: ``H,W`` uint8 (0/255), ink pixels that belong to colour-trace lines.
        lightness: ``H,W`` uint8, the sketch's darkest channel per pixel, ``(1 - d) * 255``
            for the darkness ``d`` that composites a line over paint.
    """

    ink_u8: np.ndarray
    sketch: np.ndarray
    trace: np.ndarray
    lightness: np.ndarray

    @property
    def ink(self) -> np.ndarray:
        """``H,W`` float32 coverage of ink in [0, 1] (0 paper, 1 solid line)."""
        return self.ink_u8.astype(np.float32) * (1.0 / 255.0)

    def line_mask(self, threshold: float = 0.5) -> np.ndarray:
        """Ink pixels as a uint8 0/1 mask (line pixels are ``ink >= threshold``)."""
        return (self.ink_u8 >= round(threshold * 255)).astype(np.uint8)


def _check_rgb(image: np.ndarray, what: str) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
        shape = getattr(image, "shape", None)
        raise InputError(f"{what} must be an H,W,3 RGB array, got shape {shape}")
    if image.dtype != np.uint8:
        raise InputError(f"{what} must be uint8, got {image.dtype}")


def _is_inverted(grey: np.ndarray) -> bool:
    """White lines on a dark ground: the page's median is dark."""
    small = cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA)
    return float(np.median(small)) < 100.0


def _paper_estimate(rgb: np.ndarray) -> np.ndarray | None:
    """The paper's colour per pixel, or None when the page is plain white.

    A max filter at a coarse scale (lines are thin, paper is everywhere) then a
    blur; computed at 1/16 size since paper tone varies slowly.
    """
    h, w = rgb.shape[:2]
    sw, sh = max(4, w // 16), max(4, h // 16)
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
    paper = cv2.dilate(small, np.ones((5, 5), np.uint8))
    paper = cv2.GaussianBlur(paper, (5, 5), 0)
    if int(paper.min()) >= 245:
        return None
    return cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)


def _remove_specks(ink_u8: np.ndarray, min_area: int) -> np.ndarray:
    """Zero out isolated ink blobs too small to be drawn (dirt, dust).

    The limit is the one this filter has had since it looked for blobs at half size:
    a speck touches fewer than ``t = max(2, round(min_area / 3))`` cells of a 2 px
    grid. Which cells a blob touches depends on where that grid falls, so a pan by
    an odd number of pixels flickered specks in and out (until session 30). A blob
    ``B`` touches ``|B dilated by 2x2| / 4`` cells on average over the grid's four
    phases, so it is now a speck when that dilated area is under ``4 t``: the same
    limit in expectation, and the result moves with the drawing.

    Ink within 2 px of other ink joins its blob (the core grown by one pixel), so a
    speck that close to a line counts with the line and stays. Specks are cleared
    with a 1 px margin, which takes their anti-aliased fringe too.
    """
    if min_area <= 1:
        return ink_u8
    # Anything visibly inked joins a blob, so an anti-aliased fringe counts with its line.
    core = cv2.threshold(ink_u8, 40, 255, cv2.THRESH_BINARY)[1]
    grown = cv2.dilate(core, np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(grown, connectivity=8)
    # The 2x2 dilation lies inside the 3x3 one, so every pixel of it has its blob's label.
    cells = cv2.dilate(core, np.ones((2, 2), np.uint8), anchor=(0, 0))
    covered = np.bincount(labels[cells > 0], minlength=count)
    small = covered < 4 * max(2, round(min_area / 3))
    small[0] = False
    if not small.any():
        return ink_u8
    speck = cv2.dilate(np.take(small.astype(np.uint8), labels), np.ones((3, 3), np.uint8))
    out = ink_u8.copy()
    out[speck.astype(bool)] = 0
    return out


def extract_ink(sketch: np.ndarray, options: InkOptions | None = None) -> LineArt:
    """Extract the ink of one sketch frame.

    Args:
        sketch: ``H,W,3`` uint8 RGB line art: black or coloured lines on white,
            white on black, on scanned paper, anti-aliased or JPEG-compressed.
        options: thresholds; defaults suit clean and scanned line art alike.

    Returns:
        The :class:`LineArt` of the frame.
    """
    _check_rgb(sketch, "sketch")
    opt = options or InkOptions()
    rgb = sketch
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    invert = _is_inverted(grey) if opt.invert == "auto" else bool(opt.invert)
    if invert:
        rgb = cv2.bitwise_not(rgb)
    if opt.flatten_paper is not False:
        paper = _paper_estimate(rgb)
        if paper is None and opt.flatten_paper is True:
            paper = np.full_like(rgb, 255)
        if paper is not None:
            # s / paper * 255: the page becomes white, lines keep their coverage.
            rgb = cv2.divide(rgb, cv2.max(paper, 1), scale=255.0)
    # Darkness = 1 - min_c(s_c)/255 on white paper.
    r, g, b = cv2.split(rgb)
    channel_min = cv2.min(cv2.min(r, g), b)
    darkness = cv2.bitwise_not(channel_min)
    lo, hi = opt.noise_floor * 255.0, opt.full_ink * 255.0
    scale = 255.0 / max(hi - lo, 1.0)
    ink_u8 = cv2.convertScaleAbs(cv2.subtract(darkness, round(lo)), alpha=scale)
    area_scale = sketch.shape[0] * sketch.shape[1] / _BASE_AREA
    ink_u8 = _remove_specks(ink_u8, round(opt.speck_area * max(area_scale, 0.25)))
    # Colour-trace lines: the un-composited line colour is saturated. Its chroma is
    # chroma(s) / darkness; compared without division as chroma(s) > t * darkness.
    chroma = cv2.subtract(cv2.max(cv2.max(r, g), b), channel_min)
    threshold = cv2.convertScaleAbs(darkness, alpha=opt.trace_chroma / 255.0)
    trace = cv2.bitwise_and(
        cv2.compare(chroma, threshold, cv2.CMP_GT), cv2.compare(ink_u8, 0, cv2.CMP_GT)
    )
    return LineArt(ink_u8=ink_u8, sketch=rgb, trace=trace, lightness=channel_min)


def line_colours(art: LineArt, where: np.ndarray) -> np.ndarray:
    """Each ink pixel's own line colour, un-composited from white paper.

    ``line = 255 - (255 - s) / d`` with ``d`` the darkness: exact for a line
    colour with a zero channel, and for grey lines it gives black at partial
    coverage, which composites back to the same grey on white.

    Args:
        art: the frame's line art.
        where: a boolean mask or an index tuple selecting the pixels.

    Returns:
        ``N,3`` uint8 colours of the selected pixels.
    """
    s = art.sketch[where].astype(np.float32)
    d = (255.0 - s.min(axis=1, keepdims=True)) / 255.0
    line = 255.0 - (255.0 - s) / np.maximum(d, 1e-3)
    return np.clip(line, 0, 255).astype(np.uint8)


def looks_like_line_art(rgb: np.ndarray) -> bool:
    """True when an image has no fills: nearly every pixel is paper or a thin line.

    Used to refuse a reference that is itself an uncoloured sketch. Non-paper
    pixels (not near-white, or saturated) are opened with a 9x9 disc at a
    512 px scale: strokes vanish, painted areas survive. Line art is an image with
    almost nothing painted, or whose painted pixels nearly all vanish.
    """
    _check_rgb(rgb, "image")
    h, w = rgb.shape[:2]
    # At most 512 px on the long side, but a narrow image keeps its short side (up to
    # 32 px): shrunk to a few pixels wide, every fill would vanish in the opening.
    s = max(min(1.0, 512 / max(h, w)), min(1.0, 32 / min(h, w)))
    small = cv2.resize(
        rgb, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA
    )
    paper = _paper_estimate(small)
    if paper is not None:
        tone = cv2.cvtColor(paper, cv2.COLOR_RGB2HSV)
        # Flatten a paper tone only: a large flat fill (a sky) is colour, not paper.
        if int(tone[..., 1].max()) < 60 and int(tone[..., 2].min()) > 150:
            small = cv2.divide(small, cv2.max(paper, 1), scale=255.0)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    painted = ((hsv[..., 2] < 225) | (hsv[..., 1] > 40)).astype(np.uint8)
    # 9 px at 512 scale; thinner on a tiny image, whose fills are only a few pixels wide.
    k = max(3, min(9, min(small.shape[:2]) // 3) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fills = cv2.morphologyEx(painted, cv2.MORPH_OPEN, kernel)
    # Relative, so small images with small shapes are judged like large ones: in line
    # art almost nothing painted survives the opening, in a coloured image most does.
    painted_px, fill_px = int(painted.sum()), int(fills.sum())
    return painted_px < 0.005 * painted.size or fill_px < 0.15 * painted_px
