"""Classical propagation with and without the exemplar network filling unconfident regions.

    python benchmarks/bench_fills.py                  # shipped exemplar weights
    python benchmarks/bench_fills.py --checkpoint runs/exemplar/best.safetensors

Regions that propagation has no confident vote for (new after an occlusion) take the
vote of whatever lands in them; when the user asks for the exemplar network
(``--keyframe-mode network`` or ``--checkpoint``) and such regions cover more than
0.5% of a frame, the network colours them instead. This measures whether that
should also happen in auto mode: one run of ``colorize-video bench`` with the two
settings side by side (keyframes copied in both: the reference is the keyframe's own
colour), on the synthetic presets (640x360, 48 frames) and the real first-frame
suite when present (``--lines fill``). Tables into ``benchmarks/results/fills.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from run_bench import colour_clips, default_data

from celcolor.bench import BenchConfig, Method, register_method, run_bench, write_report
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.models.records import WEIGHTS_DIR

RESULTS = Path(__file__).parent / "results"


def fills_method(checkpoint: Path) -> Method:
    """Classical propagation, the exemplar network colouring its unconfident regions."""

    def options(s) -> ColorizeOptions:
        return ColorizeOptions(
            ref_frame=s.ref_frame,
            lines=s.lines,
            device=s.device,
            temporal="classical",
            checkpoint=str(checkpoint),  # a checkpoint the user names turns the fills on
        )

    return Method(
        name="classical+exemplar-fills",
        description="classical propagation, the exemplar network for unconfident regions",
        build=lambda reference, s: Colorizer(reference, options(s)),
        engine_options=options,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, default=Path("report/fills"))
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--checkpoint", type=Path, default=WEIGHTS_DIR / "exemplar.safetensors")
    p.add_argument("--no-real", action="store_true")
    args = p.parse_args()
    data = args.data or default_data()
    clips = [] if args.no_real or not data.is_dir() else colour_clips(data)
    register_method(fills_method(args.checkpoint))
    config = BenchConfig(
        synthetic_resolutions=((640, 360),),
        synthetic_frames=48,
        clips=clips,
        max_frames=24,
        first_frame_lines=("fill",),
        lvcd_size=False,
        methods=("classical", "classical+exemplar-fills"),
        speed=False,
        memory=False,
    )
    command = "python " + shlex.join(["benchmarks/bench_fills.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    report = run_bench(config, output=args.output, command=command)
    paths = write_report(report, args.output, plots=False)
    RESULTS.mkdir(exist_ok=True)
    table = Path(paths["markdown"]).read_text()
    (RESULTS / "fills.md").write_text(table)
    print(table)
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
