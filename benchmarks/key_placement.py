"""Where the key a new-view warning asks for does the most good: the stretch's first
sample, its middle or its last.

    python benchmarks/key_placement.py --results benchmarks/results/key_placement
    python benchmarks/key_placement.py --uncut --results benchmarks/results/key_placement

For every real colour clip (first-frame protocol) that classical propagation warns of
(``stats.unseen``), each policy pins the truth of the frame it picks in the first
warned stretch (the painted key an animator would give), colours again, and repeats
on what is still warned, up to 3 keys. The score is the mean PSNR over the frames of
the first run's stretches, the keys' own frames left out. ``--uncut`` reads 96 frames
past the first shot change (later shots no other benchmark scores); by default each
first shot is read whole (up to 300 frames), as ``bench_unseen.py`` does. Needs
``../shared/data`` (``--data``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_unseen import colour
from run_bench import colour_clips, default_data

from celcolor.bench.cases import first_frame_cases
from celcolor.engine.views import key_of
from celcolor.metrics import psnr

KEYS = 3
POLICIES = {
    "first": lambda s: s[0],
    "middle (shipped)": key_of,
    "last": lambda s: s[1],
}


def score(out: list[np.ndarray], truth: list[np.ndarray], frames: list[int]) -> float:
    return float(np.mean([float(psnr(out[t], truth[t])) for t in frames]))


def run(data: Path, uncut: bool) -> list[dict]:
    cases = first_frame_cases(
        colour_clips(data), max_frames=96 if uncut else 300, cut_at_shot_change=not uncut
    )
    rows = []
    for case in cases:
        out, col, _ = colour(case.reference, case.sketches, keyframe_mode="copy", lines="fill")
        warned = [tuple(s) for s in col.stats.unseen]
        if not warned:
            continue
        inside = sorted({t for a, b in warned for t in range(a, b + 1)})
        row = {"clip": case.name, "frames": len(inside), "unkeyed": score(out, case.truth, inside)}
        for name, pick in POLICIES.items():
            keys = {case.ref_frame: case.reference}
            unseen, scores = warned, []
            while len(scores) < KEYS:
                if not unseen:  # quiet: more keys are not asked for
                    scores.append(scores[-1])
                    continue
                at = pick(unseen[0])
                keys[at] = case.truth[at]
                out, col, _ = colour(None, case.sketches, keys, keyframe_mode="copy", lines="fill")
                unseen = [tuple(s) for s in col.stats.unseen]
                scores.append(score(out, case.truth, [t for t in inside if t not in keys]))
            row[name] = {"psnr": scores, "keys": sorted(set(keys) - {case.ref_frame})}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict], uncut: bool) -> str:
    what = "96 frames past the first shot change" if uncut else "each first shot whole"
    lines = [f"Real colour clips warned of a new view ({what}): {len(rows)}.", ""]
    lines += ["Mean PSNR (dB) inside the warned stretches after 1, 2 and 3 keys (each policy"]
    lines[-1] += " stops adding keys once the run is quiet); clips where the policy beats"
    lines[-1] += " `first` by 0.05 dB or more with one key, and loses by as much:"
    lines += ["", "| policy | 1 key | 2 keys | 3 keys | better / worse than first, 1 key |"]
    lines += ["|---|---|---|---|---|"]
    base = np.mean([r["unkeyed"] for r in rows])
    lines.append(f"| no key | {base:.2f} | | | |")
    for name in POLICIES:
        means = [np.mean([r[name]["psnr"][k] for r in rows]) for k in range(KEYS)]
        better = sum(r[name]["psnr"][0] >= r["first"]["psnr"][0] + 0.05 for r in rows)
        worse = sum(r[name]["psnr"][0] <= r["first"]["psnr"][0] - 0.05 for r in rows)
        vs = "" if name == "first" else f"{better} / {worse}"
        lines.append(f"| {name} | {means[0]:.2f} | {means[1]:.2f} | {means[2]:.2f} | {vs} |")
    lines += ["", "| clip | frames | no key | " + " | ".join(POLICIES) + " |"]
    lines += ["|---|---|---|" + "---|" * len(POLICIES)]
    for r in rows:
        cells = [f"{r[n]['psnr'][0]:.2f} ({', '.join(map(str, r[n]['keys']))})" for n in POLICIES]
        lines.append(
            f"| {r['clip']} | {r['frames']} | {r['unkeyed']:.2f} | " + " | ".join(cells) + " |"
        )
    lines += ["", "Per policy: PSNR with one key, and every key it added (up to 3)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="default: ../shared/data")
    p.add_argument("--uncut", action="store_true", help="96 frames past the first shot change")
    p.add_argument("--results", type=Path, required=True, help="folder for the .md and .json")
    args = p.parse_args(argv)
    data = args.data or default_data()
    if data is None or not Path(data).is_dir():
        print("key_placement: no data folder (give --data)", file=sys.stderr)
        return 2
    rows = run(Path(data), args.uncut)
    args.results.mkdir(parents=True, exist_ok=True)
    stem = "uncut" if args.uncut else "first_shots"
    text = summary(rows, args.uncut)
    (args.results / f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.results / f"{stem}.md").write_text(
        f"`python benchmarks/key_placement.py{' --uncut' if args.uncut else ''} "
        f"--results {args.results}`\n\n" + text
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
