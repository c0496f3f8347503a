"""Regions uncovered by motion: what classical propagation gives them, and what is left.

    python benchmarks/ablate_uncovered.py            # about 5 minutes on the 2-core CPU

A region that propagation has no vote for (its pixels fail the occlusion test: it was
just uncovered) is the main source of error left on the generated suite. Three
variants of classical propagation on the 6 presets (48 frames at 640x360, the colour
of frame 0 as the reference), all else equal:

- ``occluder's colour``: the uncovered region keeps what lay there in the previous
  frame (the occluder's colour); a trace line only corrects a region that came out in
  its neighbour's colour (the rule before session 8; the band/base orientation by
  brightness, also new in session 8, stays on);
- ``classical``: the engine as shipped; across a colour-trace line from a voted region
  it takes that region's partner (:meth:`TracePartners.repair`, ``guessed``);
- ``oracle``: every uncovered region takes the palette colour the truth paints most of
  it with (the ceiling of any rule for them; it needs the truth, so it is no method).

Writes ``benchmarks/results/uncovered.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from celcolor.data.synthetic import CUT_PRESETS, generate_cut
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.engine.palette import NO_COLOUR, VOTE_INK_MAX, region_histogram
from celcolor.metrics import psnr, region_accuracy

RESULTS = Path(__file__).parent / "results"
VARIANTS = ("occluder's colour", "classical", "oracle")


class _Variant(Colorizer):
    """The engine with the uncovered regions' rule swapped (see the module docstring)."""

    def __init__(self, reference: np.ndarray, variant: str, truth: np.ndarray) -> None:
        super().__init__(reference, ColorizeOptions(keyframe_mode="copy", temporal="classical"))
        self.variant, self.truth, self.t = variant, truth, 0

    def _repair(self, frame, colours, guessed=None) -> None:
        self.t += 1  # _repair runs once per in-between, in order
        if guessed is None or self.variant == "classical":
            return super()._repair(frame, colours, guessed)
        if self.variant == "occluder's colour":
            return super()._repair(frame, colours, None)
        index = self.palette.index(self.truth[self.t])
        index[frame.art.ink_u8 > VOTE_INK_MAX] = NO_COLOUR
        hist = region_histogram(frame.regions.labels, index, frame.regions.count)
        votes = hist[:, :NO_COLOUR]
        take = guessed & (votes.sum(1) > 0)
        take[0] = False
        colours[take] = votes[take].argmax(1)
        return super()._repair(frame, colours, guessed)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    args = p.parse_args()
    t0 = time.perf_counter()
    res: dict[str, dict[str, dict]] = {v: {} for v in VARIANTS}
    for name, spec in CUT_PRESETS.items():
        cut = generate_cut(dataclasses.replace(spec, width=640, height=360, num_frames=args.frames))
        for variant in VARIANTS:
            out = np.stack(list(_Variant(cut.colour[0], variant, cut.colour).colorize(cut.sketch)))
            acc = region_accuracy(out[1:], cut.colour[1:], cut.regions[1:], lines=cut.lines[1:])
            res[variant][name] = {
                "psnr": psnr(out[1:], cut.colour[1:]).mean,
                "region": acc.region,
            }
    lines = [
        "# Uncovered regions",
        "",
        f"Command: `python benchmarks/ablate_uncovered.py --frames {args.frames}` "
        f"({(time.perf_counter() - t0) / 60:.1f} min). PSNR (dB) / region accuracy per "
        "preset, reference frame left out.",
        "",
        "| variant | " + " | ".join(CUT_PRESETS) + " | mean |",
        "|---|" + "---|" * (len(CUT_PRESETS) + 1),
    ]
    for variant in VARIANTS:
        cells = [f"{r['psnr']:.2f} / {100 * r['region']:.1f}%" for r in res[variant].values()]
        mean_p = np.mean([r["psnr"] for r in res[variant].values()])
        mean_r = np.mean([r["region"] for r in res[variant].values()])
        mean = f"{mean_p:.2f} / {100 * mean_r:.1f}%"
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {mean} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "uncovered.json").write_text(json.dumps(res, indent=2) + "\n")
    (RESULTS / "uncovered.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
