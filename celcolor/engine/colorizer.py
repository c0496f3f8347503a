"""The colouring session: take a reference once, then colour a cut frame by frame.

Per frame (classical path):

    sketch -> ink + regions            (lineart)
    keyframe:   reference placed over the drawing, each region votes on the
                reference's palette index under it
    in-between: the previous frame's palette indices, warped by the flow between
                the two drawings, vote per region with occluded pixels left out;
                a region without a confident vote takes the vote of everything
                that lands in it, occluded or not (the nearest known colour)
    snap:       every region one palette colour; lines on top

State carried between frames is one uint8 index map and the previous frame's
flow image, so memory does not grow with the cut.
"""

from __future__ import annotations

import bisect
import functools
import logging
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, UsageError
from ..lineart import (
    InkOptions,
    LineArt,
    RegionOptions,
    Regions,
    extract_ink,
    label_regions,
)
from ..lineart.xdog import reference_ink
from ..metrics.flowcheck import occlusion_mask
from ..temporal.flow import (
    DISFlow,
    RAFTFlow,
    flow_friendly,
    make_flow_backend,
    sampling_map,
    work_positions,
)
from . import detail as texture
from . import holds, matte, region_match, views
from .advice import KeyAdvice
from .analysis import ColorizeStats, FrameAnalysis, computed_ahead
from .learned_parts import LearnedParts
from .options import ColorizeOptions
from .palette import (
    NO_COLOUR,
    VOTE_INK_MAX,
    Palette,
    build_palette,
    region_histogram,
    warp_index,
)
from .reference import (
    FIT_DIS_PRESET,
    Placement,
    fit_locally,
    line_overlap,
    place_reference,
    reference_guide,
    unmet_share,
    warp_reference,
)
from .reference_checks import check_references, greys_only
from .segments import Segment, fade_towards, mix_passes, moved_on
from .trace_pairs import TracePartners, derive_tone
from .views import ViewCheck
from .waiting import WaitingFrames
from .wanted import wanted_keys

log = logging.getLogger(__name__)
_RIM = np.ones((3, 3), np.uint8)  # the ink's anti-aliased edge composited with it


def _winners(hist: np.ndarray):
    """Per region: the commonest colour, its votes and all votes (no-colour left out)."""
    votes = hist[:, :NO_COLOUR]
    winner = votes.argmax(1).astype(np.uint8)
    return winner, votes[np.arange(len(votes)), winner], votes.sum(1)


MIN_FRAME_SIDE = 16


def _mostly(regions: Regions, mask: np.ndarray) -> np.ndarray:
    """Per region, whether more than half of its pixels are set in the 0/1 ``mask``."""
    inside = np.bincount(regions.labels[mask > 0], minlength=regions.count)
    return inside > 0.5 * np.asarray(regions.areas)


def _unmet(lines: np.ndarray, other: np.ndarray) -> float:
    """Share of ``lines`` that ``other`` misses: 1 minus their chance-corrected overlap,
    or where chance cannot be measured the plain share with no line of ``other`` near."""
    overlap = line_overlap(lines, other)
    return 1.0 - overlap if overlap is not None else unmet_share(lines, other)


def _textured(state) -> np.ndarray | None:
    """The pixels of a pass's frame that show carried texture (``detail``), or None."""
    carry = state[4]
    if carry is None:
        return None
    return cv2.compare(carry.detail, NO_COLOUR, cv2.CMP_NE) > 0


