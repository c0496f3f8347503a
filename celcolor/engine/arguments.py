"""Command-line arguments shared by `colorize-video` and `colorize-video batch`.

One definition of every colouring and encoding flag, mapped onto
:class:`ColorizeOptions` and :class:`EncodeOptions`, so the two commands cannot
drift apart. (It lives here, not in ``cli.py``: nothing imports the CLI.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import CelcolorError, UsageError
from ..io import CODECS
from .detail import DISTORTED_SOFTEN, TEXTURE_PERSISTENCE, TEXTURE_SOFTEN
from .options import (
    DEVICES,
    FLOW_BACKENDS,
    KEYFRAME_FITS,
    KEYFRAME_MODES,
    LINE_MODES,
    REKEY_MODES,
    SNAP_MODES,
    TEMPORAL_MODES,
    TEXTURE_CARRIES,
    ColorizeOptions,
)
from .pipeline import EncodeOptions

PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)  # fmt: skip


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_logging_arguments(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet`` and ``-v/--verbose`` (the entry point reads both)."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, warnings only")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="more logging; tracebacks on errors"
    )


def non_empty(text: str) -> str:
    """A path argument as given; argparse's own usage error (exit 2) when it is empty.

    ``Path("")`` is ``.``, so an empty path (an unset shell variable, ``--ref "$KEY"``)
    would otherwise be read as the current folder and refused for the wrong reason."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty")
    return text


def path_argument(text: str) -> Path:
    """A path argument as a :class:`Path`, refused when empty (:func:`non_empty`)."""
    return Path(non_empty(text))


