"""Settings of a colouring run: one dataclass, the CLI maps its flags onto it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ..errors import UsageError
from .detail import TEXTURE_PERSISTENCE, TEXTURE_SOFTEN

LINE_MODES = ("auto", "keep", "fill")
TEMPORAL_MODES = ("auto", "network", "network-only", "classical", "per-frame")
KEYFRAME_MODES = ("auto", "copy", "network", "match")
KEYFRAME_FITS = ("flow", "affine")
SNAP_MODES = ("auto", "flat")
TEXTURE_CARRIES = ("anchored", "chained")
REKEY_MODES = ("auto", "on", "unsure", "off")
FLOW_BACKENDS = ("dis", "raft", "auto")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class ColorizeOptions:
    """How a cut is coloured.

    Attributes:
        ref_frame: index of the keyframe the reference colours (the reference is
            the coloured version of this frame's drawing, or another drawing), or
            "auto": the frame whose drawing the reference is, found by
            :func:`~celcolor.engine.colorize_video` before colouring (frame 0 when
            none is; see :mod:`celcolor.engine.locate`).
        lines: "auto" keeps black/grey ink in its own colour and paints colour-trace
            lines (red/blue/green shadow and highlight lines) with a region they bound;
            "keep" keeps every line in its own colour; "fill" paints every line pixel
            with the colour around it (a clean full-colour frame).
        temporal: how in-betweens get colour: "network" (classical propagation where
            the warped colours vote confidently, the temporal network for the rest:
            it sees the previous output warped by the flow, at ``temporal_long_side``),
            "network-only" (every region from the temporal network), "classical" (flow
            propagation of the previous frame's region colours; the fast path),
            "per-frame" (every frame coloured from the reference alone, no temporal
            information; a baseline), or
            "auto": the network when its weights are there (shipped, or
            ``temporal_checkpoint``) and their record shows they beat the classical
            path on held-out cuts, else classical.
        snap: "flat" makes every region one colour; "auto" (default) keeps the
            reference's colours per pixel in regions the reference shows are not one
            paint area (lines with gaps, soft shading: see
            :mod:`celcolor.engine.detail`) and carries them along the flow.
        texture_carry: how those colours follow the drawing: "anchored" (default) along
            the flow chained from the keyframe, re-fitted every frame to the keyframe's
            own lines where that fits them better; "chained" along the chained flow alone
            (it drifts as the steps' errors add up).
        texture_soften: those colours are shown blurred by a Gaussian of this many
            pixels at 640 long side (scaled with the frame), the keyframe's too, so
            smooth shading the palette cut into bands and texture the flow places a
            pixel off do not crawl, and up to ``detail.DISTORTED_SOFTEN`` times more,
            within the lines, where the flow has sheared the texture; 0 shows the
            palette colours as they are.
        texture_persistence: each in-between's carried texture keeps this share of
            the previous frame's, moved along the flow (0 to below 1; 0: none), so
            texture refitted at a new drawing does not jump.
        keyframe_mode: how keyframes get colour: "copy" places the reference over the
            drawing and copies colours region by region; "network" runs the exemplar
            network; "match" matches each region to the reference's parts with the
            region matcher, which reads the network's and the copy's votes, the parts'
            shapes and their neighbours (:mod:`celcolor.engine.region_match`); "auto"
            copies when the reference is the coloured version of the keyframe's drawing,
            and otherwise takes whichever of match, network and copy the shipped
            weights' records show scored best on held-out keyframes.
        keyframe_fit: how a reference of another drawing is laid over a keyframe, for the
            copy and the network's colour guide: "affine" (one global fit of the lines)
            or "flow" (that fit refined by optical flow between the two drawings'
            lines, so parts that moved on their own are followed).
        checkpoint: exemplar network weights to use instead of the shipped ones.
        matcher_checkpoint: region matcher weights to use instead of the shipped ones.
        network_long_side: the exemplar network's working size (long side, pixels);
            None: from the size its weights were trained at (see
            :func:`celcolor.engine.network.working_long_side`).
        temporal_checkpoint: temporal network weights instead of the shipped ones.
        temporal_long_side: the temporal network's working size (long side, pixels), or
            0 for the frame's own size; None: from its weights' training size, as
            ``network_long_side`` (320 for the shipped weights). 640 follows the warped
            previous frame more closely (network-only on generated cuts: +1.6 dB at
            640x360, +1.9 at 1280x720) at a third of the speed; larger sizes lose
            again (docs/temporal-network.md).
        rekey_threshold: a frame where more than this share of its lines is new (not
            near the previous frame's lines moved there by the flow: a new shot, a new
            character, a large change of pose) is a new drawing: listed in the stats and
            the log, and re-keyed as ``rekey`` says; 1 means no frame is.
        rekey: what happens at a new drawing: "on" colours it as a new keyframe from
            the reference that fits it best and goes on from it; "unsure" does so only
            where the carried colours are unsure (regions the warped previous colours
            vote for confidently keep them, the rest take the reference's; the mixed
            frame is the new keyframe); "off" carries colour on along the flow; "auto"
            carries on, with either path: re-keying measured worse within a shot and
            across the real shot changes we have (README, "New drawings"). Either way
            the run ends with a warning naming the frames that carried colour across a
            new drawing.
        network_fill_share: in classical propagation, when regions without a confident
            vote (new after an occlusion) cover more than this share of a frame, the
            exemplar network colours them when the user asked for it (``keyframe_mode``
            "network", or their own ``checkpoint``); smaller ones, and all of them in
            auto mode, take their neighbour's colour.
        blend_window: between two keyframes at most this many frames apart (references
            pinned to frames), in-betweens are coloured forward and backward and each
            region takes the pass it trusts more; the frames wait (``wait_memory``).
            0 turns it off (forward only, re-keyed at the second keyframe).
        blend_fade: between two keyframes, where a region goes from the forward pass
            to the backward one, it cross-fades over this many coloured frames, and
            carried texture cross-fades over the whole segment (0 or 1: each region
            switches on one frame, every pixel one pass's).
        wait_memory: MiB of memory for frames waiting for a later keyframe (before a
            late keyframe; between two keyframes, their sketch and forward output);
            those that do not fit wait on disk, in the temporary folder, as PNG.
        flow: optical-flow backend, "dis" (CPU default), "raft" (needs weights) or "auto".
        flow_weights: path to RAFT weights, when ``flow`` is "raft".
        device: "auto", "cpu" or "cuda" (used by learned parts; DIS always runs on the CPU).
        work_long_side: flow is estimated at this long side (pixels), then scaled up.
        min_confidence: a region's propagated colour needs this share of its votes.
        line_threshold: ink coverage (0..1) from which a pixel is a region wall.
        gap_radius: radius of the ball that closes gaps in lines (None: by resolution).
        hold_drawings: a frame that holds the drawing before it (on twos, on threes,
            a still shot; copies through video compression included) is shown as that
            frame, exactly, instead of being coloured again, and a part of a drawing
            that holds while others move has no motion (:mod:`celcolor.engine.holds`).
        alpha: cels on transparent: what the references leave transparent (their
            alpha) is coloured as a paint of its own and comes out transparent, the
            lines over it keeping their ink as alpha; frames come out ``H,W,4`` RGBA
            (:mod:`celcolor.engine.matte`). References are then ``H,W,4`` RGBA too.
    """

    ref_frame: int | str = 0
    lines: str = "auto"
    temporal: str = "auto"
    snap: str = "auto"
    texture_carry: str = "anchored"
    texture_soften: float = TEXTURE_SOFTEN
    texture_persistence: float = TEXTURE_PERSISTENCE
    keyframe_mode: str = "auto"
    keyframe_fit: str = "flow"
    checkpoint: str | None = None
    matcher_checkpoint: str | None = None
    network_long_side: int | None = None
    temporal_checkpoint: str | None = None
    temporal_long_side: int | None = None
    rekey_threshold: float = 0.5
    rekey: str = "auto"
    network_fill_share: float = 0.005
    # 480: 20 s at 24 fps, longer than nearly any shot (its frames wait on disk past
    # wait_memory: a few MB a frame).
    blend_window: int = 480
    blend_fade: int = 4
    # 256 MiB: the 46 in-betweens of two keys 47 frames apart at 1280x720 (5.5 MB each).
    wait_memory: int = 256
    flow: str = "dis"
    flow_weights: str | None = None
    device: str = "auto"
    work_long_side: int = 640
    min_confidence: float = 0.5
    line_threshold: float = 0.4
    gap_radius: int | None = None
    hold_drawings: bool = True
    alpha: bool = False

    def __post_init__(self) -> None:
        self._check_numbers()
        if self.lines not in LINE_MODES:
            raise UsageError(f"--lines must be one of {', '.join(LINE_MODES)}, got {self.lines!r}")
        if self.temporal not in TEMPORAL_MODES:
            raise UsageError(
                f"--temporal must be one of {', '.join(TEMPORAL_MODES)}, got {self.temporal!r}"
            )
        if self.snap not in SNAP_MODES:
            raise UsageError(f"--snap must be one of {', '.join(SNAP_MODES)}, got {self.snap!r}")
        if self.texture_carry not in TEXTURE_CARRIES:
            raise UsageError(
                f"--texture-carry must be one of {', '.join(TEXTURE_CARRIES)}, "
                f"got {self.texture_carry!r}"
            )
        if not 0.0 <= self.texture_soften <= 16.0:
            raise UsageError(f"--texture-soften must be in 0..16 pixels, got {self.texture_soften}")
        if not 0.0 <= self.texture_persistence < 1.0:
            raise UsageError(
                "--texture-persistence must be at least 0 and below 1, "
                f"got {self.texture_persistence}"
            )
        if self.keyframe_mode not in KEYFRAME_MODES:
            raise UsageError(
                f"--keyframe-mode must be one of {', '.join(KEYFRAME_MODES)}, "
                f"got {self.keyframe_mode!r}"
            )
        if self.keyframe_fit not in KEYFRAME_FITS:
            raise UsageError(
                f"--keyframe-fit must be one of {', '.join(KEYFRAME_FITS)}, "
                f"got {self.keyframe_fit!r}"
            )
        if self.flow not in FLOW_BACKENDS:
            raise UsageError(f"--flow must be one of {', '.join(FLOW_BACKENDS)}, got {self.flow!r}")
        if self.device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if isinstance(self.ref_frame, str):
            if self.ref_frame != "auto":
                raise UsageError(
                    f"--ref-frame must be a frame number or auto, got {self.ref_frame!r}"
                )
        elif self.ref_frame < 0:
            raise UsageError(f"--ref-frame must be 0 or more, got {self.ref_frame}")
        if not 64 <= self.work_long_side <= 4096:
            raise UsageError(f"work_long_side must be in 64..4096, got {self.work_long_side}")
        if self.blend_window < 0:
            raise UsageError(f"--blend-window must be 0 or more, got {self.blend_window}")
        if self.blend_fade < 0:
            raise UsageError(f"--blend-fade must be 0 or more, got {self.blend_fade}")
        if self.wait_memory < 0:
            raise UsageError(f"--wait-memory must be 0 or more, got {self.wait_memory}")
        if not 0.0 <= self.network_fill_share <= 1.0:
            raise UsageError(f"network_fill_share must be in [0, 1], got {self.network_fill_share}")
        if self.rekey not in REKEY_MODES:
            raise UsageError(f"--rekey must be one of {', '.join(REKEY_MODES)}, got {self.rekey!r}")
        if not 0.0 < self.rekey_threshold <= 1.0:
            raise UsageError(f"--rekey-threshold must be in (0, 1], got {self.rekey_threshold}")
        if self.network_long_side is not None and not 64 <= self.network_long_side <= 4096:
            raise UsageError(f"network_long_side must be in 64..4096, got {self.network_long_side}")
        side = self.temporal_long_side
        if side is not None and side != 0 and not 64 <= side <= 4096:
            raise UsageError(f"--temporal-long-side must be 0 or in 64..4096, got {side}")
        if not 0.0 < self.min_confidence <= 1.0:
            raise UsageError(f"min_confidence must be in (0, 1], got {self.min_confidence}")

    def _check_numbers(self) -> None:
        """Numeric settings must be finite numbers (the ranges are checked after)."""
        for f in fields(self):
            value = getattr(self, f.name)
            kinds = str(f.type)
            whole = "int" in kinds and "float" not in kinds
            if ("int" not in kinds and "float" not in kinds) or "str" in kinds:
                continue  # not numeric, or "auto" or a number (ref_frame: checked below)
            if value is None and "None" in kinds:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok and whole:
                ok = isinstance(value, int) or float(value).is_integer()
            if not ok or not math.isfinite(value):
                what = "a whole number" if whole else "a number"
                raise UsageError(f"{f.name} must be {what}, got {value!r}")
            if whole and not isinstance(value, int):
                object.__setattr__(self, f.name, int(value))  # 4.0 -> 4

    def as_dict(self) -> dict:
        """Plain dict of the settings (for --dry-run, manifests and reports)."""
        return asdict(self)

    def resolved_device(self) -> str:
        """The torch device this run uses: "auto" means CUDA when available."""
        from ..models.registry import resolve_device

        return resolve_device(self.device).type