class Colorizer:
    """Colours the frames of one cut from a coloured reference.

    The reference is encoded once (palette, line structure); :meth:`colorize`
    then turns an iterable of sketch frames into coloured frames, one out per
    frame in, in order.

    Args:
        reference: ``H,W,3`` uint8 RGB colour reference (a colour key of a frame of
            the cut, or of another drawing of the same character), or a list of them:
            the first is placed over the keyframe; the network sees them all.
        options: how to colour (keyframe index, line mode, flow backend, ...).
        pinned: references pinned to frames (``{48: rgb}``): that frame is coloured
            from its reference (re-keyed) and propagation goes on from it. Without
            unpinned references the earliest pinned frame is the keyframe.
    """

    def __init__(
        self,
        reference: np.ndarray | list[np.ndarray] | None,
        options: ColorizeOptions | None = None,
        pinned: dict[int, np.ndarray] | None = None,
    ) -> None:
        if reference is None:
            references = []
        elif isinstance(reference, list | tuple):
            references = list(reference)
        else:
            references = [reference]
        pinned = dict(sorted((pinned or {}).items()))
        if any(not isinstance(f, int) or f < 0 for f in pinned):
            raise UsageError(f"pinned frames must be 0 or more, got {sorted(pinned)}")
        if not references and not pinned:
            raise InputError("at least one reference is needed")
        options = options or ColorizeOptions()
        # Which reference colours which keyframe: unpinned ones key --ref-frame.
        self._ref_for_frame = {f: len(references) + i for i, f in enumerate(pinned)}
        self._pinned_only = not references  # every reference pinned: no --ref-frame
        if references:
            if options.ref_frame == "auto":
                raise UsageError(
                    "ref_frame='auto' needs the whole cut before colouring: use "
                    "colorize_video, or celcolor.engine.locate_reference first"
                )
            self.key_frame = options.ref_frame
            self._ref_for_frame.setdefault(self.key_frame, 0)
        else:
            self.key_frame = next(iter(pinned))
        references += list(pinned.values())
        given = references  # (cels: judged for colour on their painted pixels)
        # Cels on transparent: the empty area painted with a key colour, coloured as paint.
        self._key: tuple[int, int, int] | None = None
        if options.alpha:
            matte.check_transparent(references)
            self._key = matte.key_colour(references)
            references = [matte.on_key(r, self._key) for r in references]
        check_references(references)
        if all(greys_only(r) for r in given):
            # Not refused: a value key may be meant. But most often it is a greyscale
            # export of the colour key, and the whole cut would come out grey.
            log.warning(
                "the reference has no colour, only greys: the cut will come out in greys; "
                "if that is not meant, pass the colour key as --ref"
            )
        self.options = options or ColorizeOptions()
        self.references = references
        self.reference = references[0]
        # One palette over every reference: the network may take colours from any.
        pixels = np.concatenate([r.reshape(-1, 1, 3) for r in references])
        self.palette: Palette = build_palette(pixels)
        # The palette index of the cel's empty area (None: no --alpha), and each output
        # frame's matte, found by the frame's id until it is delivered (see _delivered).
        self._clear: int | None = None
        if self._key is not None:
            clear = int(self.palette.index(np.array([[self._key]], np.uint8))[0, 0])
            if np.abs(self.palette.colours[clear].astype(int) - self._key).max() <= 8:
                self._clear = clear
            else:  # too few empty pixels to be a paint of the palette (under 0.02%)
                log.warning(
                    "--alpha: the reference's transparent area is too small to colour as "
                    "a paint of its own; the frames come out opaque"
                )
        self._mattes: dict[int, matte.Matte] = {}
        self._ref_indices: dict[int, np.ndarray] = {}  # palette index maps, per reference
        # The networks, loaded when first asked for, and what auto mode uses.
        self.learned = LearnedParts(self.options, self.references)
        self.temporal_mode = self.learned.temporal_mode()
        # DIS needs no torch: resolve the device (which imports torch) only for others.
        self._flow = make_flow_backend(
            self.options.flow,
            device="cpu" if self.options.flow == "dis" else self.options.resolved_device(),
            weights=Path(self.options.flow_weights) if self.options.flow_weights else None,
        )
        if self.options.flow_weights and not isinstance(self._flow, RAFTFlow):
            # The weights were checked to exist, then never read: say so, not silently.
            log.warning(
                "--flow-weights has no effect on this run: its optical flow is DIS "
                "(--flow %s); use --flow raft to run RAFT with them",
                self.options.flow,
            )
        # Keyframes fitted to another drawing: one flow per keyframe, so DIS runs at a
        # slower, more accurate preset there (FIT_DIS_PRESET) than between frames.
        dis = self._flow.name.startswith("dis")
        self._fit_flow = DISFlow(FIT_DIS_PRESET) if dis else self._flow
        self._ink_options = InkOptions()
        self._region_options = RegionOptions(
            line_threshold=self.options.line_threshold, gap_radius=self.options.gap_radius
        )
        self.stats = ColorizeStats()
        # Where a painted key of frame N goes, less "NNNN.png" (a batch cut's own place,
        # set by its worker); None: the warnings give --ref and a batch folder's name.
        self.key_stem: str | None = None
        # Where this run's drafts of the keys it wants go (--keys-wanted), so that the
        # warnings say which file to paint; None: they say --keys-wanted writes them.
        self.keys_folder: str | None = None
        self._said_other_drawing = False
        self._partners = TracePartners()
        # The last frame's motion from the frame before it (sample, visible; None: a
        # keyframe), from which blending two keyframes' passes derives its trust.
        self._last_motion: tuple[np.ndarray, np.ndarray] | None = None
        # Whether the last frame _next coloured carried colour across a new drawing.
        self._carried_across = False
        self._views = ViewCheck()  # whether in-betweens still show their keyframes' drawing
        self._inked = False  # whether any frame analysed has lines (a blank cut is warned of)
        # The last previous output moved along a frame's flow: (prev_out, sample, moved).
        self._moved: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._flow_lock = threading.Lock()

    # -- per-frame analysis (may run in a worker thread) ---------------------------------

    def work_size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """``(w, h)`` at which flow is estimated for frames of ``shape``."""
        h, w = shape[:2]
        s = min(1.0, self.options.work_long_side / max(h, w))
        return max(8, round(w * s)), max(8, round(h * s))

    def _flow_scale(self, shape: tuple[int, ...]) -> float:
        """The flow's size over the full size for frames of ``shape`` (the scale of the
        hold tests' motion, see :mod:`holds`)."""
        return self.work_size(shape)[0] / shape[1]

    def analyse(self, sketch: np.ndarray) -> FrameAnalysis:
        """Ink, regions and flow image of one sketch frame (thread-safe)."""
        return self._with_regions(sketch, *self._drawing(sketch))

    def _drawing(self, sketch: np.ndarray) -> tuple[LineArt, np.ndarray]:
        """A sketch's ink and its flow image: enough to tell a held drawing."""
        h, w = sketch.shape[:2]
        if max(h, w) < MIN_FRAME_SIDE:
            # The flow (DIS) needs 12 pixels on a side; nothing that small is a drawing.
            raise InputError(
                f"the frames are {w}x{h}: too small to colour (the long side must be at "
                f"least {MIN_FRAME_SIDE} pixels)"
            )
        t0 = time.perf_counter()
        art = extract_ink(sketch, self._ink_options)
        # Set, never cleared: two threads analyse (a blend's way back re-analyses).
        if not self._inked and cv2.countNonZero(art.ink_u8):
            self._inked = True
        image = flow_friendly(art.ink_u8, self.work_size(sketch.shape))
        self.stats.add_time("lineart", time.perf_counter() - t0)
        return art, image

    def _with_regions(self, sketch: np.ndarray, art: LineArt, image: np.ndarray) -> FrameAnalysis:
        t0 = time.perf_counter()
        regions = label_regions(art.ink_u8, self._region_options, art.trace)
        self.stats.add_time("lineart", time.perf_counter() - t0)
        return FrameAnalysis(art=art, regions=regions, flow_image=image, source=sketch)

    # -- colouring -------------------------------------------------------------------------

    def colour_keyframe(
        self,
        sketch: np.ndarray,
        frame: FrameAnalysis,
        ref: int = 0,
        placement: Placement | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Region colours of a keyframe from reference ``ref``, and its detail map.

        ``placement``: reference ``ref`` already fitted to ``sketch`` (None: fitted here).
        Returns ``count`` uint8 palette indices, one per region, and the detail map
        of regions the reference shows are not one paint area (see
        :mod:`celcolor.engine.detail`; only for the same drawing), or None.
        """
        h, w = sketch.shape[:2]
        reference = self.references[ref]
        if placement is None:  # else: reference ``ref`` already fitted to this sketch
            placement = place_reference(sketch, reference)
        self.stats.placement = placement
        placed_index = self._placed_index(ref, placement, (w, h))
        method = self.learned.keyframe_method(placement.same_drawing)
        if placement.same_drawing and method == "copy":
            log.info(
                "reference matches the keyframe's drawing (line overlap %.0f%%)",
                100 * placement.overlap,
            )
            colours = self._snap(frame, placed_index, None)[0]
            if self.options.snap == "flat":
                return colours, None
            textured = texture.textured_regions(frame.regions, placed_index, colours)
            return colours, texture.detail_map(frame.regions, textured, placed_index, colours)
        if method == "match":
            matcher = self.matcher(required=self.options.keyframe_mode == "match")
            network = self.network(required=self.options.keyframe_mode == "match")
            if matcher is not None and network is not None:
                self._say_other_drawing(placement, "matched region by region to the reference")
                inputs = self.match_inputs(sketch, frame, ref, placement)
                t0 = time.perf_counter()
                colours, sure = region_match.choose_with_belief(matcher, inputs, len(self.palette))
                self.stats.add_time("match", time.perf_counter() - t0)
                self.stats.matched_keyframes += 1
                # No textured regions from the reference: they assume it lies exactly on
                # the drawing, and a nearby frame's colour key that passes as the same
                # drawing does not (it cost 1.1 points of pixel accuracy on the first 16
                # held-out keyframes). Leaking regions keep the network's colours instead.
                if self.options.snap == "flat":
                    return colours, None
                leaks = texture.leaking_regions(frame.regions, inputs.predicted, colours, sure)
                return colours, texture.detail_map(frame.regions, leaks, inputs.predicted, colours)
            method = "network"  # auto mode without a matcher: the network alone
        sample = visible = None
        if not placement.same_drawing and self.options.keyframe_fit == "flow":
            # Another drawing: refine the global fit locally (parts move on their own).
            _, sample, visible = self._fit_locally(reference, placement, frame, (w, h))
        # network() is None only in auto mode (forced, missing weights raise), and auto
        # mode gets here with another drawing: then the refined copy below.
        network = (
            self.network(required=self.options.keyframe_mode == "network")
            if method == "network"
            else None
        )
        if network is not None:
            predicted = self._network_index(network, frame, ref, placement, sample)
            self._say_other_drawing(placement, "coloured by the exemplar network")
            return self._snap(frame, predicted, None)[0], None
        if not self._said_other_drawing:
            self._said_other_drawing = True
            log.warning(
                "the reference is not the coloured version of the drawing it colours (line "
                "overlap %.0f%%): it was fitted to the drawing and its colours transferred by "
                "position; expect wrong regions where the drawings differ",
                100 * placement.overlap,
            )
        if sample is None:
            return self._snap(frame, placed_index, None)[0], None
        # Regions the flow cannot vouch for take the global fit's vote.
        fitted = warp_index(placed_index, sample)
        return self._snap(frame, fitted, placed_index, visible)[0], None

    def _say_other_drawing(self, placement: Placement, how: str) -> None:
        """Log once per cut how keyframes of another drawing are coloured."""
        if not self._said_other_drawing:
            self._said_other_drawing = True
            log.info(
                "the reference is another drawing (line overlap %.0f%%): keyframes are %s",
                100 * placement.overlap,
                how,
            )

    def _placed_index(self, ref: int, placement: Placement, size) -> np.ndarray:
        """Reference ``ref``'s palette indices on the frame's grid (NO_COLOUR outside)."""
        if ref not in self._ref_indices:
            self._ref_indices[ref] = self.palette.index(self.references[ref])
        return warp_reference(self._ref_indices[ref], placement, size, fill=NO_COLOUR)

    def _network_index(
        self,
        network,
        frame: FrameAnalysis,
        ref: int,
        placement: Placement,
        sample: np.ndarray | None,
    ) -> np.ndarray:
        """The exemplar network's keyframe prediction as palette indices; its guide is
        reference ``ref`` placed (and, with ``sample``, fitted locally) on the frame."""
        t0 = time.perf_counter()
        h, w = frame.regions.labels.shape
        guide = reference_guide(self.references[ref], placement, (w, h), sample)
        predicted = network.predict(frame.art.ink_u8, guide)
        self.stats.add_time("network", time.perf_counter() - t0)
        self.stats.network_keyframes += 1
        return self.palette.index(predicted)

    def _fit_locally(
        self, reference: np.ndarray, placement: Placement, frame: FrameAnalysis, size
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The reference placed on the frame's grid, refined by flow: ``(placed, sample,
        visible)`` (see :func:`celcolor.engine.reference.fit_locally`)."""
        t0 = time.perf_counter()
        placed = warp_reference(reference, placement, size, fill=255)
        with self._flow_lock:
            sample, visible = fit_locally(frame.flow_image, placed, self._fit_flow)
        self.stats.add_time("flow", time.perf_counter() - t0)
        return placed, sample, visible

    def match_inputs(
        self,
        sketch: np.ndarray,
        frame: FrameAnalysis,
        ref: int = 0,
        placement: Placement | None = None,
    ) -> region_match.MatchInputs:
        """What the region matcher reads about a keyframe and reference ``ref``.

        The exemplar network's prediction, the flow-fitted copy (seen pixels, and all),
        the global placement, each as per-region vote shares, and the reference's
        parts on the frame's grid. Training builds its rows from this too, so the
        matcher learns from exactly what the engine gives it.
        """
        h, w = sketch.shape[:2]
        reference = self.references[ref]
        placement = placement or place_reference(sketch, reference)
        placed_index = self._placed_index(ref, placement, (w, h))
        placed, sample, visible = self._fit_locally(reference, placement, frame, (w, h))
        predicted = self._network_index(self.network(required=True), frame, ref, placement, sample)
        t0 = time.perf_counter()
        labels, count = frame.regions.labels, frame.regions.count
        colours = len(self.palette)
        mute = frame.art.ink_u8 > VOTE_INK_MAX  # paint under ink is hidden: no vote
        fitted = warp_index(placed_index, sample)
        unseen = mute | (visible == 0)

        def shares(index: np.ndarray, muted: np.ndarray) -> np.ndarray:
            return region_match.vote_shares(
                labels, np.where(muted, NO_COLOUR, index).astype(np.uint8), count, colours
            )

        seen = np.bincount(
            labels.ravel(), weights=(~unseen & (fitted != NO_COLOUR)).ravel(), minlength=count
        ) / np.maximum(frame.regions.areas, 1)
        votes = region_match.RegionVotes(
            network=shares(predicted, mute),
            copy_seen=shares(fitted, unseen),
            copy_all=shares(fitted, mute),
            placed=shares(placed_index, mute),
            seen=seen,
        )
        parts = region_match.reference_parts(
            placed_index, reference_ink(placed) >= 0.5, colours, self.palette.colours
        )
        inputs = region_match.MatchInputs(frame.regions, votes, parts, frame.trace, predicted)
        self.stats.add_time("match", time.perf_counter() - t0)
        return inputs

    def _last_trust(self, frame: FrameAnalysis) -> np.ndarray:
        """Per region of the frame just coloured, the share of its pixels its warp saw
        (1 everywhere for a keyframe). Only blending needs it, so it is computed there,
        not on every frame."""
        if self._last_motion is None:
            return np.ones(frame.regions.count, np.float32)
        visible = self._last_motion[1]  # 0/1
        seen = np.bincount(frame.regions.labels[visible > 0], minlength=frame.regions.count)
        return (seen / np.maximum(frame.regions.areas, 1)).astype(np.float32)

    def network(self, required: bool = False):
        """The exemplar network with every reference encoded (loaded once per cut); None
        when no weights are available and ``required`` is False
        (:meth:`LearnedParts.network`)."""
        return self.learned.network(required)

    def temporal_network(self):
        """The temporal network with every reference encoded (loaded once per cut)."""
        return self.learned.temporal_network()

    def matcher(self, required: bool = False):
        """The region matcher as ``scorer(rows, stage) -> probabilities``, or None when
        no weights are there and ``required`` is False."""
        return self.learned.matcher(required)

    def _votes(
        self, frame: FrameAnalysis, index: np.ndarray, valid: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per region: the commonest colour of ``index`` and whether it is confident
        (``options.min_confidence`` of the votes; label 0, the lines, always is), and
        the mask of pixels that do not vote (as :meth:`_snap`'s arguments)."""
        # Under ink the paint is hidden: those pixels, and occluded ones, do not vote.
        mute = cv2.compare(frame.art.ink_u8, VOTE_INK_MAX, cv2.CMP_GT)
        if valid is not None:
            mute = cv2.bitwise_or(mute, cv2.compare(valid, 0, cv2.CMP_EQ))
        # mute is 0 or 255 = NO_COLOUR
        hist = region_histogram(frame.regions.labels, cv2.max(index, mute), frame.regions.count)
        winner, votes, total = _winners(hist)
        confident = (votes > 0) & (votes >= self.options.min_confidence * total)
        confident[0] = True
        return winner, confident, mute

    def _snap(
        self,
        frame: FrameAnalysis,
        index: np.ndarray,
        filled_index: np.ndarray | None,
        valid: np.ndarray | None = None,
        fill=None,
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """Per-region vote: region colours, the unconfident pixel share, the guessed regions.

        The third value marks (per region) the regions ``index`` gave no confident
        vote, which took the fill's or the fallback's colour.

        Args:
            frame: the frame's analysis.
            index: palette indices landing on the frame (NO_COLOUR where none).
            filled_index: fallback indices for regions without a confident vote
                (everything that lands there, occluded or not), or None to use ``index``
                over the whole region, lines included.
            valid: uint8 mask of pixels allowed to vote (non-occluded), or None.
            fill: called as ``fill(confident, winner)`` (per-region arrays) when regions
                without a confident vote cover more than ``options.network_fill_share``
                of the frame; returns an index map whose votes colour those regions (the
                network's prediction), or None. Smaller ones take the fallback.
        """
        labels, count = frame.regions.labels, frame.regions.count
        winner, confident, mute = self._votes(frame, index, valid)
        fallback_index = index if filled_index is None else filled_index
        areas = frame.regions.areas
        unconfident = float(areas[~confident].sum() / max(areas[1:].sum(), 1))
        guessed = ~confident
        if fill is not None and unconfident > self.options.network_fill_share:
            extra = fill(confident, winner)
            if extra is not None:
                nw_winner, nw_votes, _ = _winners(
                    region_histogram(labels, cv2.max(extra, mute), count)
                )
                take = ~confident & (nw_votes > 0)
                winner[take] = nw_winner[take]
                confident = confident | take
        if not confident.all():
            fb_winner, fb_votes, _ = _winners(region_histogram(labels, fallback_index, count))
            take = ~confident & (fb_votes > 0)
            winner[take] = fb_winner[take]
            # Still nothing (a region entirely off the reference): the commonest colour.
            winner[~confident & (fb_votes == 0)] = 0
        return winner, unconfident, guessed

    def motion(
        self, prev: FrameAnalysis, frame: FrameAnalysis, shape: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Where each pixel of ``frame`` was in ``prev``, and whether it was visible there.

        Returns a full-size ``H,W,2`` float32 sampling map (``x + flow(x)``) and a
        uint8 mask of pixels that pass the forward-backward occlusion test.
        """
        return self._held_parts(
            prev.art, frame.art, self._motion(prev.flow_image, frame.flow_image, shape)
        )

    def _held_parts(
        self, prev: LineArt, art: LineArt, motion: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``motion`` (sample, visible) with no motion where the drawing holds still in
        part while the rest moves (:func:`holds.held_parts`); as it is with
        ``--holds off``."""
        if not self.options.hold_drawings:
            return motion
        t0 = time.perf_counter()
        scale = self._flow_scale(art.ink_u8.shape)
        weight = holds.held_parts(prev.ink_u8, art.ink_u8, motion[0], scale)
        sample = holds.damp_held_parts(motion[0], weight)
        self.stats.add_time("flow", time.perf_counter() - t0)
        return sample, motion[1]

    def _motion(
        self, prev_image: np.ndarray, image: np.ndarray, shape: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`motion` between two flow images."""
        t0 = time.perf_counter()
        # One flow backend serves two threads (analysis ahead, colouring on fallback);
        # OpenCV's DIS keeps buffers inside, so calls must not overlap.
        with self._flow_lock:
            back = self._flow(image, prev_image)  # current grid -> previous
            fwd = self._flow(prev_image, image)  # previous grid -> current
        visible = occlusion_mask(fwd, back).astype(np.uint8)
        h, w = shape
        sample = sampling_map(back, (w, h))
        visible = cv2.resize(visible, (w, h), interpolation=cv2.INTER_NEAREST)
        self.stats.add_time("flow", time.perf_counter() - t0)
        return sample, visible

    def prepare(self, frame: FrameAnalysis) -> None:
        """Build ahead what colouring ``frame`` would (see :meth:`FrameAnalysis.prepare`),
        and match its drawing to the keyframes coloured so far (:mod:`views`; the
        colouring thread then only matches it to later ones)."""
        frame.prepare()
        if frame.seq is not None:
            self._views.check(frame.seq, lambda: frame.drawing)

    def analyse_stream(
        self, frames: Iterable[np.ndarray]
    ) -> Iterator[tuple[np.ndarray, FrameAnalysis | None]]:
        """Analyse frames in order, with each frame's motion from the one before.

        Run in a worker thread, this moves flow estimation off the colouring thread
        (the two then share the cores evenly); the colouring thread falls back to
        computing motion itself where the order differs (before a late keyframe).
        """
        prev: FrameAnalysis | None = None
        for seq, sketch in enumerate(frames):
            if seq < self.key_frame:
                # Frames before a late keyframe are spilled to disk and analysed on the
                # way back (in reverse order): analysing them here would be thrown away.
                yield sketch, None
                continue
            frame = self._follow(prev, sketch, seq)
            # A held frame has no motion of its own; at 1 no frame is a new drawing.
            if prev is not None and frame.motion is not None and self.options.rekey_threshold < 1:
                # The test going back, only where a blend reads it (_new_going_back).
                blended = self._closing_key(seq) is not None
                back = blended and self.options.rekey not in ("on", "unsure")
                frame.new_lines, frame.old_lines = self._line_shares(
                    prev, frame, frame.motion[0], going_back=back
                )
            prev = frame
            yield sketch, frame

    def _follow(self, beside: FrameAnalysis | None, sketch: np.ndarray, seq: int) -> FrameAnalysis:
        """Frame ``seq``'s analysis, with its motion from ``beside`` (the frame before
        it; on the way back to a late keyframe, the frame after it): ``beside``'s
        analysis again when it holds that drawing (:mod:`holds`)."""
        art, image = self._drawing(sketch)
        motion = None
        if (
            beside is not None
            and self.temporal_mode != "per-frame"
            and beside.art.ink_u8.shape == art.ink_u8.shape
        ):
            motion = self._motion(beside.flow_image, image, sketch.shape[:2])
            if self._holds(beside, art, motion[0]):
                return beside.again(seq)
            motion = self._held_parts(beside.art, art, motion)
        frame = self._with_regions(sketch, art, image)
        frame.seq, frame.motion = seq, motion
        return frame

    def _holds(self, prev: FrameAnalysis, art: LineArt, sample: np.ndarray) -> bool:
        """Whether a frame (its ink, its motion from ``prev``) holds ``prev``'s drawing."""
        if not self.options.hold_drawings:
            return False
        t0 = time.perf_counter()
        scale = self._flow_scale(art.ink_u8.shape)
        same = holds.same_drawing(prev.art.ink_u8, art.ink_u8, sample, scale)
        self.stats.add_time("flow", time.perf_counter() - t0)
        return same

    def propagate(
        self,
        prev: FrameAnalysis,
        prev_index: np.ndarray,
        prev_filled: np.ndarray,
        frame: FrameAnalysis,
        shape: tuple[int, int],
        motion: tuple[np.ndarray, np.ndarray] | None = None,
        fill=None,
        prev_carry: texture.Carry | None = None,
    ) -> tuple[np.ndarray, float, np.ndarray, texture.Carry | None]:
        """Region colours of an in-between from its neighbour's index maps.

        ``motion``: the frame's (sample map, visible mask) when already known;
        ``fill``: what colours regions without a confident vote (see :meth:`_snap`);
        None: the exemplar network when trusted, else their neighbour's colour.
        ``prev_carry``: the neighbour's textured regions (:class:`detail.Carry`);
        regions that come mostly from them stay textured. Returns the colours, the
        unconfident share, the guessed regions (see :meth:`_snap`) and this frame's
        carry (None: no textured regions).
        """
        sample, visible = motion if motion is not None else self._frame_motion(prev, frame, shape)
        t0 = time.perf_counter()
        warped = warp_index(prev_index, sample)
        warped_filled = cv2.remap(
            prev_filled, sample, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE
        )
        if fill is None:
            fill = functools.partial(self._network_fill, frame)
        colours, unconfident, guessed = self._snap(frame, warped, warped_filled, visible, fill=fill)
        carry = texture.follow(
            prev_carry, frame.regions, sample, colours, self._anchoring(prev, frame)
        )
        self.stats.add_time("snap", time.perf_counter() - t0)
        return colours, unconfident, guessed, carry

    def _network_fill(
        self, frame: FrameAnalysis, confident: np.ndarray, winner: np.ndarray
    ) -> np.ndarray | None:
        """The exemplar network's index map for regions propagation left unconfident.

        Used (for regions over ``options.network_fill_share``, see :meth:`_snap`) when
        the user asked for the network: ``--keyframe-mode network`` or their own
        ``checkpoint`` (not in "copy" mode). Auto mode leaves them to their neighbour's
        colour: its record measures keyframes, and on the real first-frame clips the
        shipped network's fills cost 0.03 dB and a third of the speed for 2% less
        flicker (``benchmarks/bench_fills.py``). The network's guide is what
        propagation knows: the confident regions' colours.
        """
        mode = self.options.keyframe_mode
        if mode == "copy" or (mode == "auto" and not self.options.checkpoint):
            return None
        network = self.network()
        if network is None:
            return None
        t0 = time.perf_counter()
        known = np.take(confident.astype(np.uint8), frame.regions.labels)
        guide = np.empty((*known.shape, 4), np.float32)
        guide[..., :3] = self.palette.render(np.take(winner, frame.regions.labels)) / 255.0
        guide[..., 3] = known
        predicted = network.predict(frame.art.ink_u8, guide)
        self.stats.add_time("network", time.perf_counter() - t0)
        self.stats.network_fills += 1
        return self.palette.index(predicted)

    def compose(
        self,
        frame: FrameAnalysis,
        colours: np.ndarray,
        detail: np.ndarray | None = None,
        smooth: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """Render a frame: flat fills (textured regions per pixel), lines on top.

        ``detail``: the frame's detail map (:mod:`celcolor.engine.detail`), or None.
        ``smooth``: ``H,W,3`` colours shown instead of the detail map's palette colours
        in textured regions (:func:`detail.smooth_colours`), or None.
        Returns ``(rgb, index, filled_index)``: the picture and the palette index maps
        the next frame propagates from (lines as NO_COLOUR, and filled).
        """
        t0 = time.perf_counter()
        with_lines = colours.copy()
        with_lines[0] = NO_COLOUR  # label 0 is line pixels
        index = np.take(with_lines, frame.regions.labels)
        filled = frame.regions.fill_with(colours)
        if detail is not None:
            filled = texture.overlay(filled, detail)
            index = np.where(index == NO_COLOUR, index, filled).astype(np.uint8)
        fill = self.palette.render(filled)
        if detail is not None and smooth is not None:
            cv2.copyTo(smooth, cv2.compare(detail, NO_COLOUR, cv2.CMP_NE), fill)
        art = frame.art
        mode = self.options.lines
        ink_mask = None
        if mode == "fill":
            out = fill
        else:
            ink_mask = cv2.compare(art.ink_u8, 0, cv2.CMP_GT)
            if mode == "auto":  # colour-trace lines vanish into the fill
                not_trace = cv2.bitwise_not(art.trace)
                ink_mask = cv2.bitwise_and(ink_mask, not_trace)
            # And one pixel beyond the ink: a line's faint anti-aliased edge lies below
            # the extractor's noise floor, and without it lines are hard-edged and
            # shimmer as they move. The page there is white after flattening, so the
            # rim changes nothing where the drawing has no edge. (In auto mode the rim
            # of a black line must not reach back into a trace line it meets.)
            ink_mask = cv2.dilate(ink_mask, _RIM)
            if mode == "auto":
                ink_mask = cv2.bitwise_and(ink_mask, not_trace)
            # Composite the line over the fill with coverage d = darkness:
            # out = fill*(1-d) + line*d = s - (255 - fill) * (1 - d)
            s = art.sketch
            lightness = cv2.merge([art.lightness] * 3)  # (1 - d) * 255
            shade = cv2.multiply(cv2.bitwise_not(fill), lightness, scale=1 / 255)
            lined = cv2.subtract(s, shade)
            out = fill.copy()
            cv2.copyTo(lined, ink_mask, out)
        if self._clear is not None:
            empty = cv2.compare(filled, self._clear, cv2.CMP_EQ)
            self._remember(out, matte.matte(empty, ink_mask, art.sketch, art.lightness))
        self.stats.add_time("compose", time.perf_counter() - t0)
        return out, index, filled

    def _remember(self, out: np.ndarray, frame_matte: matte.Matte) -> None:
        """Keep ``out``'s matte until it is delivered (or ``out`` is dropped: a pass
        whose frames are not shown)."""
        key = id(out)
        self._mattes[key] = frame_matte
        weakref.finalize(out, self._mattes.pop, key, None)

    def _delivered(self, out: np.ndarray) -> np.ndarray:
        """A frame as the caller gets it: as coloured, or with ``alpha`` the ``H,W,4``
        cel (its matte applied after any later change to its colours, such as the
        carried texture's persistence)."""
        if not self.options.alpha or out.shape[-1] == 4:
            return out
        # Kept until ``out`` is dropped (see _remember): a held frame shows it again.
        frame_matte = self._mattes.get(id(out))
        if frame_matte is None:  # composed without a matte: all paint
            return np.dstack([out, np.full(out.shape[:2], 255, np.uint8)])
        return frame_matte.apply(out)

    def colorize(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Colour a cut: one ``H,W,3`` uint8 RGB frame out per sketch frame in, in order
        (``H,W,4`` RGBA cels with ``options.alpha``: :mod:`celcolor.engine.matte`).

        Frames before ``options.ref_frame`` are coloured backwards from it; they are
        held on disk (not in memory) until the keyframe has been reached.
        """
        yield from self.colorize_analysed(self.analyse_stream(frames))

    def colorize_analysed(
        self, analysed: Iterable[tuple[np.ndarray, FrameAnalysis | None]]
    ) -> Iterator[np.ndarray]:
        """As :meth:`colorize`, over frames already analysed (see :meth:`analyse_stream`).

        Frames before the keyframe may come without an analysis (None): they are
        analysed on the backward pass.
        """
        it = iter(analysed)
        key = self.key_frame
        shape: tuple[int, int] | None = None
        state = None
        pending: Segment | None = None
        with tempfile.TemporaryDirectory(prefix="celcolor-") as spill:
            store = WaitingFrames(Path(spill), self.options.wait_memory << 20)
            if key > 0:
                # Set frames 0..key-1 aside, colour the keyframe, go back to 0.
                held: list[str] = []
                for i in range(key):
                    try:
                        sketch, _ = next(it)
                    except StopIteration:
                        raise InputError(
                            f"{self._key_named(key)} is past the end of the cut ({i} frames)"
                        ) from None
                    if shape is not None and sketch.shape[:2] != shape:
                        raise InputError(
                            f"frame size changed mid-cut: {shape[1]}x{shape[0]} then "
                            f"{sketch.shape[1]}x{sketch.shape[0]} (frame {i})"
                        )
                    shape = sketch.shape[:2]
                    name = f"{i:06d}"
                    store.put(name, sketch)
                    held.append(name)
                try:
                    sketch, frame = next(it)
                except StopIteration:
                    raise InputError(f"{self._key_named(key)} is past the end of the cut") from None
                if sketch.shape[:2] != shape:
                    raise InputError(
                        f"frame size changed mid-cut: {shape[1]}x{shape[0]} then "
                        f"{sketch.shape[1]}x{sketch.shape[0]} (frame {key})"
                    )
                out_key, state = self._reference_key(sketch, frame, key)
                back_state = state
                outputs: list[str] = []
                for i, name in reversed(list(enumerate(held))):
                    prev_sketch = store.take(name)
                    out, back_state = self._step_back(back_state, prev_sketch, i, shape)
                    store.put(f"{name}.out", self._delivered(out))
                    outputs.append(f"{name}.out")
                for name in reversed(outputs):
                    yield store.take(name)
                yield self._delivered(out_key)
            count = key + 1 if key > 0 else 0  # frames seen so far
            for i, (sketch, frame) in enumerate(it, start=key + 1 if key > 0 else 0):
                count = i + 1
                if shape is None:
                    shape = sketch.shape[:2]
                    out, state = self._reference_key(sketch, frame, key)
                    yield self._delivered(out)
                    continue
                if sketch.shape[:2] != shape:
                    raise InputError(
                        f"frame size changed mid-cut: {shape[1]}x{shape[0]} then "
                        f"{sketch.shape[1]}x{sketch.shape[0]}"
                    )
                if pending is not None and i in self._ref_for_frame:
                    # The keyframe that closes a blended segment: colour it, then go back.
                    out, state = self._next(state, sketch, frame, i, shape)
                    key_out = self._delivered(out)
                    # frame.held: the keyframe's drawing is the frame before it's.
                    yield from self._blend_back(pending, state, shape, frame.held, key_out)
                    pending = None
                    yield key_out
                    continue
                before = state[0]
                out, state = self._next(state, sketch, frame, i, shape)
                if pending is None:
                    end = self._blend_until(i)
                    if end is not None:
                        pending = Segment(start=i - 1, end=end, store=store)
                if pending is not None:
                    # A held frame keeps the sketch its analysis came from, so the
                    # way back analyses that drawing again, region for region.
                    trust = None if frame.held else self._last_trust(frame)
                    out = self._delivered(out)
                    crossed = self._carried_across or self._new_going_back(before, frame)
                    pending.wait(i, frame.source, out, trust, frame.held, crossed)
                    continue
                yield self._delivered(out)
            if pending is not None:  # the cut ended before the closing keyframe
                yield from pending.forward_outputs()
            if shape is None:
                raise InputError("the cut has no frames")
            self.stats.waited_on_disk = store.on_disk
            self.stats.waiting_memory = store.most
        for f in sorted(k for k in self._ref_for_frame if k >= count):
            log.warning("the reference of frame %d was not used: the cut has %d frames", f, count)
        self.stats.held.sort()  # the way back to a late keyframe lists them in reverse
        self.stats.unseen = self._views.stretches(self.stats.new_drawings)
        kinds = {x: self._views.kind(x) for x in self.stats.unseen}
        self.stats.grown = [x for x, k in kinds.items() if k == views.GROWN]
        self.stats.redrawn = [x for x, k in kinds.items() if k == views.REDRAWN]
        s = self.stats
        drawn = sorted(set(s.new_drawings) - set(s.covered))
        s.wanted = wanted_keys(drawn, s.unseen, self.keyframes, s.grown, s.redrawn)
        advice = KeyAdvice(self.keys_folder, self.key_stem)
        advice.say_carried_across(self.stats)
        advice.say_unseen(self.stats)
        if not self._inked:
            log.warning(
                "no frame of the cut has any line art (%d frames, each a blank page to the "
                "line extraction): each came out as one paint; check that the input is the "
                "cut's line art, not a slate, a blank export or the wrong file",
                count,
            )

    @property
    def device_used(self) -> bool:
        """Whether a part that runs on ``options.device`` has been loaded so far: the
        exemplar or temporal network, or RAFT flow (the region matcher and DIS run on
        the CPU whatever the device)."""
        return self.learned.loaded or isinstance(self._flow, RAFTFlow)

    @property
    def keyframes(self) -> list[int]:
        """The frames a reference colours (``ref_frame`` and the pinned ones), in order."""
        return sorted(self._ref_for_frame)

    def _key_named(self, key: int) -> str:
        """The keyframe as the user named it: ``--ref-frame N`` or a pinned ``--ref N:``."""
        if self._pinned_only:
            return f"frame {key} (a reference pinned with --ref {key}:...)"
        return f"--ref-frame {key}"

    def _blend_until(self, index: int) -> int | None:
        """The keyframe closing the segment that frame ``index`` opens, when blended.

        A segment opens right after a keyframe when the next keyframe (a reference
        pinned to a frame) lies within ``options.blend_window`` frames: its in-betweens
        are coloured forward from the first and backward from the second, and each
        region takes the pass it trusts more. The frames wait (in memory up to
        ``options.wait_memory``, the rest on disk).
        """
        if (index - 1) not in self._ref_for_frame:
            return None
        return self._closing_key(index)

    def _closing_key(self, index: int) -> int | None:
        """The keyframe after frame ``index`` when it and the keyframe before it lie
        within ``options.blend_window`` frames (frame ``index`` is then blended), else None."""
        if self.options.blend_window <= 0:
            return None
        keys = self._ref_for_frame
        before = max((k for k in keys if k < index), default=None)
        after = min((k for k in keys if k > index), default=None)
        if before is None or after is None or after - before > self.options.blend_window + 1:
            return None
        return after

    def _blend_back(
        self,
        segment: Segment,
        key_state,
        shape: tuple[int, int],
        key_held: bool = False,
        key_out: np.ndarray | None = None,
    ):
        """Colour a waiting segment backward from its closing keyframe and blend the passes.

        Per region, each pass's trust is the share of the region its warp could see
        (non-occluded) times the nearness of its keyframe: ``(end - t)`` forward,
        ``(t - start)`` backward. Where only one pass has carried colour across a new
        drawing (from another shot) to reach a frame, the other pass takes it whole; a
        new drawing met on the way forward, by the test asked either way round, counts
        as crossed by both passes.
        Each region shows its pass's output as that pass rendered it, carried texture
        softened and persisting, so a blended frame is as steady as either pass. A
        region switches pass once, and the switch fades over ``options.blend_fade``
        coloured frames (a held frame does not count) rather than jump on one: where
        the passes disagree, the change spreads as a cross-fade of the two, so one
        frame does not carry it all (README, "Two keyframes"). Carried texture (the
        pixels the backward pass shows per pixel, not as one paint) is no choice of
        paint but two drifts of the keys' shading: it cross-fades over the whole
        segment, the forward pass weighed ``(end - t) / (end - start)``.

        A frame that held the drawing before it is that frame again, as it was on the
        way forward: the way back holds it too (one colouring per drawing), and it is
        shown as the blended frame of its drawing (the keyframe's own, when the
        drawing is the keyframe's). The frames just before the closing keyframe that
        hold its drawing (``key_held``: the keyframe held the frame before it) are
        shown as that keyframe, ``key_out``. Yields the segment's frames in order.
        """
        end = segment.end
        back_state = key_state
        # The frames that hold the closing keyframe's drawing: the last one, and before
        # it while each held the one before it. Unless they hold the first keyframe's
        # drawing too (one drawing from key to key): those stay as the way forward.
        as_key: set[int] = set()
        if key_held and key_out is not None:
            for waiting in reversed(segment.frames):
                as_key.add(waiting.index)
                if not waiting.held:
                    break
            else:
                as_key.clear()
        # A waiting frame's name, the closing keyframe's frame, or None: shown as the
        # frame before it.
        store = segment.store
        done: list[str | np.ndarray | None] = []
        back_broken = False  # the backward pass met a new drawing (frames before it)
        backward: np.ndarray | None = None
        backward_conf: np.ndarray | None = None
        later_held = False  # the frame after this one held this one's drawing
        # Where the frame after this one took the forward pass, moved onto this one.
        later_pick: np.ndarray | None = None
        later_weight: np.ndarray | None = None  # its forward weight, moved likewise
        span = end - segment.start
        later_crossed = False  # the forward step onto the frame after this one crossed
        for waiting in reversed(segment.frames):
            t = waiting.index
            # A new drawing the forward pass met is one the backward pass crosses too,
            # whether or not its own test (which asks the other way) finds it: the
            # first shot's frames must not take the second's colours by nearness.
            back_broken |= later_crossed
            later_crossed = waiting.crossed
            if t in as_key:  # the closing keyframe's drawing: shown as that keyframe
                self._views.check(t, lambda: key_state[0].drawing)
                self._note_fit(key_state[0], key_state[4], seq=t)  # (its own: a fit of 0)
                store.drop(waiting.sketch)
                store.drop(waiting.forward)
                done.append(key_out)
                continue
            if later_held:  # the drawing of the frame after it: held on the way back too
                frame = back_state[0]
                # Still judged against the closing keyframe's drawing (new views), and
                # told the way back's fit of the drawing it shows.
                self._views.check(t, lambda held=frame: held.drawing)
                self._note_fit(frame, back_state[4], seq=t)
            else:
                sketch = store.get(waiting.sketch)
                frame = self.analyse(sketch)
                frame.seq = t  # (no motion computed ahead: _next computes it)
                out, back_state = self._next(back_state, sketch, frame, t, shape)
                back_broken |= self._carried_across
                self.stats.frames -= 1  # a second pass over a frame, not another frame
                backward = self._delivered(out)
                backward_conf = self._last_trust(frame)
                later_pick = moved_on(later_pick, self._last_motion)
                later_weight = moved_on(later_weight, self._last_motion, smooth=True)
            store.drop(waiting.sketch)
            self.stats.blended += 1
            later_held = waiting.held
            if waiting.held:
                if waiting is segment.frames[0]:  # the keyframe's drawing, as forward
                    done.append(waiting.forward)
                    continue
                store.drop(waiting.forward)
                done.append(None)
                continue
            # Set by this frame's backward step, or by the frame after's when it held.
            assert backward is not None and backward_conf is not None
            assert waiting.trust is not None  # (None only for a held frame)
            fade = self.options.blend_fade
            take_forward: np.ndarray
            if waiting.broken != back_broken:  # one pass crossed a new drawing: the other
                take_forward = np.full(frame.regions.count, back_broken)
                fade = 0  # another shot's colours: no fade between the two
                if t in self.stats.new_drawings and t not in self.stats.rekeyed:
                    # A new drawing to one pass only (the first frame of a shot seen
                    # from the key before it, or its last seen from the key after)
                    # takes the other pass whole: no colour crossed it.
                    self.stats.covered.append(t)
            else:
                take_forward = waiting.trust * (end - t) >= backward_conf * (t - segment.start)
                if later_pick is not None:
                    # Once forward, forward before: a region switches passes once.
                    take_forward |= _mostly(frame.regions, later_pick)
            pick = frame.regions.fill_with(take_forward.astype(np.uint8))
            # Only a region both passes saw fades (the backward warp saw at least half
            # as much of it as the forward one): there the passes differ as two drifts
            # of one paint. One that came through an occlusion, or across a shot change
            # the new-drawing test missed, switches on one frame.
            both_saw = backward_conf >= 0.5 * waiting.trust
            fading = frame.regions.fill_with(both_saw.astype(np.uint8))
            weight = fade_towards(pick, later_weight, fade, t - segment.start, fading)
            if fade > 1:  # (0 or 1: every pixel one pass's)
                textured = _textured(back_state)
                if textured is not None:
                    # Carried texture is two drifts of the keys' shading, not a choice
                    # of paint: it cross-fades over the whole segment by nearness to
                    # each key, so neither pass's drift lands on one frame.
                    weight[textured] = (end - t) / span
            later_pick = pick
            # After a frame one pass took whole (the other crossed a new drawing to
            # reach it), the frames before start afresh: no fade from another shot.
            later_weight = weight if fade else None
            blended = mix_passes(backward, store.take(waiting.forward), weight)
            store.put(f"{waiting.sketch}.out", blended)
            done.append(f"{waiting.sketch}.out")
        shown: np.ndarray | None = None
        for held_at in reversed(done):
            if held_at is None:
                assert shown is not None  # (the segment's first frame is always on disk)
                shown = shown.copy()
            elif isinstance(held_at, np.ndarray):
                shown = held_at.copy()
            else:
                shown = store.take(held_at)
            yield shown

    def _next(
        self, state, sketch: np.ndarray, frame: FrameAnalysis, index: int, shape: tuple[int, int]
    ):
        """Colour frame ``index`` after ``state``: re-key, per-frame, or propagate."""
        self._carried_across = False
        if index in self._ref_for_frame:
            log.info("frame %d: re-keyed from its pinned reference", index)
            return self._reference_key(sketch, frame, index)
        t0 = time.perf_counter()
        self._views.check(index, lambda: frame.drawing)
        self.stats.add_time("views", time.perf_counter() - t0)
        if frame.held:
            return self._hold(state, frame, index)
        if self.temporal_mode == "per-frame":
            return self._keyframe(sketch, frame, 0)
        network = self.temporal_mode in ("network", "network-only")
        if network:
            self.temporal_network()  # loaded at the first in-between: missing weights fail early
        motion = self._frame_motion(state[0], frame, shape)
        if self._rekeys(state[0], frame, motion[0], index):
            self.stats.rekeyed.append(index)
            if self.options.rekey == "on":
                return self._keyframe(sketch, frame, *self._likeliest_reference(sketch))
            return self._rekey_where_unsure(state, sketch, frame, shape, motion)
        step = self._step_network if network else self._step
        out, next_state = step(state, frame, shape, motion)
        self._persist(out, next_state[4], state[3], frame, motion)
        return out, next_state

    def _step_back(self, state, sketch: np.ndarray, index: int, shape: tuple[int, int]):
        """Frame ``index`` before a late keyframe, coloured from the frame after it
        (``state``): shown as that frame when it holds its drawing (:mod:`holds`, the
        same test as on the way forward), else coloured as :meth:`_next` colours (a
        pinned frame is still keyed)."""
        return self._next(state, sketch, self._follow(state[0], sketch, index), index, shape)

    def _hold(self, state, frame: FrameAnalysis, index: int):
        """A frame that holds the drawing before it (:mod:`holds`): that frame's output
        again, and its state (``frame`` is its analysis again)."""
        _, indices, filled, out, carry = state
        again = out.copy()
        frame_matte = self._mattes.get(id(out))
        if frame_matte is not None:
            self._remember(again, frame_matte)
        s = self.stats
        s.frames += 1
        s.held.append(index)
        s.unconfident.append(s.unconfident[-1] if s.unconfident else 0.0)
        if carry is not None:
            s.textured_frames += 1
        self._note_fit(frame, carry)  # a held sample shows that drawing, so that fit
        return again, (frame, indices, filled, out, carry)

    def _persist(
        self,
        out: np.ndarray,
        carry: texture.Carry | None,
        prev_out: np.ndarray | None,
        frame: FrameAnalysis,
        motion: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Carried texture keeps a share of the previous frame's, moved along the
        flow (``options.texture_persistence``; in place, so the state the next frame
        starts from holds it too). Drawn ink (unless ``lines`` is "fill") and pixels
        the occlusion test does not vouch for are left as they are."""
        share = self.options.texture_persistence
        if share <= 0 or carry is None or prev_out is None or prev_out.shape != out.shape:
            return
        t0 = time.perf_counter()
        sample, visible = motion
        moved = self._moved_previous(prev_out, sample)
        mask = cv2.bitwise_and(
            cv2.compare(carry.detail, NO_COLOUR, cv2.CMP_NE), cv2.compare(visible, 0, cv2.CMP_GT)
        )
        if self.options.lines != "fill":
            mask = cv2.bitwise_and(mask, cv2.compare(frame.art.ink_u8, 0, cv2.CMP_EQ))
        cv2.copyTo(cv2.addWeighted(moved, share, out, 1 - share, 0), mask, out)
        self.stats.add_time("compose", time.perf_counter() - t0)

    def _moved_previous(self, prev_out: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """``prev_out`` moved onto this frame's grid along ``sample`` (bilinear, edges
        replicated). Computed once a frame: the temporal network's guide and the
        carried texture's persistence both read it (read-only)."""
        last = self._moved
        if last is not None and last[0] is prev_out and last[1] is sample:
            return last[2]
        moved = cv2.remap(prev_out, sample, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._moved = (prev_out, sample, moved)
        return moved

    def _rekeys(
        self, prev: FrameAnalysis, frame: FrameAnalysis, sample: np.ndarray, index: int
    ) -> bool:
        """Whether frame ``index`` is a new drawing to colour from the reference afresh.

        A new drawing (more than ``options.rekey_threshold`` of its lines new) is listed
        in ``stats.new_drawings`` whatever happens to it; it is re-keyed when
        ``options.rekey`` is "on" or "unsure". Every path carries on by default
        ("auto"): within a shot, large motion passes the threshold too, and there the
        reference's keyframe colours measured worse than the carried ones, for
        classical propagation (``benchmarks/ablate_rekey.py``) and for the temporal
        network, whose re-keys where propagation is unsure lost 0.7 dB on the dev
        shots with the user's default keyframes (docs/temporal-network.md, session 33).
        """
        if self.options.rekey_threshold >= 1.0:  # no share of new lines passes 1
            return False
        ahead = computed_ahead(prev, frame) and frame.new_lines is not None
        share = frame.new_lines if ahead else self._line_shares(prev, frame, sample)[0]
        if share <= self.options.rekey_threshold:
            return False
        if index not in self.stats.new_drawings:  # in order: backward passes come too
            bisect.insort(self.stats.new_drawings, index)
        mode = self.options.rekey
        rekey = mode in ("on", "unsure")
        self._carried_across = not rekey
        if not rekey:
            outcome = "colour carried on along the flow"
        elif mode == "on":
            outcome = "re-keyed from the reference"
        else:
            outcome = "re-keyed from the reference where the carried colours are unsure"
        log.info(
            "frame %d: %.0f%% of its lines are new (over %.0f%%): %s",
            index,
            100 * share,
            100 * self.options.rekey_threshold,
            outcome,
        )
        return rekey

    def _rekey_where_unsure(
        self,
        state,
        sketch: np.ndarray,
        frame: FrameAnalysis,
        shape: tuple[int, int],
        motion: tuple[np.ndarray, np.ndarray],
    ):
        """A new drawing re-keyed only where propagation is unsure (``--rekey unsure``).

        Regions the warped previous colours vote for confidently keep those colours,
        and their carried texture; the rest take the reference's keyframe colours
        (and its detail). The mixed frame is the keyframe the carry goes on from. A
        whole re-key (``--rekey on``) throws away colours that were right: within a
        shot, most frames past the threshold are large motion, where most regions
        still carry their colour (docs/temporal-network.md, "Session 31").
        """
        prev, prev_index, prev_filled, _, prev_carry = state
        key_colours, key_detail = self.colour_keyframe(
            sketch, frame, *self._likeliest_reference(sketch)
        )
        colours, _, guessed, carry = self.propagate(
            prev,
            prev_index,
            prev_filled,
            frame,
            shape,
            motion=motion,
            fill=lambda confident, winner: None,  # unsure regions: the keyframe's colours
            prev_carry=prev_carry,
        )
        self._repair(frame, colours, guessed)  # as any propagated frame: trace partners
        colours = np.where(guessed, key_colours, colours).astype(colours.dtype)
        from_key = np.take(guessed, frame.regions.labels)
        detail = np.full(from_key.shape, NO_COLOUR, np.uint8)
        if carry is not None:
            detail[~from_key] = carry.detail[~from_key]
        if key_detail is not None:
            detail[from_key] = key_detail[from_key]
        if not (detail != NO_COLOUR).any():
            detail = None
        return self._start_keyframe(frame, colours, detail)

    def _likeliest_reference(self, sketch: np.ndarray) -> tuple[int, Placement]:
        """The reference whose lines, fitted to this drawing's, overlap them most, and
        that fit.

        A re-keyed frame is a new drawing: with a key per shot (or per character),
        the one that fits it best colours it, not the first one given.
        """
        placements = [place_reference(sketch, r, framed=False) for r in self.references]
        best = int(np.argmax([p.overlap for p in placements]))
        return best, placements[best]

    def _reference_key(self, sketch: np.ndarray, frame: FrameAnalysis, index: int):
        """Colour frame ``index`` from the reference that keys it (the keyframe, or one
        pinned there); its drawing is then one the in-betweens are matched to
        (:mod:`views`)."""
        self._views.add_key(index, frame.drawing)
        return self._keyframe(sketch, frame, self._ref_for_frame[index], keyed=True)

    def _keyframe(
        self,
        sketch: np.ndarray,
        frame: FrameAnalysis,
        ref: int = 0,
        placement: Placement | None = None,
        keyed: bool = False,
    ):
        colours, detail = self.colour_keyframe(sketch, frame, ref, placement)
        return self._start_keyframe(frame, colours, detail, keyed)

    def _start_keyframe(
        self,
        frame: FrameAnalysis,
        colours: np.ndarray,
        detail: np.ndarray | None,
        keyed: bool = False,
    ):
        """Render a keyframe's colours (and detail), learn its trace partners, and start
        the carry the next frames go on from. ``keyed``: a frame a reference keys (a
        drawing of :mod:`views`'), not one re-keyed on the way."""
        self._last_motion = None
        self._partners.learn(
            frame.trace,
            colours,
            frame.regions.areas,
            value=self.palette.colours.max(axis=1),
        )
        carry = texture.start(
            frame.regions, colours, detail, frame.flow_image, frame.work_ink, keyed
        )
        return self._render(frame, colours, 0.0, carry)

    def _render(
        self,
        frame: FrameAnalysis,
        colours: np.ndarray,
        doubt: float,
        carry: texture.Carry | None = None,
    ):
        """Compose a coloured frame; returns it and the state the next frame starts from."""
        smooth = texture.smooth_colours(
            carry, self.palette.render, self.options.texture_soften, frame.regions.labels
        )
        out, index, filled = self.compose(frame, colours, carry.detail if carry else None, smooth)
        self._note_fit(frame, carry)
        self.stats.frames += 1
        self.stats.unconfident.append(doubt)
        if carry is not None:
            self.stats.textured_frames += 1
        return out, (frame, index, filled, out, carry)

    def _note_fit(
        self, frame: FrameAnalysis, carry: texture.Carry | None, seq: int | None = None
    ) -> None:
        """Tell the views check how much of a sampled in-between's drawing its keyframe's
        lines, carried to it along the texture's chain, miss (:meth:`ViewCheck.note_fit`):
        the re-keying measure, asked of the keyframe instead of the frame before. Known
        only where texture is carried (most of a real frame; cel line art has none).

        ``frame`` is the analysis of the drawing shown, ``carry`` the carry it was
        coloured with, and ``seq`` the frame told (default ``frame.seq``): a held frame
        is told with the drawing and carry it shows. A frame shown as a reference key's
        own colouring (its drawing held: the carry has no chain yet) misses nothing; a
        frame re-keyed on the way is told nothing, as before it had a chain.
        """
        seq = frame.seq if seq is None else seq
        if carry is None or carry.key_ink is None or seq is None or not views.sampled(seq):
            return  # (the check reads the sampled frames only)
        if carry.origin is None:
            if carry.keyed:
                self._views.note_fit(seq, 0.0)
            return
        if carry.key_ink.shape != frame.work_ink.shape:
            return  # (frames of another size than the keyframe's)
        t0 = time.perf_counter()
        # At the flow's size, as the re-keying measure: where each pixel lies in the
        # keyframe, and the keyframe's ink sampled there.
        origin = work_positions(carry.origin, frame.work_ink.shape)
        carried = cv2.remap(carry.key_ink, origin, None, cv2.INTER_LINEAR, borderValue=0)
        now = frame.work_ink
        missed = _unmet(now.astype(np.float32) / 255, carried.astype(np.float32) / 255)
        self._views.note_fit(seq, missed)
        self.stats.add_time("views", time.perf_counter() - t0)

    def _repair(
        self, frame: FrameAnalysis, colours: np.ndarray, guessed: np.ndarray | None = None
    ) -> None:
        """Colour-trace lines take the colours their keyframe partners had (in place).

        ``guessed``: regions propagation had no vote for (uncovered ones); see
        :meth:`TracePartners.repair`.
        """
        t0 = time.perf_counter()
        self._partners.repair(
            frame.trace,
            colours,
            frame.regions.areas,
            derive=self._derive_tone,
            cut_off=frame.regions.cut_off,
            guessed=guessed,
        )
        self.stats.add_time("snap", time.perf_counter() - t0)

    def _derive_tone(self, colour: int, hue: int, tones) -> int | None:
        """A palette index for ``colour`` shaded as the keyframe's bands across ``hue``."""
        if colour >= len(self.palette):
            return None
        rgb = self.palette.colours
        examples = [(rgb[base], rgb[band], n) for (base, band), n in tones.items()]
        index = self.palette.add(derive_tone(rgb[colour], examples))
        if index is not None:
            self.stats.derived_tones += 1
            log.debug(
                "derived a band colour for palette colour %d across trace hue %d", colour, hue
            )
        return index

    def _step(self, state, frame: FrameAnalysis, shape: tuple[int, int], motion):
        """An in-between by classical propagation along ``motion`` (sample, visible)."""
        prev, prev_index, prev_filled, _, prev_carry = state
        colours, unconfident, guessed, carry = self.propagate(
            prev, prev_index, prev_filled, frame, shape, motion=motion, prev_carry=prev_carry
        )
        self._last_motion = motion
        self._repair(frame, colours, guessed)
        return self._render(frame, colours, unconfident, carry)

    def _anchoring(self, prev: FrameAnalysis, frame: FrameAnalysis):
        """How textured regions of ``frame`` re-anchor on their keyframe
        (:func:`detail.anchor`); None: they stay as chained (``texture_carry``
        "chained"). A held drawing keeps its chain too."""
        if self.options.texture_carry != "anchored":
            return None

        def fit(a: np.ndarray, b: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
            # A fit to another drawing, as the reference's placement: its finer preset.
            # (Its time counts in the snap stage, which carries the texture.)
            with self._flow_lock:
                return self._fit_flow(a, b, init)

        def refine(origin: np.ndarray, key_image: np.ndarray) -> np.ndarray:
            # Called only where there is texture to carry: cel line art pays nothing.
            if texture.held(prev.flow_image, frame.flow_image):
                return origin
            return texture.anchor(origin, frame.flow_image, key_image, fit)

        return refine

    def _frame_motion(self, prev: FrameAnalysis, frame: FrameAnalysis, shape: tuple[int, int]):
        """The frame's motion from ``prev``: computed ahead (analysis thread) or now."""
        return frame.motion if computed_ahead(prev, frame) else self.motion(prev, frame, shape)

    def _temporal_predict(
        self,
        frame: FrameAnalysis,
        prev_out: np.ndarray,
        sample: np.ndarray,
        visible: np.ndarray,
        held: np.ndarray | None = None,
    ) -> np.ndarray:
        """The temporal network's palette index map of a frame, from the warped previous output.

        ``held``: 0/1 pixels where the warp is known to hold besides ``visible`` (see
        :meth:`_held_by_votes`), or None.
        """
        net = self.temporal_network()
        t0 = time.perf_counter()
        size = net.work_size(prev_out.shape)
        # The previous output on this frame's grid, and where that holds (not occluded).
        warped = self._moved_previous(prev_out, sample)
        if held is not None:
            visible = cv2.max(visible, held)
        guide = np.zeros((size[1], size[0], 4 * net.guides), np.float32)
        guide[..., -4:-1] = cv2.resize(warped, size, interpolation=cv2.INTER_AREA) / 255.0
        guide[..., -1] = cv2.resize(visible * 255, size, interpolation=cv2.INTER_AREA) / 255.0
        predicted = net.predict(frame.art.ink_u8, guide)
        self.stats.add_time("network", time.perf_counter() - t0)
        self.stats.network_frames += 1
        return self.palette.index(predicted)

    def _new_going_back(self, prev: FrameAnalysis, frame: FrameAnalysis) -> bool:
        """Whether ``prev`` is a new drawing seen from ``frame``, the frame just coloured
        after it by carrying colour on: more than ``options.rekey_threshold`` of its
        lines, moved by that step's flow, miss the frame's.

        The new-drawing test asked the other way round, as the backward pass of a
        blended segment asks it: the share of a frame's lines that are new differs by
        direction (a drawing with many more lines than the one beside it is new from
        one side only). Asked on the way forward, both passes then treat the step as
        crossing a new drawing, before any frame past it is blended.
        """
        if (
            frame.held
            or self._last_motion is None  # keyed, or coloured on its own
            or self.options.rekey in ("on", "unsure")  # a new drawing is re-keyed
            or self.options.rekey_threshold >= 1.0
        ):
            return False
        ahead = computed_ahead(prev, frame) and frame.old_lines is not None  # asked in the analysis
        sample = self._last_motion[0]
        share = frame.old_lines if ahead else self._line_shares(prev, frame, sample, True)[1]
        assert share is not None  # (asked going back either way)
        return share > self.options.rekey_threshold

    def _line_shares(
        self,
        prev: FrameAnalysis,
        frame: FrameAnalysis,
        sample: np.ndarray,
        going_back: bool = False,
    ) -> tuple[float, float | None]:
        """Share of the frame's lines that the previous drawing, moved by the flow, misses;
        with ``going_back`` also the share of the previous drawing's lines (moved) that the
        frame's miss, the same test asked the other way round (else None).

        The re-keying measure: 1 minus the chance-corrected overlap of the frame's
        lines with the previous frame's lines warped onto it (at the flow's size). A
        new character or a new shot brings lines nothing moved there; a rough drawing's
        boiling lines still lie near their last place. The pixel-wise occlusion test is
        no such measure: inside flat regions the flow between line drawings is loosely
        pinned, and a third to three quarters of an ordinary frame's pixels fail it.
        Where chance cannot be measured (either frame has almost no lines, or a great
        many), the plain share of the frame's line pixels with no line of the
        previous frame near them: so a character drawn into an empty frame is new.
        """
        t0 = time.perf_counter()
        h, w = frame.flow_image.shape[:2]
        moved = cv2.remap(prev.art.ink_u8, sample, None, cv2.INTER_LINEAR, borderValue=0)
        moved = cv2.resize(moved, (w, h), interpolation=cv2.INTER_AREA)
        now = frame.work_ink
        # float32: a fifth faster than float64, the same masks (uint8 levels either way).
        now, moved = now.astype(np.float32) / 255, moved.astype(np.float32) / 255
        new = _unmet(now, moved)
        old = _unmet(moved, now) if going_back else None
        self.stats.add_time("flow", time.perf_counter() - t0)
        return new, old

    @staticmethod
    def _held_by_votes(
        frame: FrameAnalysis, warped: np.ndarray, confident: np.ndarray, winner: np.ndarray
    ) -> np.ndarray:
        """0/1 pixels whose warped colour is the confident vote of their region.

        The temporal network's guide confidence besides the occlusion test: between
        line drawings the flow inside flat regions is loosely pinned, and the
        forward-backward test fails on a third to three quarters of such pixels (on a
        generated cut's second frame, 38%, whole shapes among them), where the network
        then paints its own colours over ones the region's votes vouch for.
        """
        sure = confident.copy()
        sure[0] = False  # line pixels
        labels = frame.regions.labels
        agree = cv2.compare(warped, np.take(winner, labels), cv2.CMP_EQ)
        return cv2.bitwise_and(np.take(sure.astype(np.uint8), labels), agree // 255)

    def _step_network(self, state, frame: FrameAnalysis, shape: tuple[int, int], motion):
        """An in-between with the temporal network, along ``motion`` (sample, visible).

        "network": regions the warped previous colours vote for confidently keep that
        vote (as classical propagation), the network colours the rest when they cover
        more than ``options.network_fill_share``. "network-only": every region from
        the network's prediction, its guide trusted where the occlusion test or the
        regions' confident votes vouch for the warp (:meth:`_held_by_votes`).
        """
        prev, prev_index, prev_filled, prev_out, prev_carry = state
        sample, visible = motion
        if self.temporal_mode == "network":

            def fill(confident: np.ndarray, winner: np.ndarray) -> np.ndarray:
                # Only unsure regions take its answer, and there no vote vouches for
                # the warp (giving the network the confident regions' pixels too changed
                # no dev shot's score, session 33).
                return self._temporal_predict(frame, prev_out, sample, visible)

            colours, doubt, guessed, carry = self.propagate(
                prev,
                prev_index,
                prev_filled,
                frame,
                shape,
                motion=(sample, visible),
                fill=fill,
                prev_carry=prev_carry,
            )
        else:
            t0 = time.perf_counter()
            warped = warp_index(prev_index, sample)
            winner, confident, _ = self._votes(frame, warped, visible)
            held = self._held_by_votes(frame, warped, confident, winner)
            self.stats.add_time("snap", time.perf_counter() - t0)
            index = self._temporal_predict(frame, prev_out, sample, visible, held)
            t0 = time.perf_counter()
            colours, _, _ = self._snap(frame, index, None)
            guessed = None  # the network voted for every region
            # The network answers for every region, flat; textured regions (see
            # celcolor.engine.detail) keep the keyframe's colours along the flow.
            carry = texture.follow(
                prev_carry, frame.regions, sample, colours, self._anchoring(prev, frame)
            )
            self.stats.add_time("snap", time.perf_counter() - t0)
            # The network answers everywhere; what its warp could not see is the doubt.
            doubt = 1.0 - cv2.countNonZero(visible) / visible.size
        self._last_motion = motion
        self._repair(frame, colours, guessed)
        return self._render(frame, colours, doubt, carry)
