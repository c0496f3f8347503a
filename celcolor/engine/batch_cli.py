"""`colorize-video batch`: colour every cut under a folder; resumable and parallel.

    colorize-video batch cuts/ -o coloured/                      # every cut under cuts/
    colorize-video batch cuts/ -o coloured/ --workers 2          # two worker processes
    colorize-video batch cuts/ -o coloured/ --executor ray --address auto
    colorize-video batch cuts/ -o coloured/ --dry-run            # the plan, nothing run

Exit codes: 0 every cut done, 1 a cut failed (or no cut found), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError, exit_code_of, interruption
from ..progress import progress_bar
from .arguments import (
    OneLineParser,
    add_colour_arguments,
    add_encode_arguments,
    add_logging_arguments,
    colour_options,
    encode_options,
    path_argument,
)
from .batch import (
    KEYS_FOLDER,
    BatchOptions,
    BatchPlan,
    BatchProgress,
    CutOutcome,
    format_plan,
    format_table,
)
from .batch_layout import FORMATS
from .batch_manifest import MANIFEST_NAME, REPORT_NAME
from .executors import EXECUTORS, ExecutorConfig

__all__ = ["build_parser", "run"]


def build_parser(prog: str = "colorize-video batch") -> argparse.ArgumentParser:
    """The parser of `colorize-video batch`."""
    p = OneLineParser(
        prog=prog,
        description="Colour every cut under a folder. A cut is a folder with one video or "
        "a sequence of frames plus its reference (ref.*, reference.*, key*.*, or ref_0048.* "
        "pinned to frame 48), or a video with a same-stem image beside it (c012.mp4 + "
        "c012.png). Reruns skip cuts already done with the same inputs and settings.",
    )
    p.add_argument("input", type=path_argument, help="folder of cuts (searched recursively)")
    p.add_argument(
        "-o",
        "--output",
        type=path_argument,
        required=True,
        help="folder for the outputs (made if missing)",
    )
    p.add_argument(
        "--refs",
        type=path_argument,
        default=None,
        metavar="DIR",
        help="folder of references named after the cuts: DIR/<cut name>.png",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("--force", action="store_true", help="re-do every cut, done or not")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs in the way that this batch did not make",
    )
    r = p.add_argument_group("where cuts run")
    r.add_argument("--executor", choices=EXECUTORS, default="local", help="default: local")
    r.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local: worker processes (default 1; 0 runs cuts in this process); "
        "ray: at most N cuts at once (default: as many as the cluster takes)",
    )
    r.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads per worker for torch/OpenCV (default: CPUs / workers)",
    )
    r.add_argument(
        "--address",
        default=None,
        help="ray: cluster address ('auto', 'ray://head:10001'); default: start a local Ray",
    )
    r.add_argument(
        "--cpus-per-cut", type=float, default=1.0, metavar="N", help="ray: CPUs per cut task"
    )
    r.add_argument(
        "--gpus-per-cut",
        type=float,
        default=0.0,
        metavar="N",
        help="ray: GPUs per cut task (0.5 puts two cuts on a GPU; default 0)",
    )
    add_colour_arguments(
        p.add_argument_group("colouring (every cut)"),
        "frame the reference colours, for references not pinned by name; auto "
        "(default): the frame whose drawing it is, found per cut, else 0",
    )
    e = p.add_argument_group("output (every cut)")
    e.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="default: mp4 for a video cut, a folder of PNG frames for a frame-folder cut",
    )
    add_encode_arguments(e)
    e.add_argument(
        "--keys-wanted",
        action="store_true",
        help="write the frames each cut's warnings name (new drawings, new views) to "
        "OUTPUT/keys-wanted/<cut>/: the sketch, celcolor's draft to correct (in place: the "
        "next batch pins it; or saved as ref_NNNN.png in the cut's folder, "
        "<cut>_ref_NNNN.png beside a same-stem cut), and keys-wanted.json, whose pin_as "
        "says where",
    )
    add_logging_arguments(p)
    return p


def options_from(args: argparse.Namespace) -> BatchOptions:
    """The :class:`BatchOptions` the command line asks for."""
    colour = colour_options(args)
    encode = encode_options(args)
    run_on = ExecutorConfig(
        executor=args.executor,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        cpus_per_cut=args.cpus_per_cut,
        gpus_per_cut=args.gpus_per_cut,
    )
    return BatchOptions(
        input=args.input,
        output=args.output,
        refs=args.refs,
        colour=colour,
        encode=encode,
        format=args.format,
        allow_truncated=args.allow_truncated,
        force=args.force,
        keys_wanted=args.keys_wanted,
        run=run_on,
    )


class _Progress(BatchProgress):
    """Two bars on stderr (cuts with ETA, frames with frames/s) and a line per cut."""

    def __init__(self, quiet: bool, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self._bars: list = []

    def planned(self, plan: BatchPlan) -> None:
        n_run = len(plan.to_run())
        n_skip = sum(1 for p in plan.cuts if p.action == "skip")
        n_fail = sum(1 for p in plan.cuts if p.action == "fail")
        self._say(
            f"{len(plan.cuts)} cuts: {n_run} to run, {n_skip} done earlier"
            + (f", {n_fail} cannot run" if n_fail else "")
            + (f"; {len(plan.skipped)} folders or files are not cuts" if plan.skipped else "")
        )
        if self.quiet and plan.skipped:  # a folder meant as a cut may lack its reference
            first = plan.skipped[0]
            self._line(
                f"{len(plan.skipped)} folders or files are not cuts ({first.path}: "
                f"{first.reason}{'; see --dry-run for the rest' if len(plan.skipped) > 1 else ''})",
                warn=True,
            )
        for pc in plan.cuts:
            if pc.action == "fail":
                self._line(f"failed  {pc.cut.name}: {pc.reason}", warn=True)
        if n_run:
            self._cuts = progress_bar(self.quiet, "cuts", unit="cut")
            self._frames = progress_bar(self.quiet, "frames", unit="frame")
            self._bars = [self._cuts, self._frames]
            self._cuts[0](0, n_run)

    def frames(self, total_done: int) -> None:
        if self._bars:
            self._frames[0](total_done, None)

    def cut_finished(self, outcome: CutOutcome, finished: int, total: int) -> None:
        if outcome.status == "done":
            self._line(
                f"done    {outcome.name}: {outcome.frames} frames, {outcome.fps:.1f} frames/s, "
                f"{outcome.wall_seconds:.1f} s"
            )
        else:
            self._line(f"failed  {outcome.name}: {outcome.error}", warn=True)
            if self.verbose and outcome.traceback:
                self._line(outcome.traceback.rstrip(), warn=True)
        if self._bars:
            self._cuts[0](finished, total)

    def close(self) -> None:
        for _, close in reversed(self._bars):
            close()
        self._bars = []

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)

    def _line(self, text: str, warn: bool = False) -> None:
        if self.quiet and not warn:
            return
        if self._bars:
            from tqdm import tqdm

            tqdm.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run `colorize-video batch`; returns the exit code."""
    from .batch import plan_batch, run_batch

    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {args.workers}")
    opts = options_from(args)
    if args.dry_run:
        plan = plan_batch(opts)
        print(format_plan(plan))
        return 0 if plan.cuts else 1
    progress = _Progress(args.quiet, args.verbose)
    try:
        report = run_batch(opts, progress)
    except KeyboardInterrupt as e:
        progress.close()
        print(
            f"colorize-video: {interruption(e)}; finished cuts are kept "
            f"({opts.output / MANIFEST_NAME}); run the same command again to go on",
            file=sys.stderr,
        )
        return exit_code_of(e)
    finally:
        progress.close()
    print(format_table(report))
    if opts.keys_wanted:
        asking = [o for o in report.outcomes if o.wanted and o.status in ("done", "skipped")]
        if asking:
            frames = sum(len(o.wanted) for o in asking)
            where = opts.output / KEYS_FOLDER
            print(f"keys wanted: {frames} frame(s) of {len(asking)} cut(s) in {where}")
    print(f"report: {opts.output / REPORT_NAME}")
    return report.exit_code
