"""The worker side of a batch: colour one cut, and get a process ready for many.

Everything a worker needs travels in a :class:`CutJob` of plain values (absolute paths,
option dicts), so the same job runs in the driver, in a pool process or in a Ray task
on another machine that sees the same storage. :func:`run_cut` never raises for a
failing cut: the failure comes back in the :class:`CutResult` with a one-line error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CelcolorError
from ..logs import captured_warnings

__all__ = ["CutJob", "CutResult", "prepare_process", "run_cut"]

log = logging.getLogger(__name__)

_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


@dataclass
class CutJob:
    """One cut to colour, in plain picklable values.

    Attributes:
        name: the cut's name (its path under the input folder).
        source: the video file or the folder of frames (absolute).
        frames: the frame files of a folder (absolute), or None for a video.
        reference: the reference image (absolute).
        keys: more references pinned to frames, ``(frame, image)`` (absolute).
        output: where the output goes (absolute): a video file or a PNG folder.
        options: :class:`~celcolor.engine.ColorizeOptions` fields, ``ref_frame`` included.
        encode: :class:`~celcolor.engine.EncodeOptions` fields.
        allow_truncated: colour a damaged video up to the damage.
        keys_wanted: the cut's keys folder (absolute; see
            :func:`~celcolor.engine.wanted.refresh_keys_folder`), or None.
        key_stem: where a painted key of frame N goes, less ``NNNN.png`` (absolute;
            :meth:`~celcolor.engine.batch_layout.Cut.key_path`); "" for the default.
    """

    name: str
    source: str
    frames: list[str] | None
    reference: str
    output: str
    options: dict[str, Any]
    encode: dict[str, Any]
    allow_truncated: bool = False
    keys: list[tuple[int, str]] = field(default_factory=list)
    keys_wanted: str | None = None
    key_stem: str = ""


@dataclass
class CutResult:
    """What became of a :class:`CutJob`.

    ``run_seconds`` is the time inside :func:`~celcolor.engine.colorize_video` (decode,
    colour, encode, reference and writer set-up); ``seconds`` is the whole job in the
    worker, staging and the output checksum included.
    """

    name: str
    ok: bool
    frames: int = 0
    seconds: float = 0.0
    run_seconds: float = 0.0
    key_frame: int | None = None  # the frame the reference coloured (--ref-frame auto found)
    # Frames with mostly new lines (new shots, new characters), and those re-keyed.
    new_drawings: list[int] = field(default_factory=list)
    rekeyed: list[int] = field(default_factory=list)
    # Frames shown as the frame before them, their drawing held (engine.holds).
    held: list[int] = field(default_factory=list)
    # Stretches (first, last sampled frame) that no longer show their keyframe's drawing.
    unseen: list[list[int]] = field(default_factory=list)
    # Frames that want a key of their own ({"frame": 12, "why": [...]}; WantedKey).
    wanted: list[dict[str, Any]] = field(default_factory=list)
    # Frames coloured from two keys (forward and back), and frames set aside for a later
    # key that went to disk (past --wait-memory): as a single run's --report has them.
    blended: int = 0
    waited_on_disk: int = 0
    # What the engine warned of while colouring it (printed by the driver, named).
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    output: str | None = None
    digest: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    host: str = ""
    pid: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.run_seconds if self.run_seconds > 0 else 0.0


def failed(name: str, error: str, **fields: Any) -> CutResult:
    """A failed result made outside the worker (a worker that died, a lost Ray task)."""
    return CutResult(name=name, ok=False, error=error, **fields)


# --------------------------------------------------------------------------- process set-up

_prepared: dict[str, Any] = {}


def prepare_process(threads: int | None, options: dict[str, Any] | None = None) -> float:
    """Set a worker process up once: thread counts and the engine's imports.

    Args:
        threads: CPU threads for this process's numeric libraries (torch, OpenCV,
            OpenMP/BLAS); None leaves them alone.
        options: colour options of the batch; when they call for torch (a flow network,
            the exemplar network, CUDA), torch and the model code are imported here, so
            no cut pays for it.

    Returns:
        Seconds spent (0 when the process was already prepared the same way).
    """
    key = repr((threads, sorted((options or {}).items())))
    if _prepared.get("key") == key:
        return 0.0
    t0 = time.perf_counter()
    if threads is not None:
        for var in _THREAD_ENV:  # read by torch/BLAS when they are first imported
            os.environ[var] = str(threads)
    import cv2

    from . import pipeline  # noqa: F401  (the engine's imports, paid once)

    if options and _needs_torch(options):
        import torch

        from .. import models  # noqa: F401

    if threads is not None:
        cv2.setNumThreads(threads)
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            torch.set_num_threads(threads)
    _prepared["key"] = key
    return time.perf_counter() - t0


def _needs_torch(options: dict[str, Any]) -> bool:
    """Will cuts with these options run a network (and so import torch)?

    Then torch is imported up front, so its thread count is set with OpenCV's.
    "auto" modes are not counted: they run a network only where its record wins.
    """
    return (
        options.get("flow", "dis") != "dis"
        or options.get("keyframe_mode") in ("network", "match")
        or options.get("temporal") in ("network", "network-only")
        or bool(options.get("matcher_checkpoint"))
        or bool(options.get("checkpoint"))
        or options.get("device") == "cuda"
    )


# --------------------------------------------------------------------------- one cut


def run_cut(job: CutJob, progress: Callable[[int, int | None], None] | None = None) -> CutResult:
    """Colour one cut; failures come back in the result, never as an exception.

    ``KeyboardInterrupt`` and ``SystemExit`` still propagate.
    """
    from . import ColorizeOptions, EncodeOptions, colorize_video
    from .batch_manifest import output_digest

    t0 = time.perf_counter()
    host, pid = socket.gethostname(), os.getpid()
    staged: list[str] = []  # the staged copy of a frame folder, named as the cut's own

    def named(text: str) -> str:
        return text.replace(staged[0], job.source) if staged else text

    try:
        options = ColorizeOptions(**job.options)
        encode = EncodeOptions(**job.encode)
        # A worker has no console worth writing to: its lines would land unnamed in
        # the middle of the driver's progress bars. The driver prints them, named.
        with frames_source(job) as src, captured_warnings(pass_on=True) as warned:
            if str(src) != job.source:
                staged.append(str(src))
            result = colorize_video(
                src,
                [job.reference, *((int(f), p) for f, p in job.keys)],
                job.output,
                options=options,
                encode=encode,
                allow_truncated=job.allow_truncated,
                progress=progress,
                key_stem=job.key_stem or None,
                drafts_in=job.keys_wanted,
            )
            if job.keys_wanted is not None:
                _write_keys(Path(job.keys_wanted), result, src, job.key_stem or None)
        digest = output_digest(Path(result.output))
    except CelcolorError as e:
        return failed(
            job.name, _one_line(named(str(e))), seconds=time.perf_counter() - t0, host=host, pid=pid
        )
    except Exception as e:  # a bug or an unexpected library error: keep the batch going
        return failed(
            job.name,
            _one_line(f"internal error: {type(e).__name__}: {e}"),
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - t0,
            host=host,
            pid=pid,
        )
    return CutResult(
        name=job.name,
        ok=True,
        frames=result.frames,
        seconds=time.perf_counter() - t0,
        run_seconds=result.seconds,
        key_frame=result.ref_frame,
        new_drawings=list(result.stats.new_drawings),
        rekeyed=list(result.stats.rekeyed),
        held=list(result.stats.held),
        unseen=[list(s) for s in result.stats.unseen],
        wanted=[w.as_dict() for w in result.wanted],
        blended=result.stats.blended,
        waited_on_disk=result.stats.waited_on_disk,
        warnings=[named(w) for w in warned],
        stage_seconds={k: round(v, 4) for k, v in result.stage_seconds.items()},
        output=str(result.output),
        digest=digest,
        host=host,
        pid=pid,
    )


def _write_keys(dest: Path, result: Any, src: Path, key_stem: str | None) -> None:
    """The cut's keys folder; a failure is a warning of the cut, which is coloured."""
    from .wanted import refresh_keys_folder

    try:
        refresh_keys_folder(dest, result.wanted, src, Path(result.output), key_stem)
    except CelcolorError as e:
        log.warning("%s", e)


@contextlib.contextmanager
def frames_source(job: CutJob) -> Iterator[Path]:
    """The path to hand the engine: the video, the frame folder, or a staged copy of it.

    A frame folder that also holds its reference (or other reference-named images)
    cannot be given to the engine as it is, or the reference would become a frame. The
    frames are then linked into a private temp folder (symlinks; hard links or copies
    where links are refused), which goes away afterwards.
    """
    src = Path(job.source)
    if job.frames is None:
        yield src
        return
    from ..io import list_images

    frames = [Path(f) for f in job.frames]
    if [f.name for f in list_images(src)] == [f.name for f in frames]:
        yield src
        return
    with tempfile.TemporaryDirectory(prefix="celcolor-frames-") as tmp:
        stage = Path(tmp) / src.name
        stage.mkdir()
        for f in frames:
            _link(f, stage / f.name)
        yield stage


def _link(src: Path, dst: Path) -> None:
    try:
        os.symlink(src, dst)
        return
    except OSError:
        pass
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copyfile(src, dst)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"
