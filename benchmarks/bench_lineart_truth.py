"""Real line art with its colour truth: every in-between method on the Anime2Sketch clips.

    python benchmarks/bench_lineart_truth.py      # about 2 minutes on the 2-core CPU

The first-frame suite sketches finished frames with XDoG, which draws shading edges
and texture no animator draws. The Anime2Sketch demos in ``../shared/data`` show
three Vinland Saga clips side by side with the line art a learned extractor drew
from them, frame for frame: clean, closed where the drawing is, open where the
shading was (:func:`run_bench.lineart_truth_clips`). Here that line art is the input,
frame 0's colour the reference and the colour half the truth, as a user's cut with
a finished keyframe would be. Two suites: each clip cut at its first shot change (the
protocol; one clip has two frames before it and is skipped), and the clips whole (two
shots or more each), where ``--rekey on`` joins the rows.

Writes ``benchmarks/results/lineart_truth.json`` and ``.md`` (the report itself into
``--output``, default ``report/lineart-truth``, not committed: its contact sheets show
copyrighted frames). Needs the development data.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from run_bench import default_data, lineart_truth_clips

from celcolor.bench import BenchConfig, run_bench, write_report
from celcolor.bench.methods import engine_method, register_method, unregister_method

RESULTS = Path(__file__).parent / "results"
# Rows besides the built-ins and the shipped networks: the user's settings that matter
# on real line art.
EXTRA = {
    "classical --snap flat": {"temporal": "classical", "keyframe_mode": "copy", "snap": "flat"},
    "classical --rekey on": {"temporal": "classical", "keyframe_mode": "copy", "rekey": "on"},
}
METHODS = (
    "reference-copy",
    "per-frame",
    "classical",
    "classical --snap flat",
    "model:temporal",
    "model:temporal+classical",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", type=Path, default=Path("report/lineart-truth"))
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="cap per clip")
    args = p.parse_args()
    data = args.data or default_data()
    clips = lineart_truth_clips(data) if data.is_dir() else []
    if not clips:
        sys.exit(f"bench_lineart_truth: no Anime2Sketch clips under {data} (it needs them)")
    for name, fields in EXTRA.items():
        register_method(engine_method(name, fields, f"classical propagation, {name[10:]}"))
    command = "python " + shlex.join(["benchmarks/bench_lineart_truth.py", *sys.argv[1:]])
    t0 = time.perf_counter()
    tables = {}
    try:
        for suite, whole in (("first shot", False), ("whole clips", True)):
            methods = (*METHODS, "classical --rekey on") if whole else METHODS
            config = BenchConfig(
                synthetic=False, clips=clips, max_frames=args.frames,
                first_frame_lines=("fill", "auto"), lvcd_size=False, methods=methods,
                speed=False, memory=False, cut_at_shot_change=not whole,
            )  # fmt: skip
            out = args.output / suite.replace(" ", "-")
            report = run_bench(config, output=out, command=command)
            paths = write_report(report, out)
            tables[suite] = Path(paths["markdown"]).read_text()
            print(f"{suite}: {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        for name in EXTRA:
            unregister_method(name)
    RESULTS.mkdir(exist_ok=True)
    text = "".join(f"# {suite}\n\n{table}\n" for suite, table in tables.items())
    (RESULTS / "lineart_truth.md").write_text(text)
    (RESULTS / "lineart_truth.json").write_text(
        json.dumps({"seconds": round(time.perf_counter() - t0, 1), "command": command})
    )
    print(text)


if __name__ == "__main__":
    main()
