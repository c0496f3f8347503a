"""Two shots in one cut, a key pinned in each: how well the in-betweens are coloured.

    python benchmarks/bench_two_shots.py        # about 3.5 minutes on the 2-core CPU

A studio often hands over a sequence with a colour key per shot
(``--ref 0:shot1.png --ref 15:shot2.png``). Between two pinned keys the engine colours
forward from the first and backward from the second and keeps, per region, the pass
it trusts more (``--blend-window``). Since session 21 a pass is not trusted past a
new drawing it met (see README, "New drawings"): colour carried from one shot into the
next says nothing of it. Generated cuts, seeded: each is two generated cuts of 16
frames at 320x192 joined at a random frame, keyed at frame 0 (the first's colour) and
frame 15 (the second's). Scored: region accuracy (the bench's rule) of the 14
in-betweens against the true colours of whichever cut each frame comes from.

When ``../shared/data`` is there, real rows too: the Anime2Sketch Vinland clips whole
(two or three shots each, their learned line art as input, see
``bench_lineart_truth.py``), keyed at their first and last frames with the true
colours, scored by PSNR of the in-betweens against their colour halves; and real colour
clips joined two by two (the first-frame suite, XDoG sketches): the first 6 to 11 frames
of one, then the start of another, 24 frames in all, keyed at both ends from the truth,
each shot's in-betweens scored apart. They test that neither pass's colours dissolve
into the other shot where the new-drawing test misses the change, or sees it from one
side only.

Writes ``benchmarks/results/two_shots.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from run_bench import default_data

from celcolor.data.synthetic import CutSpec, generate_cut
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.metrics import psnr, region_accuracy

RESULTS = Path(__file__).parent / "results"
FRAMES = 16
ROWS = {
    "forward only (--blend-window 0)": {"blend_window": 0},
    "forward, re-keyed at new drawings (--blend-window 0 --rekey on)": {
        "blend_window": 0,
        "rekey": "on",
    },
    "blended, no fade (--blend-fade 0)": {"blend_fade": 0},
    "blended (shipped)": {},
}
JOINED_FRAMES = 24
JOINED_SIZE = (426, 240)  # the suite's clips mostly are; others are scaled to it


def two_shot_cuts(count: int, seed: int = 0):
    """``count`` seeded (sketches, truth, regions, lines, cut frame) joined cuts."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        k = int(rng.integers(2, FRAMES - 2))
        a, b = (
            generate_cut(CutSpec(width=320, height=192, num_frames=FRAMES, seed=s, motion=2.0))
            for s in (100 + i, 200 + i)
        )
        yield (
            _join(a.sketch, b.sketch, k),
            _join(a.colour, b.colour, k),
            _join(a.regions, b.regions, k),
            _join(a.lines, b.lines, k),
            k,
        )


def _join(first, second, k: int) -> list:
    """The first ``k`` frames of one cut, then the rest of the other."""
    return [*first[:k], *second[k:]]


def score(fields: dict, count: int) -> dict:
    """Mean region accuracy of the in-betweens per cut, and how many cuts were found."""
    accuracy, found = [], 0
    for sketches, truth, regions, lines, k in two_shot_cuts(count):
        pinned = {0: truth[0], FRAMES - 1: truth[-1]}
        col = Colorizer(None, ColorizeOptions(temporal="classical", **fields), pinned=pinned)
        out = list(col.colorize(sketches))
        found += any(abs(f - k) <= 1 for f in col.stats.new_drawings)
        inner = range(1, FRAMES - 1)
        accuracy.append(
            float(
                np.mean(
                    [
                        region_accuracy(out[t], truth[t], regions[t], lines=lines[t]).region
                        for t in inner
                    ]
                )
            )
        )
    return {"accuracy": accuracy, "mean": float(np.mean(accuracy)), "found": found}


def real_scores(fields: dict, data: Path) -> dict[str, float]:
    """PSNR of the in-betweens of each Anime2Sketch clip, whole, keyed at both ends."""
    from run_bench import lineart_truth_clips

    from celcolor.bench.cases import first_frame_cases

    out = {}
    clips = lineart_truth_clips(data)
    for case in first_frame_cases(clips, max_frames=48, cut_at_shot_change=False):
        truth, n = case.truth, case.num_frames
        col = Colorizer(
            None,
            ColorizeOptions(temporal="classical", **fields),
            pinned={0: truth[0], n - 1: truth[-1]},
        )
        frames = list(col.colorize(case.sketches))
        out[case.name] = psnr(frames[1 : n - 1], truth[1 : n - 1]).mean
    return out


