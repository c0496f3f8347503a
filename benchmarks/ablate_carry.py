"""Textured regions under motion: their carry smoothed or not (real first-frame suite).

    python benchmarks/ablate_carry.py            # about 1 minute on the 2-core CPU

A textured region (one the reference shows is not one paint area) samples the
keyframe's colours through the flows chained since the keyframe
(:mod:`celcolor.engine.detail`). DIS pins its flow on lines and only loosely inside flat
areas, so under motion that texture swam and shredded. Since session 9 the motion that
carries texture is smoothed (``detail.smooth_motion``). This runs classical propagation
on the real first-frame suite (colour clips of ``../shared/data``, XDoG sketches, frame
0 the reference, 24 frames per clip, as ``bench_temporal.py``) with the smoothing on
and off.

Writes ``benchmarks/results/carry.json`` and ``.md``. Needs the development data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from run_bench import colour_clips, default_data

from celcolor.bench import BenchConfig, run_bench
from celcolor.engine import detail

RESULTS = Path(__file__).parent / "results"
VARIANTS = {"smoothed (shipped)": True, "not smoothed": False}


def run(clips, frames: int, smooth: bool) -> dict[str, tuple[float, float]]:
    """Per clip (PSNR, TC on DIS flow of the grey truth) of classical propagation."""
    shipped = detail.smooth_motion
    if not smooth:
        detail.smooth_motion = lambda sample: sample  # read at each call of detail.follow
    try:
        config = BenchConfig(
            synthetic=False, clips=clips, max_frames=frames, first_frame_lines=("fill",),
            lvcd_size=False, methods=("classical",), speed=False, memory=False,
        )  # fmt: skip
        report = run_bench(config)
    finally:
        detail.smooth_motion = shipped
    out = {}
    for case in report["protocols"]["first-frame"]["cases"]:
        row = case["scores"]["native"]["rows"]["classical"]
        out[case["name"]] = (row["psnr"], next(iter(row["tc"].values())))
    return out


def markdown(results: dict[str, dict], frames: int) -> str:
    names = list(next(iter(results.values())))
    base = results["not smoothed"]
    lines = [
        f"Real first-frame suite ({len(names)} clips, {frames} frames each at most, XDoG "
        "sketches, frame 0 the reference), classical propagation; PSNR (dB) without "
        "frame 0, TC on DIS flow of the grey truth:",
        "",
        "| carry | mean PSNR | mean TC | clips with lower TC | PSNR -0.1 dB or worse |",
        "|---|---|---|---|---|",
    ]
    for variant, rows in results.items():
        psnrs = np.array([rows[n][0] for n in names])
        tcs = np.array([rows[n][1] for n in names])
        lower = int(sum(rows[n][1] < base[n][1] for n in names))
        worse = int(sum(rows[n][0] <= base[n][0] - 0.1 for n in names))
        lines.append(f"| {variant} | {psnrs.mean():.2f} | {tcs.mean():.3f} | {lower} | {worse} |")
    lines += ["", "Per clip (PSNR / TC):", "", "| clip | " + " | ".join(results) + " |"]
    lines.append("|---" * (len(results) + 1) + "|")
    for n in names:
        cells = " | ".join(f"{r[n][0]:.2f} / {r[n][1]:.2f}" for r in results.values())
        lines.append(f"| {n} | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=24, help="cap per real clip")
    args = p.parse_args()
    data = args.data or default_data()
    clips = colour_clips(data) if data.is_dir() else []
    if not clips:
        sys.exit(f"ablate_carry: no real clips under {data} (this benchmark needs them)")
    t0 = time.time()
    results = {}
    for variant, smooth in VARIANTS.items():
        results[variant] = run(clips, args.frames, smooth)
        print(f"{variant}: {time.time() - t0:.0f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "carry.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "carry.md").write_text(markdown(results, args.frames))
    print(markdown(results, args.frames))


if __name__ == "__main__":
    main()
