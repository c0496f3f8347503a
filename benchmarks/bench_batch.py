"""Batch throughput: cuts per minute for 1 and 2 local workers, and the per-cut overhead.

    python benchmarks/bench_batch.py                       # 12 cuts of 640x360x48, workers 1 and 2
    python benchmarks/bench_batch.py --workers 1 2 4 --repeat 3 --json out.json

A fixed batch of generated cuts (``--cuts``, seeds 100.., half videos in folders, half
folders of PNG frames, each with its reference inside) is coloured with
:func:`celcolor.engine.batch.run_batch` into a fresh output folder per run, with the
default encode settings (libx264, preset medium, crf 18). Per configuration, the best
of ``--repeat`` runs by wall time is reported:

- wall: the whole run as a caller sees it (planning and fingerprints, worker start-up,
  every cut, the manifest and the report); cuts/min and frames/s follow from it.
- start-up: starting the worker processes and preparing them (imports), once per run.
- engine: mean time per cut inside ``colorize_video`` (decode, colour and encode,
  reference and writer set-up) as measured in the worker.
- overhead: mean per cut of (time from handing the cut to a worker until its manifest
  entry is written) minus the engine time: transfer to the worker, frame staging,
  the output checksum, the result's way back and the manifest write. Workers are
  warm by then (start-up is not in it).
- plan: finding the cuts and fingerprinting their inputs, per cut.

A last row times a rerun over the finished batch, in which every cut is skipped.
The interpreter's own start (~0.5 s for ``colorize-video``) is not in these numbers.
Prints a markdown table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine.batch import BatchOptions, BatchReport, run_batch
from celcolor.engine.executors import ExecutorConfig, cpu_count


def make_batch(root: Path, cuts: int, width: int, height: int, frames: int) -> Path:
    """``cuts`` generated cuts under ``root/cuts`` (made once; reused when present)."""
    tree = root / f"cuts_{cuts}x{width}x{height}x{frames}"
    done = tree / ".complete"
    if done.exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    for i in range(cuts):
        spec = CutSpec(width=width, height=height, num_frames=frames, seed=100 + i)
        made = write_cut(spec, root / "gen" / f"g{i}", video=True, overwrite=True)
        cut = tree / f"sc{i // 4:02d}" / f"c{i:03d}"
        if i % 2 == 0:
            cut.mkdir(parents=True)
            shutil.copy(made["sketch_video"], cut / "sketch.mp4")
        else:
            shutil.copytree(made["sketch_dir"], cut)
        shutil.copy(made["reference"], cut / "ref.png")
    shutil.rmtree(root / "gen")
    done.write_text("")
    return tree


def run_once(tree: Path, out: Path, workers: int) -> tuple[float, BatchReport]:
    shutil.rmtree(out, ignore_errors=True)
    opts = BatchOptions(tree, out, run=ExecutorConfig(workers=workers))
    t0 = time.perf_counter()
    report = run_batch(opts)
    wall = time.perf_counter() - t0
    if report.exit_code != 0:
        failed = [o for o in report.outcomes if o.status != "done"]
        raise SystemExit(f"a cut failed: {failed[0].name}: {failed[0].error}")
    return wall, report


def summarise(workers: int, wall: float, report: BatchReport) -> dict:
    ran = [o for o in report.outcomes if o.status == "done"]
    frames = sum(o.frames for o in ran)
    n = len(report.outcomes)
    return {
        "workers": workers,
        "threads_per_worker": ExecutorConfig(workers=workers).threads_per_worker()
        if workers
        else None,
        "cuts": n,
        "frames": frames,
        "wall_s": round(wall, 3),
        "cuts_per_min": round(n / wall * 60, 2),
        "frames_per_s": round(frames / wall, 2),
        "startup_s": round(report.startup_seconds, 3),
        "engine_s_per_cut": round(statistics.mean(o.seconds for o in ran), 3) if ran else 0.0,
        "overhead_s_per_cut": round(statistics.mean(o.overhead_seconds for o in ran), 4)
        if ran
        else 0.0,
        "overhead_s_max": round(max(o.overhead_seconds for o in ran), 4) if ran else 0.0,
        # overhead split: in the worker (frame staging, output checksum) and outside it
        # (the job's way to the worker and back, the manifest write)
        "overhead_in_worker_s_per_cut": round(
            statistics.mean(o.worker_seconds - o.seconds for o in ran), 4
        )
        if ran
        else 0.0,
        "plan_s_per_cut": round(report.plan_seconds / n, 4),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cuts", type=int, default=12)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=2, help="runs per configuration (best kept)")
    p.add_argument("--work", type=Path, default=None, help="folder for inputs and outputs")
    p.add_argument("--json", type=Path, default=Path("bench_batch.json"), help="JSON output")
    args = p.parse_args(argv)

    work = args.work or Path(tempfile.gettempdir()) / "celcolor-bench-batch"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tree = make_batch(work, args.cuts, args.width, args.height, args.frames)
    print(f"batch: {tree} (made or found in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    rows = []
    for workers in args.workers:
        best: tuple[float, BatchReport] | None = None
        for r in range(args.repeat):
            wall, report = run_once(tree, work / "out", workers)
            print(f"workers={workers} run {r + 1}: {wall:.2f} s", file=sys.stderr)
            if best is None or wall < best[0]:
                best = (wall, report)
        assert best is not None
        rows.append(summarise(workers, *best))
    # A rerun over the finished batch: every cut is skipped.
    t0 = time.perf_counter()
    rerun = run_batch(BatchOptions(tree, work / "out", run=ExecutorConfig(workers=1)))
    rerun_s = time.perf_counter() - t0
    assert all(o.status == "skipped" for o in rerun.outcomes)

    result = {
        "batch": {
            "cuts": args.cuts,
            "size": [args.width, args.height],
            "frames_per_cut": args.frames,
            "layout": "half videos (h264) in folders, half PNG frame folders; ref.png inside",
            "encode": "libx264 preset medium crf 18 (video cuts); PNG folders (frame cuts)",
        },
        "machine": {
            "cpus": cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "runs": rows,
        "rerun_all_skipped_s": round(rerun_s, 3),
        "command": " ".join(["python", "benchmarks/bench_batch.py", *(argv or sys.argv[1:])]),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"{args.cuts} cuts of {args.width}x{args.height}x{args.frames} on {cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}):\n"
    )
    print(
        "| workers | threads each | wall (s) | cuts/min | frames/s | start-up (s) | "
        "engine per cut (s) | overhead per cut (s) | plan per cut (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']} | {r['threads_per_worker']} | {r['wall_s']:.1f} | "
            f"{r['cuts_per_min']:.1f} | {r['frames_per_s']:.1f} | {r['startup_s']:.2f} | "
            f"{r['engine_s_per_cut']:.2f} | {r['overhead_s_per_cut']:.3f} "
            f"(max {r['overhead_s_max']:.3f}) | {r['plan_s_per_cut']:.4f} |"
        )
    print(f"\nrerun with every cut done (all skipped): {rerun_s:.2f} s")
    print(f"JSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