def joined_real_cuts(data: Path, seed: int = 0):
    """Seeded (name, sketches, truth, cut frame): real colour clips joined two by two."""
    import cv2
    from run_bench import colour_clips

    from celcolor.bench.cases import first_frame_cases

    def fit(frames: list[np.ndarray]) -> list[np.ndarray]:
        area = cv2.INTER_AREA
        return [
            f if f.shape[1::-1] == JOINED_SIZE else cv2.resize(f, JOINED_SIZE, interpolation=area)
            for f in frames
        ]

    cases = [c for c in first_frame_cases(colour_clips(data)) if len(c.sketches) >= 14]
    rng = np.random.default_rng(seed)
    for i, a in enumerate(cases):
        b = cases[(i + 1 + int(rng.integers(len(cases) - 1))) % len(cases)]
        k = int(rng.integers(6, 12))
        rest = JOINED_FRAMES - k
        yield (
            f"{a.name[:14]} + {b.name[:14]}",
            fit(a.sketches[:k]) + fit(b.sketches[:rest]),
            fit(a.truth[:k]) + fit(b.truth[:rest]),
            k,
        )


def joined_scores(fields: dict, data: Path) -> dict[str, list[float]]:
    """Per joined cut: PSNR of each shot's in-betweens, and whether the change was found."""
    out = {}
    for name, sketches, truth, k in joined_real_cuts(data):
        n = len(sketches)
        col = Colorizer(
            None,
            ColorizeOptions(temporal="classical", **fields),
            pinned={0: truth[0], n - 1: truth[-1]},
        )
        frames = list(col.colorize(sketches))
        out[name] = [
            psnr(frames[1:k], truth[1:k]).mean,
            psnr(frames[k : n - 1], truth[k : n - 1]).mean,
            float(k in col.stats.new_drawings),
        ]
    return out


def markdown(results: dict, count: int) -> str:
    lines = [
        f"{count} generated two-shot cuts (16 frames, 320x192, joined at a random frame, "
        "keys pinned at 0 and 15), classical; region accuracy of the 14 in-betweens:",
        "",
        "| in-betweens | region accuracy (mean) | cuts whose shot change was found |",
        "|---|---|---|",
    ]
    for row, r in results.items():
        lines.append(f"| {row} | {100 * r['mean']:.1f}% | {r['found']} of {count} |")
    real = {row: r["real"] for row, r in results.items() if r.get("real")}
    if real:
        names = list(next(iter(real.values())))
        lines += [
            "",
            "Anime2Sketch clips whole, keyed at their first and last frames; PSNR (dB) of "
            "the in-betweens:",
            "",
            "| in-betweens | " + " | ".join(names) + " | mean |",
            "|---" * (len(names) + 2) + "|",
        ]
        for row, per in real.items():
            cells = " | ".join(f"{per[n]:.2f}" for n in names)
            lines.append(f"| {row} | {cells} | {np.mean(list(per.values())):.2f} |")
    joined = {row: r["joined"] for row, r in results.items() if r.get("joined")}
    if joined:
        per_cut = next(iter(joined.values()))
        found = int(sum(v[2] for v in per_cut.values()))
        lines += [
            "",
            f"{len(per_cut)} real colour clips joined two by two ({JOINED_FRAMES} frames, the "
            f"change at frame 6 to 11, found in {found}), keyed at both ends; PSNR (dB) of "
            "each shot's in-betweens, mean over the cuts:",
            "",
            "| in-betweens | first shot | second shot | worst cut, first shot | worst, second |",
            "|---|---|---|---|---|",
        ]
        for row, per in joined.items():
            first = [v[0] for v in per.values()]
            second = [v[1] for v in per.values()]
            lines.append(
                f"| {row} | {np.mean(first):.2f} | {np.mean(second):.2f} | "
                f"{min(first):.2f} | {min(second):.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cuts", type=int, default=12)
    p.add_argument("--data", type=Path, default=None)
    args = p.parse_args()
    data = args.data or default_data()
    t0 = time.time()
    results = {row: score(fields, args.cuts) for row, fields in ROWS.items()}
    if data.is_dir():
        for row, fields in ROWS.items():
            results[row]["real"] = real_scores(fields, data)
            results[row]["joined"] = joined_scores(fields, data)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "two_shots.json").write_text(
        json.dumps({"seconds": round(time.time() - t0, 1), "rows": results}, indent=1)
    )
    (RESULTS / "two_shots.md").write_text(markdown(results, args.cuts))
    print(markdown(results, args.cuts))


if __name__ == "__main__":
    main()
