"""Textured regions under motion: smoothed carry, drift guard (real first-frame suite).

    python benchmarks/ablate_drift.py            # about 4 minutes on the 2-core CPU

A textured region (one the reference shows is not one paint area) samples the
keyframe's colours through the flows chained since the keyframe
(:mod:`celcolor.engine.detail`). Under large motion the chain drifts and the texture
it samples is smeared paint. Since session 9 the motion that carries texture is
smoothed (``detail.smooth_motion``), and a region whose lines, followed back along the
chain, land near the keyframe's lines less than ``DRIFT_AGREEMENT`` better than chance
goes flat. This runs classical propagation on the real first-frame suite (colour clips
of ``../shared/data``, XDoG sketches, frame 0 the reference, 24 frames per clip, as
``bench_temporal.py``) with the smoothing on and off, and the guard off and at three
thresholds (0.25 ships; it was chosen before this was measured, the others show how
much the result depends on it).

Writes ``benchmarks/results/drift.json`` and ``.md``. Needs the development data.
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
THRESHOLDS = {"off": float("-inf"), "0.1": 0.1, "0.25 (shipped)": 0.25, "0.4": 0.4}
SMOOTHING = {"smoothed (shipped)": True, "not smoothed": False}


def run(clips, frames: int, threshold: float, smooth: bool) -> dict[str, tuple[float, float]]:
    """Per clip (PSNR, TC on DIS flow of the grey truth) of classical propagation."""
    shipped = detail.DRIFT_AGREEMENT, detail.smooth_motion
    detail.DRIFT_AGREEMENT = threshold  # read at each call of detail.follow
    if not smooth:
        detail.smooth_motion = lambda sample: sample
    try:
        config = BenchConfig(
            synthetic=False, clips=clips, max_frames=frames, first_frame_lines=("fill",),
            lvcd_size=False, methods=("classical",), speed=False, memory=False,
        )  # fmt: skip
        report = run_bench(config)
    finally:
        detail.DRIFT_AGREEMENT, detail.smooth_motion = shipped
    out = {}
    for case in report["protocols"]["first-frame"]["cases"]:
        row = case["scores"]["native"]["rows"]["classical"]
        out[case["name"]] = (row["psnr"], next(iter(row["tc"].values())))
    return out


def markdown(results: dict[str, dict], frames: int) -> str:
    names = list(next(iter(results.values())))
    lines = [
        f"Real first-frame suite ({len(names)} clips, {frames} frames each at most, XDoG "
        "sketches, frame 0 the reference), classical propagation; mean PSNR (dB) without "
        "frame 0 / mean TC on DIS flow of the grey truth:",
        "",
        "| carry | " + " | ".join(f"guard {t}" for t in THRESHOLDS) + " |",
        "|---" * (len(THRESHOLDS) + 1) + "|",
    ]
    for smooth in SMOOTHING:
        cells = []
        for t in THRESHOLDS:
            rows = results[f"{smooth}, guard {t}"]
            cells.append(
                f"{np.mean([rows[n][0] for n in names]):.2f} / "
                f"{np.mean([rows[n][1] for n in names]):.3f}"
            )
        lines.append(f"| {smooth} | " + " | ".join(cells) + " |")
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
        sys.exit(f"ablate_drift: no real clips under {data} (this benchmark needs them)")
    t0 = time.time()
    results = {}
    for smooth, on in SMOOTHING.items():
        for name, threshold in THRESHOLDS.items():
            variant = f"{smooth}, guard {name}"
            results[variant] = run(clips, args.frames, threshold, on)
            print(f"{variant}: {time.time() - t0:.0f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "drift.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "drift.md").write_text(markdown(results, args.frames))
    print(markdown(results, args.frames))


if __name__ == "__main__":
    main()
