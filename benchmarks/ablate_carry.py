"""Textured regions under motion: how their colours follow the drawing (real suites).

    python benchmarks/ablate_carry.py            # about 4 minutes on the 2-core CPU

A textured region (one the reference shows is not one paint area) samples the
keyframe's colours through the flows chained since the keyframe
(:mod:`celcolor.engine.detail`). Five ways of carrying it, each a step on the one
below:

- not smoothed: the chained DIS flow as it is (before session 9);
- chained: its motion smoothed (``detail.smooth_motion``; sessions 9 to 23);
- anchored: the chain re-fitted every frame to the keyframe's own lines where that
  fits them better (``detail.anchor``, ``--texture-carry anchored``; session 24);
- anchored, interpolated (sessions 24 to 26): the keyframe's colours shown by
  bilinear sampling instead of the nearest pixel's palette colour
  (``detail.smooth_colours``);
- anchored, interpolated, softened (session 27): the rendered keyframe blurred by
  ``detail.TEXTURE_SOFTEN`` before the in-betweens sample it;
- ... and softened more where the chain distorts the keyframe (session 28):
  ``detail.DISTORTED_SOFTEN`` times more where the chained map shears or stretches it
  one way (``detail.distortion``);
- ... and far from any line where a step's motion is not rigid (``detail.uncharted``),
  that softening lasting as the texture moves on, fading by
  ``detail.SOFTENING_MEMORY`` a frame (sessions 29 to 31);
- ... and persisting: each in-between keeps ``detail.TEXTURE_PERSISTENCE`` of the
  previous frame's texture moved along the flow (``--texture-persistence``; shipped
  since session 32).

Classical propagation with the default ``--lines auto`` on the real first-frame suite
(colour clips of ``../shared/data``, XDoG sketches, frame 0 the reference) and on the
Anime2Sketch line art with its colour truth (``run_bench.lineart_truth_clips``), each
clip cut at its first shot change, at most ``--frames`` (48) frames: the drift a chain
gathers shows over longer cuts. Then the cost: one real textured clip (the first of
the suite at 852x480 or more, upscaled to 1280x720, XDoG sketches) coloured end to end
through ``colorize_video``, file to file, as shipped and as before session 24 (best
of ``--repeat``).

Writes ``benchmarks/results/carry.json`` and ``.md``. Needs the development data.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from run_bench import default_data, module_settings, real_suites

from celcolor.bench import BenchConfig, run_bench
from celcolor.bench.cases import read_frames, sketch_from_colour
from celcolor.bench.methods import engine_method, register_method, unregister_method
from celcolor.engine import EncodeOptions, colorize_video, detail
from celcolor.engine.detail import TEXTURE_PERSISTENCE, TEXTURE_SOFTEN
from celcolor.io import open_writer

RESULTS = Path(__file__).parent / "results"
SHIPPED = "... and persisting along the flow (shipped)"
LASTING = "... and where moved non-rigidly far from lines, lasting"
DISTORTED = "anchored, interpolated, softened, more where distorted"
P = TEXTURE_PERSISTENCE
# variant: (texture_carry, --texture-soften, --texture-persistence, motion smoothed,
# shown interpolated, softened more where distorted, ... and far from lines, lasting)
VARIANTS = {
    SHIPPED: ("anchored", TEXTURE_SOFTEN, P, True, True, True, True),
    LASTING: ("anchored", TEXTURE_SOFTEN, 0.0, True, True, True, True),
    DISTORTED: ("anchored", TEXTURE_SOFTEN, 0.0, True, True, True, False),
    "anchored, interpolated, softened": ("anchored", TEXTURE_SOFTEN, 0.0, True, True, False, False),
    "anchored, interpolated": ("anchored", 0.0, 0.0, True, True, False, False),
    "anchored": ("anchored", 0.0, 0.0, True, False, False, False),
    "chained": ("chained", 0.0, 0.0, True, False, False, False),
    "not smoothed": ("chained", 0.0, 0.0, False, False, False, False),
}
SPEED_SIZE = (1280, 720)
# The speed runs: what ships against session 31's, session 28's and what shipped before
# session 24.
SPEED_VARIANTS = (SHIPPED, LASTING, DISTORTED, "chained")


@contextmanager
def patched(
    smooth: bool, interpolated: bool, distorted: bool = True, lasting: bool = True
) -> Iterator[None]:
    """The engine with the carry's motion unsmoothed, its colours shown nearest, no
    more softening where the chain distorts and/or none far from lines and none lasting."""
    changed: dict[str, object] = {}
    if not smooth:
        changed["smooth_motion"] = lambda sample: sample  # read at each call of detail.follow
    if not interpolated:
        changed["smooth_colours"] = lambda carry, *args, **kwargs: None  # nearest colours
    if not distorted:
        changed["DISTORTED_SOFTEN"] = 0.0  # read when a keyframe is first rendered
    if not lasting:
        changed["SOFTENING_MEMORY"] = changed["UNCHARTED_MOTION"] = 0.0  # read at each frame
    with module_settings(detail, **changed):
        yield


def run(
    clips,
    frames: int,
    carry: str,
    soften: float,
    persistence: float,
    smooth: bool,
    interpolated: bool,
    distorted: bool = True,
    lasting: bool = True,
) -> dict[str, tuple[float, float, float]]:
    """Per clip (PSNR, TC, E_warp x1e3; DIS flow of the grey truth), classical propagation."""
    name = (
        f"classical --texture-carry {carry} --texture-soften {soften:g} "
        f"--texture-persistence {persistence:g}"
    )
    fields = {
        "temporal": "classical",
        "keyframe_mode": "copy",
        "texture_carry": carry,
        "texture_soften": soften,
        "texture_persistence": persistence,
    }
    register_method(engine_method(name, fields, "classical propagation"))
    try:
        config = BenchConfig(
            synthetic=False, clips=clips, max_frames=frames, first_frame_lines=("auto",),
            lvcd_size=False, methods=(name,), speed=False, memory=False,
        )  # fmt: skip
        with patched(smooth, interpolated, distorted, lasting):
            report = run_bench(config)
    finally:
        unregister_method(name)
    out = {}
    for case in report["protocols"]["first-frame"]["cases"]:
        row = case["scores"]["native"]["rows"][name]
        if "error" in row:  # stop on a failed variant, not on a missing figure later
            raise SystemExit(f"{name} failed on {case['name']}: {row['error']}")
        tc, ewarp = next(iter(row["tc"].values())), next(iter(row["ewarp"].values()))
        out[case["name"]] = (row["psnr"], tc, ewarp * 1e3)
    return out


def speed_clip(clips, work: Path, frames: int) -> tuple[str, Path, Path] | None:
    """The first clip of 852x480 or more as a 1280x720 sketch video and reference PNG."""
    for clip in clips:
        colour, _ = read_frames(Path(clip.path), frames, clip.crop)
        if colour[0].shape[1] < 852:
            continue
        colour = [cv2.resize(f, SPEED_SIZE, interpolation=cv2.INTER_CUBIC) for f in colour]
        src, ref = work / "sketch.mp4", work / "reference.png"
        w, h = SPEED_SIZE
        writer = open_writer(src, width=w, height=h, fps=24, crf=12, preset="fast", overwrite=True)
        with writer:
            for f in colour:
                writer.write(sketch_from_colour(f))
        cv2.imwrite(str(ref), cv2.cvtColor(colour[0], cv2.COLOR_RGB2BGR))
        return clip.label, src, ref
    return None


def bench_speed(clips, frames: int, repeat: int) -> dict:
    """End-to-end frames/s of each carry on a real textured clip at 1280x720."""
    with tempfile.TemporaryDirectory() as tmp:
        found = speed_clip(clips, Path(tmp), frames)
        if found is None:
            return {}
        name, src, ref = found
        out = {"clip": name, "frames": frames, "size": list(SPEED_SIZE)}
        for variant in SPEED_VARIANTS:
            carry, soften, persistence, *shown = VARIANTS[variant]
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                with patched(*shown):
                    result = colorize_video(
                        src, ref, Path(tmp) / "out.mp4", temporal="classical",
                        texture_carry=carry, texture_soften=soften,
                        texture_persistence=persistence, encode=EncodeOptions(overwrite=True),
                    )  # fmt: skip
                times.append(time.perf_counter() - t0)
            out[variant] = {
                "fps_best": result.frames / min(times),
                "fps_median": result.frames / float(np.median(times)),
                "textured_frames": result.stats.textured_frames,
            }
        return out


def markdown(results: dict, frames: int, speed: dict) -> str:
    lines = []
    for suite, title in (("xdog", "Real first-frame suite (XDoG sketches)"),
                         ("lineart", "Anime2Sketch line art with its colour truth")):  # fmt: skip
        variants = results[suite]
        names = list(next(iter(variants.values())))
        base = variants["chained"]
        lines += [
            f"{title}: {len(names)} clips, at most {frames} frames each, frame 0 the reference, "
            "classical propagation, `--lines auto`; PSNR (dB) without frame 0, TC and E_warp "
            "on DIS flow of the grey truth; the last two columns count clips against `chained`:",
            "",
            "| carry | PSNR | TC | E_warp x1e3 | PSNR +0.1 dB or better | PSNR -0.1 dB or worse |",
            "|---|---|---|---|---|---|",
        ]
        for variant, rows in variants.items():
            psnr, tc, ew = (np.mean([rows[n][i] for n in names]) for i in range(3))
            up = sum(rows[n][0] >= base[n][0] + 0.1 for n in names)
            down = sum(rows[n][0] <= base[n][0] - 0.1 for n in names)
            lines.append(f"| {variant} | {psnr:.2f} | {tc:.3f} | {ew:.3f} | {up} | {down} |")
        lines += ["", "Per clip (PSNR / TC):", "", "| clip | " + " | ".join(variants) + " |"]
        lines.append("|---" * (len(variants) + 1) + "|")
        for n in names:
            cells = " | ".join(f"{r[n][0]:.2f} / {r[n][1]:.2f}" for r in variants.values())
            lines.append(f"| {n} | {cells} |")
        lines.append("")
    if speed:
        w, h = speed["size"]
        lines += [
            f"Speed: `{speed['clip']}` ({speed['frames']} frames) upscaled to {w}x{h}, XDoG "
            "sketches, end to end file to file (`colorize_video`, classical):",
            "",
            "| carry | frames/s best | median | frames with textured regions |",
            "|---|---|---|---|",
        ]
        for variant in SPEED_VARIANTS:
            s = speed[variant]
            best, median, textured = s["fps_best"], s["fps_median"], s["textured_frames"]
            lines.append(f"| {variant} | {best:.1f} | {median:.1f} | {textured} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--frames", type=int, default=48, help="cap per real clip")
    p.add_argument("--repeat", type=int, default=3, help="speed runs per carry")
    args = p.parse_args()
    data = args.data or default_data()
    suites = real_suites(data, "ablate_carry")
    t0 = time.time()
    results: dict[str, dict] = {suite: {} for suite in suites}
    for variant, (carry, *shown) in VARIANTS.items():
        for suite, clips in suites.items():
            results[suite][variant] = run(clips, args.frames, carry, *shown)
        print(f"{variant}: {time.time() - t0:.0f} s", flush=True)
    speed = bench_speed(suites["xdog"], args.frames, args.repeat)
    print(f"speed: {time.time() - t0:.0f} s", flush=True)
    RESULTS.mkdir(exist_ok=True)
    record = {"frames": args.frames, "quality": results, "speed": speed}
    (RESULTS / "carry.json").write_text(json.dumps(record, indent=1))
    (RESULTS / "carry.md").write_text(markdown(results, args.frames, speed))
    print(markdown(results, args.frames, speed))


if __name__ == "__main__":
    main()
