"""Held drawings: a frame that shows again the drawing before it.

Anime is drawn on twos and threes: each drawing stays for two or three frames, and a
still shot holds one drawing for seconds. Coloured again on each frame, a held
drawing came out a little different every time (the flow between two copies of one
drawing is noise, and the carried texture, the snap and the persistence follow it),
so the colours shimmered where the drawing stood still: on a real shot drawn on
threes, 15 times the real animation's flicker between the frames of one drawing
(docs/temporal-network.md, "Session 40").

A held frame is shown as the frame it repeats, exactly, and the next drawing is
carried on from that one. Video compression leaves two copies of one drawing a few
levels apart, so "the same" is judged with a tolerance, and the test is strict about
motion: a drawing that moves, even slowly or in one small part, is not held. Where
only part of a drawing holds (a mouth moves, the rest stays), that part has no motion
(:func:`held_parts`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..metrics.flowcheck import pixel_grid

# Lines (ink coverage of at least a half) of one frame farther than 1 pixel from the
# other's: more than this share of any cell (1/CELLS of the long side, about 8 pixels
# at 640) is a change of drawing. Two copies of one drawing through video compression
# reach 0.12 in their worst cell (the copies in the line-art videos AnimeColor 5 and 6, on
# twos and threes, and in the sketches of the colour clips 140633 and onepiece_demo, on
# threes); a new pose reaches 0.4 to 0.9, but a small or slow move can stay under it,
# and the two other tests catch those.
NEW_LINE_SHARE = 0.15
CELLS = 80
# In any cell of 1/INK_CELLS of the long side crossed by lines, the ink that changed over
# the ink there (both frames): at most this. Copies of one drawing reach 0.19 (AnimeColor
# 6); a head turning by a pixel, 0.40 (bluefat, whose other tests pass). Thick generated
# lines shifted by one pixel give 0.22 to 0.30: such a move can pass as held.
INK_CHANGE = 0.25
INK_CELLS = 40
# The median displacement of the frame's lines along the flow, in pixels at the flow's
# size: at most this for a held drawing. Copies of one drawing give 0.00 to 0.06; a shot
# that moves slowly on every frame (narutodoushida) 0.19 and above.
MAX_MOTION = 0.08
LINE = 128  # ink_u8 level from which a pixel is a line
_NEAR = np.ones((3, 3), np.uint8)


def _lines(ink: np.ndarray) -> np.ndarray:
    return cv2.compare(ink, LINE, cv2.CMP_GE)


def _per_cell(image: np.ndarray, cells: int) -> np.ndarray:
    """``image`` averaged over a grid of ``cells`` on its long side (dtype kept)."""
    h, w = image.shape[:2]
    cell = max(h, w) / cells
    size = (max(1, round(w / cell)), max(1, round(h / cell)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _far_lines(prev_ink: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """0/255: line pixels of either frame with no line of the other within 1 pixel."""
    a, b = _lines(prev_ink), _lines(ink)
    return cv2.bitwise_or(
        cv2.bitwise_and(b, cv2.bitwise_not(cv2.dilate(a, _NEAR))),
        cv2.bitwise_and(a, cv2.bitwise_not(cv2.dilate(b, _NEAR))),
    )


def new_line_share(prev_ink: np.ndarray, ink: np.ndarray) -> float:
    """The largest share of a cell covered by lines of either frame with no line of
    the other within 1 pixel (``ink_u8`` maps of the same size)."""
    return float(_per_cell(_far_lines(prev_ink, ink), CELLS).max()) / 255.0


def _ink_cells(
    prev_ink: np.ndarray, ink: np.ndarray, cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell of a grid of ``cells`` on the long side: the ink that changed between
    two frames, the ink of both, and whether a line crosses it in both (the two hold as
    much ink as a 3-pixel line across the cell would in each)."""
    a, b = prev_ink.astype(np.float32), ink.astype(np.float32)
    changed = _per_cell(cv2.absdiff(a, b), cells)
    both = _per_cell(cv2.add(a, b), cells)
    crossed = both >= 2 * 255 * 3 / (max(ink.shape) / cells)
    return changed, both, crossed


def ink_change(prev_ink: np.ndarray, ink: np.ndarray) -> float:
    """The largest share of a cell's ink that changed between two frames, over the cells
    that a line crosses in both (``ink_u8`` maps of the same size)."""
    changed, both, crossed = _ink_cells(prev_ink, ink, INK_CELLS)
    if not crossed.any():
        return 0.0
    return float((changed[crossed] / both[crossed]).max())


