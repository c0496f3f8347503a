"""Batch runs over a folder of cuts: resumable, isolated, parallel, local or on Ray.

    opts = BatchOptions(Path("cuts"), Path("coloured"), run=ExecutorConfig(workers=2))
    print(format_plan(plan_batch(opts)))        # what would run (``--dry-run``)
    report = run_batch(opts)                    # colour what is not done yet
    print(format_table(report)); report.exit_code

The driver finds the cuts (:mod:`.batch_layout`), fingerprints their inputs, compares
them with the manifest in the output folder (:mod:`.batch_manifest`), and hands the
cuts that are not done to an executor (:mod:`.executors`): worker processes on this
machine or Ray tasks on a cluster. Only the driver writes the manifest, once per
finished cut, atomically. Outputs are renamed into place by the engine only when
complete, so a run killed at any moment loses no finished cut, and a rerun re-does only
what is missing, failed, or changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .. import __version__
from ..errors import CelcolorError, InputError, UsageError, exit_code_of
from ..io import CODECS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from .batch_layout import FORMATS, Cut, Layout, Skipped, discover_cuts, output_name
from .batch_manifest import (
    LOCK_NAME,
    MANIFEST_NAME,
    REPORT_NAME,
    Manifest,
    batch_lock,
    fingerprint,
    now_iso,
    output_present,
    remove_stale_temps,
    write_json_atomic,
)
from .batch_worker import CutJob, CutResult, frames_source
from .executors import ExecutorConfig, import_ray, make_executor
from .options import ColorizeOptions
from .pipeline import EncodeOptions
from .wanted import (
    WantedKey,
    is_keys_folder,
    painted_drafts,
    refresh_keys_folder,
    remove_keys_folder,
    wanted_keys,
)

__all__ = [
    "BatchOptions",
    "BatchPlan",
    "BatchProgress",
    "BatchReport",
    "CutOutcome",
    "PlannedCut",
    "format_plan",
    "format_table",
    "plan_batch",
    "run_batch",
]

log = logging.getLogger(__name__)

#: The folder under the output that holds each cut's keys wanted (``--keys-wanted``).
KEYS_FOLDER = "keys-wanted"

_FINGERPRINT_THREADS = 8  # reading heads and tails of files is I/O bound (shared storage)


@dataclass
class BatchOptions:
    """Everything that defines a batch run; the CLI flags map onto these fields.

    Attributes:
        input: the folder of cuts.
        output: the folder the outputs, the manifest and the report go to.
        refs: a folder of references named after the cuts (``<refs>/<cut name>.png``).
        colour: colouring settings for every cut; ``ref_frame`` is the default for
            references not pinned to a frame by their name.
        encode: output settings for every cut; ``overwrite`` allows replacing outputs
            this batch did not make (its own are always replaced when re-done).
        format: "mp4", "mkv", "mov" or "png" (a folder of PNG frames) for every cut;
            None: mp4 for a video cut, PNG frames for a frame-folder cut.
        allow_truncated: colour damaged videos up to the damage instead of failing them.
        force: re-do every cut, done or not.
        keys_wanted: write the frames each cut's warnings name (its sketch, the draft)
            to ``<output>/keys-wanted/<cut name>/`` (see :mod:`celcolor.engine.wanted`).
        run: where the cuts run (executor, workers, threads, Ray settings).
    """

    input: Path
    output: Path
    refs: Path | None = None
    colour: ColorizeOptions = field(default_factory=ColorizeOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    format: str | None = None
    allow_truncated: bool = False
    force: bool = False
    keys_wanted: bool = False
    run: ExecutorConfig = field(default_factory=ExecutorConfig)

    def __post_init__(self) -> None:
        self.input = Path(self.input)
        self.output = Path(self.output)
        self.refs = Path(self.refs) if self.refs is not None else None
        if self.format is not None and self.format not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {self.format!r}")

    def format_of(self, kind: str) -> str:
        """The output format of a cut of ``kind`` ("video" or "images"): ``format``, or
        by kind: an mp4 (a mov, ProRes 4444, with ``colour.alpha``) or PNG frames."""
        if self.format is not None:
            return self.format
        if kind != "video":
            return "png"
        return "mov" if self.colour.alpha else "mp4"

    def keys_folder(self, cut: Cut) -> Path | None:
        """Where cut ``cut``'s keys wanted go, or None when not asked for."""
        return self.output / KEYS_FOLDER / cut.name if self.keys_wanted else None

    def settings(self, fmt: str) -> dict[str, Any]:
        """The settings that shape a cut's output of format ``fmt`` (kept in the manifest)."""
        colour = self.colour.as_dict()
        colour.pop("ref_frame")  # per cut: recorded beside these
        encode: dict[str, Any] = {}
        if fmt != "png":
            e = self.encode
            encode = {"codec": e.codec, "crf": e.crf, "preset": e.preset, "audio": e.audio}
        return {
            "colour": colour,
            "encode": encode,
            "format": fmt,
            "allow_truncated": self.allow_truncated,
        }

    def describe(self) -> dict[str, Any]:
        """Plain dict of the run (for ``--dry-run`` and the report)."""
        return {
            "input": str(self.input),
            "output": str(self.output),
            "refs": str(self.refs) if self.refs else None,
            "colour": self.colour.as_dict(),
            "encode": dataclasses.asdict(self.encode),
            "format": self.format,
            "allow_truncated": self.allow_truncated,
            "force": self.force,
            "keys_wanted": str(self.output / KEYS_FOLDER) if self.keys_wanted else None,
            "run": self.run.describe(),
        }


