"""Whether in-betweens still show the drawing their keyframes show.

The reference colours a keyframe's drawing; propagation carries those colours along
the flow to every other frame. When the camera moves on to a view the keyframe never
shows (a pull-back to a wide room, a tilt up to a face, the next shot of a
multi-shot file), every region still gets a colour, but nothing in the reference
vouches for it, and no single frame has enough new lines to count as a new drawing
(the re-keying measure compares neighbours, not the keyframe).

So every ``SAMPLE_EVERY``-th frame's lines are matched to its keyframes' lines: ORB
features and a RANSAC similarity (shift, rotation, scale: a camera move). Between
drawings of one view it finds tens to hundreds of inliers; between unrelated drawings
only what chance gives, 3 to 8 on the development clips (docs/temporal-network.md,
"Session 36"). A frame below ``MIN_INLIERS`` against every keyframe it was compared
with has "strayed"; a stretch of at least ``MIN_STRETCH`` strayed samples in a row is
worth a warning (one sample can be a blur frame or a flash).

A frame with ``GROWTH`` times its keyframe's ink or more has strayed too, whatever
its matches: at least two thirds of its lines are none of the keyframe's. Characters
walking in front of the keyframe's set keep the set's matches (the keyframe of an
empty corridor, later two and then four pupils in front of its wall: 13 to 36 inliers,
and up to 5.5 times its ink), and a keyframe with too little drawn to match at all
(an empty one) is compared by its ink alone.

A frame whose drawing changed beyond what the flow follows has strayed too: a head
that turns, a body that changes pose, parts that come into view, while the set behind
keeps the camera's matches. Where the keyframe's colours are carried per pixel (the
textured regions of :mod:`.detail`, most of a real frame), the engine knows where each
pixel lies in the keyframe, and so where the keyframe's lines are carried to; when
``REDRAWN_SHARE`` of the frame's lines or more lie far from any of them
(chance-corrected, as the re-keying measure), the carried colours are a guess there
(:meth:`ViewCheck.note_fit`; docs/temporal-network.md, "Session 48").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

SAMPLE_EVERY = 4  # frames between samples (frame numbers divisible by it)
MIN_INLIERS = 10  # above chance (3 to 8 between unrelated drawings)
MIN_KEYPOINTS = 100  # fewer: too little drawn to tell (an empty frame, a fade)
# Ink (line pixels) against the keyframe's: at least 2/3 of the lines are new. The
# development cuts reach 2.0 at most without new content (a turn to another view of
# the same character), the corridor 5.5 (benchmarks/bench_unseen.py; later shots no
# benchmark holds, 2.4 at most: docs/temporal-network.md, session 37).
GROWTH = 3.0
MIN_STRETCH = 2  # strayed samples in a row before a stretch counts
LONG_SIDE = 640  # matched at this long side at most
FEATURES = 1000  # ORB keypoints per image
RANSAC_PX = 3.0  # inlier distance at LONG_SIDE
# The share of a frame's lines that the keyframe's lines, carried to it, miss, from
# which its drawing has changed beyond what the carry follows. On the real colour clips
# (whole first shots) frames that colour well stay under 0.21 (one clip's last frames
# reach 0.29), while those whose colours fell away from the truth pass 0.3 (a head
# turning in `white_cat_legend` 0.48, `140633` 0.35 as it pulls back); on the XDoG dev
# shots of session 24 it passes 0.3 only where the views check warns already.
REDRAWN_SHARE = 0.3


@dataclass
class Features:
    """A drawing's ORB keypoints and amount of ink, as :class:`ViewCheck` judges it."""

    points: np.ndarray  # N,2 float32 keypoint positions
    descriptors: np.ndarray  # N,32 uint8 ORB descriptors
    ink: float = 0.0  # share of the image's pixels with ink

    @property
    def matchable(self) -> bool:
        """Whether enough is drawn to match (``MIN_KEYPOINTS``)."""
        return len(self.points) >= MIN_KEYPOINTS


