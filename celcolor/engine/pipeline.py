"""The streaming run: decode -> analyse -> colour -> encode, each stage in its own thread.

    decode thread ──q──> analysis thread ──q──> colouring (caller) ──q──> encode thread

Queues are bounded, so memory stays flat for any cut length; OpenCV, PyAV and
x264 release the GIL, so the stages overlap on a multi-core CPU. A worker's
exception is re-raised in the caller and the output is never renamed into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ..cpus import cpu_count
from ..errors import InputError, UsageError
from ..io import (
    Frame,
    check_alpha_output,
    check_encoding,
    check_folder_spelling,
    check_output,
    open_frames,
    open_writer,
    output_kind,
    prefetch,
    read_image,
    resolve_output,
)
from ..io.images import composite_on_white
from ..io.queues import lower_priority
from .analysis import ColorizeStats, FrameAnalysis
from .colorizer import Colorizer
from .locate import locate_references
from .options import ColorizeOptions
from .reference_checks import check_reference_size, check_references
from .wanted import (
    WantedKey,
    check_keys_folder,
    is_keys_folder,
    painted_drafts,
    write_wanted_keys,
)

log = logging.getLogger(__name__)

_QUEUE = 4  # frames in flight per stage: enough to overlap, small enough to stay flat
# How far below the colouring thread the encode thread runs in a run of the temporal
# network on the CPU, and the analysis thread once the network colours (see
# colorize_video's analysed). Colouring is then the slowest stage, and with
# equal priorities it took turns with the helpers on 2 cores; below it, they fill the
# other core. Session 34, 1280x720, 2 cores, one intra-op thread (see
# _cpu_network_run): 5.6 -> 6.4 frames/s, where nice 19 gave 5.7. With
# FrameAnalysis.prepare besides, about 15% over session 33's code (6.4 -> 7.1 and
# 7.4 interleaved, benchmarks/bench_engine.py --only network-speed).
HELPER_NICENESS = 10


@dataclass
class EncodeOptions:
    """How the output is written.

    Attributes:
        codec: None picks by extension (libx264 for .mp4/.mkv/.mov, vp9 for .webm);
            "h264", "ffv1" (lossless), "prores" or "vp9" when asked.
        crf: x264/vp9 constant rate factor (lower is better; 18 is visually lossless).
        preset: x264 speed preset ("ultrafast" .. "veryslow").
        audio: copy the input's audio stream into the output.
        overwrite: replace an existing output.
    """

    codec: str | None = None
    crf: int = 18
    preset: str = "medium"
    audio: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        # x264's and libvpx's CRF scales; with no codec named it follows the output's
        # extension, and the writer checks the scale of the codec it picks.
        top = 51 if self.codec == "h264" else 63
        if not 0 <= self.crf <= top:
            raise UsageError(f"--crf must be in 0..{top} for this codec, got {self.crf}")


def check_run_output(
    src: Path, out_path: Path, encode: EncodeOptions, alpha: bool, ref_paths: list[Path]
) -> None:
    """The checks of the output a run makes before colouring (``--dry-run`` too): it
    harms no input or file, its encoding can be made, it keeps transparency with
    ``alpha``, and it replaces no reference."""
    check_output(src, out_path, encode.overwrite)
    check_encoding(out_path, encode.codec, encode.crf, encode.preset)
    if alpha:
        check_alpha_output(out_path, encode.codec)
    check_references_kept(out_path, ref_paths)


def check_references_kept(out_path: Path, ref_paths: list[Path]) -> None:
    """Refuse an output that would replace a reference: the reference's own path, or
    a PNG-frame folder holding it (a finished run replaces the folder whole)."""
    out = out_path.resolve()
    folder = output_kind(out_path) == "folder"
    for path in ref_paths:
        ref = path.resolve()
        if ref == out:
            raise InputError(f"the output would overwrite the reference: {out_path}")
        if folder and ref.is_relative_to(out):
            raise InputError(
                f"{out_path}: the reference {path} lies inside this output folder, which "
                "the run replaces; move the reference or choose another output"
            )


@dataclass
class RunResult:
    """What a run produced."""

    output: Path
    frames: int
    seconds: float
    stats: ColorizeStats
    stage_seconds: dict[str, float] = field(default_factory=dict)
    ref_frame: int = 0  # the first keyframe ("auto" resolved)
    keys_folder: Path | None = None  # where the keys wanted went, if asked

    @property
    def fps(self) -> float:
        """End-to-end frames per second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def wanted(self) -> list[WantedKey]:
        """The frames that want a key of their own (``stats.wanted``)."""
        return self.stats.wanted