@dataclass
class PlannedCut:
    """A cut, where its output goes, and whether this run colours it.

    ``action`` is "run", "skip" (done earlier with the same inputs and settings) or
    "fail" (cannot be run: unreadable input, an output in the way); ``reason`` says why.
    """

    cut: Cut
    output: Path
    output_rel: str
    fmt: str
    ref_frame: int | str  # "auto": found per cut (the outcome's key_frame)
    settings: dict[str, Any]
    fingerprint: dict[str, Any] | None
    action: str
    reason: str
    overwrite: bool = False
    previous: dict[str, Any] | None = None
    ours: bool = False  # what lies at the output path was made by this batch

    def entry(self, status: str, **fields: Any) -> dict[str, Any]:
        """A manifest entry for this cut.

        ``owns_output`` names the output path when this batch made what lies there (or is
        about to, for "running"), so a rerun may replace it without ``--overwrite``. A
        failed cut leaves the path as it was, so it keeps what the previous entry said.
        """
        owned = status in ("done", "running") or self.ours
        return {
            "status": status,
            "ref_frame": self.ref_frame,
            "output": self.output_rel,
            "owns_output": self.output_rel if owned else None,
            "fingerprint": self.fingerprint,
            "settings": self.settings,
            **fields,
        }


@dataclass
class BatchPlan:
    """What a batch would do: every cut with its action, and what is not a cut."""

    options: BatchOptions
    cuts: list[PlannedCut]
    skipped: list[Skipped]
    plan_seconds: float = 0.0

    def to_run(self) -> list[PlannedCut]:
        return [p for p in self.cuts if p.action == "run"]


@dataclass
class CutOutcome:
    """What a batch run did with one cut.

    ``status``: "done" (coloured now), "skipped" (done earlier, unchanged), "failed", or
    "not run" (the batch was interrupted first). Times: ``seconds`` inside the engine
    (decode, colour, encode), ``worker_seconds`` the whole job in the worker (with frame
    staging and the output checksum), ``wall_seconds`` from handing the cut to a worker
    to its manifest entry, and ``overhead_seconds`` = wall - engine (staging, checksum,
    the way to the worker and back, the manifest write).
    """

    name: str
    status: str
    output: str
    reference: str
    ref_frame: int | str
    frames: int = 0
    key_frame: int | None = None
    new_drawings: list[int] = field(default_factory=list)
    rekeyed: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    unseen: list[list[int]] = field(default_factory=list)
    wanted: list[dict[str, Any]] = field(default_factory=list)
    blended: int = 0
    waited_on_disk: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    wall_seconds: float = 0.0
    overhead_seconds: float = 0.0
    worker_seconds: float = 0.0
    fps: float = 0.0
    error: str | None = None
    reason: str = ""
    worker: str = ""
    traceback: str | None = None


@dataclass
class BatchReport:
    """The outcome of a batch run (written as ``batch-report.json``)."""

    options: BatchOptions
    outcomes: list[CutOutcome]
    skipped: list[Skipped]
    started: str
    finished: str
    seconds: float
    plan_seconds: float
    startup_seconds: float
    interrupted: bool = False
    stopped_by: int | None = None  # the exit code of the interrupt that stopped it

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        """0 when every cut is done, 1 when any failed (or was not run); a run stopped by
        a signal has the shell's code for it (130 for Ctrl-C, 143 for SIGTERM)."""
        if self.stopped_by is not None:
            return self.stopped_by
        return 0 if all(o.status in ("done", "skipped") for o in self.outcomes) else 1

    def to_dict(self) -> dict[str, Any]:
        ran = [o for o in self.outcomes if o.status == "done"]
        frames = sum(o.frames for o in ran)
        return {
            "celcolor": __version__,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "exit_code": self.exit_code,
            "counts": {s: self.count(s) for s in ("done", "skipped", "failed", "not run")}
            | {"not a cut": len(self.skipped)},
            "frames_coloured": frames,
            "frames_per_second": round(frames / self.seconds, 3) if self.seconds > 0 else 0.0,
            "plan_seconds": round(self.plan_seconds, 3),
            "startup_seconds": round(self.startup_seconds, 3),
            "mean_overhead_seconds": round(sum(o.overhead_seconds for o in ran) / len(ran), 4)
            if ran
            else None,
            "options": self.options.describe(),
            "cuts": [
                {k: v for k, v in dataclasses.asdict(o).items() if v is not None}
                for o in self.outcomes
            ],
            "not_cuts": [dataclasses.asdict(s) for s in self.skipped],
        }


