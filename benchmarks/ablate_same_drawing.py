"""A nearby frame's colour key that passes as the same drawing: copy, match, or both?

    python benchmarks/ablate_same_drawing.py        # about 2.5 minutes on the 2-core CPU

`--keyframe-mode auto` copies a reference whose lines overlap the keyframe's well
enough to pass as the same drawing (``reference.SAME_DRAWING_OVERLAP``), and matches
region by region otherwise. Many colour keys of a nearby frame pass (the drawing has
moved a little): on generated cuts matching would colour them better, on real finished
frames the copy is far ahead (it keeps textured regions). This asks whether a
per-region mix of the two gets the best of both: for keyframes that pass as the same
drawing, each region takes the copy (with its texture) where the copy is sure of it,
else the matcher's colour. Keyframes of another drawing are matched in every row, as
auto mode does.

Rows: the copy (the placed reference snapped per region, as auto copies the same
drawing; no local flow fit, unlike ``bench_exemplar.py``'s copy rows), the matcher,
auto, and mixes where a region keeps the copy when
- ``placed >= t``: the placed reference's share of the copy's colour in it is at
  least ``t``, or the copy found it textured;
- ``belief >= p``: the matcher's final belief in the copy's colour is at least ``p``;
- ``agree``: the matcher chose the copy's colour too (the copy's texture kept there).

Sets: the held-out keyframes of ``bench_exemplar.py`` (generated, and its 14 real
pairs), then other generated cuts (the training's random specs from another seed)
and keyframes of the real training clips (``pairs.real_keyframe_triples``, a frame 1
to 9 samples away as the reference), so that nothing is judged only on the benchmark's own
keyframes. Last, the same mixes where the reference is the keyframe's own colour frame
(the exact drawing), which a mix must not spoil. Generated keyframes score pixel and
region accuracy and PSNR (lines "auto"), real ones region choice and PSNR (lines
"fill"), as ``bench_exemplar.py``.
The output is composed from each row's region colours without the engine's
keyframe bookkeeping, so the matcher row may differ from ``bench_exemplar.py``'s by
a little.

Writes ``benchmarks/results/same_drawing.json`` and ``.md``. The real sets need the
development data; the generated ones do not.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from bench_exemplar import DATA, PAIRS, real_pairs

from celcolor.data.pairs import random_cut_spec, real_keyframe_triples
from celcolor.data.synthetic import CUT_PRESETS, CutSpec, render_frame
from celcolor.engine import ColorizeOptions, Colorizer, region_match
from celcolor.engine import detail as texture
from celcolor.engine.reference import place_reference
from celcolor.engine.region_match import commonest_colours
from celcolor.metrics import psnr, region_accuracy

RESULTS = Path(__file__).parent / "results"


def keyframe(sketch: np.ndarray, reference: np.ndarray, lines: str) -> dict:
    """Everything the rows need about one keyframe: the copy, the match, their votes."""
    col = Colorizer(reference, ColorizeOptions(lines=lines, keyframe_mode="match"))
    frame = col.analyse(sketch)
    placement = place_reference(sketch, reference)
    h, w = sketch.shape[:2]
    placed = col._placed_index(0, placement, (w, h))
    copy = col._snap(frame, placed, None)[0]
    inputs = col.match_inputs(sketch, frame, 0, placement)
    scorer, colours = col.matcher(required=True), len(col.palette)
    last = deque(region_match.pass_beliefs(scorer, inputs, colours), maxlen=1)
    _, region, colour, scores = last[0]
    return {
        "col": col,
        "frame": frame,
        "same": placement.same_drawing,
        "placed": placed,
        "copy": copy,
        "textured": texture.textured_regions(frame.regions, placed, copy),
        "match": region_match.choose(scorer, inputs, colours),
        "belief": region_match.beliefs(scores, region, colour, frame.regions.count, colours),
        "placed_share": inputs.votes.placed,
    }


MIXES = ("placed >= 0.8", "placed >= 0.95", "belief >= 0.05", "belief >= 0.2", "agree")


def rows(k: dict) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Row name -> (region colours, detail map) for keyframe ``k``."""
    regions, copy, match = k["frame"].regions, k["copy"], k["match"]
    at = np.arange(len(copy))

    def mix(keep: np.ndarray, texture_of: np.ndarray | None = None):
        keep = keep.copy()
        keep[0] = True
        colours = np.where(keep, copy, match).astype(np.uint8)
        textured = k["textured"] & (keep if texture_of is None else texture_of)
        return colours, texture.detail_map(regions, textured, k["placed"], colours)

    copied = (copy, texture.detail_map(regions, k["textured"], k["placed"], copy))
    matched = (match, None)
    out = {"copy": copied, "match": matched, "auto": copied if k["same"] else matched}
    if not k["same"]:
        return out | {name: matched for name in MIXES}
    share, belief = k["placed_share"][at, copy], k["belief"][at, copy]
    # A textured region's winner holds a small share of it by definition: it keeps the copy.
    out |= {f"placed >= {t}": mix((share >= t) | k["textured"]) for t in (0.8, 0.95)}
    out |= {f"belief >= {p}": mix(belief >= p) for p in (0.05, 0.2)}
    out["agree"] = mix(copy == match)
    return out