def load_reference(path: Path, keep_alpha: bool = False) -> np.ndarray:
    """Read a reference image (one line of error if it is missing or unreadable);
    ``keep_alpha``: as ``H,W,4`` RGBA (``--alpha``), else RGB on white."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"reference not found: {path}")
    if path.is_dir():
        raise InputError(f"the reference must be an image file, not a folder: {path}")
    image = read_image(path, keep_alpha=keep_alpha)
    # Checked here, where the file is known: check_references sees arrays only.
    check_reference_size(image, f"the reference {path}")
    return fit_reference(image, path.name)


def shown(reference: np.ndarray) -> np.ndarray:
    """A reference as a viewer shows it: an RGBA one over white, RGB ones as they are."""
    if reference.ndim == 3 and reference.shape[2] == 4:
        return composite_on_white(reference[..., :3], reference[..., 3])
    return reference


# A reference beyond this many pixels (8K UHD is 33 MP) is shrunk on loading: it is
# placed on frames far smaller, and its palette and fits would take gigabytes.
MAX_REFERENCE_PIXELS = 36_000_000


def fit_reference(image: np.ndarray, name: str = "the reference") -> np.ndarray:
    """``image``, shrunk (area-averaged) to at most :data:`MAX_REFERENCE_PIXELS`."""
    h, w = image.shape[:2]
    if h * w <= MAX_REFERENCE_PIXELS:
        return image
    s = (MAX_REFERENCE_PIXELS / (h * w)) ** 0.5
    size = (max(1, int(w * s)), max(1, int(h * s)))
    log.info("%s is %dx%d: shrunk to %dx%d for colouring", name, w, h, *size)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


Reference = str | Path | np.ndarray | tuple[int, "str | Path | np.ndarray"]


def split_pin(item: str | Path) -> tuple[int | None, str | Path]:
    """``"48:key.png"`` as ``(48, "key.png")``; ``(None, item)`` when not pinned, or
    when a file has that literal name.

    Raises :class:`UsageError` for a frame before 0 (``"-1:key.png"``).
    """
    match = None if Path(item).exists() else re.fullmatch(r"(-?\d+):(.+)", str(item))
    if match is None:
        return None, item
    frame, path = int(match.group(1)), match.group(2)
    if frame < 0:
        raise UsageError(
            f"--ref {frame}:{path}: frames are counted from 0; pin the key to frame 0 or later"
        )
    return frame, path


def _keys_folders_expanded(items: list[Reference]) -> list[Reference]:
    """A ``--keys-wanted`` folder given as a reference: its drafts painted in place,
    each pinned to its frame (:func:`~celcolor.engine.wanted.painted_drafts`)."""
    out: list[Reference] = []
    for item in items:
        folder = Path(item) if isinstance(item, str | os.PathLike) else None
        if not is_keys_folder(folder):
            out.append(item)
            continue
        drafts = painted_drafts(folder)
        if not drafts:
            raise UsageError(
                f"--ref {folder}: none of its drafts was painted since celcolor wrote them; "
                "correct a frame_NNNN_draft.png in place, or pin a key with --ref N:key.png"
            )
        log.info(
            "%s: the painted drafts of frames %s pinned",
            folder,
            ", ".join(str(f) for f, _ in drafts),
        )
        out += drafts
    return out


def load_references(ref: Reference | list[Reference], keep_alpha: bool = False):
    """References as ``(unpinned arrays, {frame: array}, paths)``.

    A reference is a path or an ``H,W,3`` uint8 RGB array, optionally pinned to a
    frame as ``(48, ref)`` or, as a string, ``"48:key.png"`` (when no file has that
    literal name); or a ``--keys-wanted`` folder, whose drafts painted in place are
    pinned to their frames. ``keep_alpha``: files are read as ``H,W,4`` RGBA.
    """
    items = _keys_folders_expanded(list(ref) if isinstance(ref, list) else [ref])
    unpinned: list[np.ndarray] = []
    pinned: dict[int, np.ndarray] = {}
    paths: list[Path] = []
    for item in items:
        frame = None
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], int | np.integer):
                raise UsageError(
                    f"a pinned reference is (frame number, reference), got {item!r:.80}"
                )
            frame, item = item
        elif isinstance(item, str | Path):
            frame, item = split_pin(item)
        if isinstance(item, np.ndarray):
            image = item
        elif not isinstance(item, str | os.PathLike):
            raise UsageError(
                f"a reference is a path or an H,W,3 uint8 RGB array, got {type(item).__name__}"
            )
        else:
            paths.append(Path(item))
            image = load_reference(Path(item), keep_alpha)
        if frame is None:
            unpinned.append(image)
        elif frame in pinned:
            raise InputError(f"two references are pinned to frame {frame}")
        else:
            pinned[int(frame)] = image
    if not unpinned and not pinned:
        raise InputError("no reference given: pass --ref KEY.png")
    return unpinned, pinned, paths


def colorize_video(
    src: str | Path,
    ref: Reference | list[Reference],
    dst: str | Path | None = None,
    *,
    options: ColorizeOptions | None = None,
    encode: EncodeOptions | None = None,
    allow_truncated: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    keys_wanted: str | Path | None = None,
    key_stem: str | None = None,
    drafts_in: str | Path | None = None,
    **option_fields,
) -> RunResult:
    """Colour a cut (video file, image folder or single image) from a reference.

    Args:
        src: the line-art cut.
        ref: the coloured reference (a path or an ``H,W,3`` uint8 RGB array), or several;
            a reference pinned to a frame (``(48, path)`` or ``"48:path"``) re-keys it.
        dst: output path; None writes ``<stem>_color.mp4`` (or a folder / PNG) beside
            the input. A folder (trailing slash, no suffix) means a PNG sequence.
        options: colouring settings; ``option_fields`` set fields of it directly
            (``colorize_video(src, ref, lines="fill")``).
        encode: output settings.
        allow_truncated: colour the frames of a truncated video up to the damage
            (with a warning) instead of failing.
        progress: called as ``progress(frames_done, total_or_None)`` after each frame.
        keys_wanted: a folder for the frames the run's warnings name (new drawings,
            new views): their sketches, celcolor's drafts of them and
            ``keys-wanted.json`` (see :mod:`celcolor.engine.wanted`); an earlier one
            is refreshed (only with ``encode.overwrite``), its painted drafts kept.
        key_stem: where a painted key of frame N goes to be pinned, less ``NNNN.png``
            (a batch cut's :meth:`~celcolor.engine.batch_layout.Cut.key_path`): the
            warnings and the keys wanted name that file instead of ``--ref N:...``.
        drafts_in: the keys folder a batch writes after the run (``keys_wanted``
            names it for a single cut), so that the warnings name the draft to paint.

    Returns:
        The :class:`RunResult`.
    """
    if options is None:
        known = {f.name for f in dataclasses.fields(ColorizeOptions)}
        unknown = sorted(set(option_fields) - known)
        if unknown:
            raise UsageError(
                f"colorize_video: unknown option {unknown[0]!r}; the options are the fields "
                f"of ColorizeOptions: {', '.join(sorted(known))}"
            )
        options = ColorizeOptions(**option_fields)
    elif option_fields:
        raise UsageError("colorize_video: pass either options= or option fields, not both")
    elif not isinstance(options, ColorizeOptions):
        raise UsageError(
            f"colorize_video: options must be a ColorizeOptions, got {type(options).__name__} "
            "(or pass the fields as keywords: colorize_video(..., lines='fill'))"
        )
    encode = encode or EncodeOptions()
    if not isinstance(encode, EncodeOptions):
        raise UsageError(
            f"colorize_video: encode must be an EncodeOptions, got {type(encode).__name__}"
        )
    for name, path in (("src", src), ("dst", dst)):
        if not isinstance(path, str | os.PathLike) and (name == "src" or path is not None):
            raise UsageError(f"colorize_video: {name} must be a path, got {type(path).__name__}")
    if dst is not None:
        check_folder_spelling(dst)  # before Path(dst) drops a trailing separator
    src = Path(src)
    if not src.exists():
        raise InputError(f"input not found: {src}")
    unpinned, pinned, ref_paths = load_references(ref, keep_alpha=options.alpha)
    t_start = time.perf_counter()
    source = open_frames(src, allow_truncated=allow_truncated, exclude=ref_paths)
    with source:
        out_path = resolve_output(
            src, Path(dst) if dst is not None else None, source.kind, options.alpha
        )
        check_run_output(src, out_path, encode, options.alpha, ref_paths)
        keys_folder = Path(keys_wanted) if keys_wanted is not None else None
        if keys_folder is not None:
            check_keys_folder(
                keys_folder,
                src=src,
                output=out_path,
                references=ref_paths,
                overwrite=encode.overwrite,
            )
        if options.ref_frame == "auto":
            # Bad references and outputs are refused above and here, before the pass.
            check_references([shown(r) for r in [*unpinned, *pinned.values()]])
            options, unpinned, pinned = _locate(
                src, unpinned, pinned, options, allow_truncated, ref_paths
            )
        colorizer = Colorizer(unpinned or None, options, pinned=pinned)
        colorizer.key_stem = key_stem
        drafts = keys_folder if keys_folder is not None else drafts_in
        colorizer.keys_folder = None if drafts is None else str(drafts).rstrip("/")
        run_scope = _cpu_network_run(colorizer)
        helper_niceness = HELPER_NICENESS if run_scope is not None else 0
        pending: deque[Frame] = deque()

        def images() -> Iterator[np.ndarray]:
            for frame in source:
                # The writer needs the timing and name only, not the image: frames held
                # before a late keyframe then cost no memory here.
                pending.append(replace(frame, image=None))
                yield frame.image

        def analysed() -> Iterator[tuple[np.ndarray, FrameAnalysis | None]]:
            # Line art, regions and motion, in the analysis thread. Once the network
            # colours (the slowest stage then), this thread yields to the colouring
            # one, and builds ahead what colouring would build itself; in a `network`
            # run where propagation is sure of every region it never does, and stays
            # the slowest stage (there both cost 5% and 10% of the speed).
            seen, lowered = 0, False
            for sketch, frame in colorizer.analyse_stream(images()):
                network_frames = colorizer.stats.network_frames
                if helper_niceness and network_frames > seen:
                    seen = network_frames
                    if not lowered:  # for good: a thread cannot raise its priority back
                        lower_priority(helper_niceness)
                        lowered = True
                    if frame is not None:
                        t0 = time.perf_counter()
                        colorizer.prepare(frame)
                        colorizer.stats.add_time("lineart", time.perf_counter() - t0)
                yield sketch, frame

        writer = open_writer(
            out_path,
            width=source.width,
            height=source.height,
            fps=source.fps,
            time_base=source.time_base,
            codec=encode.codec,
            crf=encode.crf,
            preset=encode.preset,
            audio_from=src if (encode.audio and source.has_audio) else None,
            overwrite=encode.overwrite,
            threaded=True,
            queue_size=_QUEUE,
            niceness=helper_niceness,
            sample_aspect=source.sample_aspect,
            timecode=source.timecode,
            alpha=options.alpha,
        )
        done = 0
        with writer, run_scope or contextlib.nullcontext():
            stream = prefetch(analysed(), maxsize=_QUEUE)
            try:
                for rgb in colorizer.colorize_analysed(stream):
                    writer.write(rgb, pending.popleft())
                    done += 1
                    if progress is not None:
                        progress(done, source.num_frames)
            finally:
                stream.close()
    seconds = time.perf_counter() - t_start
    stats = colorizer.stats
    if options.device == "cuda" and not colorizer.device_used:
        # Which parts a cut needs is only known once it is coloured (auto modes decide
        # per keyframe), so a flag that went unused is told at the end, not refused.
        log.warning(
            "--device cuda had no effect on this run: it used no network and no RAFT "
            "flow (they run on the device; the rest runs on the CPU)"
        )
    if keys_folder is not None:
        write_wanted_keys(keys_folder, stats.wanted, src, out_path, key_stem, ref_paths)
        log.info(
            "keys wanted: %s; sketches and drafts in %s (keys-wanted.json)",
            ", ".join(f"frame {w.frame}" for w in stats.wanted) or "none",
            keys_folder,
        )
    return RunResult(
        output=out_path,
        frames=done,
        seconds=seconds,
        stats=stats,
        stage_seconds=dict(stats.seconds),
        ref_frame=colorizer.key_frame,
        keys_folder=keys_folder,
    )


def _cpu_network_run(colorizer: Colorizer) -> contextlib.AbstractContextManager | None:
    """For a run whose in-betweens the temporal network colours on the CPU: a scope in
    which torch leaves one core to the run's other threads; None for any other run.

    The analysis and encode threads need about a core between them; a second
    intra-op thread of the network's only takes it from them (on 2 cores it spent 50 ms
    more CPU per frame to save 10 ms, session 34).
    """
    if colorizer.temporal_mode not in ("network", "network-only"):
        return None
    if colorizer.options.resolved_device() != "cpu":
        return None
    import torch

    return _torch_threads(min(torch.get_num_threads(), max(1, cpu_count() - 1)))


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``count`` for the scope, then put back."""
    import torch

    from .network import start_workers_flushed

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    start_workers_flushed()  # before the run's first torch work starts them unflushed
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