class BatchProgress:
    """Callbacks of a running batch; the default does nothing (the CLI draws bars)."""

    def planned(self, plan: BatchPlan) -> None:
        """The plan is made; ``plan.to_run()`` is about to run."""

    def frames(self, total_done: int) -> None:
        """Frames coloured so far in this run, over all cuts (running ones included)."""

    def cut_finished(self, outcome: CutOutcome, finished: int, total: int) -> None:
        """A cut is done or failed; ``finished`` of ``total`` cuts to run are through."""


# --------------------------------------------------------------------------- planning


def _check_paths(opts: BatchOptions) -> None:
    src = opts.input
    if not src.exists():
        raise UsageError(f"{src}: the input folder does not exist")
    if not src.is_dir():
        raise UsageError(f"{src}: the input is not a folder; give the folder that holds the cuts")
    out = opts.output
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder; give a folder for the outputs")
    s, o = src.resolve(), out.resolve()
    if o == s or o.is_relative_to(s):
        raise UsageError(
            f"{out}: the output folder lies inside the input folder {src}; a rerun would "
            "take the outputs for cuts; choose a folder outside it"
        )
    if s.is_relative_to(o):
        # As the single-cut command refuses: outputs named after the cuts would land
        # among the input's own folders (a PNG cut's output could replace a cut there).
        raise UsageError(
            f"{out}: the input folder {src} lies inside this output folder; choose a folder "
            "outside it"
        )
    if opts.run.executor == "ray":
        import_ray()  # one line saying how to install it, before anything is planned
    if opts.refs is not None and not opts.refs.is_dir():
        what = "is not a folder" if opts.refs.exists() else "does not exist"
        raise UsageError(f"{opts.refs}: the references folder {what}")
    if opts.colour.alpha and (opts.format == "mp4" or opts.encode.codec == "h264"):
        raise UsageError(
            "--alpha: H.264 cannot keep transparency; leave --format out (ProRes 4444 "
            ".mov for video cuts, PNG frames for frame folders) or give --format mov, mkv "
            "or png"
        )
    codec = opts.encode.codec
    if codec is not None:
        if codec not in CODECS:
            raise UsageError(f"--codec must be one of {', '.join(CODECS)}, got {codec!r}")
        fmt = opts.format_of("video")
        if fmt == "png":
            raise UsageError(
                f"--codec {codec} applies to video outputs, and --format png writes PNG "
                "frames; leave one of them out"
            )
        if f".{fmt}" not in CODECS[codec][1]:
            fits = ", ".join(sorted(e[1:] for e in CODECS[codec][1] if e[1:] in FORMATS))
            raise UsageError(f"--codec {codec} cannot go in .{fmt} files; add --format {fits}")


def _mark_conflicts(items: list[tuple[Cut, str]], skipped: list[Skipped]) -> list[tuple[Cut, str]]:
    """Drop cuts whose outputs would be the same path, or one inside another's folder."""
    owners: dict[str, list[str]] = {}
    for cut, rel in items:
        owners.setdefault(rel, []).append(cut.name)
    bad: dict[str, str] = {}
    for cut, rel in items:
        others = [n for n in owners[rel] if n != cut.name]
        for parent in PurePosixPath(rel).parents:
            others += owners.get(str(parent), [])
        for n in others:
            bad[cut.name] = f"its output {rel} collides with the output of the cut {n!r}"
            bad.setdefault(n, f"its output collides with the output of the cut {cut.name!r}")
    for name, why in bad.items():
        skipped.append(Skipped(name, why + "; rename one of them"))
    return [(c, r) for c, r in items if c.name not in bad]


