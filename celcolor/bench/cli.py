"""`colorize-video bench`: flicker, quality and speed of every method, side by side.

    colorize-video bench                                     # synthetic suite, table on stdout
    colorize-video bench clips/ --protocol first-frame -o report/
    colorize-video bench cuts/ --protocol lineart -o report/

Exit codes: 0 success, 1 a method failed on some cut (the report is still written)
or a bad input, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
from pathlib import Path

from ..engine.arguments import OneLineParser
from ..errors import UsageError
from ..progress import progress_bar
from .cases import PROTOCOLS, discover_clips, discover_lineart_cuts
from .methods import get_methods, list_methods
from .runner import BenchConfig, run_bench

log = logging.getLogger("celcolor.bench")

# --quick: the same protocols, smaller (about a minute and a half on 2 cores).
QUICK = {
    "synthetic_resolutions": ((640, 360),),
    "synthetic_frames": 8,
    "max_frames": 16,
    "speed_sizes": ((640, 360), (1280, 720), (1920, 1080)),
    "speed_frames": 8,
    "memory_frames": (100, 300),
    "memory_size": (640, 360),
}


# Benchmark frames beyond this side would take tens of gigabytes to generate and score.
_MAX_SIDE = 8192


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if max(w, h) > _MAX_SIDE:
        raise argparse.ArgumentTypeError(f"{text}: at most {_MAX_SIDE} pixels a side")
    return w, h


def _once_each(items: tuple, text: str) -> tuple:
    """``items`` parsed from ``text``, refused when one is listed twice (a method or a
    size run twice would double the run's time and list its rows twice)."""
    seen = set()
    for item in items:
        if item in seen:
            shown = "x".join(map(str, item)) if isinstance(item, tuple) else item
            raise argparse.ArgumentTypeError(f"{text!r} lists {shown} twice")
        seen.add(item)
    return items


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    sizes = tuple(_size(t) for t in text.split(",") if t.strip())
    if not sizes:
        raise argparse.ArgumentTypeError("expected one or more WIDTHxHEIGHT split by commas")
    return _once_each(sizes, text)


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers split by commas: {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected one or more numbers split by commas")
    return _once_each(values, text)


def _checkpoint(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected MODEL=PATH, got {text!r}")
    return name.strip(), path.strip()


def _names(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected one or more names split by commas")
    return _once_each(names, text)


def build_parser(prog: str = "colorize-video bench") -> OneLineParser:
    """The parser of `colorize-video bench`."""
    p = OneLineParser(
        prog=prog,
        description="Benchmark every colouring method side by side: temporal flicker "
        "(E_warp, TC, CDC), quality (PSNR, SSIM, LPIPS, region accuracy) and speed. "
        "Without INPUT: the built-in synthetic suite, with speed and memory runs.",
        epilog="Line-art cuts (--protocol lineart): INPUT/<cut>/sketch.mp4 (or sketch/ "
        "frames) with INPUT/<cut>/reference.png; or INPUT/sketch/<name>.mp4 with "
        "INPUT/reference/<name>.png; or INPUT/<name>.mp4 with INPUT/<name>.png. "
        "Colour clips (--protocol first-frame): a video, or a folder of videos and frame "
        "folders (sketched by XDoG), and of INPUT/<clip>/colour.mp4 (or colour/ frames) "
        "with its own line art INPUT/<clip>/sketch.mp4 (or sketch/ frames), frame for frame.",
    )
    p.add_argument(
        "input",
        nargs="?",
        type=Path,
        default=None,
        help="colour clips (first-frame) or line-art cuts (lineart); none: synthetic suite",
    )
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=None,
        help="synthetic (default without INPUT), first-frame (colour clips; LVCD's "
        "protocol) or lineart (line-art cuts with a reference, no ground truth)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="report folder (JSON, markdown, plots, contact sheets); none: tables on stdout",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report there")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smaller run: synthetic 640x360 only, 8 frames; memory 100 and 300 frames",
    )
    p.add_argument(
        "--methods", type=_names, default=None, help="comma-separated methods (default: all)"
    )
    p.add_argument("--list-methods", action="store_true", help="list the methods and stop")
    p.add_argument(
        "--checkpoint",
        action="append",
        type=_checkpoint,
        default=None,
        metavar="MODEL=PATH",
        help="weights for a registered model without shipped ones (repeatable)",
    )
    g = p.add_argument_group("suites")
    g.add_argument(
        "--frames",
        type=int,
        default=None,
        metavar="N",
        help="frames per synthetic cut (default 12) and cap per real clip (default 48)",
    )
    g.add_argument(
        "--resolutions",
        type=_sizes,
        default=None,
        metavar="WxH,...",
        help="synthetic suite sizes (default 640x360,1280x720)",
    )
    g.add_argument("--presets", type=_names, default=None, help="synthetic presets (default: all)")
    g.add_argument(
        "--no-lvcd-size",
        action="store_true",
        help="first-frame: skip the second scoring at LVCD's 256x256",
    )
    g.add_argument(
        "--whole-clips",
        action="store_true",
        help="first-frame: do not cut clips at their first shot change (several shots go "
        "through as one cut, as a sequence handed over whole would)",
    )
    s = p.add_argument_group("speed and memory")
    s.add_argument(
        "--speed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="file-to-file speed at several sizes (default: on for synthetic only)",
    )
    s.add_argument(
        "--speed-sizes",
        type=_sizes,
        default=None,
        metavar="WxH,...",
        help="default 640x360,1280x720,1920x1080",
    )
    s.add_argument("--speed-frames", type=int, default=None, metavar="N", help="default 24")
    s.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="peak RSS of colorize-video on cuts of growing length (default: on for synthetic)",
    )
    s.add_argument(
        "--memory-frames",
        type=_ints,
        default=None,
        metavar="N,N",
        help="cut lengths (default 100,1000)",
    )
    s.add_argument(
        "--memory-size",
        type=_size,
        default=None,
        metavar="WxH",
        help="default 640x360",
    )
    m = p.add_argument_group("metrics")
    m.add_argument(
        "--metric-flow",
        choices=("dis", "raft"),
        default="dis",
        help="flow estimator of E_warp/TC (dis: OpenCV DIS 'medium'; raft needs weights)",
    )
    m.add_argument("--flow-weights", type=Path, default=None, metavar="PATH", help="RAFT weights")
    m.add_argument(
        "--ssim",
        choices=("opencv", "kornia"),
        default="opencv",
        help="SSIM implementation: opencv (equal to celcolor.metrics.ssim, 5x faster) or kornia",
    )
    m.add_argument(
        "--lpips-weights",
        type=Path,
        default=None,
        metavar="PATH",
        help="torchvision AlexNet weights for LPIPS (default: torch's cache; else n/a)",
    )
    m.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--dry-run", action="store_true", help="print the resolved settings and stop")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="more logging; tracebacks on errors"
    )
    return p