def _locate(
    src: Path,
    unpinned: list[np.ndarray],
    pinned: dict[int, np.ndarray],
    options: ColorizeOptions,
    allow_truncated: bool,
    exclude: list[Path],
) -> tuple[ColorizeOptions, list[np.ndarray], dict[int, np.ndarray]]:
    """``ref_frame="auto"`` resolved by a first pass over the cut (``exclude``: the
    references a frame folder holds, not frames: as the colouring pass reads it).

    Each reference not pinned to a frame is pinned to the frame whose drawing it is,
    when one is (and no other reference holds that frame); the rest stay unpinned
    and feed the network's attention; they key frame 0 (matched) only when no
    reference was found. Returns the options and the references, re-sorted.
    """
    if not unpinned:
        return replace(options, ref_frame=0), unpinned, pinned  # every key has its frame
    # The colouring pass reads the cut again and warns about a truncated file then.
    reader_log = logging.getLogger(open_frames.__module__)
    only_info = _BelowWarning()
    reader_log.addFilter(only_info)
    try:
        with open_frames(src, allow_truncated=allow_truncated, exclude=exclude) as source:
            found = locate_references((f.image for f in source), [shown(r) for r in unpinned])
    finally:
        reader_log.removeFilter(only_info)
    pinned, rest, found_at = dict(pinned), [], []
    for i, (image, located) in enumerate(zip(unpinned, found, strict=True)):
        name = f"reference {i + 1}" if len(unpinned) > 1 else "the reference"
        if located.same_drawing and located.frame not in pinned:
            pinned[located.frame] = image
            found_at.append(located.frame)
            log.info(
                "%s is the drawing of frame %d (line overlap %.0f%%; frames screened: %d): "
                "it keys that frame",
                name,
                located.frame,
                100 * located.overlap,
                located.scanned,
            )
        else:
            rest.append(image)
            log.info(
                "no frame of the cut is the drawing of %s (frames screened: %d)",
                name,
                located.scanned,
            )
    # A reference found in the cut is surer than a match: the unfound ones then key
    # nothing (the first found frame keeps its own), they only feed the attention.
    # Found nowhere, they key frame 0, unless the cut opens on blank paper: a blank
    # keyframe is one flat region, carried into every drawing (see locate).
    first_drawn = found[0].first_drawn if found else 0
    if not found_at and first_drawn and not pinned:
        log.info(
            "the cut opens on blank paper: the reference keys frame %d, the first drawn "
            "at least half as fully as the cut's fullest",
            first_drawn,
        )
    return replace(options, ref_frame=min(found_at, default=first_drawn)), rest, pinned