def plan_batch(opts: BatchOptions, manifest: Manifest | None = None) -> BatchPlan:
    """Find the cuts and decide, per cut, whether this run colours it. Writes nothing.

    Raises:
        UsageError: bad paths or options (exit code 2).
    """
    t0 = time.perf_counter()
    _check_paths(opts)
    if manifest is None:
        manifest = Manifest.load(opts.output) if opts.output.is_dir() else Manifest(Path())
    layout: Layout = discover_cuts(opts.input, opts.refs)
    skipped = list(layout.skipped)
    items: list[tuple[Cut, str]] = []
    in_root = opts.input.resolve()
    references = _references(opts, layout.cuts)
    for cut in layout.cuts:
        fmt = opts.format_of(cut.kind)
        rel = output_name(cut, fmt)
        if fmt == "png" and Path(rel).suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS:
            skipped.append(Skipped(cut.name, f"a PNG folder cannot be named {rel!r}; rename it"))
        elif (opts.output / rel).resolve().is_relative_to(in_root):
            skipped.append(Skipped(cut.name, f"its output {rel} would land inside the input"))
        elif fmt == "png" and (held := _held_in(opts.output / rel, references)) is not None:
            # A finished cut replaces its PNG folder whole: what it holds would be lost.
            skipped.append(
                Skipped(
                    cut.name,
                    f"its output {rel} is a folder that holds {held} (a reference or "
                    "--refs), and a finished cut replaces the folder; move the references",
                )
            )
        elif PurePosixPath(rel).parts[0] == KEYS_FOLDER:  # even without --keys-wanted: a
            # later run with it would write keys into (or over) this output
            skipped.append(
                Skipped(
                    cut.name,
                    f"its output {rel} would lie in {KEYS_FOLDER}/, where the batch keeps "
                    "the keys wanted; rename it",
                )
            )
        else:
            items.append((cut, rel))
    items = _mark_conflicts(items, skipped)

    def fp(cut: Cut) -> tuple[dict[str, Any] | None, str | None]:
        try:
            return fingerprint(cut, opts.input), None
        except CelcolorError as e:
            return None, str(e)

    items = [(_with_painted_keys(opts, cut), rel) for cut, rel in items]

    with ThreadPoolExecutor(_FINGERPRINT_THREADS) as pool:
        fps = list(pool.map(fp, [c for (c, _), _ in items]))
    planned = [
        _decide(opts, cut, rel, f, painted_error or err, manifest)
        for ((cut, painted_error), rel), (f, err) in zip(items, fps, strict=True)
    ]
    skipped.sort(key=lambda s: s.path)
    return BatchPlan(opts, planned, skipped, time.perf_counter() - t0)


def _references(opts: BatchOptions, cuts: list[Cut]) -> list[Path]:
    """The ``--refs`` folder and every cut's reference and keys: inputs no output may
    replace."""
    refs = [opts.refs] if opts.refs is not None else []
    return refs + [p for c in cuts for p in (c.reference, *(k for _, k in c.keys))]


def _held_in(folder: Path, paths: list[Path]) -> Path | None:
    """The first of ``paths`` that is ``folder`` or lies in it (as resolved), or None."""
    real = folder.resolve()
    return next((p for p in paths if p.resolve().is_relative_to(real)), None)


def _with_painted_keys(opts: BatchOptions, cut: Cut) -> tuple[Cut, str | None]:
    """``cut`` with the drafts painted in its keys folder pinned as keys (with
    ``--keys-wanted``), as ``--ref DIR`` pins them for one cut; and the error that fails
    the cut, or None. A key the cut's own folder pins to the same frame wins."""
    dest = opts.keys_folder(cut)
    if not is_keys_folder(dest):
        return cut, None
    try:
        drafts = painted_drafts(dest, name=str(dest))
    except CelcolorError as e:
        return cut, str(e)
    own = {f for f, _ in cut.keys} | {cut.ref_frame}
    extra = tuple((f, p) for f, p in drafts if f not in own)
    if not extra:
        return cut, None
    return dataclasses.replace(cut, keys=tuple(sorted(cut.keys + extra))), None


