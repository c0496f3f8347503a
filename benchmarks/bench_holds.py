"""Held drawings (on twos, on threes, still shots): shown again, or coloured afresh.

    python benchmarks/bench_holds.py             # about 12 minutes on the 2-core CPU

A frame that holds the drawing before it is shown as that frame, exactly (``--holds
on``, the default since session 40; :mod:`celcolor.engine.holds`). This runs classical
propagation and the temporal network (the user's settings otherwise, ``--lines fill``
where there is a truth), each with ``--holds on`` and ``off``, on:

- the synthetic presets at 640x360 (drawn on ones: no frame should hold, and the
  outputs should not change);
- the real first-frame suite as every benchmark cuts it (colour clips of
  ``../shared/data``, XDoG sketches, frame 0 the reference, 48 frames at most, cut at
  the first shot change);
- the real shots of 48 frames or more, whole (up to 300 frames);
- the real line-art cuts with their references (AnimeColor), where there is no truth:
  E_warp on the flow of the sketches.

Per suite and row: mean PSNR and TC (where there is a truth), E_warp, the frames held
and the colouring speed (frames/s, frames already decoded). Writes
``benchmarks/results/holds.json`` and ``.md``. Needs the development data for the real
rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from run_bench import engine_rows, lineart_cuts, needed_clips

from celcolor.bench import BenchConfig, run_bench

RESULTS = Path(__file__).parent / "results"
VARIANTS = {
    "classical, holds on": {"temporal": "classical", "hold_drawings": True},
    "classical, holds off": {"temporal": "classical", "hold_drawings": False},
    "network, holds on": {"temporal": "network", "hold_drawings": True},
    "network, holds off": {"temporal": "network", "hold_drawings": False},
}


def rows(config: BenchConfig, protocol: str) -> dict[str, dict[str, dict]]:
    """Per variant, per cut: PSNR, TC, E_warp, frames held, frames and seconds."""
    report = run_bench(config)
    out: dict[str, dict[str, dict]] = {v: {} for v in VARIANTS}
    for case in report["protocols"][protocol]["cases"]:
        scores = case["scores"]["native"]
        truth = scores["truth"].get("per_pair", {}).get("ewarp", {})
        for variant in VARIANTS:
            row = scores["rows"][variant]
            if "error" in row:
                sys.exit(f"bench_holds: {variant} failed on {case['name']}: {row['error']}")
            out[variant][case["name"]] = {
                "frames": case["frames"],
                "psnr": row.get("psnr"),
                "tc": next(iter(row["tc"].values())) if row.get("tc") else None,
                "ewarp": next(iter(row["ewarp"].values())),
                "held": row.get("held") or [],
                "seconds": row["seconds"],
                # E_warp per pair of frames (t-1, t), the output's and the truth's
                "pairs": next(iter(row["per_frame"]["ewarp"].values())),
                "truth_pairs": next(iter(truth.values()), None),
            }
    return out


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _cell(value: float | None, form: str) -> str:
    return "n/a" if value is None else format(value, form)


def markdown(results: dict[str, dict[str, dict[str, dict]]], command: str) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        "PSNR (dB) without frame 0 and TC on DIS flow of the grey truth, E_warp x1e3 on "
        "the same flow (line-art cuts: on the flow of the sketches); means over the cuts. "
        "Speed: frames/s of the colouring alone, all cuts together.",
        "",
        "| suite | row | PSNR | TC | E_warp x1e3 | frames held | frames/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for suite, variants in results.items():
        for variant, per_cut in variants.items():
            cuts = list(per_cut.values())
            frames = sum(c["frames"] for c in cuts)
            held = sum(len(c["held"]) for c in cuts)
            ewarp = _mean([c["ewarp"] for c in cuts])
            fps = frames / sum(c["seconds"] for c in cuts)
            psnr, tc = _mean([c["psnr"] for c in cuts]), _mean([c["tc"] for c in cuts])
            lines.append(
                f"| {suite} ({len(cuts)}) | {variant} | {_cell(psnr, '.2f')} "
                f"| {_cell(tc, '.3f')} "
                f"| {_cell(None if ewarp is None else ewarp * 1e3, '.3f')} "
                f"| {held} of {frames} | {fps:.1f} |"
            )
    lines += [
        "",
        "Cuts with held frames, classical, holds on / off: PSNR, TC, and TC over the pairs "
        "of frames where the drawing is held (t-1, t for each held frame t) and over the "
        "other pairs, each the output's E_warp over the truth's on those pairs (line art, "
        "without a truth: the output's E_warp x1e3 on those pairs):",
        "",
        "| suite | cut | frames held | PSNR | TC | TC, held pairs | TC, other pairs |",
        "|---|---|---|---|---|---|---|",
    ]
    for suite, variants in results.items():
        on, off = variants["classical, holds on"], variants["classical, holds off"]
        for name, row in on.items():
            if not row["held"]:
                continue
            held = np.zeros(len(row["pairs"]), bool)
            held[[t - 1 for t in row["held"]]] = True  # pair t-1 is (t-1, t)
            cells = [
                f"{_cell(row[k], form)} / {_cell(off[name][k], form)}"
                for k, form in (("psnr", ".2f"), ("tc", ".3f"))
            ]
            for pairs in (held, ~held):
                tc = [_pair_tc(r, pairs) for r in (row, off[name])]
                cells.append(f"{_cell(tc[0], '.2f')} / {_cell(tc[1], '.2f')}")
            lines.append(
                f"| {suite} | {name} | {len(row['held'])} of {row['frames']} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines) + "\n"


def _pair_tc(row: dict, pairs: np.ndarray) -> float | None:
    """The output's E_warp over the truth's on the pairs of frames ``pairs`` (a mask);
    without a truth, the output's E_warp x1e3 there."""
    if not pairs.any():
        return None
    out = np.asarray(row["pairs"])
    if row["truth_pairs"] is None:
        return float(out[pairs].mean() * 1e3)
    truth = np.asarray(row["truth_pairs"])
    if truth[pairs].mean() == 0:
        return None
    return float(out[pairs].mean() / truth[pairs].mean())


