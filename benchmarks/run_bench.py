"""The full benchmark: synthetic suite, speed, memory, and the real suites when present.

    python benchmarks/run_bench.py                                  # everything, into report/bench/
    python benchmarks/run_bench.py --overwrite --update-readme README.md
    python benchmarks/run_bench.py -o /tmp/bench --quick --no-real  # a smoke run

Writes ``report.json``, ``report.md``, ``README_table.md``, plots and contact sheets
into the output folder (default ``report/bench/`` in the repository, which git ignores;
see benchmarks/README.md for what each file holds).
With ``--update-readme FILE`` the text between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` in FILE is replaced by ``README_table.md``.

The real suites come from the development data (``--data``, default ``$CELCOLOR_DATA``
or ``../shared/data`` beside the repository; see that folder's README.md). They are
used only when present, and reported in their own tables, never mixed with the
synthetic ones. Contact sheets of real clips show copyrighted frames: keep the
report folder out of the repository (``report/`` is in .gitignore).

Settings of the full run (each can be changed below or on the command line):
synthetic suite of the 6 presets at 640x360 and 1280x720, 24 frames per cut; real
clips capped at 48 frames from their start and cut at their first shot change; speed
at 640x360, 1280x720 and 1920x1080 with 48-frame cuts; memory with 100- and 1000-frame
1280x720 cuts, each in a fresh process.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from celcolor.bench import BenchConfig, Clip, LineartCut, run_bench, write_report
from celcolor.bench.cases import MIN_CLIP_FRAMES
from celcolor.bench.methods import engine_method, register_method, unregister_method
from celcolor.bench.report import check_report_folder, readme_markdown
from celcolor.errors import CelcolorError
from celcolor.progress import progress_bar

log = logging.getLogger("run_bench")

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# Rough line-art (genga) clips of the Sakuga set, named in the data README: not colour.
# (The bench's own colour check would skip most of them too; naming them keeps the
# suite the same whatever that check decides.)
SAKUGA_LINE_ART = ("rough", "undead_unluck", "ekubo", "44449", "198723", "33379")


def default_data() -> Path:
    env = os.environ.get("CELCOLOR_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def colour_clips(data: Path) -> list[Clip]:
    """The first-frame suite: real colour clips (colour half of side-by-side clips)."""
    clips: list[Clip] = []
    sakuga = data / "KytraScript+SakugaDataset"
    for folder in ("assets/gif", "assets/gif_taxonomy"):
        for gif in sorted((sakuga / folder).glob("*.gif")):
            if not gif.stem.startswith(SAKUGA_LINE_ART):
                clips.append(Clip(gif))
    for video in (
        sakuga / "download" / "download" / "140633.mp4",
        data / "xinntao+Real-ESRGAN" / "inputs" / "video" / "onepiece_demo.mp4",
    ):
        if video.is_file():
            clips.append(Clip(video))
    # Anime2Sketch demos: [colour | extracted sketch] side by side, 640x360 each.
    for gif in sorted((data / "Mukosame+Anime2Sketch" / "demos").glob("vinland_*.gif")):
        clips.append(Clip(gif, name=f"{gif.stem}-colour", crop=(0, 0, 640, 360)))
    return clips


def needed_clips(script: str, data: Path | None) -> tuple[Path, list[Clip]]:
    """The development data (``data`` or the default) and its colour clips; a script that
    needs them exits with one line when there are none."""
    data = data or default_data()
    clips = colour_clips(data) if data.is_dir() else []
    if not clips:
        sys.exit(f"{script}: no real clips under {data} (this benchmark needs them)")
    return data, clips


def add_min_real_frames(parser: argparse.ArgumentParser) -> None:
    """``--min-real-frames N``: a long-cut run scores only the real shots that long."""

    def at_least_two(text: str) -> int:
        if not text.strip().isdigit() or int(text) < 2:
            raise argparse.ArgumentTypeError(f"must be a whole number of 2 or more, got {text!r}")
        return int(text)

    parser.add_argument(
        "--min-real-frames",
        type=at_least_two,
        default=MIN_CLIP_FRAMES,
        metavar="N",
        help="score only real clips with at least N frames in their first shot (a long-cut "
        "run: with a frame cap above the clips' length, each shot whole; default "
        f"{MIN_CLIP_FRAMES}, the protocol's own)",
    )


def lineart_truth_clips(data: Path) -> list[Clip]:
    """Real line art with its colour truth: the Anime2Sketch demos' two halves.

    Anime2Sketch (a learned extractor) drew the sketch half from the colour half, frame
    for frame: the nearest thing here to an animator's clean line art with the
    finished frames beside it. Not in :func:`colour_clips` (whose Vinland rows are the
    colour halves sketched by XDoG), so the first-frame suite's figures stay as they were.
    """
    return [
        Clip(
            gif,
            name=f"{gif.stem}-lineart",
            crop=(0, 0, 640, 360),
            sketch_crop=(640, 0, 640, 360),
        )
        for gif in sorted((data / "Mukosame+Anime2Sketch" / "demos").glob("vinland_*.gif"))
    ]


def real_suites(data: Path, script: str) -> dict[str, list[Clip]]:
    """The two real suites with colour truth, ``{"xdog": ..., "lineart": ...}``; exits
    with one line naming ``script`` when the XDoG suite's clips are not under ``data``."""
    suites = {"xdog": colour_clips(data), "lineart": lineart_truth_clips(data)}
    if not data.is_dir() or not suites["xdog"]:
        sys.exit(f"{script}: no real clips under {data} (this benchmark needs them)")
    return suites