def same_settings(recorded: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """Whether a manifest's recorded settings are ``current``.

    A colouring setting the record lacks counts as its default: it was added by a
    later celcolor, and the earlier one did what the default does. Without this an
    upgrade would re-colour every finished cut of a batch the user never changed.
    """
    if recorded is None:
        return False
    if recorded == current:
        return True
    colour = recorded.get("colour")
    if not isinstance(colour, dict):
        return False
    defaults = ColorizeOptions().as_dict()
    filled = {
        **{k: defaults[k] for k in current["colour"] if k not in colour and k in defaults},
        **colour,
    }
    return {**recorded, "colour": filled} == current


def _decide(
    opts: BatchOptions,
    cut: Cut,
    rel: str,
    fp: dict[str, Any] | None,
    fp_error: str | None,
    manifest: Manifest,
) -> PlannedCut:
    fmt = opts.format_of(cut.kind)
    ref_frame = cut.ref_frame if cut.ref_frame is not None else opts.colour.ref_frame
    out = opts.output / rel
    prev = manifest.get(cut.name)
    pc = PlannedCut(
        cut, out, rel, fmt, ref_frame, opts.settings(fmt), fp, "run", "new", previous=prev
    )
    if fp_error is not None:
        pc.action, pc.reason = "fail", fp_error
        return pc
    # Ours only as made: an output changed since (frames retouched or added, a file
    # put in its place) holds the user's work, replaced only with --overwrite.
    made = prev is not None and prev.get("owns_output") == rel
    ours = made and _as_recorded(out, prev)
    pc.ours = ours
    if prev is None:
        pc.reason = "new"
    elif opts.force:
        pc.reason = "--force"
    elif prev.get("status") == "failed":
        pc.reason = "failed before"
    elif prev.get("status") != "done":
        pc.reason = "unfinished before"
    elif prev.get("fingerprint") != fp:
        pc.reason = "inputs changed"
    elif (
        not same_settings(prev.get("settings"), pc.settings)
        or prev.get("ref_frame") != ref_frame
        or prev.get("output") != rel
    ):
        pc.reason = "settings changed"
    elif not output_present(out, prev):
        pc.reason = "output missing or changed"
    else:
        pc.action, pc.reason = "skip", "done earlier"
        return pc
    if os.path.lexists(out) and not _empty_dir(out):
        if ours or opts.encode.overwrite:
            pc.overwrite = True
        else:
            pc.action = "fail"
            how = "changed since this batch made it" if made else "was not made by this batch"
            pc.reason = f"{out}: exists and {how}; pass --overwrite to replace it"
    return pc


def _as_recorded(out: Path, entry: dict[str, Any]) -> bool:
    """Whether ``out`` is missing or is the output ``entry`` recorded (its sizes, as
    :func:`output_present`); an entry with none recorded (a run stopped before the
    cut finished) vouches for what lies there."""
    if "output_bytes" not in entry or not os.path.lexists(out):
        return True
    return output_present(out, entry)


def _empty_dir(p: Path) -> bool:
    return p.is_dir() and not p.is_symlink() and not any(p.iterdir())


# --------------------------------------------------------------------------- running


def _job(opts: BatchOptions, pc: PlannedCut) -> CutJob:
    colour = dataclasses.replace(opts.colour, ref_frame=pc.ref_frame)
    encode = dataclasses.replace(opts.encode, overwrite=pc.overwrite)
    if pc.fmt == "png":  # --codec is for the video cuts; frame folders' cuts give PNG frames
        encode = dataclasses.replace(encode, codec=None)
    cut = pc.cut
    keys = opts.keys_folder(cut)
    return CutJob(
        name=cut.name,
        source=str(cut.source.absolute()),
        frames=[str(f.absolute()) for f in cut.frames] if cut.frames is not None else None,
        reference=str(cut.reference.absolute()),
        keys=[(f, str(p.absolute())) for f, p in cut.keys],
        output=str(pc.output.absolute()),
        options=colour.as_dict(),
        encode=dataclasses.asdict(encode),
        allow_truncated=opts.allow_truncated,
        keys_wanted=str(keys.absolute()) if keys is not None else None,
        key_stem=os.path.abspath(cut.key_stem) if cut.key_stem else "",
    )


def _outcome(pc: PlannedCut, status: str, **fields: Any) -> CutOutcome:
    return CutOutcome(
        name=pc.cut.name,
        status=status,
        output=pc.output_rel,
        reference=pc.cut.reference.as_posix(),
        ref_frame=pc.ref_frame,
        reason=pc.reason,
        **fields,
    )


def run_batch(opts: BatchOptions, progress: BatchProgress | None = None) -> BatchReport:
    """Colour every cut of ``opts.input`` that is not done yet; see the module docstring.

    Writes the outputs, ``batch-manifest.json`` (per cut, as they finish) and
    ``batch-report.json`` (at the end, also when interrupted) into ``opts.output``.

    Raises:
        UsageError: bad paths or options.
        InputError: no cut found under the input folder.
        OutputError: the output folder is in use by another batch, or not writable.
    """
    progress = progress or BatchProgress()
    started, t0 = now_iso(), time.perf_counter()
    _check_paths(opts)
    created = not opts.output.exists()
    try:
        opts.output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(
            f"{opts.output}: cannot create the output folder ({e.strerror or e})"
        ) from e
    with batch_lock(opts.output):
        manifest = Manifest.load(opts.output)
        plan = plan_batch(opts, manifest)
        if not plan.cuts:
            if created:  # nothing to do: leave no empty output folder behind
                (opts.output / LOCK_NAME).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    opts.output.rmdir()
            raise InputError(
                f"{opts.input}: no cut found ({len(plan.skipped)} folders or files are not "
                "cuts; see --dry-run for why)"
            )
        outcomes: dict[str, CutOutcome] = {}
        for pc in plan.cuts:
            if pc.action == "skip":
                prev = pc.previous or {}
                outcomes[pc.cut.name] = _outcome(
                    pc,
                    "skipped",
                    frames=int(prev.get("frames", 0)),
                    key_frame=prev.get("key_frame"),
                    new_drawings=list(prev.get("new_drawings") or []),
                    rekeyed=list(prev.get("rekeyed") or []),
                    held=list(prev.get("held") or []),
                    unseen=[list(x) for x in prev.get("unseen") or [] if isinstance(x, list)],
                    wanted=_recorded_wanted(prev),
                    blended=int(prev.get("blended") or 0),
                    waited_on_disk=int(prev.get("waited_on_disk") or 0),
                    warnings=list(prev.get("warnings") or []),
                    seconds=float(prev.get("seconds", 0.0)),
                    fps=float(prev.get("fps", 0.0)),
                )
                _keys_of_skipped(opts, pc, outcomes[pc.cut.name])
            elif pc.action == "fail":
                outcomes[pc.cut.name] = _outcome(pc, "failed", error=pc.reason)
                manifest.cuts[pc.cut.name] = pc.entry("failed", error=pc.reason, finished=now_iso())
        to_run = plan.to_run()
        # Remove what a killed run left half-written, before any worker starts writing.
        ours = [pc.output for pc in to_run]
        ours += [k for pc in to_run if (k := opts.keys_folder(pc.cut)) is not None]
        ours += [
            opts.output / MANIFEST_NAME,
            opts.output / REPORT_NAME,
        ]
        for p in remove_stale_temps(ours):
            log.debug("removed a temp left by an earlier run: %s", p)
        for pc in to_run:
            manifest.cuts[pc.cut.name] = pc.entry("running", started=started)
        report = BatchReport(
            opts,
            [],
            plan.skipped,
            started,
            started,
            0.0,
            plan.plan_seconds,
            0.0,
        )
        try:
            # Inside: a stop from here on (the manifest's write is the run's first) still
            # writes the report below.
            manifest.save()  # one write marks every cut of this run as ours
            progress.planned(plan)
            if to_run:
                report.startup_seconds = _execute(opts, to_run, manifest, outcomes, progress)
                _prune_keys_root(opts.output)
        except KeyboardInterrupt as e:
            report.interrupted = True
            report.stopped_by = exit_code_of(e)
            if opts.run.executor == "local":
                # The local workers are stopped and joined by now (the executor closed
                # on the way out), so their half-written temps can go at once.
                for p in remove_stale_temps([pc.output for pc in to_run]):
                    log.debug("removed the temp of an interrupted cut: %s", p)
            raise
        finally:
            for pc in plan.cuts:
                if pc.cut.name not in outcomes:
                    outcomes[pc.cut.name] = _outcome(pc, "not run", error="interrupted")
            report.outcomes = [outcomes[pc.cut.name] for pc in plan.cuts]
            report.finished = now_iso()
            report.seconds = time.perf_counter() - t0
            write_json_atomic(opts.output / REPORT_NAME, report.to_dict())
    return report


def _execute(
    opts: BatchOptions,
    to_run: list[PlannedCut],
    manifest: Manifest,
    outcomes: dict[str, CutOutcome],
    progress: BatchProgress,
) -> float:
    """Run ``to_run`` on the configured executor; returns the executor's start-up time."""
    by_name = {pc.cut.name: pc for pc in to_run}
    running: dict[str, int] = {}  # frames done so far per running cut
    finished_frames = 0

    def on_frames(name: str, done: int, total: int | None) -> None:
        running[name] = done
        progress.frames(finished_frames + sum(running.values()))

    pending = deque(to_run)
    dispatched: dict[str, float] = {}
    done_count = 0
    colour = opts.colour.as_dict()
    root_prefix = str(opts.input.absolute()) + os.sep
    run_on = opts.run
    if run_on.executor == "local" and run_on.local_workers() > len(to_run):
        run_on = dataclasses.replace(run_on, workers=len(to_run))  # no idle workers
    with make_executor(run_on, colour, on_frames) as ex:
        while pending or dispatched:
            while pending and ex.free() > 0:
                pc = pending.popleft()
                pc.output.parent.mkdir(parents=True, exist_ok=True)
                dispatched[pc.cut.name] = time.perf_counter()
                ex.submit(_job(opts, pc))
            result = ex.next_result()
            if result.error:  # name files by their path under the input, as the table does
                result.error = result.error.replace(root_prefix, "")
            result.warnings = [w.replace(root_prefix, "") for w in result.warnings]
            pc = by_name[result.name]
            running.pop(result.name, None)
            outcome = _record(pc, result, manifest, dispatched.pop(result.name))
            if outcome.status == "done" and not opts.keys_wanted:
                _drop_stale_keys(opts, pc, outcome)
            outcomes[pc.cut.name] = outcome
            finished_frames += outcome.frames if outcome.status == "done" else 0
            done_count += 1
            progress.frames(finished_frames + sum(running.values()))
            progress.cut_finished(outcome, done_count, len(to_run))
        return ex.startup_seconds


def _recorded_wanted(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The keys a manifest entry wants; for an entry older than the record, derived
    from its new drawings and new views (a batch cut has one keyframe)."""
    if isinstance(entry.get("wanted"), list):
        return [w for w in entry["wanted"] if isinstance(w, dict) and "frame" in w]
    key = entry.get("key_frame")
    unseen = [x for x in entry.get("unseen") or [] if isinstance(x, list) and len(x) == 2]
    keys = wanted_keys(entry.get("new_drawings") or [], unseen, [key] if key is not None else [])
    return [w.as_dict() for w in keys]


def _keys_of_skipped(opts: BatchOptions, pc: PlannedCut, outcome: CutOutcome) -> None:
    """Write the keys folder of a cut done earlier, from its recorded keys and output,
    when keys are asked for now and the folder is missing (no need to re-colour)."""
    dest = opts.keys_folder(pc.cut)
    if dest is None or not outcome.wanted or is_keys_folder(dest):
        return
    wanted = [WantedKey.from_dict(w) for w in outcome.wanted]
    job = _job(opts, pc)
    try:
        with frames_source(job) as src:
            refresh_keys_folder(dest, wanted, src, pc.output, job.key_stem or None)
    except CelcolorError as e:
        log.warning("%s: %s", pc.cut.name, e)
        outcome.warnings.append(str(e))


def _drop_stale_keys(opts: BatchOptions, pc: PlannedCut, outcome: CutOutcome) -> None:
    """Remove the keys folder an earlier run wrote for a cut this run coloured again
    without ``--keys-wanted``: its drafts show an output that is gone. A folder that
    holds the user's work (a draft painted in place) stays, with a warning of the cut."""
    dest = opts.output / KEYS_FOLDER / pc.cut.name
    try:
        removed = remove_keys_folder(dest)
    except CelcolorError as e:
        log.warning("%s: %s", pc.cut.name, e)
        outcome.warnings.append(str(e))
        return
    if removed:
        log.info(
            "%s: removed its keys folder of an earlier run, which showed the output this "
            "run replaced (--keys-wanted writes it anew)",
            pc.cut.name,
        )


def _prune_keys_root(output: Path) -> None:
    """Remove the empty folders under ``<output>/keys-wanted/`` and the root itself
    when empty: what is left once no cut wants keys. Run when no worker writes."""
    root = output / KEYS_FOLDER
    if not root.is_dir() or root.is_symlink():
        return
    for folder, _, _ in os.walk(root, topdown=False):
        with contextlib.suppress(OSError):  # not empty: it stays
            os.rmdir(folder)


def _record(pc: PlannedCut, r: CutResult, manifest: Manifest, t_dispatch: float) -> CutOutcome:
    """Write a finished cut into the manifest and make its outcome (and say its warnings)."""
    for warning in r.warnings:
        log.warning("%s: %s", pc.cut.name, warning)
    worker = f"{r.host}:{r.pid}" if r.host else ""
    common = {"seconds": round(r.run_seconds, 4), "worker": worker, "finished": now_iso()}
    if r.ok:
        entry = pc.entry(
            "done",
            frames=r.frames,
            fps=round(r.fps, 3),
            key_frame=r.key_frame,
            new_drawings=r.new_drawings,
            rekeyed=r.rekeyed,
            held=r.held,
            unseen=r.unseen,
            wanted=r.wanted,
            blended=r.blended,
            waited_on_disk=r.waited_on_disk,
            warnings=r.warnings,
            **r.digest,
            stage_seconds=r.stage_seconds,
            error=None,
            celcolor=__version__,
            **common,
        )
    else:
        entry = pc.entry("failed", error=r.error, **common)
    manifest.set(pc.cut.name, entry)
    wall = time.perf_counter() - t_dispatch
    return _outcome(
        pc,
        "done" if r.ok else "failed",
        frames=r.frames,
        key_frame=r.key_frame,
        new_drawings=r.new_drawings,
        rekeyed=r.rekeyed,
        held=r.held,
        unseen=r.unseen,
        wanted=r.wanted,
        blended=r.blended,
        waited_on_disk=r.waited_on_disk,
        warnings=r.warnings,
        seconds=r.run_seconds,
        wall_seconds=wall,
        overhead_seconds=max(0.0, wall - r.run_seconds) if r.ok else 0.0,
        worker_seconds=r.seconds,
        fps=r.fps,
        error=r.error,
        worker=worker,
        traceback=r.traceback,
    )


# --------------------------------------------------------------------------- tables


def _table(rows: list[list[str]], right: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _clip(text: str, n: int = 100) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def format_plan(plan: BatchPlan) -> str:
    """The plan as text: settings, one row per cut, and what is not a cut."""
    o = plan.options
    colour = o.colour.as_dict()
    lines = [
        f"input:   {o.input}",
        f"output:  {o.output}",
        f"run:     {', '.join(f'{k}={v}' for k, v in o.run.describe().items())}",
        f"colour:  {', '.join(f'{k}={v}' for k, v in colour.items() if k != 'ref_frame')}",
    ]
    if o.keys_wanted:
        lines.append(f"keys:    {o.output / KEYS_FOLDER}/<cut>/ (--keys-wanted)")
    lines.append("")
    rows = [["cut", "source", "reference", "ref frame", "output", "action"]]
    for pc in plan.cuts:
        src = pc.cut.source
        what = src.name if pc.cut.frames is None else f"{src.name}/ ({len(pc.cut.frames)} frames)"
        ref = _short(pc.cut.reference, pc.cut.source, o.input)
        if pc.cut.keys:  # more references pinned to frames, beside it
            ref += " + " + ", ".join(p.name for _, p in pc.cut.keys)
        rows.append(
            [pc.cut.name, what, ref, str(pc.ref_frame), pc.output_rel, f"{pc.action}: {pc.reason}"]
        )
    if plan.cuts:
        lines.append(_table(rows, right={3}))
    else:
        lines.append("no cuts found")
    n_run = len(plan.to_run())
    n_skip = sum(1 for p in plan.cuts if p.action == "skip")
    n_fail = sum(1 for p in plan.cuts if p.action == "fail")
    lines.append("")
    lines.append(
        f"{len(plan.cuts)} cuts: {n_run} to run, {n_skip} done earlier, {n_fail} cannot run"
    )
    if plan.skipped:
        lines.append("")
        lines.append(f"not cuts ({len(plan.skipped)}):")
        lines.append(_table([["path", "why"]] + [[s.path, s.reason] for s in plan.skipped]))
    return "\n".join(lines)


def _frames(frames: list[int], shown: int = 4) -> str:
    """Frame numbers for a table cell: the first few, then how many more."""
    if not frames:
        return "-"
    more = f" +{len(frames) - shown}" if len(frames) > shown else ""
    return ",".join(map(str, frames[:shown])) + more


def _spans(spans: list[list[int]], shown: int = 2) -> str:
    """Stretches of frames for a table cell (``first-last``): the first few, then how
    many more."""
    if not spans:
        return "-"
    more = f" +{len(spans) - shown}" if len(spans) > shown else ""
    return ",".join(f"{a}-{b}" for a, b in spans[:shown]) + more


def _short(ref: Path, source: Path, root: Path) -> str:
    base = source if source.is_dir() else source.parent
    for anchor in (base, root):
        try:
            return ref.relative_to(anchor).as_posix()
        except ValueError:
            continue
    return str(ref)


def format_table(report: BatchReport) -> str:
    """The summary table of a run: cut, frames, keyframe, new drawings, new views, fps,
    status, error."""
    rows = [["cut", "frames", "key", "new drawings", "new views", "fps", "status", "error"]]
    for o in report.outcomes:
        fps = f"{o.fps:.1f}" if o.fps else "-"
        status = "done earlier" if o.status == "skipped" else o.status
        key = str(o.key_frame) if o.key_frame is not None else "-"
        frames = str(o.frames) if o.frames else "-"
        rows.append(
            [
                o.name,
                frames,
                key,
                _frames(o.new_drawings),
                _spans(o.unseen),
                fps,
                status,
                _clip(o.error or ""),
            ]
        )
    d = report.to_dict()
    c = d["counts"]
    tail = (
        f"{c['done']} done, {c['skipped']} done earlier, {c['failed']} failed"
        + (f", {c['not run']} not run" if c["not run"] else "")
        + f"; {d['frames_coloured']} frames in {report.seconds:.1f} s"
        + (f" ({d['frames_per_second']:.1f} frames/s)" if d["frames_coloured"] else "")
    )
    if report.skipped:
        tail += f"; {len(report.skipped)} folders or files are not cuts (see {REPORT_NAME})"
    return _table(rows, right={1, 2}) + "\n" + tail