def _ref_frame(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frame number or auto, got {text!r}") from None


def add_colour_arguments(g: argparse._ActionsContainer, ref_frame_help: str) -> None:
    """The flags of :class:`ColorizeOptions`."""
    g.add_argument(
        "--ref-frame", type=_ref_frame, default="auto", metavar="N|auto", help=ref_frame_help
    )
    g.add_argument(
        "--lines",
        choices=LINE_MODES,
        default="auto",
        help="auto: black ink kept, colour-trace lines painted; keep: all lines kept; "
        "fill: lines painted with the colour around them",
    )
    g.add_argument(
        "--keyframe-mode",
        choices=KEYFRAME_MODES,
        default="auto",
        help="copy: place the reference and copy colours by region; network: the exemplar "
        "network; match: each region matched to the reference's parts (the network's and "
        "the copy's votes, shapes, neighbours); auto: copy when the reference is the "
        "keyframe's own drawing, else whichever of match, network and copy the weights' "
        "records show scored best",
    )
    g.add_argument(
        "--snap",
        choices=SNAP_MODES,
        default="auto",
        help="flat: every closed region one colour; auto (default): regions the reference "
        "shows are not one paint area (lines with gaps, soft shading) keep its colours per "
        "pixel, carried along the flow",
    )
    g.add_argument(
        "--alpha",
        action="store_true",
        help="cels on transparent: what the reference leaves transparent (a colour key "
        "painted on a transparent layer) comes out transparent, lines on it keeping their "
        "ink; writes PNG frames, ProRes 4444 (.mov, the default name), FFV1 (.mkv) or VP9 "
        "(.webm)",
    )
    g.add_argument(
        "--texture-carry",
        choices=TEXTURE_CARRIES,
        default="anchored",
        help="how kept colours follow the drawing: anchored (default: the chained flow "
        "re-fitted every frame to the keyframe's lines where that fits better) or chained "
        "(the flow chained frame to frame alone)",
    )
    g.add_argument(
        "--texture-soften",
        type=float,
        default=TEXTURE_SOFTEN,
        metavar="PX",
        help="kept colours are shown blurred by this many pixels at 640 long side (default "
        f"{TEXTURE_SOFTEN:g}), so shading cut into palette bands does not crawl, and up to "
        f"{DISTORTED_SOFTEN:g} times more, within the lines, where the flow has sheared "
        "them; 0: as they are",
    )
    g.add_argument(
        "--texture-persistence",
        type=float,
        default=TEXTURE_PERSISTENCE,
        metavar="SHARE",
        help="each in-between's kept colours keep this share of the previous frame's, "
        f"moved along the flow (default {TEXTURE_PERSISTENCE:g}), so they do not jump at a "
        "new drawing; 0: none",
    )
    g.add_argument(
        "--holds",
        choices=("on", "off"),
        default="on",
        help="on (default): a frame that holds the drawing before it (on twos, on threes, "
        "a still shot) is shown as that frame, exactly, and a part of a drawing that "
        "holds while others move stays where it was; off: every frame coloured afresh",
    )
    g.add_argument(
        "--keyframe-fit",
        choices=KEYFRAME_FITS,
        default="flow",
        help="a reference of another drawing is fitted to the keyframe by one affine map "
        "(affine) or by that map refined by line flow (flow, default)",
    )
    g.add_argument(
        "--checkpoint", type=path_argument, default=None, metavar="PATH",
        help="exemplar network weights (default: the shipped ones)",
    )  # fmt: skip
    g.add_argument(
        "--matcher-checkpoint", type=path_argument, default=None, metavar="PATH",
        help="region matcher weights (default: the shipped ones)",
    )  # fmt: skip
    g.add_argument(
        "--temporal",
        choices=TEMPORAL_MODES,
        default="auto",
        help="in-betweens: network (flow propagation, and the temporal network where it is "
        "unsure), network-only (the temporal network on every region), classical (flow "
        "propagation, fast), per-frame (reference only), auto (network if its record shows "
        "it beats classical, else classical)",
    )
    g.add_argument(
        "--temporal-checkpoint", type=path_argument, default=None, metavar="PATH",
        help="temporal network weights (default: the shipped ones)",
    )  # fmt: skip
    g.add_argument(
        "--temporal-long-side", type=int, default=None, metavar="PX",
        help="the temporal network's working size: long side in pixels, 0 for the frame's own "
        "(default: its training scale, 320; 640 is more faithful and slower)",
    )  # fmt: skip
    g.add_argument(
        "--rekey-threshold", type=float, default=0.5, metavar="SHARE",
        help="a frame with more than this share of new lines (not near the previous "
        "frame's, moved by the flow) is a new drawing: a new shot, a new character "
        "(1 = never)",
    )  # fmt: skip
    g.add_argument(
        "--rekey", choices=REKEY_MODES, default="auto",
        help="at a new drawing: on (colour it as a keyframe from the reference that fits it "
        "best), unsure (only where the carried colours are unsure), off (carry colour on "
        "along the flow), auto (off: it measured best, README 'New drawings'); the frames "
        "are named in a warning either way",
    )  # fmt: skip
    g.add_argument(
        "--blend-window", type=int, default=480, metavar="N",
        help="between references pinned to frames at most N apart (default 480: 20 s at "
        "24 fps), colour forward and backward and keep per region the pass nearer its "
        "keyframe and less occluded (0: forward only)",
    )  # fmt: skip
    g.add_argument(
        "--blend-fade", type=int, default=4, metavar="N",
        help="between two references, a region moving from one pass to the other "
        "cross-fades over N coloured frames, carried texture over all of them (0: "
        "each region switches on one frame)",
    )  # fmt: skip
    g.add_argument(
        "--wait-memory", type=int, default=256, metavar="MB",
        help="memory (MiB) for frames waiting for a later keyframe (before a late one, "
        "between two); the rest wait on disk, in the temporary folder (0: all on disk)",
    )  # fmt: skip
    g.add_argument(
        "--flow", choices=FLOW_BACKENDS, default="dis",
        help="optical flow: dis (CPU), raft (needs weights), auto",
    )  # fmt: skip
    g.add_argument(
        "--flow-weights", type=path_argument, default=None, metavar="PATH",
        help="RAFT weights file (for --flow raft)",
    )  # fmt: skip
    g.add_argument("--device", choices=DEVICES, default="auto")


def add_encode_arguments(g: argparse._ActionsContainer) -> None:
    """The flags of :class:`EncodeOptions` (but --overwrite) and --allow-truncated."""
    g.add_argument(
        "--codec", choices=sorted(CODECS), default=None,
        help="default by extension: h264 (.mp4/.mkv/.mov), vp9 (.webm)",
    )  # fmt: skip
    g.add_argument("--crf", type=int, default=18, help="quality for h264/vp9 (lower is better)")
    g.add_argument("--preset", choices=PRESETS, default="medium", help="x264 speed preset")
    g.add_argument("--no-audio", action="store_true", help="drop the input's audio")
    g.add_argument(
        "--allow-truncated",
        action="store_true",
        help="colour a damaged video up to the damage instead of failing",
    )


# The model each celcolor weights flag loads (RAFT's --flow-weights are torchvision's).
_WEIGHTS_OF = {
    "checkpoint": "exemplar",
    "matcher_checkpoint": "matcher",
    "temporal_checkpoint": "temporal",
}


def _check_weights_files(args: argparse.Namespace) -> None:
    """Refuse a weights file flag naming no file, or celcolor weights of another model.
    Each is read only when the run needs that model (a cut the copy colours never loads
    --checkpoint), so a mistyped path or a swapped file would otherwise pass unnoticed,
    or fail a batch's cuts one by one."""
    for flag in ("checkpoint", "matcher_checkpoint", "temporal_checkpoint", "flow_weights"):
        path = getattr(args, flag)
        option = f"--{flag.replace('_', '-')} {path}"
        if path is not None and not path.is_file():
            what = "is a folder" if path.is_dir() else "not found"
            raise UsageError(f"{option}: {what}; give a weights file")
        wanted = _WEIGHTS_OF.get(flag)
        if path is None or wanted is None:
            continue
        from ..models.registry import read_metadata

        try:
            kind = read_metadata(path).get("name")
        except CelcolorError as e:
            raise UsageError(
                f"{option}: not a safetensors checkpoint; give {wanted} weights"
            ) from e
        if kind is not None and kind != wanted:  # (unnamed: left to the loading)
            raise UsageError(f"{option}: weights of the {kind} model, not {wanted}")


def colour_options(args: argparse.Namespace) -> ColorizeOptions:
    """The :class:`ColorizeOptions` the flags ask for."""
    _check_weights_files(args)
    return ColorizeOptions(
        ref_frame=args.ref_frame,
        lines=args.lines,
        temporal=args.temporal,
        keyframe_mode=args.keyframe_mode,
        keyframe_fit=args.keyframe_fit,
        snap=args.snap,
        texture_carry=args.texture_carry,
        texture_soften=args.texture_soften,
        texture_persistence=args.texture_persistence,
        checkpoint=str(args.checkpoint) if args.checkpoint else None,
        matcher_checkpoint=str(args.matcher_checkpoint) if args.matcher_checkpoint else None,
        temporal_checkpoint=str(args.temporal_checkpoint) if args.temporal_checkpoint else None,
        rekey_threshold=args.rekey_threshold,
        rekey=args.rekey,
        temporal_long_side=args.temporal_long_side,
        blend_window=args.blend_window,
        blend_fade=args.blend_fade,
        wait_memory=args.wait_memory,
        flow=args.flow,
        flow_weights=str(args.flow_weights) if args.flow_weights else None,
        device=args.device,
        hold_drawings=args.holds == "on",
        alpha=args.alpha,
    )


def encode_options(args: argparse.Namespace) -> EncodeOptions:
    """The :class:`EncodeOptions` the flags ask for."""
    return EncodeOptions(
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
        audio=not args.no_audio,
        overwrite=args.overwrite,
    )