def generated_keyframes(held_out: bool) -> Iterator[tuple]:
    """(sketch, reference, truth frame) of generated cuts: bench_exemplar's, or others."""
    if held_out:
        specs = list(CUT_PRESETS.values()) + [
            CutSpec(seed=50_000 + s, num_shapes=6, motion=1.5) for s in range(4)
        ]
    else:
        rng = np.random.default_rng(123_457)
        specs = [random_cut_spec(rng, (640, 360)) for _ in range(12)]
    for spec in specs:
        for i, j in PAIRS:
            target = render_frame(spec, i, flow=False)
            yield target.sketch, render_frame(spec, j, flow=False).colour, target


def score(keyframes, lines: str, measure) -> tuple[dict, int, int]:
    """Row name -> per-keyframe scores, and how many of how many keyframes passed as
    the same drawing. ``measure(k, truth)`` returns the scorer of one output."""
    table: dict[str, list] = {}
    same = total = 0
    for sketch, reference, truth in keyframes:
        k = keyframe(sketch, reference, lines)
        same, total = same + k["same"], total + 1
        scorer = measure(k, truth)
        for name, (colours, detail) in rows(k).items():
            out = k["col"].compose(k["frame"], colours, detail)[0]
            table.setdefault(name, []).append(scorer(out))
    return table, same, total


def generated_scores(k: dict, truth):
    """Pixel and region accuracy and PSNR against a generated frame's truth."""

    def scorer(out: np.ndarray) -> tuple[float, float, float]:
        acc = region_accuracy(out, truth.colour, truth.regions, lines=truth.lines)
        return acc.pixel, acc.region, psnr(out, truth.colour).mean

    return scorer


def real_scores(k: dict, truth: np.ndarray):
    """Region choice (as ``bench_exemplar.region_choice``) and PSNR against a real frame."""
    col, frame = k["col"], k["frame"]
    labels, count, ink = frame.regions.labels, frame.regions.count, frame.art.ink_u8
    want, counted = commonest_colours(col.palette, labels, count, truth, ink)
    counted[0] = False

    def scorer(out: np.ndarray) -> tuple[float, float]:
        got, _ = commonest_colours(col.palette, labels, count, out, ink)
        return float(np.mean(got[counted] == want[counted])), psnr(out, truth).mean

    return scorer


def markdown(results: dict) -> str:
    lines = []
    for title, r in results.items():
        gen = len(next(iter(r["rows"].values()))) == 3
        head = "pixel acc. | region acc. | PSNR (dB)" if gen else "region choice | PSNR (dB)"
        lines += [
            f"{title} ({r['same']} of {r['keyframes']} keyframes pass as the same drawing):",
            "",
            f"| row | {head} |",
            "|---" * (3 + gen) + "|",
        ]
        for name, v in r["rows"].items():
            cells = [f"{x:.1%}" for x in v[:-1]] + [f"{v[-1]:.2f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    args = p.parse_args()
    t0 = time.time()
    sets = {
        "bench_exemplar's generated keyframes": score(
            generated_keyframes(True), "auto", generated_scores
        ),
        "other generated cuts": score(generated_keyframes(False), "auto", generated_scores),
    }
    if args.data.is_dir():
        pairs = ((sketch, ref, truth) for _, ref, sketch, truth in real_pairs(args.data))
        sets["bench_exemplar's real pairs"] = score(pairs, "fill", real_scores)
        clips = real_keyframe_triples(args.data, 24, (384, 224), seed=99, gaps=(1, 10))
        sets["real training clips"] = score(clips, "fill", real_scores)
    own = ((sketch, truth.colour, truth) for sketch, _, truth in generated_keyframes(False))
    sets["other generated cuts, the reference the keyframe's own colour"] = score(
        own, "auto", generated_scores
    )
    if args.data.is_dir():
        own = ((sketch, truth, truth) for _, _, sketch, truth in real_pairs(args.data))
        sets["bench_exemplar's real pairs, the reference the truth itself"] = score(
            own, "fill", real_scores
        )
    results = {
        title: {
            "same": same,
            "keyframes": total,
            "rows": {name: np.mean(v, 0).tolist() for name, v in table.items()},
        }
        for title, (table, same, total) in sets.items()
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "same_drawing.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "same_drawing.md").write_text(markdown(results))
    print(markdown(results))
    print(f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
