"""Which cuts the engine warns of frames that no longer show their keyframe's drawing.

    python benchmarks/bench_unseen.py --results benchmarks/results/unseen

Colours every development cut with classical propagation (the default path) and
records the stretches :mod:`celcolor.engine.views` finds (``stats.unseen``):

- the real colour clips (first-frame protocol, each first shot whole, up to
  ``--frames``), where the truth says how good the carried colours are: the mean
  PSNR of frames inside a warned stretch against the rest, and inside it again once
  the advice is followed (the truth of the frame the warning names, the middle of
  the first stretch, pinned there as a second key), and TC over the whole shot (E_warp
  of the output over the truth's, DIS flow of the truth) with one key and with the keys
  the warnings ask for;
- the real line-art cuts with a colour reference (no truth: the warnings only);
- the synthetic suite (6 presets at 640x360 and 1280x720, 48 frames), where every
  frame shows the keyframe's view (shapes move over a set that pans at most a little):
  any warning there is a false alarm.

Also the matching's time per frame (the ``views`` stage; classical runs it on the
colouring thread). Needs ``../shared/data`` for the real cuts (``--data``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import colour_clips, default_data, lineart_cuts

from celcolor.bench.cases import first_frame_cases, lineart_cases, synthetic_cases
from celcolor.bench.scoring import MetricFlow, flows_on_colour
from celcolor.engine import ColorizeOptions, Colorizer, views
from celcolor.engine.views import key_of
from celcolor.metrics import psnr
from celcolor.metrics.flicker import temporal_consistency_ratio

ADVICE_ROUNDS = 3  # keys added at most, one per run, where the warning names them
LONG_SHOT = 48  # the whole-shot rows of bench_temporal: shots of this many frames or more


def colour(
    reference: np.ndarray | None,
    sketches: list[np.ndarray],
    pinned: dict[int, np.ndarray] | None = None,
    **options,
) -> tuple[list[np.ndarray], Colorizer, float]:
    """Classical propagation over a cut: its frames, the colorizer (stats), seconds."""
    col = Colorizer(reference, ColorizeOptions(temporal="classical", **options), pinned=pinned)
    t0 = time.perf_counter()
    out = list(col.colorize(sketches))
    return out, col, time.perf_counter() - t0


def inside(index: int, stretches: list[tuple[int, int]]) -> bool:
    """Whether frame ``index`` lies in a warned stretch (first to last sample)."""
    return any(a <= index <= b for a, b in stretches)


def ink_growth(col: Colorizer, sketches: list[np.ndarray], key: int) -> float | None:
    """The most ink of a sampled frame against its keyframe's (``views.GROWTH``); None
    when the keyframe has no ink and a sample has some."""

    def ink(i: int) -> float:
        return views.features(col.analyse(sketches[i]).art.ink_u8).ink

    base = ink(key)
    samples = [i for i in range(len(sketches)) if views.sampled(i) and i != key]
    most = max((ink(i) for i in samples), default=0.0)
    if base == 0:
        return None if most > 0 else 1.0
    return most / base


def row(name: str, suite: str, frames: int, col: Colorizer, seconds: float) -> dict:
    views_ms = 1e3 * col.stats.seconds.get("views", 0.0) / max(frames, 1)
    return {
        "suite": suite,
        "name": name,
        "frames": frames,
        "unseen": [list(s) for s in col.stats.unseen],
        "grown": [list(s) for s in col.stats.grown],
        "redrawn": [list(s) for s in col.stats.redrawn],
        "new_drawings": list(col.stats.new_drawings),
        "views_ms_per_frame": round(views_ms, 2),
        "ms_per_frame": round(1e3 * seconds / max(frames, 1), 1),
    }


def follow_advice(case, unseen: list[list[int]], flows) -> dict:
    """Do what the warning asks, up to ``ADVICE_ROUNDS`` times: pin a reference (here the
    truth) to the frame it names and colour again. Returns the keys added, what is
    still warned of, and the last run's PSNR (frames 1 on) and TC (``flows``: of the
    truth)."""
    keys = {case.ref_frame: case.reference}
    for _ in range(ADVICE_ROUNDS):
        if not unseen:
            break
        at = key_of(unseen[0])  # the frame the warning names
        keys[at] = case.truth[at]
        out, col, _ = colour(None, case.sketches, keys, keyframe_mode="copy", lines="fill")
        unseen = [list(x) for x in col.stats.unseen]
        scores = [float(psnr(o, t)) for o, t in zip(out[1:], case.truth[1:], strict=True)]
        tc = float(temporal_consistency_ratio(out, case.truth, flows.fwd, flows.bwd).ratio)
    keys = sorted(set(keys) - {case.ref_frame})
    return {"keys": keys, "unseen": unseen, "psnr": scores, "tc": tc}


def run(data: Path, frames: int) -> list[dict]:
    rows = []
    for case in first_frame_cases(colour_clips(data), max_frames=frames):
        out, col, dt = colour(case.reference, case.sketches, keyframe_mode="copy", lines="fill")
        r = row(case.name, "real colour clips", len(out), col, dt)
        r["max_growth"] = ink_growth(col, case.sketches, case.ref_frame)
        scores = [float(psnr(o, t)) for o, t in zip(out[1:], case.truth[1:], strict=True)]
        r["psnr"] = scores  # frames 1.. (frame 0 is the reference)
        flows = flows_on_colour(case.truth, MetricFlow())
        r["tc"] = float(temporal_consistency_ratio(out, case.truth, flows.fwd, flows.bwd).ratio)
        if r["unseen"]:
            r["advised"] = follow_advice(case, r["unseen"], flows)
        del flows  # a whole shot's flows: up to a few GB
        rows.append(r)
        print(f"{r['suite']:18s} {case.name[:32]:32s} {r['frames']:4d} {r['unseen']}", flush=True)
    for case in lineart_cases(lineart_cuts(data), max_frames=frames):
        out, col, dt = colour(case.reference, case.sketches)
        rows.append(row(case.name, "real line art", len(out), col, dt))
        rows[-1]["max_growth"] = ink_growth(col, case.sketches, case.ref_frame)
        print(f"{'real line art':18s} {case.name[:32]:32s} {len(out):4d} {rows[-1]['unseen']}")
    for case in synthetic_cases([(640, 360), (1280, 720)], 48):
        out, col, dt = colour(case.reference, case.sketches, keyframe_mode="copy")
        rows.append(row(case.name, "synthetic", len(out), col, dt))
        rows[-1]["max_growth"] = ink_growth(col, case.sketches, 0)
        print(f"{'synthetic':18s} {case.name[:32]:32s} {len(out):4d} {rows[-1]['unseen']}")
    return rows


def summary(rows: list[dict]) -> str:
    lines = ["| suite | cuts | warned | frames in warned stretches |", "|---|---|---|---|"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        group = [r for r in rows if r["suite"] == suite]
        warned = [r for r in group if r["unseen"]]
        spanned = sum(sum(b - a + 1 for a, b in r["unseen"]) for r in group)
        total = sum(r["frames"] for r in group)
        lines.append(f"| {suite} | {len(group)} | {len(warned)} | {spanned} of {total} |")
    real = [r for r in rows if "psnr" in r]
    lines += ["", "Classical propagation's PSNR on the real colour clips (frames 1 on):", ""]
    lines += ["| frames | count | mean PSNR (dB) |", "|---|---|---|"]
    groups: dict[str, list[float]] = {
        "inside a warned stretch": [],
        "of warned clips, before their stretch": [],
        "of clips without a warning": [],
    }
    for r in real:
        for i, score in enumerate(r["psnr"], start=1):
            if inside(i, r["unseen"]):
                groups["inside a warned stretch"].append(score)
            elif r["unseen"]:
                if i < r["unseen"][0][0]:
                    groups["of warned clips, before their stretch"].append(score)
            else:
                groups["of clips without a warning"].append(score)
    for label, scores in groups.items():
        mean = f"{np.mean(scores):.2f}" if scores else "n/a"
        lines.append(f"| {label} | {len(scores)} | {mean} |")
    lines += ["", "TC over each whole first shot (1 = as steady as the animation; mean over"]
    lines[-1] += " the shots), with one key and with the keys the warnings ask for (the"
    lines[-1] += " shots without a warning keep their one key):"
    lines += ["", "| shots | count | TC, one key | TC, with the advised keys |"]
    lines += ["|---|---|---|---|"]
    for label, group in (
        ("every first shot", real),
        (f"shots of {LONG_SHOT}+ frames", [r for r in real if r["frames"] >= LONG_SHOT]),
    ):
        if group:
            one = np.mean([r["tc"] for r in group])
            advised = np.mean([r["advised"]["tc"] if r["unseen"] else r["tc"] for r in group])
            lines.append(f"| {label} | {len(group)} | {one:.3f} | {advised:.3f} |")
    lines += ["", "Per warned clip; then after doing what the warning asks: pin the truth of"]
    lines[-1] += " the frame it names as a key and run again, up to"
    lines[-1] += f" {ADVICE_ROUNDS} times (the keys' own frames left out):"
    lines += ["", "| clip | before (dB) | inside (dB) | frames inside | keys added |"]
    lines[-1] += " inside, keyed (dB) | still warned | TC, one key / keyed |"
    lines += ["|---|---|---|---|---|---|---|---|"]
    for r in (r for r in real if r["unseen"]):
        index = np.arange(1, len(r["psnr"]) + 1)
        scores = np.asarray(r["psnr"])
        warned = np.array([inside(i, r["unseen"]) for i in index])
        before = index < r["unseen"][0][0]
        advised = r["advised"]
        keyed = np.asarray(advised["psnr"])[warned & ~np.isin(index, advised["keys"])]
        after = ", ".join(f"{a} to {b}" for a, b in advised["unseen"]) or "-"
        added = ", ".join(map(str, advised["keys"]))
        lines.append(
            f"| {r['name']} | {scores[before].mean():.2f} | {scores[warned].mean():.2f} "
            f"| {int(warned.sum())} | {added} | {keyed.mean():.2f} | {after} "
            f"| {r['tc']:.2f} / {advised['tc']:.2f} |"
        )
    lines += ["", "Per cut: the stretches (new content: far more ink than the keyframe, marked"]
    lines[-1] += " +; drawings changed beyond what the carry follows, marked *), and the most"
    lines[-1] += f" ink of a sample against its keyframe's (`GROWTH` is {views.GROWTH:g}):"
    lines += ["", "| suite | cut | frames | warned stretches (first to last sample) | ink |"]
    lines += ["|---|---|---|---|---|"]
    for r in rows:
        mark = {tuple(g): " +" for g in r["grown"]}
        mark.update({tuple(g): " *" for g in r.get("redrawn", [])})
        spans = ", ".join(f"{a} to {b}{mark.get((a, b), '')}" for a, b in r["unseen"])
        growth = r["max_growth"]
        shown = f"{growth:.2f}" if growth is not None else "empty keyframe"
        lines.append(f"| {r['suite']} | {r['name']} | {r['frames']} | {spans or '-'} | {shown} |")
    for suite in dict.fromkeys(r["suite"] for r in rows):
        rest = [r for r in rows if r["suite"] == suite and not r["grown"]]
        rest = [r for r in rest if r["max_growth"] is not None]
        if rest:
            top = max(rest, key=lambda r: r["max_growth"])
            lines += ["", f"{suite}, cuts with no new content: most ink"]
            lines[-1] += f" {top['max_growth']:.2f} times the keyframe's (`{top['name']}`)."
    ms = [r["views_ms_per_frame"] for r in rows if r["suite"] == "synthetic"]
    lines += ["", f"Matching time on the colouring thread: {np.mean(ms):.1f} ms a frame"]
    lines[-1] += " (synthetic suite, mean over its cuts)."
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=None, help="development data folder")
    p.add_argument("--frames", type=int, default=300, help="longest real shot coloured")
    p.add_argument("--results", type=Path, default=None, help="folder for unseen.json/.md")
    args = p.parse_args(argv)
    logging.getLogger("celcolor").setLevel(logging.ERROR)
    data = args.data or default_data()
    if not data.is_dir():
        print(f"bench_unseen: no development data at {data} (--data)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = run(data, args.frames)
    text = summary(rows)
    print(text)
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        record = {"seconds": round(time.perf_counter() - t0, 1), "cuts": rows}
        (args.results / "unseen.json").write_text(json.dumps(record, indent=1))
        # The command as run from the repository root, whatever the working folder.
        command = shlex.join(["python", "benchmarks/bench_unseen.py", *(argv or sys.argv[1:])])
        (args.results / "unseen.md").write_text(f"`{command}`\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