def sampled(index: int) -> bool:
    """Whether frame ``index`` is one :meth:`ViewCheck.check` matches."""
    return index % SAMPLE_EVERY == 0


def features(ink_u8: np.ndarray) -> Features:
    """A drawing's keypoints and ink share (``ink_u8``: ``H,W`` ink coverage); see
    :attr:`Features.matchable` (thread-safe: each call makes its own detector)."""
    h, w = ink_u8.shape[:2]
    ink = cv2.countNonZero(ink_u8) / float(h * w)
    scale = LONG_SIDE / max(h, w)
    image = ink_u8
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(ink_u8, size, interpolation=cv2.INTER_AREA)
    keypoints, descriptors = cv2.ORB_create(FEATURES).detectAndCompute(image, None)
    if descriptors is None:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), ink)
    return Features(np.float32([k.pt for k in keypoints]), descriptors, ink)


def key_of(stretch: tuple[int, int] | list[int]) -> int:
    """The frame to pin a reference to for a stretch ``(first, last)``: its middle.

    Keyed there, the reference colours the stretch both ways: forward to its end, and
    backward to its start in the blend between two keyframes; keyed at its start, it
    colours forward only. Chosen over the start and the end by pinning the truth of
    each on the warned real clips (``benchmarks/key_placement.py``, README "Views the
    keyframe never shows").
    """
    first, last = stretch[0], stretch[-1]
    return (first + last) // 2


class ViewCheck:
    """Samples of a cut's frames matched to its keyframes' drawings.

    Call :meth:`add_key` for each frame a reference colours (its own drawing) and
    :meth:`check` for every other frame, in any order; a frame met again after a new
    keyframe (a blended segment's backward pass) is compared with the new one too.
    """

    def __init__(self) -> None:
        # The analysis thread checks frames ahead, the colouring thread adds keyframes
        # and checks what it meets again: the bookkeeping is locked, matching is not.
        self._lock = threading.Lock()
        self._keys: dict[int, Features] = {}
        # Per judged sample: SEEN, GROWN or UNMATCHED, and the keyframes it was
        # compared with (a later keyframe can still vouch for it).
        self._verdict: dict[int, str] = {}
        self._compared: dict[int, set[int]] = {}
        # Per coloured frame, the least share of its lines that a keyframe's lines,
        # carried to it, miss (see note_fit; the best of the passes that coloured it).
        self._fit: dict[int, float] = {}

    def add_key(self, index: int, drawing: Features) -> None:
        """Frame ``index`` is a keyframe, with ``drawing`` its :func:`features`."""
        with self._lock:
            self._keys.setdefault(index, drawing)

    def check(self, index: int, drawing: Callable[[], Features]) -> None:
        """Judge frame ``index`` (when :func:`sampled`) against the keyframes not yet
        compared with it; ``drawing`` gives its :func:`features` when needed.
        Frames with too few lines to tell are left out."""
        if not sampled(index):
            return
        with self._lock:
            done = self._compared.get(index, set())
            todo = {k: f for k, f in self._keys.items() if k not in done}
            if index in self._keys or not todo or self._verdict.get(index) == SEEN:
                return  # a keyframe, nothing new to compare with, or already vouched for
        frame = drawing()
        if not frame.matchable:
            return
        verdict = _best(_verdict(key, frame) for key in todo.values())
        with self._lock:
            self._verdict[index] = _best((verdict, self._verdict.get(index, UNMATCHED)))
            self._compared[index] = done | set(todo)

    def note_fit(self, index: int, missed: float) -> None:
        """Sampled frame ``index`` was coloured with ``missed`` of its lines far from its
        keyframe's lines carried to it (``REDRAWN_SHARE`` or more: redrawn). A frame
        coloured twice (the two passes of a blended segment) keeps the better fit."""
        with self._lock:
            self._fit[index] = min(missed, self._fit.get(index, missed))

    def _verdicts(self) -> dict[int, str]:
        """Per sample, its verdict, REDRAWN where the keyframes' matches vouch for it
        (or could not judge it) but the carried keyframe's lines miss too much of its
        drawing. Called locked."""
        verdicts = dict(self._verdict)
        for index, missed in self._fit.items():
            if not sampled(index) or index in self._keys or missed < REDRAWN_SHARE:
                continue
            if self._verdict.get(index, SEEN) == SEEN:
                verdicts[index] = REDRAWN
        return verdicts

    def strayed(self) -> list[int]:
        """Sampled frames no keyframe vouches for, in order."""
        with self._lock:
            return sorted(i for i, v in self._verdicts().items() if v != SEEN)

    def grown(self) -> list[int]:
        """Strayed samples with ``GROWTH`` times the ink of every keyframe compared."""
        with self._lock:
            return sorted(i for i, v in self._verdicts().items() if v == GROWN)

    def kind(self, stretch: tuple[int, int]) -> str:
        """How most strayed samples of ``stretch`` strayed: UNMATCHED (another view),
        GROWN (far more drawn) or REDRAWN (the drawing changed beyond the carry); a
        tie goes to the one named first."""
        first, last = stretch
        with self._lock:
            found = [v for i, v in self._verdicts().items() if first <= i <= last and v != SEEN]
        return max((UNMATCHED, GROWN, REDRAWN), key=found.count)

    def stretches(self, new_drawings: Iterable[int] = ()) -> list[tuple[int, int]]:
        """``(first, last)`` frames of each run of at least ``MIN_STRETCH`` strayed
        samples in a row (a keyframe or a matched sample ends a run).

        ``first`` is the run's first sample, or the first of ``new_drawings`` (frames
        with mostly new lines) since the sample before it: a cut to another shot
        there is where the view changed.
        """
        with self._lock:
            events = [(i, v != SEEN) for i, v in self._verdicts().items()]
            events += [(k, False) for k in self._keys]
        runs: list[list[int]] = []
        current: list[int] = []
        for index, stray in sorted(events):
            if stray:
                current.append(index)
                continue
            runs.append(current)
            current = []
        runs.append(current)
        found = []
        for run in (r for r in runs if len(r) >= MIN_STRETCH):
            opened = [d for d in sorted(new_drawings) if run[0] - SAMPLE_EVERY < d <= run[0]]
            found.append((opened[0] if opened else run[0], run[-1]))
        return found


