"""How the softening of carried texture was chosen (``--texture-soften``).

    python benchmarks/tune_soften.py      # about 1.5 minutes on the 2-core CPU

Shots no benchmark scores: the shots after each first-frame clip's first shot
change (up to 48 frames, at least 12), and frames 48 to 96 of the clips whose first
shot runs that long, from the same colour clips (XDoG sketches) and from the
Anime2Sketch line art with its colour truth. Each shot's frame 0 is the reference.
Classical propagation at each ``--texture-soften`` width, with ``--lines auto`` and
``--lines fill``; PSNR and SSIM without frame 0, TC and E_warp on DIS flow of the
grey truth. Session 27 shipped the width that cut TC most among those that lost no
PSNR and no SSIM in either line mode on the XDoG shots. Writes
``benchmarks/results/soften.md`` and ``.json``. Needs the development data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from run_bench import default_data, real_suites

from celcolor.bench import BenchConfig, Clip, run_bench
from celcolor.bench.cases import first_shot_length, is_colour_clip, read_frames
from celcolor.bench.methods import engine_method, register_method, unregister_method
from celcolor.errors import CelcolorError
from celcolor.io import write_image

RESULTS = Path(__file__).parent / "results"
WIDTHS = (0.0, 1.0, 2.0)
LINES = ("auto", "fill")
SHOT_FRAMES = 48  # at most, per shot
MIN_FRAMES = 12  # a shorter shot tells little about flicker
READ_FRAMES = 400  # of each clip: its first shots


def _write(folder: Path, frames: list[np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        write_image(folder / f"{i:04d}.png", f)


def _segments(frames: list[np.ndarray]) -> list[tuple[str, int, int]]:
    """(name suffix, start, end) of the shots the benchmarks do not score."""
    first = first_shot_length(frames)
    out = []
    if first >= SHOT_FRAMES + 24:  # the first shot runs on past the benchmark's 48 frames
        out.append(("late", SHOT_FRAMES, min(first, 2 * SHOT_FRAMES)))
    start, k = first, 1
    while start < len(frames):
        length = first_shot_length(frames[start:])
        end = start + min(length, SHOT_FRAMES)
        if end - start >= MIN_FRAMES and is_colour_clip(frames[start]):
            out.append((f"shot{k}", start, end))
        start += length
        k += 1
    return out


def dev_shots(clips: list[Clip], root: Path) -> list[Clip]:
    """The clips' unscored shots written as frame folders under ``root``."""
    shots = []
    for clip in clips:
        try:
            frames, _ = read_frames(Path(clip.path), READ_FRAMES, clip.crop)
            sketch = None
            if clip.sketch_crop is not None:  # the clip's own line art beside the colour
                sketch = read_frames(Path(clip.path), READ_FRAMES, clip.sketch_crop)[0]
        except (CelcolorError, OSError) as e:
            print(f"skipped {clip.label}: {e}", file=sys.stderr)
            continue
        for suffix, start, end in _segments(frames):
            folder = root / f"{clip.label}_{suffix}"
            _write(folder / "colour", frames[start:end])
            sketch_path = None
            if sketch is not None:
                sketch_path = folder / "sketch"
                _write(sketch_path, sketch[start:end])
            shots.append(Clip(folder / "colour", name=folder.name, sketch_path=sketch_path))
    return shots


def measure(shots: list[Clip]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per width and line mode: per shot (PSNR, SSIM, TC, E_warp x1e3)."""
    names = {w: f"classical --texture-soften {w:g}" for w in WIDTHS}
    for w, name in names.items():
        fields = {"temporal": "classical", "keyframe_mode": "copy", "texture_soften": w}
        register_method(engine_method(name, fields, "classical propagation"))
    try:
        config = BenchConfig(
            synthetic=False, clips=shots, max_frames=SHOT_FRAMES, first_frame_lines=LINES,
            lvcd_size=False, methods=tuple(names.values()), speed=False, memory=False,
        )  # fmt: skip
        report = run_bench(config)
    finally:
        for name in names.values():
            unregister_method(name)
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for case in report["protocols"]["first-frame"]["cases"]:
        for w, name in names.items():
            for lines in LINES:
                row = case["scores"]["native"]["rows"][f"{name} (lines={lines})"]
                tc, ewarp = next(iter(row["tc"].values())), next(iter(row["ewarp"].values()))
                cell = out.setdefault(f"{w:g}", {}).setdefault(lines, {})
                cell[case["name"]] = [row["psnr"], row["ssim"], tc, ewarp * 1e3]
    return out


def markdown(results: dict, counts: dict[str, int]) -> str:
    lines = []
    for suite, title in (("xdog", "XDoG sketches"), ("lineart", "Anime2Sketch line art")):
        res = results[suite]
        lines += [
            f"{title}: {counts[suite]} shots no benchmark scores, classical propagation, "
            "frame 0 the reference; means over shots, changes against no softening:",
            "",
            "| `--texture-soften` | `--lines` | PSNR (dB) | SSIM | TC | E_warp x1e3 | "
            "PSNR change | SSIM change | TC change |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for lines_mode in LINES:
            base = np.mean(list(res["0"][lines_mode].values()), axis=0)
            for w in WIDTHS:
                m = np.mean(list(res[f"{w:g}"][lines_mode].values()), axis=0)
                lines.append(
                    f"| {w:g} | {lines_mode} | {m[0]:.3f} | {m[1]:.4f} | {m[2]:.3f} | "
                    f"{m[3]:.3f} | {m[0] - base[0]:+.3f} | {m[1] - base[1]:+.4f} | "
                    f"{100 * (m[2] / base[2] - 1):+.1f}% |"
                )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    args = p.parse_args()
    data = args.data or default_data()
    suites = real_suites(data, "tune_soften")
    t0 = time.time()
    results, counts = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for suite, clips in suites.items():
            shots = dev_shots(clips, Path(tmp) / suite)
            results[suite] = measure(shots)
            # The bench leaves out shots it cannot score (a shot change inside, too few frames).
            counts[suite] = len(results[suite]["0"][LINES[0]])
            print(f"{suite}: {counts[suite]} of {len(shots)} shots, {time.time() - t0:.0f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soften.json").write_text(json.dumps({"widths": WIDTHS, "results": results}))
    text = markdown(results, counts)
    (RESULTS / "soften.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
