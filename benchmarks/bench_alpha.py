"""What cels on transparent (``--alpha``) cost: end-to-end speed with and without it.

    python benchmarks/bench_alpha.py            # ~2 minutes on 2 cores
    python benchmarks/bench_alpha.py --frames 48 --repeat 3

A generated 1280x720 cut whose reference is made a cel (its background colour
transparent) is coloured file to file, classical propagation, in each of these ways,
interleaved ``--repeat`` times (the best and the median of each are kept):

- the reference on white, without ``--alpha``, to a folder of PNGs, to H.264 ``.mp4``
  and to ProRes 422 HQ ``.mov`` (the ways a cut is coloured without it);
- the cel with ``--alpha``, to a folder of RGBA PNGs and to ProRes 4444 ``.mov``.

The RGBA PNGs are also checked against the truth: the share of pixels away from lines
whose transparency matches the truth's background, over every frame.

Writes ``benchmarks/results/alpha.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from celcolor.bench.environment import environment
from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine import ColorizeOptions, EncodeOptions, colorize_video
from celcolor.engine.matte import background_made_empty
from celcolor.io import read_image

RESULTS = Path(__file__).parent / "results"
WAYS = {
    "PNG frames, no --alpha": ("white", "out_png/", False),
    "H.264 .mp4, no --alpha": ("white", "out.mp4", False),
    "ProRes 422 HQ .mov, no --alpha": ("white", "out422.mov", False),
    "RGBA PNG frames, --alpha": ("cel", "out_rgba/", True),
    "ProRes 4444 .mov, --alpha": ("cel", "out.mov", True),
}


def make_cel(paths: dict, work: Path) -> tuple[Path, np.ndarray]:
    """The cut's reference with its background made transparent; returns the cel's path
    and the background colour."""
    rgba, background = background_made_empty(read_image(paths["reference"]))
    cel = work / "cel.png"
    cv2.imwrite(str(cel), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return cel, background


def agreement(out: Path, truth: Path, background: np.ndarray) -> float:
    """Share of pixels away from the truth's lines whose transparency is the truth's
    background, over every frame."""
    hits = total = 0
    for got_path, want_path in zip(sorted(out.iterdir()), sorted(truth.iterdir()), strict=True):
        got = cv2.imread(str(got_path), cv2.IMREAD_UNCHANGED)
        want = read_image(want_path)
        lines = (want.max(-1) <= 96).astype(np.uint8)
        away = cv2.dilate(lines, np.ones((5, 5), np.uint8)) == 0
        same = (got[..., 3] == 0) == (want == background).all(-1)
        hits += int(same[away].sum())
        total += int(away.sum())
    return hits / total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-alpha-"))
    spec = CutSpec(width=1280, height=720, num_frames=args.frames, seed=7)
    paths = write_cut(spec, work / "cut", video=True, overwrite=True)
    cel, background = make_cel(paths, work)
    refs = {"white": paths["reference"], "cel": cel}
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.repeat):
        for way, (ref, out, alpha) in WAYS.items():
            t0 = time.perf_counter()
            colorize_video(
                paths["sketch_video"],
                refs[ref],
                work / out,
                options=ColorizeOptions(temporal="classical", alpha=alpha),
                encode=EncodeOptions(overwrite=True, codec="prores" if "422" in out else None),
            )
            times[way].append(args.frames / (time.perf_counter() - t0))
    share = agreement(work / "out_rgba", paths["gt_dir"], background)
    rows = {
        way: {"best_fps": max(v), "median_fps": statistics.median(v)} for way, v in times.items()
    }
    report = {
        "command": "python benchmarks/bench_alpha.py "
        + f"--frames {args.frames} --repeat {args.repeat}",
        "environment": environment(),
        "size": [spec.width, spec.height],
        "frames": args.frames,
        "frames_per_second": rows,
        "transparency_matches_truth": share,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "alpha.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"`{report['command']}` ({spec.width}x{spec.height}, {args.frames} frames, classical; "
        f"{report['environment'].get('cpu', '')})",
        "",
        "| output | best frames/s | median |",
        "|---|---|---|",
        *(f"| {w} | {r['best_fps']:.1f} | {r['median_fps']:.1f} |" for w, r in rows.items()),
        "",
        f"Transparent exactly where the truth shows the background, away from lines: "
        f"{100 * share:.2f}% of pixels over every frame.",
    ]
    (args.results / "alpha.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
