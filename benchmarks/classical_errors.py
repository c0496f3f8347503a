"""Where classical propagation goes wrong, and whether matching on the reference fixes it.

    python benchmarks/classical_errors.py            # about 2 minutes on the 2-core CPU

On the 6 synthetic presets (48 frames at 640x360, the colour of frame 0 as the
reference, keyframe copied, ``--temporal classical``):

1. **Where errors come from.** Each truth region of each in-between is right when
   95% of its non-line pixels are within 10 levels of the truth (the benchmark's
   region accuracy). A wrong one is *guessed* when most of it lies in engine regions
   the warped colours gave no confident vote (the fill's colour), *inherited* when
   the same truth region was wrong in the frame before, else *new*.
2. **Re-anchoring on the reference.** On every other in-between the region matcher
   (``--keyframe-mode match``) colours the frame from the reference as if it were a
   keyframe; per engine region (its commonest true palette colour the truth) the
   matcher's choice is set against propagation's, and a switch to the matcher's
   colour where it is sure (its belief above ``tau``, propagation's colour below
   ``eps``) is counted as regions fixed and broken. The regions propagation gave no
   confident vote (its fill's guess) are also counted apart: the guess against the
   matcher there.

Writes ``benchmarks/results/classical_errors.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from pathlib import Path

import numpy as np

from celcolor.bench.cases import synthetic_cases
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.engine import colorizer as engine_colorizer
from celcolor.engine import region_match as rm
from celcolor.metrics.quality import correct_regions

RESULTS = Path(__file__).parent / "results"
SWITCHES = ((0.5, 0.05), (0.7, 0.05), (0.9, 0.05), (0.5, 0.01), (0.9, 0.01))


class _Spy:
    """Records each in-between's analysis, region colours and guessed regions."""

    def __init__(self) -> None:
        self.frames: dict[int, tuple] = {}
        self._repair = engine_colorizer.Colorizer._repair

    def __enter__(self) -> _Spy:
        spy, repair = self, self._repair

        def recording(colorizer, frame, colours, guessed=None):
            repair(colorizer, frame, colours, guessed)
            spy.frames[frame.seq] = (frame, colours.copy(), guessed)

        engine_colorizer.Colorizer._repair = recording
        return self

    def __exit__(self, *exc) -> None:
        engine_colorizer.Colorizer._repair = self._repair


def origins(case, out, frames) -> dict[str, int]:
    """Wrong truth regions of the in-betweens by where the error came from."""
    counts = dict(regions=0, wrong=0, guessed=0, new=0, inherited=0)
    wrong_before: set[int] = set()
    for t in range(1, len(out)):
        truth_regions, lines = case.regions[t], case.lines[t]
        frame, _, guessed = frames[t]
        in_guessed = (
            np.zeros(truth_regions.shape, bool)
            if guessed is None
            else guessed[frame.regions.labels]
        )
        wrong_now = set()
        ids, right = correct_regions(out[t], case.truth[t], truth_regions, lines=lines)
        for r, ok in zip(ids, right, strict=True):
            counts["regions"] += 1
            if ok:
                continue
            m = (truth_regions == r) & ~lines
            counts["wrong"] += 1
            wrong_now.add(int(r))
            if in_guessed[m].mean() > 0.5:
                counts["guessed"] += 1
            elif r in wrong_before:
                counts["inherited"] += 1
            else:
                counts["new"] += 1
        wrong_before = wrong_now
    return counts


def against_matcher(case, frames, palette) -> list[tuple[np.ndarray, ...]]:
    """Per scored in-between: (true colour, propagation's, matcher's beliefs, guessed)
    per region; guessed: propagation gave it no confident vote."""
    matching = Colorizer(case.reference, ColorizeOptions(keyframe_mode="match"))
    scorer = matching.matcher(required=True)
    colours = len(matching.palette)
    out = []
    for t in range(1, case.num_frames, 2):
        frame, propagated, guessed = frames[t]
        if guessed is None:
            guessed = np.zeros(frame.regions.count, bool)
        inputs = matching.match_inputs(case.sketches[t], frame, 0)
        *_, (_, region, colour, scores) = deque(rm.pass_beliefs(scorer, inputs, colours), 1)
        belief = rm.beliefs(scores, region, colour, frame.regions.count, colours)
        # Propagation may have added derived tones to its palette: compare by colour.
        rgb = palette.render(np.ascontiguousarray(propagated[None], np.uint8))
        propagated = matching.palette.index(rgb)[0]
        truth, seen = rm.commonest_colours(
            matching.palette, frame.regions.labels, frame.regions.count,
            case.truth[t], frame.art.ink_u8,
        )  # fmt: skip
        keep = seen.copy()
        keep[0] = False
        out.append((truth[keep], propagated[keep], belief[keep], guessed[keep]))
    return out