def line_motion(ink: np.ndarray, sample: np.ndarray, scale: float) -> float:
    """Median displacement of ``ink``'s line pixels along ``sample`` (full-size
    positions in the previous frame), in pixels at ``scale`` of the full size; 0 when
    the frame has no lines."""
    # Every other pixel of the flow's size is enough for a median (and a quarter of the
    # cost: the test runs on every frame).
    step = max(1, round(2.0 / scale))
    lines = ink[::step, ::step] >= LINE
    if not lines.any():
        return 0.0
    ys, xs = np.nonzero(lines)
    moved = sample[::step, ::step][lines]
    dx = moved[:, 0] - xs * step
    dy = moved[:, 1] - ys * step
    return float(np.median(np.hypot(dx, dy))) * scale


def same_drawing(prev_ink: np.ndarray, ink: np.ndarray, sample: np.ndarray, scale: float) -> bool:
    """Whether a frame holds the previous frame's drawing.

    Args:
        prev_ink: the previous frame's ``H,W`` uint8 ink coverage.
        ink: this frame's.
        sample: ``H,W,2`` float32, where each pixel of this frame lies in the previous
            one (the engine's motion).
        scale: the flow's size over the full size (``MAX_MOTION`` is in its pixels).
    """
    if prev_ink.shape != ink.shape:
        return False
    return (
        line_motion(ink, sample, scale) <= MAX_MOTION
        and new_line_share(prev_ink, ink) <= NEW_LINE_SHARE
        and ink_change(prev_ink, ink) <= INK_CHANGE
    )


# Held parts (see held_parts): the weight of a held cell's stillness against the moving
# cells around it is spread over this many cells (Gaussian sigma), so motion fades to
# none across about two cells (16 px at 640) instead of stopping at a cell's edge.
HELD_PART_SPREAD = 1.5


def held_parts(
    prev_ink: np.ndarray, ink: np.ndarray, sample: np.ndarray, scale: float
) -> np.ndarray | None:
    """``H,W`` float32 in [0, 1]: how much of each pixel's motion to drop because its
    part of the drawing holds still while other parts move (1: held); None when no part
    of the frame holds.

    Limited animation moves a mouth or an arm and holds the rest of the drawing. The
    flow between the two drawings is small noise over the held part, and what colouring
    carries through it (textured regions, the temporal network's warp) shifts a little
    at each new drawing. A cell (1/``CELLS`` of the long side) whose lines pass the tests
    of :func:`same_drawing` there (no line moved beyond 1 pixel, the ink changed little,
    the mean motion of its lines at most ``MAX_MOTION``) holds; a cell whose lines fail
    one moves, and so do the cells beside it. Cells without lines take the weight of
    the line cells around them, so a flat area inside a moving shape moves with it.

    Args:
        prev_ink: the previous frame's ``H,W`` uint8 ink coverage.
        ink: this frame's.
        sample: ``H,W,2`` float32, where each pixel of this frame lies in the previous one.
        scale: the flow's size over the full size (``MAX_MOTION`` is in its pixels).
    """
    if prev_ink.shape != ink.shape:
        return None
    h, w = ink.shape
    far_share = _per_cell(_far_lines(prev_ink, ink), CELLS).astype(np.float32) / 255.0
    # Cells with lines as ink_change counts them. Thinner evidence, any line at all, was
    # tried: on the real suite TC 1.022 against 1.006 this way (classical, one key), the
    # development shots level either way.
    changed, both, crossed = _ink_cells(prev_ink, ink, CELLS)
    shift = sample - pixel_grid(h, w)
    moved = cv2.magnitude(shift[..., 0], shift[..., 1])
    on = _lines(ink)  # 0/255
    moved = cv2.multiply(moved, on.astype(np.float32), scale=scale / 255.0)  # on lines only
    line_share = _per_cell(on, CELLS).astype(np.float32) / 255.0
    cell_motion = _per_cell(moved, CELLS) / np.maximum(line_share, 1e-6)
    still = (
        crossed
        & (far_share <= NEW_LINE_SHARE)
        & (changed <= INK_CHANGE * both)
        & (cell_motion <= MAX_MOTION)
    )
    moving = cv2.dilate((crossed & ~still).view(np.uint8), _NEAR) > 0
    held = still & ~moving
    if not held.any():
        return None
    # Normalized convolution: the share of held among the cells that say anything.
    known = cv2.GaussianBlur((crossed | moving).astype(np.float32), (0, 0), HELD_PART_SPREAD)
    weight = cv2.GaussianBlur(held.astype(np.float32), (0, 0), HELD_PART_SPREAD)
    weight = np.divide(weight, known, out=np.zeros_like(weight), where=known > 1e-3)
    return cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)


def damp_held_parts(sample: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """``sample`` (``H,W,2`` positions in the previous frame) with its motion scaled by
    ``1 - weight`` (:func:`held_parts`); ``sample`` itself when ``weight`` is None."""
    if weight is None:
        return sample
    grid = pixel_grid(*weight.shape)
    keep = 1.0 - weight
    shift = cv2.multiply(cv2.subtract(sample, grid), cv2.merge([keep, keep]))
    return cv2.add(shift, grid)
