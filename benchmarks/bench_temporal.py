"""The temporal network against the per-frame exemplar network and classical propagation.

    python benchmarks/bench_temporal.py                  # shipped weights, into report/temporal/
    python benchmarks/bench_temporal.py --checkpoint temporal=runs/temporal/best.safetensors
    python benchmarks/bench_temporal.py --no-real --frames 12 --size 1280x720 \
        --long-side 0 --long-side 640 --long-side 960 \
        --no-baselines \
        --results benchmarks/results/temporal_sizes -o report/temporal-sizes

One run of ``colorize-video bench`` (celcolor.bench) with four methods side by side:
``model:exemplar`` (the pretrained network colouring every frame from the reference,
no temporal input), ``classical`` (flow propagation, region snap),
``model:temporal`` (the fine-tuned network on every in-between, the keyframe copied
as classical has it), ``model:temporal@frame-size`` (the same at the frame's own size
instead of its training scale: ``--temporal-long-side 0``; ``--long-side`` adds
rows at other sizes) and
``model:temporal+classical`` (classical propagation where its vote is confident, the
temporal network for the rest). Suites: the synthetic
presets at 640x360 with 48 frames each (where drift accumulates), and the real
first-frame suite (colour clips of ``../shared/data``, XDoG sketches, frame 0 as the
reference, up to 24 frames) when present. Metrics: TC, E_warp, CDC, PSNR, SSIM,
LPIPS (when AlexNet weights are present), region accuracy,
fps; plots of PSNR per frame over time for every method (``plots/``).

Writes the report into ``--output`` (default ``report/temporal``, not committed) and its
tables into ``benchmarks/results/temporal.md`` (and the full JSON beside it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from bench_engine import frame_size_arg
from run_bench import colour_clips, default_data

from celcolor.bench import BenchConfig, run_bench, write_report
from celcolor.bench.methods import engine_method, register_method

RESULTS = Path(__file__).parent / "results"
FRAME_SIZE = "model:temporal@frame-size"


def long_side_row(side: int) -> str:
    """The method name of the temporal network at working long side ``side`` (0: frame)."""
    return FRAME_SIZE if side == 0 else f"model:temporal@{side}"


def register_long_side(side: int, checkpoint: str | None) -> str:
    """Register the temporal network on every in-between at ``side``; returns its name."""
    fields = {
        "keyframe_mode": "copy",
        "temporal": "network-only",
        "temporal_long_side": side,
        "temporal_checkpoint": checkpoint,
    }
    where = checkpoint or "the shipped weights"
    size = "the frame's own size" if side == 0 else f"long side {side}"
    description = f"temporal network ({where}) at {size}, every in-between"
    register_method(engine_method(long_side_row(side), fields, description))
    return long_side_row(side)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, default=Path("report/temporal"))
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="frames per generated cut")
    p.add_argument("--real-frames", type=int, default=24, help="cap per real clip")
    p.add_argument("--no-real", action="store_true")
    p.add_argument("--checkpoint", action="append", default=[], metavar="MODEL=PATH")
    p.add_argument(
        "--size",
        type=frame_size_arg,
        action="append",
        default=None,
        metavar="WxH",
        help="generated cut size (repeatable; default 640x360)",
    )
    p.add_argument(
        "--long-side",
        type=int,
        action="append",
        default=None,
        metavar="PX",
        help="add a row of the temporal network at this working long side (repeatable; "
        "0: the frame's own size; default: 0)",
    )
    p.add_argument(
        "--no-baselines",
        action="store_true",
        help="leave out model:exemplar and model:temporal+classical (the slow per-frame row)",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="folder for temporal.md / temporal.json (default benchmarks/results)",
    )
    args = p.parse_args()
    checkpoints = dict(c.split("=", 1) for c in args.checkpoint)
    sides = [register_long_side(s, checkpoints.get("temporal")) for s in args.long_side or [0]]
    methods = ("classical", "model:temporal", *sides)
    if not args.no_baselines:
        methods = ("model:exemplar", *methods, "model:temporal+classical")
    data = args.data or default_data()
    clips = [] if args.no_real or not data.is_dir() else colour_clips(data)
    config = BenchConfig(
        synthetic_resolutions=tuple(args.size or [(640, 360)]),
        synthetic_frames=args.frames,
        clips=clips,
        max_frames=args.real_frames,
        first_frame_lines=("fill",),
        lvcd_size=False,
        methods=methods,
        checkpoints=checkpoints,
        speed=False,
        memory=False,
    )
    command = "python " + shlex.join(["benchmarks/bench_temporal.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    report = run_bench(config, output=args.output, command=command)
    paths = write_report(report, args.output)
    args.results.mkdir(parents=True, exist_ok=True)
    table = Path(paths["markdown"]).read_text()
    (args.results / "temporal.md").write_text(table)
    (args.results / "temporal.json").write_text(
        json.dumps({"seconds": round(time.perf_counter() - t0, 1), "report": str(paths["json"])})
    )
    print(table)


if __name__ == "__main__":
    main()