def _checkpoints(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    from ..models.registry import read_metadata

    out = {}
    for name, path in pairs or []:
        if not Path(path).is_file():
            raise UsageError(f"--checkpoint {name}={path}: no such file")
        kind = read_metadata(Path(path)).get("name")
        if kind != name:  # found now, not as a failure on every cut
            raise UsageError(
                f"--checkpoint {name}={path}: weights of the {kind or 'unnamed'} model, not {name}"
            )
        out[name] = path
    return out


def config_from(args: argparse.Namespace) -> BenchConfig:
    """The :class:`BenchConfig` a command line asks for."""
    protocol = args.protocol or ("synthetic" if args.input is None else None)
    if protocol is None:
        raise UsageError(
            f"say what {args.input} holds: --protocol first-frame (colour clips) or "
            "--protocol lineart (line-art cuts with a reference)"
        )
    if protocol == "synthetic" and args.input is not None:
        raise UsageError("the synthetic protocol takes no INPUT (it generates its cuts)")
    if protocol != "synthetic" and args.input is None:
        raise UsageError(f"--protocol {protocol} needs an INPUT folder")
    fields: dict = dict(QUICK) if args.quick else {}
    fields["synthetic"] = protocol == "synthetic"
    if protocol == "first-frame":
        fields["clips"] = discover_clips(args.input)
    if protocol == "lineart":
        fields["lineart_cuts"] = discover_lineart_cuts(args.input)
    synthetic = protocol == "synthetic"
    fields["speed"] = synthetic if args.speed is None else args.speed
    fields["memory"] = synthetic if args.memory is None else args.memory
    if args.frames is not None:
        fields["synthetic_frames"] = fields["max_frames"] = args.frames
    for name in ("resolutions", "presets", "speed_sizes", "speed_frames", "memory_frames"):
        value = getattr(args, name)
        if value is not None:
            fields["synthetic_resolutions" if name == "resolutions" else name] = value
    if args.memory_size is not None:
        fields["memory_size"] = args.memory_size
    return BenchConfig(
        **fields,
        lvcd_size=not args.no_lvcd_size,
        cut_at_shot_change=not args.whole_clips,
        methods=args.methods,
        checkpoints=_checkpoints(args.checkpoint),
        metric_flow=args.metric_flow,
        ssim=args.ssim,
        flow_weights=args.flow_weights,
        lpips_weights=args.lpips_weights,
        device=args.device,
    )


def command_line(args: argparse.Namespace) -> str:
    """The command line of this run, in canonical form (flags that differ from defaults)."""
    defaults = vars(build_parser().parse_args([]))
    parts = ["colorize-video", "bench"]
    if args.input is not None:
        parts.append(str(args.input))
    for key, value in vars(args).items():
        if key in ("input", "quiet", "verbose", "overwrite") or value == defaults.get(key):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif value is False:
            parts.append(f"--no-{key.replace('_', '-')}")
        elif key == "checkpoint":
            for name, path in value:
                parts += [flag, f"{name}={path}"]
        elif key == "memory_size":
            parts += [flag, "x".join(map(str, value))]
        elif isinstance(value, tuple):
            items = ["x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value]
            parts += [flag, ",".join(items)]
        else:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def _progress(quiet: bool):
    def make(desc: str, unit: str):
        return progress_bar(quiet, desc, unit)

    return make


def run(args: argparse.Namespace) -> int:
    """Run `colorize-video bench`; returns the exit code."""
    from .report import check_report_folder, headline_markdown, write_report
    from .report import markdown as full_markdown

    if args.list_methods:
        for m in list_methods(_checkpoints(args.checkpoint)):
            state = "" if m.available else f"  [unavailable: {m.reason}]"
            print(f"{m.name:<16} {m.description}{state}")
        return 0
    config = config_from(args)
    methods = get_methods(config.methods, config.checkpoints)  # unknown names fail now
    if not any(m.available for m in methods):
        why = "; ".join(f"{m.name}: {m.reason}" for m in methods)
        raise UsageError(f"none of the methods asked for can run ({why})")
    if args.dry_run:
        print(json.dumps(config.as_dict(), indent=2, default=str))
        return 0
    made = args.output is not None and not args.output.exists()
    if args.output is not None:
        check_report_folder(args.output, args.overwrite)
    command = command_line(args)
    try:
        report = run_bench(
            config, output=args.output, command=command, progress=_progress(args.quiet)
        )
    except BaseException:
        if made:  # a folder this run made holds nothing but its partial contact sheets
            shutil.rmtree(args.output, ignore_errors=True)
        raise
    if args.output is not None:
        paths = write_report(report, args.output)
        print(headline_markdown(report))
        for key, path in paths.items():
            print(f"{key}: {path}")
    else:
        print(full_markdown(report))
    for failure in report["failures"]:
        log.error("%s", failure)
    protocols = report["protocols"].values()
    skipped = [s for p in protocols for s in p.get("skipped", [])]
    if skipped:
        log.warning(
            "%d input%s not scored (%s: %s%s)",
            len(skipped),
            "" if len(skipped) == 1 else "s",
            skipped[0]["name"],
            skipped[0]["reason"],
            "; see 'Skipped inputs' in the report" if len(skipped) > 1 else "",
        )
    if not any(p.get("cases") for p in protocols):
        log.error("no cut or clip could be scored")
        return 1
    return 1 if report["failures"] else 0