SEEN, GROWN, UNMATCHED, REDRAWN = "seen", "grown", "unmatched", "redrawn"


def _best(verdicts: Iterable[str]) -> str:
    """The verdict of a frame compared with several keyframes: any that vouches for it
    wins (SEEN), then GROWN, then UNMATCHED."""
    return min(verdicts, key=(SEEN, GROWN, UNMATCHED).index)


def _verdict(key: Features, frame: Features) -> str:
    """What keyframe ``key`` says of a matchable ``frame``: it shows that view (SEEN),
    the frame has far more drawn (GROWN), or its lines match no better than chance
    (UNMATCHED). A key with too little drawn to match vouches for what it cannot judge."""
    if frame.ink >= GROWTH * key.ink:
        return GROWN
    if not key.matchable:
        return SEEN
    return SEEN if _inliers(key, frame) >= MIN_INLIERS else UNMATCHED


def _inliers(key: Features, frame: Features) -> int:
    """RANSAC similarity inliers among the cross-checked matches of two drawings."""
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)  # one per call: threads
    matches = matcher.match(frame.descriptors, key.descriptors)
    if len(matches) < MIN_INLIERS:
        return 0
    src = frame.points[[m.queryIdx for m in matches]]
    dst = key.points[[m.trainIdx for m in matches]]
    # OpenCV's RANSAC seeds its own generator: the same cut, the same verdicts.
    _, inliers = cv2.estimateAffinePartial2D(
        src, dst, ransacReprojThreshold=RANSAC_PX, maxIters=2000
    )
    return 0 if inliers is None else int(inliers.sum())
