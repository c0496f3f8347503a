"""The `colorize-video` command: a thin layer over :mod:`celcolor.engine`.

    colorize-video INPUT --ref REF [-o OUT] [options]   colour one cut
    colorize-video demo [-o DIR] [--alpha]             make a sketch clip + reference, colour it

A first word that names a command (demo, batch, bench, train) runs it; an input of
that name is written ./demo or demo/.

Exit codes: 0 success, 1 failure (bad input, failed run), 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import select
import signal
import stat
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .engine.arguments import (
    OneLineParser,
    add_colour_arguments,
    add_encode_arguments,
    add_logging_arguments,
    colour_options,
    encode_options,
    non_empty,
    path_argument,
)
from .errors import (
    CelcolorError,
    OutputError,
    Stopped,
    UsageError,
    exit_code_of,
    interruption,
)
from .progress import progress_bar

log = logging.getLogger("celcolor")


def _output_path(value: str) -> Path:
    """``-o`` as a path; argparse's own error for a folder spelled with a file's suffix
    (``shot.mp4/``), which the conversion to a path would turn into that file."""
    from .io import check_folder_spelling

    non_empty(value)  # Path("") would be the current folder
    try:
        check_folder_spelling(value)
    except OutputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return Path(value)


def _add_colour_options(p: argparse.ArgumentParser) -> None:
    add_colour_arguments(
        p.add_argument_group("colouring"),
        "frame the reference colours; auto (default): the frame whose drawing it is (a "
        "colour key of any frame of the cut), found by a first pass over the cut, else 0",
    )
    e = p.add_argument_group("output")
    e.add_argument(
        "-o",
        "--output",
        type=_output_path,
        default=None,
        help="output file, or a folder (trailing /) for a PNG sequence; "
        "default: <input>_color.mp4 beside the input",
    )
    add_encode_arguments(e)
    e.add_argument(
        "--keys-wanted",
        type=path_argument,
        default=None,
        metavar="DIR",
        help="write the frames the run's warnings name (new drawings, new views) to DIR: "
        "each one's sketch, celcolor's draft of it to correct and pin back "
        "(--ref N:DIR/frame_N_draft.png, or --ref DIR: every draft painted in place), and "
        "keys-wanted.json; with --ref DIR too, the painted drafts stay and the next keys "
        "join them",
    )
    e.add_argument(
        "--report",
        type=path_argument,
        default=None,
        metavar="FILE",
        help="write a JSON record of the run to FILE, also when it fails: status, error, "
        "output and sha256, frames, new drawings and views, keys wanted, warnings, "
        "timings, settings (an earlier record there is replaced)",
    )
    e.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output (and refresh an earlier --keys-wanted folder)",
    )
    e.add_argument("--dry-run", action="store_true", help="print the resolved settings and stop")


def _run_colour(args: argparse.Namespace) -> int:
    from .engine import colorize_video
    from .engine.colorizer import check_references
    from .engine.matte import check_transparent
    from .engine.pipeline import check_run_output, load_references, shown
    from .engine.wanted import check_keys_folder
    from .io import open_frames, resolve_output

    _check_ref_frame_is_used(args)
    options = colour_options(args)
    encode = encode_options(args)
    if args.report is not None:
        _check_report(args)
    if args.dry_run:
        unpinned, pinned, ref_paths = load_references(args.ref, keep_alpha=options.alpha)
        with open_frames(args.input, exclude=ref_paths) as source:
            out = resolve_output(Path(args.input), args.output, source.kind, options.alpha)
            info = {
                "input": str(args.input),
                "kind": source.kind,
                "size": [source.width, source.height],
                "frames": source.num_frames,
                "fps": source.fps,
            }
        check_run_output(Path(args.input), out, encode, options.alpha, ref_paths)
        check_references([shown(r) for r in [*unpinned, *pinned.values()]])  # as a run does
        if options.alpha:
            check_transparent([*unpinned, *pinned.values()])
        if args.keys_wanted is not None:
            check_keys_folder(
                args.keys_wanted,
                src=Path(args.input),
                output=out,
                references=ref_paths,
                overwrite=args.overwrite,
            )
        print(
            json.dumps(
                {
                    "source": info,
                    "references": args.ref,
                    "output": str(out),
                    "keys_wanted": None if args.keys_wanted is None else str(args.keys_wanted),
                    "report": None if args.report is None else str(args.report),
                    "colour": options.as_dict(),
                    "encode": vars(encode),
                },
                indent=2,
            )
        )
        return 0

    def colour() -> Any:
        update, close = progress_bar(args.quiet, Path(args.input).name)
        try:
            return colorize_video(
                args.input,
                args.ref,
                args.output,
                options=options,
                encode=encode,
                allow_truncated=args.allow_truncated,
                progress=update,
                keys_wanted=args.keys_wanted,
            )
        finally:
            close()

    if args.report is None:
        result = colour()
    else:
        result = _colour_and_report(args, colour, options.as_dict(), vars(encode))
    log.info("%d frames in %.1f s (%.1f frames/s)", result.frames, result.seconds, result.fps)
    if result.stats.held:
        log.info(
            "%d frames held the drawing before them and show that frame again",
            len(result.stats.held),
        )
    print(result.output)
    return 0


def _check_ref_frame_is_used(args: argparse.Namespace) -> None:
    """Refuse a frame number given with ``--ref-frame`` when every ``--ref`` is pinned.

    With only pinned references the earliest pinned frame is the keyframe and the run
    would ignore ``--ref-frame`` without a word. ``auto`` (the default, also when
    written out) asks for nothing that could be ignored, so it passes.
    """
    from .engine.pipeline import split_pin
    from .engine.wanted import is_keys_folder

    if not isinstance(args.ref_frame, int):
        return

    def pinned(ref: str) -> bool:
        # A --keys-wanted folder given as --ref pins each of its painted drafts.
        return split_pin(ref)[0] is not None or is_keys_folder(ref)

    if all(pinned(r) for r in args.ref):
        raise UsageError(
            f"--ref-frame {args.ref_frame} has no effect when every --ref is pinned to a "
            "frame (the earliest pinned frame is the keyframe): drop --ref-frame, or add "
            f"an unpinned --ref KEY.png to colour frame {args.ref_frame}"
        )


def _check_report(args: argparse.Namespace) -> None:
    from .engine.pipeline import split_pin
    from .engine.run_report import check_report_path

    refs = [Path(split_pin(r)[1]) for r in args.ref]
    check_report_path(
        args.report,
        src=Path(args.input),
        output=args.output,
        references=refs,
        keys_wanted=args.keys_wanted,
    )


def _colour_and_report(
    args: argparse.Namespace, colour: Callable[[], Any], settings: dict, encode: dict
) -> Any:
    """Run ``colour()`` and write the run record to ``--report``, done or not."""
    from .engine.batch_manifest import now_iso
    from .engine.run_report import done_record, failed_record, write_report
    from .logs import collected_warnings

    started = now_iso()
    run = {
        "input": str(args.input),
        "references": list(args.ref),
        "output_asked": None if args.output is None else str(args.output),
        "keys_wanted_folder": None if args.keys_wanted is None else str(args.keys_wanted),
        "settings": {"colour": settings, "encode": encode},
    }
    with collected_warnings() as warned:
        try:
            result = colour()
        except BaseException as e:
            line, code = error_line(e, args.verbose)
            if code is not None:  # not an exit the command does not answer (SystemExit)
                try:
                    write_report(args.report, failed_record(started, run, line, code, warned))
                except CelcolorError as lost:  # the run's own error is the one to report
                    log.warning("%s", lost)
            raise
        try:
            write_report(args.report, done_record(started, run, result, warned))
        except CelcolorError as e:
            raise OutputError(f"{e}; the output {result.output} was written") from e
    return result


def error_line(e: BaseException, verbose: bool = False) -> tuple[str, int | None]:
    """What the command prints for ``e`` (after ``colorize-video: ``) and its exit
    code; ``None`` for the code of an exception it lets through (SystemExit)."""
    if isinstance(e, CelcolorError):
        return f"error: {e}", e.exit_code
    if isinstance(e, KeyboardInterrupt):
        return f"{interruption(e)}; no output was written", exit_code_of(e)
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        # The system refused a path (a name too long, a folder gone, no space): the
        # machine's state, not a bug.
        return f"error: {e.filename}: {e.strerror}", 1
    if isinstance(e, Exception):
        hint = "" if verbose else "rerun with -v for the traceback, and "
        return f"internal error: {type(e).__name__}: {e} ({hint}please report it)", 1
    return "", None


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    update, close = progress_bar(args.quiet, "demo")
    try:
        paths = run_demo(args.output, overwrite=args.overwrite, progress=update, alpha=args.alpha)
    finally:
        close()
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _colour_parser() -> OneLineParser:
    p = OneLineParser(
        prog="colorize-video",
        description="Colour a cut of animation line art from a coloured reference. "
        "Other commands: demo (try it on a generated clip), batch (a folder of cuts), "
        "bench (flicker, quality and speed of every method).",
    )
    p.add_argument(
        "input",
        type=path_argument,
        help="line-art video, folder of frames, or one image (one named like a command, "
        "such as demo, is written ./demo)",
    )
    p.add_argument(
        "--ref",
        action="append",
        type=non_empty,
        required=True,
        metavar="[N:]REF",
        help="coloured reference image; repeat for several (the network sees all); "
        "N:REF pins it to frame N (that frame is re-keyed from it); a --keys-wanted "
        "folder pins the drafts painted in it to their frames",
    )
    p.add_argument("--version", action="version", version=f"celcolor {__version__}")
    _add_colour_options(p)
    add_logging_arguments(p)
    return p


def _demo_parser(prog: str = "colorize-video demo") -> OneLineParser:
    p = OneLineParser(
        prog=prog,
        description="Write a small generated sketch clip and its reference, colour it, "
        "and print the paths.",
    )
    p.add_argument(
        "-o",
        "--output",
        type=path_argument,
        default=Path("celcolor-demo"),
        help="folder for the demo files (default ./celcolor-demo)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace earlier demo outputs")
    p.add_argument(
        "--alpha",
        action="store_true",
        help="the reference made a cel (its background transparent, cel.png) and the clip "
        "coloured as cels on transparent (sketch_color.mov, ProRes 4444)",
    )
    add_logging_arguments(p)
    return p


# Subcommands: name -> module with build_parser(prog) and run(args) -> exit code.
# Imported only when used, so `colorize-video INPUT` starts fast.
SUBCOMMANDS = {
    "demo": "celcolor.cli",
    "batch": "celcolor.engine.batch_cli",
    "bench": "celcolor.bench.cli",
    "train": "celcolor.train.cli",
}


def build_parser(prog: str) -> OneLineParser:
    """Parser of `colorize-video demo` (the demo lives here; others in their modules)."""
    return _demo_parser(prog)


def run(args: argparse.Namespace) -> int:
    """Run `colorize-video demo`."""
    return _run_demo(args)


def _load_subcommand(name: str):
    import importlib

    module = importlib.import_module(SUBCOMMANDS[name])
    return module.build_parser, module.run


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(
        level=level, format="colorize-video: %(levelname)s: %(message)s", stream=sys.stderr
    )
    # Third-party chatter (PyAV/ffmpeg) stays at warnings unless -v.
    if not args.verbose:
        logging.getLogger("libav").setLevel(logging.ERROR)
        from .io.images import quiet_opencv

        quiet_opencv()


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def _stop_signals_interrupt():
    """While inside: SIGTERM and SIGHUP raise :class:`Stopped` in the main thread."""
    names = ("SIGTERM", "SIGHUP")
    previous = {}
    try:
        for name in names:
            if hasattr(signal, name):
                sig = getattr(signal, name)
                previous[sig] = signal.signal(sig, _raise_stopped)
    except ValueError:  # not the main thread (main() called from a library's thread)
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _join_negative_pins(argv: list[str]) -> list[str]:
    """``--ref -1:key.png`` as ``--ref=-1:key.png``: argparse reads a value that starts
    with a dash as an option; this way the pin gets its own message."""
    out: list[str] = []
    for a in argv:
        if out and out[-1] == "--ref" and re.match(r"-\d+:", a):
            out[-1] = f"--ref={a}"
        else:
            out.append(a)
    return out


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (a BrokenPipeError from
    elsewhere, with stdout piped to `tee`, is a failure like any other)."""
    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        return any(event & select.POLLERR for _, event in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # closed, replaced, no fd, no poll
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `colorize-video`; returns the exit code."""
    argv = _join_negative_pins(list(sys.argv[1:] if argv is None else argv))
    first = argv[0] if argv else None
    # The bare word is always the command; a cut of that name is written ./demo or
    # demo/. (Letting a path win made a stray folder silently hide a command.)
    if first in SUBCOMMANDS:
        if os.path.lexists(first):
            kind = "folder" if Path(first).is_dir() else "file"
            # Printed, not logged: logging is set up from the arguments, and --help
            # or a usage error ends the run before that.
            print(
                f"colorize-video: WARNING: {first!r} runs the {first} command rather than "
                f"colouring the {kind} ./{first} here; write ./{first} to colour it",
                file=sys.stderr,
            )
        make_parser, command = _load_subcommand(first)
        args = make_parser(f"colorize-video {first}").parse_args(argv[1:])
    else:
        args = _colour_parser().parse_args(argv)
        command = _run_colour
    _setup_logging(args)
    try:
        with _stop_signals_interrupt():
            code = command(args)
            sys.stdout.flush()  # a reader gone shows here, not as Python's exit noise
            return code
    except (CelcolorError, KeyboardInterrupt, Exception) as e:
        if isinstance(e, BrokenPipeError) and _stdout_reader_gone():
            # What it printed went to a reader that stopped (`--dry-run | head -1`):
            # end quietly, as a command killed by SIGPIPE does. Later writes to the
            # closed pipe (the flush of stdout at exit) go nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 128 + int(signal.SIGPIPE)
        if args.verbose and not isinstance(e, CelcolorError | KeyboardInterrupt):
            traceback.print_exc()  # a bug: one line by default, the traceback with -v
        line, code = error_line(e, args.verbose)
        print(f"colorize-video: {line}", file=sys.stderr)
        return code if code is not None else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main"]