def switch_counts(rows, tau: float, eps: float) -> tuple[int, int]:
    """Regions fixed and broken by taking the matcher's colour where it is sure."""
    fixed = broken = 0
    for truth, propagated, belief, _ in rows:
        chosen = belief.argmax(1)
        sure = belief.max(1) > tau
        theirs = belief[np.arange(len(propagated)), propagated]
        switch = (chosen != propagated) & sure & (theirs < eps)
        fixed += int(np.sum(switch & (chosen == truth)))
        broken += int(np.sum(switch & (propagated == truth)))
    return fixed, broken


def guess_counts(truth, propagated, belief, guessed) -> dict[str, int]:
    """Where propagation had no confident vote (``guessed``, per region): how often its
    fill's guess and the matcher's choice are the true colour."""
    return {
        "guessed_regions": int(np.sum(guessed)),
        "guess_right": int(np.sum(guessed & (propagated == truth))),
        "matcher_right_where_guessed": int(np.sum(guessed & (belief.argmax(1) == truth))),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args()
    t0 = time.perf_counter()
    per_preset: dict[str, dict] = {}
    rows_all = []
    for case in synthetic_cases([(640, 360)], args.frames):
        options = ColorizeOptions(keyframe_mode="copy", temporal="classical")
        colorizer = Colorizer(case.reference, options)
        with _Spy() as spy:
            out = list(colorizer.colorize(case.sketches))
        counts = origins(case, out, spy.frames)
        rows = against_matcher(case, spy.frames, colorizer.palette)
        rows_all += rows
        truth, propagated, belief, guessed = (np.concatenate(x) for x in zip(*rows, strict=True))
        chosen = belief.argmax(1)
        counts |= {
            "matched_regions": len(truth),
            "propagation_right": int(np.sum(propagated == truth)),
            "matcher_right": int(np.sum(chosen == truth)),
            "matcher_right_where_propagation_wrong": int(
                np.sum((chosen == truth) & (propagated != truth))
            ),
            "matcher_wrong_where_propagation_right": int(
                np.sum((chosen != truth) & (propagated == truth))
            ),
            **guess_counts(truth, propagated, belief, guessed),
        }
        per_preset[case.info["preset"]] = counts
        print(case.name, counts, flush=True)
    total = {k: sum(c[k] for c in per_preset.values()) for k in next(iter(per_preset.values()))}
    switches = {f"tau {t} eps {e}": switch_counts(rows_all, t, e) for t, e in SWITCHES}
    res = {
        "command": "python benchmarks/classical_errors.py",
        "seconds": round(time.perf_counter() - t0, 1),
        "presets": per_preset,
        "total": total,
        "switches": switches,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "classical_errors.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        "Classical propagation's wrong regions (truth regions of the in-betweens) by origin,"
        " and the region matcher on every other in-between (engine regions):",
        "",
        "| preset | region-frames | wrong | guessed | new | inherited | matched regions"
        " | propagation right | matcher right | matcher right where propagation wrong"
        " | matcher wrong where propagation right | guessed regions | guess right"
        " | matcher right where guessed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in [*per_preset.items(), ("all", total)]:
        cells = [c[k] for k in total]
        lines.append(f"| {name} | " + " | ".join(str(v) for v in cells) + " |")
    lines += ["", "Switching to the matcher's colour where it is sure:", ""]
    lines += ["| rule | fixed | broken |", "|---|---|---|"]
    lines += [f"| {k} | {f} | {b} |" for k, (f, b) in switches.items()]
    (args.results / "classical_errors.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
