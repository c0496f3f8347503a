"""A colour key of some frame of the cut: coloured from frame 0, or from the frame it keys.

    python benchmarks/bench_locate.py            # about 4 minutes on the 2-core CPU

An animator often holds the colour key of a frame in the middle of the cut. Without
its frame number the engine took it for frame 0's reference: another drawing, so
frame 0 was matched region by region and propagation carried that guess. With
``--ref-frame auto`` (:mod:`celcolor.engine.locate`) the engine first finds the frame
whose drawing the key is, copies the key there and propagates both ways. Three rows:

- ``frame 0``: ``--ref-frame 0`` (the default), the key taken as frame 0's reference;
- ``auto``: ``--ref-frame auto``;
- ``told``: ``--ref-frame K``, the key's true frame given by hand (the ceiling).

Generated cuts: the 6 presets, 48 frames at 640x360, keys of frames 16 and 40, PSNR
and region accuracy over every frame. Real clips (when ``../shared/data`` is present):
the first-frame suite's colour clips (XDoG sketches, at most 24 frames), the colour
frame in the middle of each clip as the key, PSNR over every frame; and how often
``auto`` found the key's frame. Writes ``benchmarks/results/locate.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from run_bench import colour_clips, default_data

from celcolor.bench.cases import first_frame_cases
from celcolor.data.synthetic import CUT_PRESETS, render_frame
from celcolor.engine import ColorizeOptions, Colorizer, locate_reference
from celcolor.metrics import psnr, region_accuracy

RESULTS = Path(__file__).parent / "results"
ROWS = ("frame 0", "auto", "told")


def _colour(sketches, key, ref_frame: int) -> list[np.ndarray]:
    return list(Colorizer(key, ColorizeOptions(ref_frame=ref_frame)).colorize(sketches))


def _run(sketches, key, k: int) -> tuple[dict[str, list[np.ndarray]], int, float]:
    """Outputs per row, the frame auto found, and the seconds its scan took."""
    t0 = time.perf_counter()
    located = locate_reference(sketches, key)
    scan = time.perf_counter() - t0
    frames = {"frame 0": 0, "auto": located.frame, "told": k}
    outs = {row: _colour(sketches, key, f) for row, f in frames.items()}
    return outs, located.frame, scan


def generated(frames: int, keys: tuple[int, ...]) -> dict:
    rows: dict[str, list] = {r: [] for r in ROWS}
    found, scans = [], []
    for name, spec in CUT_PRESETS.items():
        cut = [render_frame(spec, i, flow=False) for i in range(frames)]
        sketches = [f.sketch for f in cut]
        for k in keys:
            outs, at, scan = _run(sketches, cut[k].colour, k)
            found.append((name, k, at))
            scans.append(scan / frames)
            for row, out in outs.items():
                acc = [
                    region_accuracy(o, f.colour, f.regions, lines=f.lines)
                    for o, f in zip(out, cut, strict=True)
                ]
                rows[row].append(
                    (
                        float(
                            np.mean([psnr(o, f.colour).mean for o, f in zip(out, cut, strict=True)])
                        ),
                        float(np.mean([a.region for a in acc])),
                    )
                )
            print(f"generated {name} key {k}: auto found {at}", flush=True)
    return {
        "rows": {r: {"psnr": float(np.mean([v[0] for v in vs])),
                     "region_accuracy": float(np.mean([v[1] for v in vs]))}
                 for r, vs in rows.items()},
        "found": found,
        "scan_ms_per_frame": 1000 * float(np.mean(scans)),
    }  # fmt: skip


def real(data: Path, max_frames: int) -> dict | None:
    cases = list(first_frame_cases(colour_clips(data), max_frames=max_frames))
    if not cases:
        return None
    rows: dict[str, list] = {r: [] for r in ROWS}
    found = []
    for case in cases:
        k = case.num_frames // 2
        outs, at, _ = _run(case.sketches, case.truth[k], k)
        found.append((case.name, k, at))
        for row, out in outs.items():
            rows[row].append(
                float(np.mean([psnr(o, t).mean for o, t in zip(out, case.truth, strict=True)]))
            )
        print(f"real {case.name} key {k}: auto found {at}", flush=True)
    return {"rows": {r: float(np.mean(v)) for r, v in rows.items()}, "found": found}


def markdown(res: dict) -> str:
    g = res["generated"]
    exact = sum(k == at for _, k, at in g["found"])
    near = sum(abs(k - at) <= 2 for _, k, at in g["found"])
    lines = [
        f"Generated cuts (6 presets, {res['frames']} frames at 640x360, the colour key of "
        f"frame {' or '.join(map(str, res['keys']))}; means over every frame):",
        "",
        "| keyframe | PSNR (dB) | region acc. |",
        "|---|---|---|",
    ]
    for row, r in g["rows"].items():
        lines.append(f"| {row} | {r['psnr']:.2f} | {100 * r['region_accuracy']:.1f}% |")
    lines += [
        "",
        f"`auto` found the key's frame exactly in {exact} of {len(g['found'])} cuts, within 2 "
        f"frames in {near} (a slow pose is nearly the same drawing a frame on); its scan took "
        f"{g['scan_ms_per_frame']:.1f} ms a frame.",
    ]
    r = res.get("real")
    if r:
        exact = sum(k == at for _, k, at in r["found"])
        near = sum(abs(k - at) <= 1 for _, k, at in r["found"])
        none = sum(at == 0 and k != 0 for _, k, at in r["found"])
        lines += [
            "",
            f"Real colour clips ({len(r['found'])}, XDoG sketches, at most "
            f"{res['real_frames']} frames, the middle frame's colour as the key; PSNR over "
            "every frame):",
            "",
            "| keyframe | PSNR (dB) |",
            "|---|---|",
            *(f"| {row} | {v:.2f} |" for row, v in r["rows"].items()),
            "",
            f"`auto` found the key's frame exactly in {exact} of {len(r['found'])} clips, "
            f"within one frame in {near}; it fell back to frame 0 in {none}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="frames per generated cut")
    p.add_argument("--real-frames", type=int, default=24, help="cap per real clip")
    args = p.parse_args()
    keys = tuple(k for k in (16, 40) if k < args.frames) or (args.frames - 1,)
    t0 = time.time()
    res = {"frames": args.frames, "keys": keys, "real_frames": args.real_frames}
    res["generated"] = generated(args.frames, keys)
    data = args.data or default_data()
    res["real"] = real(data, args.real_frames) if data.is_dir() else None
    res["seconds"] = time.time() - t0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "locate.json").write_text(json.dumps(res, indent=1))
    (RESULTS / "locate.md").write_text(markdown(res))
    print(markdown(res))
    print(f"{res['seconds']:.0f} s")


if __name__ == "__main__":
    main()
