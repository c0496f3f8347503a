"""Two keyframes against one: how well and how steadily the frames between are coloured.

    python benchmarks/bench_two_keys.py        # about 6 minutes on the 2-core CPU

A user who paints a second key pins it (``--ref 0:a.png --ref 47:b.png``), and the
frames between are coloured forward from the first key and backward from the second,
each region taking the pass it trusts more (README, "Two keyframes").
``bench_two_shots.py`` scores that blend's accuracy across a shot change; this scores
its flicker too, on the real first-frame suite as every benchmark cuts it (colour clips
of ``../shared/data``, XDoG sketches, 48 frames at most, cut at the first shot change):
each clip coloured from its frame 0 alone, and from frames 0 and its last (the truth's
colours as the two keys), with classical propagation and with the temporal network
(``--lines fill``, the default holds), two keys with the default cross-fades (a
region switching pass over 4 frames, carried texture over the segment) and without
them (``--blend-fade 0``, a switch on one frame).

Per clip and row: PSNR of the in-betweens (keys left out, so the second key's own frame
does not count), TC over the whole clip (E_warp of the output over the truth's, on
flow of the colour frames), and how many held frames came out as the frame they hold.
Writes ``benchmarks/results/two_keys.json`` and ``.md``. Needs the development data.

Whole long shots, keyed at both ends, with the default window and session 43's (96
frames, past which the second key re-keyed instead of blending), about 4 minutes:

    python benchmarks/bench_two_keys.py --frames 300 --min-real-frames 48 \
        --rows "classical, one key" "classical, two keys" \
        "classical, two keys, --blend-window 96" "network, one key" "network, two keys" \
        --results benchmarks/results/two_keys_long
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from run_bench import add_min_real_frames, needed_clips

from celcolor.bench.cases import first_frame_cases
from celcolor.bench.scoring import MetricFlow, flows_on_colour
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.metrics import psnr
from celcolor.metrics.flicker import warp_error

RESULTS = Path(__file__).parent / "results"
DEFAULT_FADE = ColorizeOptions().blend_fade
DEFAULT_WINDOW = ColorizeOptions().blend_window
# row: (temporal mode, two keys, --blend-fade, --blend-window)
ROWS = {
    "classical, one key": ("classical", False, DEFAULT_FADE, DEFAULT_WINDOW),
    "classical, two keys": ("classical", True, DEFAULT_FADE, DEFAULT_WINDOW),
    "classical, two keys, no fade (--blend-fade 0)": ("classical", True, 0, DEFAULT_WINDOW),
    "network, one key": ("network", False, DEFAULT_FADE, DEFAULT_WINDOW),
    "network, two keys": ("network", True, DEFAULT_FADE, DEFAULT_WINDOW),
    "network, two keys, no fade (--blend-fade 0)": ("network", True, 0, DEFAULT_WINDOW),
    # Session 43's default: keys farther apart than this did not blend. The same as
    # "classical, two keys" on clips of 48 frames, so only in the long-shot run.
    "classical, two keys, --blend-window 96": ("classical", True, DEFAULT_FADE, 96),
}
DEFAULT_ROWS = [row for row in ROWS if "--blend-window" not in row]


def colour(
    case, temporal: str, two: bool, fade: int, window: int
) -> tuple[list[np.ndarray], Colorizer, float]:
    """The clip coloured from frame 0 (and its last frame): frames, engine, seconds."""
    n = len(case.sketches)
    options = ColorizeOptions(
        temporal=temporal,
        lines="fill",
        keyframe_mode="copy",
        blend_fade=fade,
        blend_window=window,
    )
    pinned = {n - 1: case.truth[n - 1]} if two else None
    col = Colorizer(case.reference, options, pinned=pinned)
    t0 = time.perf_counter()
    frames = list(col.colorize(case.sketches))
    return frames, col, time.perf_counter() - t0


def score(
    case, truth_pairs: np.ndarray, flows, temporal: str, two: bool, fade: int, window: int
) -> dict:
    frames, col, seconds = colour(case, temporal, two, fade, window)
    n = len(frames)
    pairs = warp_error(frames, flows.fwd, flows.bwd).per_pair
    held = col.stats.held
    return {
        "frames": n,
        "psnr": psnr(frames[1 : n - 1], case.truth[1 : n - 1]).mean,
        "tc": float(pairs.mean() / truth_pairs.mean()),
        "held": len(held),
        "held_as_shown": sum(np.array_equal(frames[t], frames[t - 1]) for t in held),
        "blended": col.stats.blended,
        "seconds": round(seconds, 2),
    }


def markdown(results: dict[str, dict[str, dict]], seconds: float, frames: int, command: str) -> str:
    clips = list(next(iter(results.values())))
    lines = [
        f"Real first-frame suite, {len(clips)} clips of {frames} frames at most (`{command}`, "
        f"{seconds / 60:.0f} min). PSNR of the in-betweens "
        "(keys left out), TC over the clip (1 = as steady as the animation), held frames "
        "shown as the frame they hold, frames/s of the colouring (frames decoded):",
        "",
        "| row | PSNR (dB) | TC | held frames shown as their drawing | frames/s |",
        "|---|---|---|---|---|",
    ]
    for row, per in results.items():
        held = sum(r["held"] for r in per.values())
        shown = sum(r["held_as_shown"] for r in per.values())
        fps = sum(r["frames"] for r in per.values()) / sum(r["seconds"] for r in per.values())
        lines.append(
            f"| {row} | {np.mean([r['psnr'] for r in per.values()]):.2f} | "
            f"{np.mean([r['tc'] for r in per.values()]):.3f} | {shown} of {held} | {fps:.1f} |"
        )
    lines += ["", "Per clip, PSNR / TC:", "", "| clip | frames | " + " | ".join(results) + " |"]
    lines.append("|---" * (len(results) + 2) + "|")
    for clip in clips:
        cells = " | ".join(
            f"{per[clip]['psnr']:.2f} / {per[clip]['tc']:.2f}" for per in results.values()
        )
        lines.append(f"| {clip} | {next(iter(results.values()))[clip]['frames']} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="frames per clip at most")
    p.add_argument("--rows", nargs="+", choices=list(ROWS), default=DEFAULT_ROWS)
    p.add_argument("--results", type=Path, default=RESULTS)
    add_min_real_frames(p)
    args = p.parse_args()
    _, clips = needed_clips("bench_two_keys", args.data)
    t0 = time.time()
    results: dict[str, dict[str, dict]] = {row: {} for row in args.rows}
    cases = first_frame_cases(clips, max_frames=args.frames, min_frames=args.min_real_frames)
    for case in cases:
        if len(case.sketches) < 3:  # no in-between to score
            continue
        flows = flows_on_colour(case.truth, MetricFlow())
        truth_pairs = warp_error(case.truth, flows.fwd, flows.bwd).per_pair
        for row in args.rows:
            results[row][case.name] = score(case, truth_pairs, flows, *ROWS[row])
        print(case.name, {row: round(results[row][case.name]["tc"], 2) for row in args.rows})
    seconds = time.time() - t0
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "two_keys.json").write_text(
        json.dumps({"seconds": round(seconds, 1), "rows": results}, indent=1)
    )
    command = shlex.join(["python", "benchmarks/bench_two_keys.py", *sys.argv[1:]])
    text = markdown(results, seconds, args.frames, command)
    (args.results / "two_keys.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