def _rounded(results: dict) -> dict:
    """The results with the per-pair errors to 4 significant digits (a smaller record)."""
    for variants in results.values():
        for per_cut in variants.values():
            for row in per_cut.values():
                for key in ("pairs", "truth_pairs"):
                    if row[key] is not None:
                        row[key] = [float(f"{e:.4g}") for e in row[key]]
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="cap per real clip, one shot")
    p.add_argument("--whole-frames", type=int, default=300, help="cap per whole real shot")
    p.add_argument("--synthetic-frames", type=int, default=48)
    args = p.parse_args()
    data, clips = needed_clips("bench_holds", args.data)
    common = dict(
        first_frame_lines=("fill",), lvcd_size=False, methods=tuple(VARIANTS),
        speed=False, memory=False, contact_frames=0,
    )  # fmt: skip
    t0 = time.time()
    results = {}
    with engine_rows(VARIANTS):
        synthetic = BenchConfig(
            synthetic_resolutions=((640, 360),), synthetic_frames=args.synthetic_frames,
            **common,
        )  # fmt: skip
        results["synthetic 640x360"] = rows(synthetic, "synthetic")
        print(f"synthetic: {time.time() - t0:.0f} s", flush=True)
        one_shot = BenchConfig(synthetic=False, clips=clips, max_frames=args.frames, **common)
        results["real, 48 frames"] = rows(one_shot, "first-frame")
        print(f"real, 48 frames: {time.time() - t0:.0f} s", flush=True)
        whole = BenchConfig(
            synthetic=False, clips=clips, max_frames=args.whole_frames, min_clip_frames=48,
            **common,
        )  # fmt: skip
        results["real, whole shots of 48+"] = rows(whole, "first-frame")
        print(f"real, whole shots: {time.time() - t0:.0f} s", flush=True)
        cuts = lineart_cuts(data)
        if cuts:
            art = BenchConfig(synthetic=False, lineart_cuts=cuts, max_frames=args.whole_frames,
                              **common)  # fmt: skip
            results["real line art (no truth)"] = rows(art, "lineart")
            print(f"real line art: {time.time() - t0:.0f} s", flush=True)
    command = "python benchmarks/bench_holds.py" + "".join(f" {a}" for a in sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    record = {"command": command, "seconds": time.time() - t0, "results": _rounded(results)}
    (RESULTS / "holds.json").write_text(json.dumps(record) + "\n")
    (RESULTS / "holds.md").write_text(markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
