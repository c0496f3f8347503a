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
MIN_STRETCH = 2  # strayed samples in a row before a stretch counts
LONG_SIDE = 640  # matched at this long side at most
FEATURES = 1000  # ORB keypoints per image
RANSAC_PX = 3.0  # inlier distance at LONG_SIDE


@dataclass
class Features:
    """A drawing's ORB keypoints, as :class:`ViewCheck` matches them."""

    points: np.ndarray  # N,2 float32 keypoint positions
    descriptors: np.ndarray  # N,32 uint8 ORB descriptors


def sampled(index: int) -> bool:
    """Whether frame ``index`` is one :meth:`ViewCheck.check` matches."""
    return index % SAMPLE_EVERY == 0


def features(ink_u8: np.ndarray) -> Features | None:
    """A drawing's keypoints (``ink_u8``: ``H,W`` ink coverage), or None where it has
    too few lines to tell (thread-safe: each call makes its own detector)."""
    h, w = ink_u8.shape[:2]
    scale = LONG_SIDE / max(h, w)
    image = ink_u8
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(ink_u8, size, interpolation=cv2.INTER_AREA)
    keypoints, descriptors = cv2.ORB_create(FEATURES).detectAndCompute(image, None)
    if descriptors is None or len(keypoints) < MIN_KEYPOINTS:
        return None
    return Features(np.float32([k.pt for k in keypoints]), descriptors)


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
        self._keys: dict[int, Features | None] = {}
        # Per sampled frame: its best inliers, and the keyframes it was compared with.
        self._best: dict[int, int] = {}
        self._compared: dict[int, set[int]] = {}

    def add_key(self, index: int, drawing: Features | None) -> None:
        """Frame ``index`` is a keyframe, with ``drawing`` its :func:`features`."""
        with self._lock:
            self._keys.setdefault(index, drawing)

    def check(self, index: int, drawing: Callable[[], Features | None]) -> None:
        """Match frame ``index`` (when :func:`sampled`) to the keyframes not yet
        compared with it; ``drawing`` gives its :func:`features` when needed.
        Frames with too few lines to tell are left out."""
        if not sampled(index):
            return
        with self._lock:
            done = self._compared.get(index, set())
            todo = {k: f for k, f in self._keys.items() if f is not None and k not in done}
            if index in self._keys or not todo or self._best.get(index, 0) >= MIN_INLIERS:
                return  # a keyframe, nothing new to compare with, or already matched
        frame = drawing()
        if frame is None:
            return
        best = max(_inliers(key, frame) for key in todo.values())
        with self._lock:
            self._best[index] = max(best, self._best.get(index, 0))
            self._compared[index] = self._compared.get(index, set()) | set(todo)

    def strayed(self) -> list[int]:
        """Sampled frames that matched no keyframe beyond chance, in order."""
        with self._lock:
            return sorted(i for i, n in self._best.items() if n < MIN_INLIERS)

    def stretches(self, new_drawings: Iterable[int] = ()) -> list[tuple[int, int]]:
        """``(first, last)`` frames of each run of at least ``MIN_STRETCH`` strayed
        samples in a row (a keyframe or a matched sample ends a run).

        ``first`` is the run's first sample, or the first of ``new_drawings`` (frames
        with mostly new lines) since the sample before it: a cut to another shot
        there is where the view changed.
        """
        with self._lock:
            events = [(i, n < MIN_INLIERS) for i, n in self._best.items()]
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
