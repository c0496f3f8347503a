"""Which frame of a cut a reference colours: the drawing whose lines it matches best.

An animator often holds the colour key of some frame of the cut, not of its first
frame. Coloured from frame 0, such a key is "another drawing" and frame 0 is matched
region by region (right on about 70% of regions on the benchmark); coloured from its
own frame, it is a copy, and propagation carries it both ways. ``--ref-frame auto``
finds that frame: every frame is screened cheaply (the lines of frame and reference
at a small size, overlap above chance, no fit), and the best one is then placed as a
keyframe would be (:func:`place_reference`), which decides whether it is the same
drawing. When no frame is, the reference is another drawing (a character sheet)
and frame 0 is the keyframe, as without ``auto``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .reference import line_overlap, line_structure, place_reference

log = logging.getLogger(__name__)

# Long side of the screening: enough to tell one pose from the next, cheap per frame.
SCREEN_LONG_SIDE = 256
# Screened frames placed in full (the rest are surely other poses).
CANDIDATES = 3


@dataclass
class Located:
    """Where a reference belongs in a cut.

    Attributes:
        frame: the keyframe to colour from it (0 when no frame is its drawing).
        overlap: the placed overlap of that frame's lines with the reference's.
        same_drawing: whether the reference is that frame's drawing.
        scanned: frames screened.
    """

    frame: int
    overlap: float
    same_drawing: bool
    scanned: int


def _screen_size(shape: tuple[int, ...]) -> tuple[int, int]:
    h, w = shape[:2]
    s = SCREEN_LONG_SIDE / max(h, w)
    return max(8, round(w * s)), max(8, round(h * s))


def locate_reference(frames: Iterable[np.ndarray], reference: np.ndarray) -> Located:
    """The frame of ``frames`` (``H,W,3`` uint8 line art) that ``reference`` colours.

    Keeps ``CANDIDATES`` frames in memory (the best screened so far), whatever the
    cut's length; each is then placed at the keyframe fit's size, which tells
    neighbouring poses apart better than the screening does.
    """
    kept: list[tuple[float, int, np.ndarray]] = []  # (score, -index, frame), best last
    size = ref_lines = None
    scanned = 0
    for i, sketch in enumerate(frames):
        scanned += 1
        if size is None:
            size = _screen_size(sketch.shape)
            ref_lines = line_structure(reference, size)
        score = line_overlap(line_structure(sketch, size), ref_lines)
        if score is None:
            continue
        if len(kept) < CANDIDATES or score > kept[0][0]:
            kept.append((score, -i, sketch))
            # Ties keep the earlier frame (a drawing held on twos, threes).
            kept.sort(key=lambda k: (k[0], k[1]))
            del kept[:-CANDIDATES]
    best: Located | None = None
    for _, neg, sketch in reversed(kept):
        placement = place_reference(sketch, reference)
        if placement.same_drawing and (best is None or placement.overlap > best.overlap):
            best = Located(-neg, placement.overlap, True, scanned)
    if best is None:
        return Located(frame=0, overlap=0.0, same_drawing=False, scanned=scanned)
    return best
