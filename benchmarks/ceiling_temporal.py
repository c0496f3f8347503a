"""How much any network that colours regions could add over classical propagation.

    python benchmarks/ceiling_temporal.py            # about 4 minutes on the 2-core CPU

Issue 5 asks the temporal network to beat classical propagation on PSNR by more
than 0.1 dB over cuts of 48+ frames. The network answers for flat regions only:
textured regions (most pixels of real anime frames) carry the keyframe's colours
along the flow whichever path colours the regions. This measures the ceiling of that
aim by replacing the network's prediction with the truth's colours, all else equal:

- ``classical``: classical propagation, as shipped;
- ``network``: the ``network`` mode (classical votes where they are confident, the
  shipped temporal network for the rest);
- ``network, oracle``: the same, the truth's colours wherever the network answers
  (the most a better network could add in that mode);
- ``network-only``: the shipped temporal network for every region;
- ``network-only, oracle``: the truth's colours for every region (each region takes
  the palette colour the truth paints most of it with: the most any network that
  colours regions could add). The oracle rows need the truth: they are no method.

Keyframes copied and line modes as bench_temporal's rows (``--lines fill`` on
the real clips, ``auto`` on the generated cuts), re-keying off in every
row so that the rows differ only in who colours the regions (on the cuts of 48+
frames nothing re-keys either way). The real first-frame suite (colour clips of
``../shared/data``, XDoG sketches, frame 0 the reference, each cut at its first shot
change, at most 48 frames) and the generated suite (6 presets, 48 frames at
640x360). PSNR without frame 0. Writes ``benchmarks/results/ceiling.json`` and ``.md``
(``--results``). ``--frames 300 --min-real-frames 48 --no-generated``: the real shots
of 48+ frames, each whole.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from run_bench import add_min_real_frames, colour_clips, default_data

from celcolor.bench.cases import first_frame_cases, synthetic_cases
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.metrics import psnr

RESULTS = Path(__file__).parent / "results"
ROWS = {  # name: (temporal mode, the truth in place of the network's prediction)
    "classical": ("classical", False),
    "network": ("network", False),
    "network, oracle": ("network", True),
    "network-only": ("network-only", False),
    "network-only, oracle": ("network-only", True),
}
LONG = 48  # the aim's cuts: at least this many frames


class _Oracle(Colorizer):
    """The engine with the temporal network's prediction replaced by the truth."""

    def __init__(self, reference: np.ndarray, options: ColorizeOptions, truth) -> None:
        super().__init__(reference, options)
        self.truth = truth

    def _temporal_predict(self, frame, prev_out, sample, visible, held=None) -> np.ndarray:
        self.stats.network_frames += 1
        return self.palette.index(self.truth[frame.seq])  # seq: the frame's number


def run(cases, lines: str, progress: str) -> dict[str, dict[str, dict]]:
    """Per row, per cut (``lines`` mode): PSNR without frame 0, frames, frames the
    network answered."""
    out: dict[str, dict[str, dict]] = {row: {} for row in ROWS}
    for case in cases:
        truth = np.stack(case.truth)
        for row, (mode, oracle) in ROWS.items():
            options = ColorizeOptions(temporal=mode, keyframe_mode="copy", lines=lines, rekey="off")
            c = (
                _Oracle(case.reference, options, truth)
                if oracle
                else Colorizer(case.reference, options)
            )
            frames = np.stack(list(c.colorize(case.sketches)))
            out[row][case.name] = {
                "psnr": float(psnr(frames, truth).per_frame[1:].mean()),
                "frames": len(frames),
                "network_frames": c.stats.network_frames,
            }
        print(f"{progress} {case.name}: {len(truth)} frames", file=sys.stderr, flush=True)
    return out


def _cell(per_cut: dict[str, dict], base: dict[str, dict], names: list[str]) -> str:
    """Mean PSNR over ``names``, and its change against ``base`` (classical)."""
    if not names:
        return "n/a"
    m = np.mean([per_cut[n]["psnr"] for n in names])
    return f"{m:.2f} ({m - np.mean([base[n]['psnr'] for n in names]):+.3f})"


def markdown(results: dict[str, dict[str, dict[str, dict]]], command: str, minutes: float) -> str:
    lines = [
        "# The ceiling of the temporal network's aim",
        "",
        f"Command: `{command}` ({minutes:.1f} min). Keyframes copied, `--lines fill` "
        "(real) and `auto` (generated) as in bench_temporal, "
        "re-keying off; PSNR (dB) without frame 0, mean over cuts; change against "
        "classical in brackets. Oracle rows put the truth's colours where the network "
        "would answer: they need the truth and are no method.",
        "",
        "| suite | row | all cuts | cuts of 48+ frames | network called (frames) |",
        "|---|---|---|---|---|",
    ]
    for suite, rows in results.items():
        base = rows["classical"]
        names = list(base)
        long = [n for n in names if base[n]["frames"] >= LONG]
        for row, per_cut in rows.items():
            called = sum(per_cut[n]["network_frames"] for n in names)
            total = sum(per_cut[n]["frames"] - 1 for n in names)
            lines.append(
                f"| {suite} ({len(names)} cuts, {len(long)} of 48+) | {row} "
                f"| {_cell(per_cut, base, names)} | {_cell(per_cut, base, long)} "
                f"| {called} of {total} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="per cut, both suites")
    add_min_real_frames(p)
    p.add_argument("--no-generated", action="store_true", help="leave out the generated cuts")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder for ceiling.json/.md")
    args = p.parse_args()
    # Each row would warn of the same new drawings in a cut: the table says what matters.
    logging.getLogger("celcolor").setLevel(logging.ERROR)
    data = args.data or default_data()
    clips = colour_clips(data) if data.is_dir() else []
    if not clips:
        sys.exit(f"ceiling_temporal: no real clips under {data} (this benchmark needs them)")
    t0 = time.time()
    real = first_frame_cases(clips, max_frames=args.frames, min_frames=args.min_real_frames)
    results = {"real first-frame": run(real, "fill", "real")}
    if not args.no_generated:
        results["generated 640x360"] = run(
            synthetic_cases(resolutions=((640, 360),), num_frames=args.frames),
            "auto",
            "generated",
        )
    command = shlex.join(["python", "benchmarks/ceiling_temporal.py", *sys.argv[1:]])
    text = markdown(results, command, (time.time() - t0) / 60)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "ceiling.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.results / "ceiling.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