def lineart_cuts(data: Path) -> list[LineartCut]:
    """The lineart suite: real line-art videos with a colour reference."""
    cuts: list[LineartCut] = []
    ac = data / "IamCreateAI+AnimeColor" / "example"
    for sketch in sorted((ac / "sketch").glob("*.mp4"), key=lambda p: int(p.stem)):
        ref = ac / "reference" / f"{sketch.stem}.png"
        if ref.is_file():
            cuts.append(LineartCut(sketch, ref, name=f"animecolor-{sketch.stem}"))
    for demo in sorted((data / "IamCreateAI+LayerAnimate" / "__assets__" / "demos").glob("demo_*")):
        sketch, ref = demo / "sketch.mp4", demo / "first_frame.jpg"
        if sketch.is_file() and ref.is_file():
            cuts.append(LineartCut(sketch, ref, name=f"layeranimate-{demo.name}"))
    return cuts


@contextmanager
def module_settings(module: ModuleType, **values: object) -> Iterator[None]:
    """Set ``module``'s attributes (an engine module's knobs or functions, which it
    reads as it runs) to ``values`` for the duration, and put the shipped ones back."""
    shipped = {name: getattr(module, name) for name in values}  # AttributeError on a typo
    for name, value in values.items():
        _check_stand_in(module, name, shipped[name], value)
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in shipped.items():
            setattr(module, name, value)


def _check_stand_in(module: ModuleType, name: str, shipped: object, value: object) -> None:
    """Refuse a stand-in for an engine function that cannot take the calls the engine
    may make: every argument the engine's function takes, positional or keyword-only
    (defaulted ones too: the engine may pass them), must bind to it. Otherwise a
    benchmark's variant fails on every cut and the run ends without its rows
    (ablate_carry's ``smooth_colours`` stand-in after session 45 gave the function a
    fourth argument). Callables without a signature to read are let through."""
    if not (inspect.isfunction(shipped) and callable(value)):
        return
    try:
        takes = inspect.signature(value)
    except (TypeError, ValueError):  # a builtin or C function: nothing to compare
        return
    params = inspect.signature(shipped).parameters.values()
    args = [None for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwargs = {p.name: None for p in params if p.kind == p.KEYWORD_ONLY}
    try:
        takes.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(
            f"the stand-in for {module.__name__}.{name} cannot take its "
            f"{len(args) + len(kwargs)} arguments ({e}); update it to the engine's signature"
        ) from None


@contextmanager
def engine_rows(
    variants: dict[str, dict[str, object]], description: str = "{name}"
) -> Iterator[tuple[str, ...]]:
    """Engine settings (``{row name: ColorizeOptions fields}``) as bench methods for
    the duration, one row each; yields the row names, for ``BenchConfig.methods``."""
    for name, fields in variants.items():
        register_method(engine_method(name, fields, description.format(name=name)))
    try:
        yield tuple(variants)
    finally:
        for name in variants:
            unregister_method(name)


def update_readme(path: Path, text: str) -> None:
    """Replace the text between the bench markers in ``path``."""
    content = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(content):
        raise CelcolorError(f"{path}: no {START} ... {END} markers to replace")
    block = f"{START}\n{text.rstrip()}\n{END}"
    path.write_text(pattern.sub(lambda _: block, content, count=1), encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", type=Path, default=REPO / "report" / "bench")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report there")
    p.add_argument("--data", type=Path, default=None, help="development data folder")
    p.add_argument("--no-real", action="store_true", help="synthetic suite, speed, memory only")
    p.add_argument("--quick", action="store_true", help="small: a smoke run of everything")
    p.add_argument("--update-readme", type=Path, default=None, metavar="FILE")
    p.add_argument("--lpips-weights", type=Path, default=None, metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true")
    return p.parse_args(argv)


def config_for(args: argparse.Namespace, data: Path | None) -> BenchConfig:
    clips = colour_clips(data) if data else []
    cuts = lineart_cuts(data) if data else []
    if args.quick:
        return BenchConfig(
            synthetic_resolutions=((640, 360),),
            synthetic_frames=8,
            clips=clips[:3],
            lineart_cuts=cuts[:2],
            max_frames=16,
            speed_sizes=((640, 360), (1280, 720)),
            speed_frames=8,
            memory_frames=(100, 300),
            memory_size=(640, 360),
            lpips_weights=args.lpips_weights,
        )
    return BenchConfig(
        synthetic_resolutions=((640, 360), (1280, 720)),
        synthetic_frames=24,
        clips=clips,
        lineart_cuts=cuts,
        max_frames=48,
        speed_sizes=((640, 360), (1280, 720), (1920, 1080)),
        speed_frames=48,
        memory_frames=(100, 1000),
        memory_size=(1280, 720),
        lpips_weights=args.lpips_weights,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="run_bench: %(levelname)s: %(message)s",
    )
    logging.getLogger("libav").setLevel(logging.ERROR)
    data = None
    if not args.no_real:
        candidate = args.data or default_data()
        if candidate.is_dir():
            data = candidate
        else:
            log.warning("no development data at %s: real suites skipped", candidate)
    try:
        check_report_folder(args.output, args.overwrite)
        config = config_for(args, data)
        command = " ".join(
            shlex.quote(a) for a in ["python", "benchmarks/run_bench.py", *sys.argv[1:]]
        )

        def progress(desc: str, unit: str):
            return progress_bar(args.quiet, desc, unit)

        report = run_bench(config, output=args.output, command=command, progress=progress)
        report["data"] = str(data) if data else None
        paths = write_report(report, args.output)
        if args.update_readme is not None:
            update_readme(args.update_readme, readme_markdown(report))
            print(f"updated {args.update_readme}")
    except CelcolorError as e:
        print(f"run_bench: error: {e}", file=sys.stderr)
        return e.exit_code
    print(readme_markdown(report))
    for key, path in paths.items():
        print(f"{key}: {path}")
    for failure in report["failures"]:
        log.error("%s", failure)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
