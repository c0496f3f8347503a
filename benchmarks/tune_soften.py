"""How the softening of carried texture was chosen (``--texture-soften`` and the extra
softening where the flow distorts it, ``detail.DISTORTED_SOFTEN``).

    python benchmarks/tune_soften.py      # about 18 minutes on the 2-core CPU

Shots no benchmark scores: the shots after each first-frame clip's first shot
change (up to 48 frames, at least 12), and frames 48 to 96 of the clips whose first
shot runs that long, from the same colour clips (XDoG sketches) and from the
Anime2Sketch line art with its colour truth. Each shot's frame 0 is the reference.
Classical propagation at each ``--texture-soften`` width, with ``--lines auto`` and
``--lines fill``; PSNR and SSIM without frame 0, TC and E_warp on DIS flow of the grey
truth. Session 27 shipped the width that cut TC most among those that lost no PSNR and
no SSIM in either line mode on the XDoG shots (the extra softening off). Session 28
then tried the extra softening where the chain distorts the keyframe
(``DISTORTED_SOFTEN`` times the width, in full from ``DISTORTION_FULL``) at width 1,
against width 1 without it, on both suites; session 45 made that softening stay within
the frame's lines (:mod:`celcolor.engine.within_lines`) and took the grid again: SSIM
on the XDoG shots was then flat from 16 to 32, and PSNR and flicker chose 32. Session 29
tried letting the softened share fade as the texture moves on (``SOFTENING_MEMORY``
per frame) at width 1 and the shipped extra softening, against no memory; then, with
the memory chosen, the softening far from any line where a step's motion is not rigid
(``UNCHARTED_MOTION``) against none. Both also on camera pans built from the XDoG
shots' first frames (a window moving over the frame upscaled 1.5 times, 24 frames): a
pan is rigid, so what it loses is softening where none was due. Each grid runs with
the settings later grids chose left out, as when it was chosen. Writes
``benchmarks/results/soften.md`` and ``.json``. Needs the development data.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from run_bench import default_data, module_settings, real_suites

from celcolor.bench import BenchConfig, Clip, run_bench
from celcolor.bench.cases import first_shot_length, is_colour_clip, read_frames
from celcolor.bench.methods import engine_method, register_method, unregister_method
from celcolor.engine import detail
from celcolor.errors import CelcolorError
from celcolor.io import read_image, write_image

RESULTS = Path(__file__).parent / "results"
WIDTHS = (0.0, 1.0, 2.0)
# (DISTORTED_SOFTEN, DISTORTION_FULL) tried at width 1; (0, 1): none, the baseline.
DISTORTED = (
    (0.0, 1.0),
    (8.0, 1.0),
    (16.0, 1.0),
    (24.0, 1.0),
    (32.0, 1.0),
    (48.0, 1.0),
    (32.0, 2.0),
)
SHIPPED_DISTORTED = (32.0, 1.0)
# SOFTENING_MEMORY tried at width 1 with SHIPPED_DISTORTED; 0 (none) is the baseline.
MEMORY = (0.8, 0.9, 0.95, 1.0)
SHIPPED_MEMORY = 0.95
# UNCHARTED_MOTION tried with SHIPPED_MEMORY; 0 (none) is the baseline.
UNCHARTED = (0.0, 4.0, 8.0, 16.0)
# Camera pans: per pan, the window's step per frame (x, y; pixels at 640 long side).
PAN_STEPS = ((3, 0), (2, 1), (2, 0), (2, 2), (-3, 0))
PAN_FRAMES = 24
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


def pans(shots: list[Clip], root: Path) -> list[Clip]:
    """Camera pans over each shot's first frame, written as frame folders under ``root``."""
    out = []
    for shot, (dx, dy) in zip(shots, itertools.cycle(PAN_STEPS)):
        first = read_image(sorted(Path(shot.path).iterdir())[0])
        h, w = first.shape[:2]
        big = cv2.resize(first, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        s = max(h, w) / 640.0
        x0 = 0 if dx >= 0 else big.shape[1] - w
        frames = []
        for t in range(PAN_FRAMES):
            x, y = round(x0 + t * dx * s), round(t * dy * s)
            frames.append(big[y : y + h, x : x + w])
        folder = root / f"{shot.name}_pan"
        _write(folder / "colour", frames)
        out.append(Clip(folder / "colour", name=folder.name))
    return out


def measure(
    shots: list[Clip],
    widths: tuple[float, ...],
    distorted: tuple[float, float] = (0.0, 1.0),
    memory: float = 0.0,
    uncharted: float = 0.0,
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per width and line mode: per shot (PSNR, SSIM, TC, E_warp x1e3), with the
    extra softening where the flow distorts set to ``distorted`` (``DISTORTED_SOFTEN``,
    ``DISTORTION_FULL``), its fading to ``memory`` (``SOFTENING_MEMORY``) and the
    softening far from lines to ``uncharted`` (``UNCHARTED_MOTION``; the engine
    reads them as it goes)."""
    names = {w: f"classical --texture-soften {w:g}" for w in widths}
    for w, name in names.items():
        fields = {"temporal": "classical", "keyframe_mode": "copy", "texture_soften": w}
        register_method(engine_method(name, fields, "classical propagation"))
    knobs = {
        "DISTORTED_SOFTEN": distorted[0], "DISTORTION_FULL": distorted[1],
        "SOFTENING_MEMORY": memory, "UNCHARTED_MOTION": uncharted,
    }  # fmt: skip
    try:
        config = BenchConfig(
            synthetic=False, clips=shots, max_frames=SHOT_FRAMES, first_frame_lines=LINES,
            lvcd_size=False, methods=tuple(names.values()), speed=False, memory=False,
        )  # fmt: skip
        with module_settings(detail, **knobs):
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


def _key(distorted: tuple[float, float]) -> str:
    return f"{distorted[0]:g}x{distorted[1]:g}"


def _mean(per_shot: dict[str, list[float]]) -> np.ndarray:
    """(PSNR, SSIM, TC, E_warp) averaged over shots."""
    return np.mean(list(per_shot.values()), axis=0)


def _changes(m: np.ndarray, base: np.ndarray) -> str:
    """The PSNR, SSIM and TC change columns of ``m`` against ``base``."""
    return f"{m[0] - base[0]:+.3f} | {m[1] - base[1]:+.4f} | {100 * (m[2] / base[2] - 1):+.1f}% |"


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
            base = _mean(res["0"][lines_mode])
            for w in WIDTHS:
                m = _mean(res[f"{w:g}"][lines_mode])
                lines.append(
                    f"| {w:g} | {lines_mode} | {m[0]:.3f} | {m[1]:.4f} | {m[2]:.3f} | "
                    f"{m[3]:.3f} | {_changes(m, base)}"
                )
        lines += [
            "",
            "Softened more where the chain distorts the keyframe, at `--texture-soften 1`: "
            "`DISTORTED_SOFTEN` times the width, in full from a distortion of "
            "`DISTORTION_FULL`; changes against width 1 without it:",
            "",
            "| `DISTORTED_SOFTEN` | `DISTORTION_FULL` | `--lines` | PSNR (dB) | SSIM | TC | "
            "PSNR change | SSIM change | TC change |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        tried = results[f"{suite}_distorted"]
        for lines_mode in LINES:
            base = _mean(tried[_key(DISTORTED[0])][lines_mode])
            for setting in DISTORTED[1:]:
                m = _mean(tried[_key(setting)][lines_mode])
                lines.append(
                    f"| {setting[0]:g} | {setting[1]:g} | {lines_mode} | {m[0]:.3f} | "
                    f"{m[1]:.4f} | {m[2]:.3f} | {_changes(m, base)}"
                )
        lines += _later_grids(results, suite, tried[_key(SHIPPED_DISTORTED)])
        lines.append("")
    if "pans_memory" in results:
        lines += [
            f"Camera pans: {counts['pans']} pans over the XDoG shots' first frames (the "
            f"frame upscaled 1.5 times, a window moving {PAN_FRAMES} frames), classical "
            "propagation at `--texture-soften 1` with the softening where distorted:",
        ]
        lines += _later_grids(results, "pans", results["pans_memory"]["0"])
        lines.append("")
    return "\n".join(lines)


def _later_grids(results: dict, suite: str, no_memory: dict) -> list[str]:
    """The memory and the far-from-lines tables of ``suite`` (``no_memory``: the
    rows without either, the memory grid's baseline)."""
    uncharted = results[f"{suite}_uncharted"]
    return [
        "",
        *_setting_table(
            "The softened share fading as the texture moves on, at `--texture-soften 1` "
            f"and `DISTORTED_SOFTEN` {SHIPPED_DISTORTED[0]:g}, `DISTORTION_FULL` "
            f"{SHIPPED_DISTORTED[1]:g}: `SOFTENING_MEMORY` per frame; changes against "
            "none (0):",
            "SOFTENING_MEMORY",
            results[f"{suite}_memory"],
            no_memory,
            MEMORY,
        ),
        "",
        *_setting_table(
            "Softened far from lines where the step is not rigid, with "
            f"`SOFTENING_MEMORY` {SHIPPED_MEMORY:g} as well: in full where the step's "
            "departure from a similarity times the distance to the nearest line "
            "reaches `UNCHARTED_MOTION` px (at 640 long side); changes against none (0):",
            "UNCHARTED_MOTION",
            uncharted,
            uncharted[f"{UNCHARTED[0]:g}"],
            UNCHARTED[1:],
        ),
    ]


def _setting_table(
    intro: str, knob: str, rows: dict, base_rows: dict, settings: tuple[float, ...]
) -> list[str]:
    """One knob's table: each setting's means per line mode, with changes against
    ``base_rows``."""
    lines = [
        intro,
        "",
        f"| `{knob}` | `--lines` | PSNR (dB) | SSIM | TC | PSNR change | SSIM change | TC change |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lines_mode in LINES:
        base = _mean(base_rows[lines_mode])
        for setting in settings:
            m = _mean(rows[f"{setting:g}"][lines_mode])
            lines.append(
                f"| {setting:g} | {lines_mode} | {m[0]:.3f} | {m[1]:.4f} | {m[2]:.3f} | "
                f"{_changes(m, base)}"
            )
    return lines


def _later_runs(suite: str, shots: list[Clip]) -> dict:
    """The memory grid (the far-from-lines softening off) and the far-from-lines grid
    (with the memory chosen) on ``shots``, keyed ``{suite}_memory`` and
    ``{suite}_uncharted``."""
    memory = {f"{m:g}": measure(shots, (1.0,), SHIPPED_DISTORTED, m)["1"] for m in MEMORY}
    uncharted = {
        f"{u:g}": measure(shots, (1.0,), SHIPPED_DISTORTED, SHIPPED_MEMORY, u)["1"]
        for u in UNCHARTED
    }
    return {f"{suite}_memory": memory, f"{suite}_uncharted": uncharted}


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
            results[suite] = measure(shots, WIDTHS)
            # The bench leaves out shots it cannot score (a shot change inside, too few frames).
            counts[suite] = len(results[suite]["0"][LINES[0]])
            print(f"{suite}: {counts[suite]} of {len(shots)} shots, {time.time() - t0:.0f} s")
            results[f"{suite}_distorted"] = {
                _key(setting): measure(shots, (1.0,), setting)["1"] for setting in DISTORTED
            }
            print(f"{suite}: distorted softening, {time.time() - t0:.0f} s")
            results.update(_later_runs(suite, shots))
            print(f"{suite}: memory and far from lines, {time.time() - t0:.0f} s")
            if suite == "xdog":
                panned = pans(shots, Path(tmp) / "pans")
                later = _later_runs("pans", panned)
                later["pans_memory"]["0"] = measure(panned, (1.0,), SHIPPED_DISTORTED)["1"]
                results.update(later)
                counts["pans"] = len(results["pans_memory"]["0"][LINES[0]])
                print(f"pans: {counts['pans']} pans, {time.time() - t0:.0f} s")
    RESULTS.mkdir(exist_ok=True)
    record = {
        "widths": WIDTHS,
        "distorted": DISTORTED,
        "memory": MEMORY,
        "uncharted": UNCHARTED,
        "results": results,
    }
    (RESULTS / "soften.json").write_text(json.dumps(record))
    text = markdown(results, counts)
    (RESULTS / "soften.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
