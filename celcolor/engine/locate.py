"""Which frame of a cut a reference colours: the drawing whose lines it matches best.

An animator often holds the colour key of some frame of the cut, not of its first
frame. Coloured from frame 0, such a key is "another drawing" and frame 0 is matched
region by region (right on about 70% of regions on the benchmark); coloured from its
own frame, it is a copy, and propagation carries it both ways. ``--ref-frame auto``
finds that frame: every frame is screened cheaply (the lines of frame and reference
at a small size, overlap above chance, no fit), and the best one is then placed as a
keyframe would be (:func:`place_reference`), which decides whether it is the same
drawing. When no frame is, the reference is another drawing (a character sheet)
and frame 0 is the keyframe, as without ``auto``, unless the cut opens on blank paper
(a character entering an empty layer): a blank keyframe has nothing to colour, and its
one flat region would be carried into every drawing after it. The keyframe is then
the first frame drawn at least half as fully as the cut's fullest (a character that
enters the frame is keyed once it is mostly in, not by the first foot to show).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .reference import Placement, line_overlap, line_structure, place_reference

# Long side of the screening: enough to tell one pose from the next, cheap per frame.
SCREEN_LONG_SIDE = 256
# Screened frames placed in full (the rest are surely other poses).
CANDIDATES = 3
# A first frame whose placed lines coincide this much with a reference's is its
# drawing up to noise (a key painted on the cut's own line art): no scan is needed.
EXACT_OVERLAP = 0.9
# A frame with fewer line pixels than this share of the screen (and 20 pixels) is blank
# paper, as far as choosing a keyframe goes: specks of dirt are not a drawing.
DRAWN_SHARE = 1e-3
# After blank paper, the keyframe is the first frame with this share of the line
# pixels of the cut's fullest frame.
FULL_ENOUGH = 0.5


@dataclass
class Located:
    """Where a reference belongs in a cut.

    Attributes:
        frame: the keyframe to colour from it (0 when no frame is its drawing).
        overlap: the placed overlap of that frame's lines with the reference's.
        same_drawing: whether the reference is that frame's drawing.
        scanned: frames screened.
        first_drawn: the keyframe for a reference of another drawing: 0, or where the
            cut opens on blank paper, its first frame drawn fully enough (see above).
    """

    frame: int
    overlap: float
    same_drawing: bool
    scanned: int
    first_drawn: int = 0


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
    return locate_references(frames, [reference])[0]


def locate_references(
    frames: Iterable[np.ndarray], references: Sequence[np.ndarray]
) -> list[Located]:
    """:func:`locate_reference` for several references in one pass over ``frames``.

    The pass stops at the first frame when every reference is its drawing up to noise
    (placed overlap ``EXACT_OVERLAP`` or more): the common case of a key painted on
    the cut's first drawing costs one placement, not a decode of the whole cut.
    """
    kept: list[list[tuple[float, int, np.ndarray]]] = [[] for _ in references]
    size = None
    ref_lines: list[np.ndarray] = []
    first: list[Placement] = []  # frame 0 placed against each reference
    scanned = 0
    ink: list[int] = []  # line pixels of each screened frame
    for i, sketch in enumerate(frames):
        scanned += 1
        if size is None:
            first = [place_reference(sketch, r) for r in references]
            if all(p.overlap >= EXACT_OVERLAP for p in first):
                return [Located(0, p.overlap, True, scanned) for p in first]
            size = _screen_size(sketch.shape)
            ref_lines = [line_structure(r, size) for r in references]
        lines = line_structure(sketch, size)
        ink.append(int(np.count_nonzero(lines > 0.25)))
        for best, ref in zip(kept, ref_lines, strict=True):
            score = line_overlap(lines, ref)
            if score is not None and (len(best) < CANDIDATES or score > best[0][0]):
                best.append((score, -i, sketch))  # (score, -index, frame), best last
                # Ties keep the earlier frame (a drawing held on twos, threes).
                best.sort(key=lambda k: (k[0], k[1]))
                del best[:-CANDIDATES]
    if not first:  # no frames at all
        return [Located(frame=0, overlap=0.0, same_drawing=False, scanned=0) for _ in references]
    drawn = _first_full_drawing(ink, DRAWN_SHARE * size[0] * size[1])
    return [
        dataclasses.replace(_place_best(best, ref, scanned, at_0), first_drawn=drawn)
        for best, ref, at_0 in zip(kept, references, first, strict=True)
    ]


def _first_full_drawing(ink: list[int], blank_below: float) -> int:
    """0, unless frame 0 is blank paper: then the first frame with ``FULL_ENOUGH`` of
    the fullest frame's line pixels (0 when every frame is blank)."""
    floor = max(20.0, blank_below)
    if not ink or ink[0] >= floor or max(ink) < floor:
        return 0
    enough = max(floor, FULL_ENOUGH * max(ink))
    return next(i for i, n in enumerate(ink) if n >= enough)


def _place_best(
    candidates: list[tuple[float, int, np.ndarray]],
    reference: np.ndarray,
    scanned: int,
    at_0: Placement,
) -> Located:
    """The candidate whose placed lines overlap the reference's most, if any is its drawing.

    ``at_0``: frame 0's placement, already made by the pass (not made again).
    """
    best: Located | None = None
    for _, neg, sketch in reversed(candidates):
        placement = at_0 if neg == 0 else place_reference(sketch, reference)
        if placement.same_drawing and (best is None or placement.overlap > best.overlap):
            best = Located(-neg, placement.overlap, True, scanned)
    return best or Located(frame=0, overlap=0.0, same_drawing=False, scanned=scanned)
