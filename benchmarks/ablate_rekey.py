"""Re-keying in classical propagation: on and off, within one shot and across shots.

    python benchmarks/ablate_rekey.py            # about 6 minutes on the 2-core CPU

When more than ``--rekey-threshold`` (50%) of a frame's lines are new (not near the
previous frame's lines moved there by the flow: a new shot, a new character, a large
change of pose), the frame is a new drawing. The temporal network's path colours it
from the reference as a new keyframe; classical propagation, the default, carries the
colour on along the flow unless ``--rekey on`` (and names the frames in a warning).
This runs classical propagation (the user's defaults: keyframes ``auto``, regions
``auto``) with ``--rekey auto`` (carry on) and ``--rekey on`` on:

- the synthetic presets (one drawing each: nothing should be re-keyed);
- the real first-frame suite as every benchmark cuts it, at its first shot change
  (colour clips of ``../shared/data``, XDoG sketches, frame 0 the reference): what
  re-keys on large motion within a shot cost;
- the same clips not cut, up to 48 frames, so the ones with several shots carry the
  first shot's reference into the next (what a user gets who hands over a sequence
  rather than one cut).

Writes ``benchmarks/results/rekey.json`` and ``.md``. Needs the development data for
the real rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from run_bench import engine_rows, needed_clips

from celcolor.bench import BenchConfig, run_bench

RESULTS = Path(__file__).parent / "results"
BASE, REKEY = "carry on (--rekey auto, shipped)", "re-key (--rekey on)"
VARIANTS = {BASE: "auto", REKEY: "on"}


def rows(config: BenchConfig, protocol: str) -> dict[str, dict[str, dict]]:
    """Per variant, per cut: PSNR, TC and the re-keyed frames of classical propagation."""
    report = run_bench(config)
    out: dict[str, dict[str, dict]] = {v: {} for v in VARIANTS}
    for case in report["protocols"][protocol]["cases"]:
        for variant in VARIANTS:
            row = case["scores"]["native"]["rows"][variant]
            out[variant][case["name"]] = {
                "psnr": row["psnr"],
                "tc": next(iter(row["tc"].values())),
                "rekeyed": row.get("rekeyed") or [],
            }
    return out


def markdown(results: dict[str, dict[str, dict[str, dict]]]) -> str:
    lines = [
        "Classical propagation with the user's defaults (keyframes and regions `auto`), "
        "`--lines fill`; PSNR (dB) without frame 0, TC on DIS flow of the grey truth.",
        "",
        "| suite | re-keying | mean PSNR | mean TC | frames re-keyed (cuts) | "
        "cuts better by 0.1 dB+ | cuts worse by 0.1 dB+ |",
        "|---|---|---|---|---|---|---|",
    ]
    for suite, variants in results.items():
        base = variants[BASE]
        for variant, per_cut in variants.items():
            names = list(per_cut)
            psnr = np.array([per_cut[n]["psnr"] for n in names])
            tc = np.array([per_cut[n]["tc"] for n in names])
            keyed = sum(len(per_cut[n]["rekeyed"]) for n in names)
            cuts = sum(bool(per_cut[n]["rekeyed"]) for n in names)
            better = sum(per_cut[n]["psnr"] >= base[n]["psnr"] + 0.1 for n in names)
            worse = sum(per_cut[n]["psnr"] <= base[n]["psnr"] - 0.1 for n in names)
            lines.append(
                f"| {suite} ({len(names)}) | {variant} | {psnr.mean():.2f} | {tc.mean():.3f} "
                f"| {keyed} ({cuts}) | {better} | {worse} |"
            )
    lines += ["", "Cuts with new drawings (PSNR carried on / re-keyed; the frames):", ""]
    lines += ["| suite | cut | carried on | re-keyed | new drawings |", "|---|---|---|---|---|"]
    for suite, variants in results.items():
        off, on = variants[BASE], variants[REKEY]
        for name, row in on.items():
            if row["rekeyed"]:
                lines.append(
                    f"| {suite} | {name} | {off[name]['psnr']:.2f} | {row['psnr']:.2f} "
                    f"| {', '.join(map(str, row['rekeyed']))} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=24, help="cap per real clip within one shot")
    p.add_argument("--whole-frames", type=int, default=48, help="cap per real clip, not cut")
    p.add_argument("--synthetic-frames", type=int, default=24)
    args = p.parse_args()
    _, clips = needed_clips("ablate_rekey", args.data)
    rows_of = {v: {"temporal": "classical", "rekey": mode} for v, mode in VARIANTS.items()}
    common = dict(
        first_frame_lines=("fill",), lvcd_size=False, methods=tuple(VARIANTS),
        speed=False, memory=False,
    )  # fmt: skip
    t0 = time.time()
    results = {}
    with engine_rows(rows_of, "classical, {name}"):
        synthetic = BenchConfig(
            synthetic_resolutions=((640, 360),), synthetic_frames=args.synthetic_frames,
            **common,
        )  # fmt: skip
        results["synthetic 640x360"] = rows(synthetic, "synthetic")
        print(f"synthetic: {time.time() - t0:.0f} s", flush=True)
        one_shot = BenchConfig(synthetic=False, clips=clips, max_frames=args.frames, **common)
        results["real, first shot"] = rows(one_shot, "first-frame")
        print(f"real, first shot: {time.time() - t0:.0f} s", flush=True)
        whole = BenchConfig(
            synthetic=False, clips=clips, max_frames=args.whole_frames,
            cut_at_shot_change=False, **common,
        )  # fmt: skip
        results["real, not cut"] = rows(whole, "first-frame")
        print(f"real, not cut: {time.time() - t0:.0f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rekey.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "rekey.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
