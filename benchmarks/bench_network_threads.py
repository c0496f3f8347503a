"""The temporal network's frame time at several torch threads, with torch's worker
threads started flushing denormals (the engine's way since session 38) or not.

    python benchmarks/bench_network_threads.py            # ~2 minutes on 2 cores
    python benchmarks/bench_network_threads.py --threads 1 --threads 2 --threads 4

A generated 1280x720 cut is coloured once with ``--temporal network-only`` to record
what the network is given for its in-betweens (the ink and the warped guides). Then,
for each thread count and each way, a fresh process (a process has one pool of torch
workers, started once) times ``NetworkColourer.predict`` on those inputs, three
passes, and hashes its outputs: the ways must agree to the bit. The engine's own runs
keep one core for decoding and encoding (torch threads: cores minus one), so a
machine with N cores runs the network at N-1 threads.

Writes ``benchmarks/results/network_threads.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celcolor.bench.environment import environment
from celcolor.data.synthetic import CutSpec, write_cut

RESULTS = Path(__file__).parent / "results"
SPEC = CutSpec(width=1280, height=720, num_frames=14, seed=11)


def record_inputs(work: Path) -> tuple[Path, Path]:
    """Colour the cut once; save every in-between's ``predict`` inputs. Returns the
    pickle and the reference."""
    import celcolor.engine.network as network
    from celcolor.engine import ColorizeOptions, EncodeOptions, colorize_video

    paths = write_cut(SPEC, work / "cut", video=True, overwrite=True)
    calls = []
    predict = network.NetworkColourer.predict

    def recording(self, ink, guide=None):
        calls.append((ink.copy(), None if guide is None else guide.copy()))
        return predict(self, ink, guide)

    network.NetworkColourer.predict = recording
    try:
        colorize_video(
            paths["sketch_video"],
            paths["reference"],
            work / "out.mkv",
            options=ColorizeOptions(
                temporal="network-only", keyframe_mode="copy", rekey_threshold=1.0
            ),
            encode=EncodeOptions(codec="ffv1", overwrite=True),
        )
    finally:
        network.NetworkColourer.predict = predict
    inputs = work / "inputs.pkl"
    inputs.write_bytes(pickle.dumps(calls[1:]))  # the first call builds caches too
    return inputs, paths["reference"]


def time_predict(inputs: Path, reference: Path, threads: int, flushed: bool) -> dict:
    """One fresh process: ``predict`` on every recorded input, 3 passes."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(inputs), str(reference), str(threads)]
        + ([] if flushed else ["--unflushed"]),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def _child(inputs: Path, reference: Path, threads: int, flushed: bool) -> None:
    import torch

    import celcolor.engine.network as network
    from celcolor.engine import ColorizeOptions
    from celcolor.engine.colorizer import Colorizer
    from celcolor.io import read_image

    torch.set_num_threads(threads)
    if flushed:
        network.start_workers_flushed()  # as the engine's network-run scope does
    else:
        network.start_workers_flushed = lambda: None  # as before session 38
    calls = pickle.loads(inputs.read_bytes())
    net = Colorizer(read_image(reference), ColorizeOptions(temporal="network-only"))
    net = net.temporal_network()
    times, digest = [], hashlib.sha256()
    for rep in range(3):
        for ink, guide in calls:
            t = time.perf_counter()
            rgb = net.predict(ink, guide)
            times.append(time.perf_counter() - t)
            if rep == 0:
                digest.update(rgb.tobytes())
    times.sort()
    print(
        json.dumps(
            {
                "threads": threads,
                "workers_flushed": flushed,
                "frames": len(times),
                "best_ms": round(1000 * times[0], 2),
                "median_ms": round(1000 * times[len(times) // 2], 2),
                "outputs_sha256": digest.hexdigest(),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, action="append", help="default: 1 and 2")
    ap.add_argument("--rounds", type=int, default=2, help="A/B rounds, interleaved")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--unflushed", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]), not args.unflushed)
        return
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs, reference = record_inputs(Path(tmp))
        for threads in args.threads or [1, 2]:
            for _ in range(args.rounds):  # interleaved: this machine's speed drifts
                for flushed in (False, True):
                    rows.append(time_predict(inputs, reference, threads, flushed))
                    print(rows[-1], flush=True)
    summary = []
    for threads in sorted({r["threads"] for r in rows}):
        by = {f: [r for r in rows if r["threads"] == threads and r["workers_flushed"] == f]
              for f in (False, True)}  # fmt: skip
        same = len({r["outputs_sha256"] for r in by[False] + by[True]}) == 1
        summary.append(
            {
                "threads": threads,
                "unflushed_best_ms": min(r["best_ms"] for r in by[False]),
                "unflushed_median_ms": min(r["median_ms"] for r in by[False]),
                "flushed_best_ms": min(r["best_ms"] for r in by[True]),
                "flushed_median_ms": min(r["median_ms"] for r in by[True]),
                "same_outputs": same,
            }
        )
    args.results.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join(["python", "benchmarks/bench_network_threads.py", *sys.argv[1:]]),
        "environment": environment(),
        "seconds": round(time.perf_counter() - t0, 1),
        "runs": rows,
        "summary": summary,
    }
    (args.results / "network_threads.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [
        "| torch threads | workers unflushed: best / median (ms) | started flushed: best / "
        "median (ms) | outputs |",
        "|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['threads']} | {s['unflushed_best_ms']:.1f} / {s['unflushed_median_ms']:.1f} "
            f"| {s['flushed_best_ms']:.1f} / {s['flushed_median_ms']:.1f} "
            f"| {'bit-identical' if s['same_outputs'] else 'DIFFER'} |"
        )
    head = f"Command: `{record['command']}` ({record['seconds'] / 60:.1f} min)"
    md = "\n".join([head, "", *lines])
    (args.results / "network_threads.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
