"""What the engine knows of a frame before colouring it, and what a run counts.

:class:`FrameAnalysis` is one sketch frame's line art, regions and flow image (with
its motion from the frame before when the analysis thread computed it ahead);
:class:`ColorizeStats` the counters a run keeps for logs, reports and benchmarks.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..lineart import LineArt, Regions
from . import views
from .reference import Placement
from .trace_pairs import trace_pairs
from .wanted import WantedKey


@dataclass
class FrameAnalysis:
    """What the engine knows of one sketch frame before colouring it."""

    art: LineArt
    regions: Regions
    flow_image: np.ndarray  # flow-friendly grey image at work resolution
    # The sketch it was analysed from (the caller's array, not a copy): a blended
    # segment keeps it on disk to analyse again on the way back.
    source: np.ndarray
    # Decode-order number, and the motion from frame ``seq - 1`` when computed ahead
    # (see Colorizer.analyse_stream; from ``seq + 1`` on the way back to a late
    # keyframe, see Colorizer._step_back): (sample map, visible mask). A number, not a
    # reference to the previous analysis, so analyses do not chain in memory.
    seq: int | None = None
    motion: tuple[np.ndarray, np.ndarray] | None = None
    new_lines: float | None = None  # its new-line share, computed ahead beside motion
    # The same asked going back (the previous drawing's lines it misses), computed
    # beside it where the frame lies between two keys that blend.
    old_lines: float | None = None
    # It holds the previous frame's drawing (:mod:`holds`): it is that frame's analysis
    # again, and is shown as that frame.
    held: bool = False

    def again(self, seq: int) -> FrameAnalysis:
        """This analysis for a later frame that holds its drawing (shared, not copied:
        the lazily built parts are built once for both)."""
        held = copy.copy(self)
        held.seq, held.motion, held.held = seq, None, True
        held.new_lines = held.old_lines = 0.0
        return held

    @functools.cached_property
    def trace(self) -> np.ndarray:
        """Regions facing each other across colour-trace lines (:func:`trace_pairs`
        rows), computed once: a matched keyframe reads them twice."""
        return trace_pairs(self.art, self.regions)

    @functools.cached_property
    def work_ink(self) -> np.ndarray:
        """The ink coverage at the flow image's size (``h,w`` uint8, area-averaged), as
        the line measures compare drawings (computed once: the new-line share and the
        changed-drawing check both read it)."""
        h, w = self.flow_image.shape[:2]
        return cv2.resize(self.art.ink_u8, (w, h), interpolation=cv2.INTER_AREA)

    @functools.cached_property
    def drawing(self) -> views.Features:
        """The drawing's keypoints, as :class:`views.ViewCheck` matches them (once)."""
        return views.features(self.art.ink_u8)

    def prepare(self) -> None:
        """Build now what colouring the frame reads lazily: the regions' fill ranks (every
        frame's rendering) and the trace pairs (every frame's trace-line repair).

        The streaming run calls it in the analysis thread while the temporal network
        colours, so that this work (a sixth of the colouring thread's frame at
        1280x720, session 34) runs beside colouring instead of on its path. Not
        otherwise: then the analysis is the slower thread (classical propagation at
        1280x720 on 2 cores: 16.2 -> 15.0 frames/s with it there).
        """
        self.regions.prepare_fill()
        self.trace  # noqa: B018 (a cached property: reading it builds it)


@dataclass
class ColorizeStats:
    """Counters of a run, for logs, benchmarks and re-keying decisions.

    Attributes:
        frames: frames coloured.
        network_keyframes: keyframes the exemplar network coloured.
        matched_keyframes: keyframes whose regions were matched to the reference's parts
            (see :mod:`celcolor.engine.region_match`).
        rekeyed: frames coloured from the reference as new keyframes (new drawings).
        new_drawings: frames with more than ``rekey_threshold`` of their lines new (a
            new shot, a new character, a large change of pose), re-keyed or not.
        unconfident: per frame, the share of region pixels whose colour had no
            confident vote (0 for keyframes).
        held: frames that held the drawing before them (animation on twos and
            threes, still shots), shown as that frame (see :mod:`holds`); before a
            late keyframe, coloured on the way back from it, the drawing after them.
        covered: new drawings that only one pass of a blended segment crossed; they
            took the other pass's colours, so none was carried across them.
        unseen: ``(first, last)`` sampled frames of each stretch whose lines no longer
            match any keyframe's drawing (see :mod:`celcolor.engine.views`), set at
            the end of the run.
        grown: those of ``unseen`` that strayed by having far more drawn than their
            keyframes (``views.GROWTH`` times the ink: characters coming in).
        redrawn: those of ``unseen`` that strayed by a drawing changed beyond what the
            carry follows (``views.REDRAWN_SHARE`` of their lines far from their
            keyframe's, carried to them: a turn, a new pose).
        wanted: the frames the end-of-run warnings name, each once, with why (see
            :func:`~celcolor.engine.wanted.wanted_keys`), set at the end of the run.
        seconds: time spent per stage (lineart, flow, snap, compose).
        placement: how the reference was placed over the keyframe.
        derived_tones: band colours derived for bases the keyframe showed no band of
            (see :mod:`celcolor.engine.trace_pairs`).
        waited_on_disk: frames set aside (before a late keyframe, between two
            keyframes) that did not fit ``options.wait_memory`` and waited on disk.
        waiting_memory: the most bytes those frames held in memory at once.
        textured_frames: frames with regions kept per pixel, not flat (see
            :mod:`celcolor.engine.detail`).
    """

    frames: int = 0
    network_keyframes: int = 0
    matched_keyframes: int = 0
    network_frames: int = 0
    network_fills: int = 0
    blended: int = 0
    rekeyed: list[int] = field(default_factory=list)
    new_drawings: list[int] = field(default_factory=list)
    covered: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    derived_tones: int = 0
    textured_frames: int = 0
    waited_on_disk: int = 0
    waiting_memory: int = 0
    unconfident: list[float] = field(default_factory=list)
    unseen: list[tuple[int, int]] = field(default_factory=list)
    grown: list[tuple[int, int]] = field(default_factory=list)
    redrawn: list[tuple[int, int]] = field(default_factory=list)
    wanted: list[WantedKey] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    placement: Placement | None = None

    def add_time(self, stage: str, seconds: float) -> None:
        """Accumulate time spent in a stage."""
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def computed_ahead(prev: FrameAnalysis, frame: FrameAnalysis) -> bool:
    """Whether ``frame``'s motion (and new-line share) was computed ahead from ``prev``:
    the frame before it, or on the way back to a late keyframe the frame after it."""
    if frame.motion is None or prev.seq is None or frame.seq is None:
        return False
    return abs(frame.seq - prev.seq) == 1
