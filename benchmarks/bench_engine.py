"""The streaming engine's numbers: speed, memory and quality of the classical path.

    python benchmarks/bench_engine.py                 # everything, ~5 minutes on 2 cores
    python benchmarks/bench_engine.py --only quality  # one part: speed, memory or quality

Writes ``benchmarks/results/engine.json`` and ``engine.md`` (the README's table).

- speed: a generated 1280x720 cut (``--frames``, default 240) is decoded, coloured
  and encoded with libx264's default preset (medium, crf 18) end to end through
  ``colorize_video``; in the same run the same clip is decoded and re-encoded with
  the same settings and nothing else. Best and median of ``--repeat`` runs (5) each:
  this machine is shared and run times vary by up to 15%.
- memory: ``colorize-video`` on 100- and 1000-frame 1280x720 cuts, each in a fresh
  process; peak RSS is the child's ``ru_maxrss``.
- two-keys-speed (on request): the same kind of cut, 48 frames, keyed at its first and
  last frame (its true colours), end to end, classical and with the temporal network,
  the frames between the keys waiting in memory (``--wait-memory``, the default) and
  all on disk (``--wait-memory 0``, as before session 43); best and median of 3 runs,
  and the peak RSS of each in a fresh process.
- quality: the generated suite (``celcolor.data.synthetic.CUT_PRESETS``: 48 frames
  at 640x360 each, colour of frame 0 as the reference) scored against its ground
  truth with ``lines="auto"``: region accuracy (share of non-line pixels within
  10 levels of the truth, and share of regions of which 95% are), PSNR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from celcolor import __version__
from celcolor.bench.environment import environment
from celcolor.data.synthetic import CUT_PRESETS, CutSpec, generate_cut, write_cut
from celcolor.engine import ColorizeOptions, Colorizer, EncodeOptions, colorize_video
from celcolor.io import open_frames, open_writer, write_image, write_video

RESULTS = Path(__file__).parent / "results"
SPEED_SPEC = CutSpec(width=1280, height=720, num_frames=240, seed=11)


def transcode(src: Path, dst: Path) -> float:
    """Plain decode + re-encode with the engine's encoder settings; returns seconds."""
    t0 = time.perf_counter()
    with open_frames(src) as source:
        writer = open_writer(
            dst,
            width=source.width,
            height=source.height,
            fps=source.fps,
            time_base=source.time_base,
            crf=18,
            preset="medium",
            overwrite=True,
            threaded=True,
            queue_size=4,
        )
        with writer:
            for frame in source:
                writer.write(frame.image, frame)
    return time.perf_counter() - t0


def bench_speed(frames: int, repeat: int, work: Path) -> dict:
    spec = CutSpec(width=1280, height=720, num_frames=frames, seed=SPEED_SPEC.seed)
    paths = write_cut(spec, work / "speed", video=True, overwrite=True)
    src, ref = paths["sketch_video"], paths["reference"]
    plain, coloured, stages = [], [], {}
    for _ in range(repeat):
        plain.append(transcode(src, work / "plain.mp4"))
        result = colorize_video(
            src,
            ref,
            work / "coloured.mp4",
            encode=EncodeOptions(overwrite=True, preset="medium", crf=18),
        )
        coloured.append(result.seconds)
        stages = {k: 1000 * v / result.frames for k, v in result.stage_seconds.items()}
    best_plain, best_col = min(plain), min(coloured)
    return {
        "resolution": "1280x720",
        "frames": frames,
        "encoder": "libx264 medium crf 18",
        "colour_fps": frames / best_col,
        "colour_fps_median": frames / float(np.median(coloured)),
        "transcode_fps": frames / best_plain,
        "transcode_fps_median": frames / float(np.median(plain)),
        "ratio": best_plain / best_col,
        "runs_colour_s": coloured,
        "runs_transcode_s": plain,
        "stage_ms_per_frame": stages,
    }


def bench_network_speed(
    frames: int,
    repeat: int,
    work: Path,
    size: tuple[int, int] = (1280, 720),
    long_side: int | None = None,
    drawn_on: int = 1,
) -> dict:
    """End to end at ``size`` with the temporal network on every in-between (network-only).

    ``long_side``: the temporal network's working size (None: the engine's default for
    the device, 0: the frame's own size). ``drawn_on``: each drawing shown on this many
    frames (animation on twos, threes), so that the held frames show what they cost.
    """
    spec = CutSpec(
        width=size[0], height=size[1], num_frames=-(-frames // drawn_on), seed=SPEED_SPEC.seed
    )
    if drawn_on == 1:
        paths = write_cut(spec, work / "speed", video=True, overwrite=True)
        sketches = paths["sketch_video"]
    else:  # the cut generated once: its reference written, its drawings each repeated
        cut = generate_cut(spec)
        paths = write_cut(cut, work / "speed", video=False, overwrite=True)
        sketches = work / f"on_{drawn_on}.mp4"
        write_video(sketches, [d for d in cut.sketch for _ in range(drawn_on)][:frames], crf=18)
    runs, stages, network = [], {}, {}
    for _ in range(repeat):
        result = colorize_video(
            sketches,
            paths["reference"],
            work / "network.mp4",
            options=ColorizeOptions(
                temporal="network-only",
                keyframe_mode="copy",
                rekey_threshold=1.0,
                temporal_long_side=long_side,
            ),
            encode=EncodeOptions(overwrite=True, preset="medium", crf=18),
        )
        runs.append(result.seconds)
        stages = {k: 1000 * v / result.frames for k, v in result.stage_seconds.items()}
        network = {"frames": result.stats.network_frames, "held": len(result.stats.held)}
    return {
        "resolution": f"{size[0]}x{size[1]}",
        "temporal_long_side": "default" if long_side is None else long_side,
        "drawn_on": drawn_on,
        "frames": frames,
        "encoder": "libx264 medium crf 18",
        "network_fps": frames / min(runs),
        "network_fps_median": frames / float(np.median(runs)),
        "runs_s": runs,
        "stage_ms_per_frame": stages,
        **network,
    }


def peak_rss_mb(src: Path, ref: Path | str, out: Path, *more: str) -> float:
    """Peak RSS (MB) of one `colorize-video` run in a fresh process (``more``: further
    arguments)."""
    code = (
        "import resource, subprocess, sys; "
        "r = subprocess.run([sys.executable, '-m', 'celcolor.cli', *sys.argv[1:]]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    cmd = [
        sys.executable,
        "-c",
        code,
        str(src),
        "--ref",
        str(ref),
        "-o",
        str(out),
        "--overwrite",
        "-q",
        *more,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0


TWO_KEY_FRAMES = 48


def bench_two_keys_speed(repeat: int, work: Path) -> dict:
    """Two keys at 1280x720 end to end: frames/s, classical and network, the waiting
    frames in memory (the default) and on disk, and each one's peak RSS."""
    spec = CutSpec(width=1280, height=720, num_frames=TWO_KEY_FRAMES, seed=SPEED_SPEC.seed)
    cut = generate_cut(spec)
    paths = write_cut(cut, work / "two", video=True, overwrite=True)
    last = TWO_KEY_FRAMES - 1
    key = work / "two" / f"key{last}.png"
    write_image(key, cut.colour[last])
    refs = [(0, paths["reference"]), (last, key)]
    rows = {}
    for temporal in ("classical", "network"):
        for memory in (ColorizeOptions().wait_memory, 0):
            runs = []
            for _ in range(repeat):
                result = colorize_video(
                    paths["sketch_video"],
                    refs,
                    work / "two.mp4",
                    options=ColorizeOptions(temporal=temporal, wait_memory=memory),
                    encode=EncodeOptions(overwrite=True, preset="medium", crf=18),
                )
                runs.append(result.seconds)
            rss = peak_rss_mb(
                paths["sketch_video"],
                f"0:{paths['reference']}",
                work / "two.mp4",
                "--ref",
                f"{last}:{key}",
                "--temporal",
                temporal,
                "--wait-memory",
                str(memory),
            )
            rows[f"{temporal}, --wait-memory {memory}"] = {
                "fps": TWO_KEY_FRAMES / min(runs),
                "fps_median": TWO_KEY_FRAMES / float(np.median(runs)),
                "runs_s": runs,
                "peak_rss_mb": rss,
                "waited_on_disk": result.stats.waited_on_disk,
            }
    return {"resolution": "1280x720", "frames": TWO_KEY_FRAMES, "rows": rows}


def bench_memory(work: Path) -> dict:
    rows = {}
    for frames in (100, 1000):
        spec = CutSpec(width=1280, height=720, num_frames=frames, seed=12)
        paths = write_cut(spec, work / f"mem{frames}", video=True, overwrite=True)
        rows[frames] = peak_rss_mb(
            paths["sketch_video"], paths["reference"], work / f"mem{frames}.mp4"
        )
    return {"resolution": "1280x720", "peak_rss_mb": rows, "growth": rows[1000] / rows[100] - 1.0}


def bench_quality() -> dict:
    from celcolor.metrics import psnr, region_accuracy

    rows = {}
    for name, spec in CUT_PRESETS.items():
        cut = generate_cut(spec, flow=False)
        colorizer = Colorizer(cut.colour[0], ColorizeOptions(lines="auto"))
        out = np.stack(list(colorizer.colorize(list(cut.sketch))))
        acc = region_accuracy(out, cut.colour, cut.regions, lines=cut.lines)
        rows[name] = {
            "pixel_accuracy": acc.pixel,
            "region_accuracy": acc.region,
            "psnr": psnr(out, cut.colour).mean,
            "frames": len(out),
            "size": f"{spec.width}x{spec.height}",
        }
    mean = {
        k: float(np.mean([r[k] for r in rows.values()]))
        for k in ("pixel_accuracy", "region_accuracy", "psnr")
    }
    return {"cuts": rows, "mean": mean}


def markdown(res: dict) -> str:
    lines = []
    if "speed" in res:
        s = res["speed"]
        lines += [
            f"| 1280x720, libx264 medium crf 18, {len(s['runs_colour_s'])} runs "
            "| frames/s, best | median |",
            "|---|---|---|",
            f"| colour end to end (decode, colour, encode) | {s['colour_fps']:.1f} "
            f"| {s['colour_fps_median']:.1f} |",
            f"| plain decode + re-encode, same run | {s['transcode_fps']:.1f} "
            f"| {s['transcode_fps_median']:.1f} |",
            f"| ratio | {s['ratio']:.2f} | |",
            "",
            "Stage CPU time per frame (ms, summed over threads): "
            + ", ".join(f"{k} {v:.1f}" for k, v in s["stage_ms_per_frame"].items()),
            "",
        ]
    for key in sorted(k for k in res if k.startswith("network_speed")):
        n = res[key]
        on = n.get("drawn_on", 1)
        held = f"each drawing on {on} frames ({n['held']} held), " if on > 1 else ""
        lines += [
            f"| {n.get('resolution', '1280x720')}, temporal network on every in-between"
            f"{_side_text(n.get('temporal_long_side', 'default'))}, {held}"
            f"{len(n['runs_s'])} runs "
            "| frames/s, best | median |",
            "|---|---|---|",
            f"| colour end to end (decode, colour, encode) | {n['network_fps']:.1f} "
            f"| {n['network_fps_median']:.1f} |",
            "",
            "Stage time per frame (ms): "
            + ", ".join(f"{k} {v:.1f}" for k, v in n["stage_ms_per_frame"].items()),
            "",
        ]
    if "two_keys_speed" in res:
        t = res["two_keys_speed"]
        lines += [
            f"| 1280x720, {t['frames']} frames, keys at the first and last, "
            f"{len(next(iter(t['rows'].values()))['runs_s'])} runs | frames/s, best | median "
            "| frames waiting on disk | peak RSS (MB) |",
            "|---|---|---|---|---|",
        ]
        for row, r in t["rows"].items():
            lines.append(
                f"| {row} | {r['fps']:.1f} | {r['fps_median']:.1f} | {r['waited_on_disk']} "
                f"| {r['peak_rss_mb']:.0f} |"
            )
        lines.append("")
    if "memory" in res:
        m = {int(k): v for k, v in res["memory"]["peak_rss_mb"].items()}
        lines += [
            "| 1280x720 cut | peak RSS (MB) |",
            "|---|---|",
            f"| 100 frames | {m[100]:.0f} |",
            f"| 1000 frames | {m[1000]:.0f} |",
            f"| growth | {100 * res['memory']['growth']:+.1f}% |",
            "",
        ]
    if "quality" in res:
        lines += [
            "| generated cut (640x360, 48 frames) | pixel accuracy | region accuracy | PSNR (dB) |",
            "|---|---|---|---|",
        ]
        for name, r in res["quality"]["cuts"].items():
            lines.append(
                f"| {name} | {100 * r['pixel_accuracy']:.1f}% | "
                f"{100 * r['region_accuracy']:.1f}% | {r['psnr']:.1f} |"
            )
        m = res["quality"]["mean"]
        lines.append(
            f"| **mean** | **{100 * m['pixel_accuracy']:.1f}%** | "
            f"**{100 * m['region_accuracy']:.1f}%** | **{m['psnr']:.1f}** |"
        )
    return "\n".join(lines) + "\n"


def _side_text(side) -> str:
    if side == "default":
        return ""
    return " at the frame's own size" if side == 0 else f" at long side {side}"


def frame_size_arg(text: str) -> tuple[int, int]:
    """argparse type of a frame size ``WxH`` (each side 64 or more)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, got {text!r}") from None
    if w < 64 or h < 64:
        raise argparse.ArgumentTypeError(f"frame size {text} is too small")
    return w, h


def _gpu_name() -> str | None:
    """The CUDA device the learned parts run on (the engine's "auto"), or None."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        choices=("speed", "memory", "quality", "network-speed", "two-keys-speed"),
        action="append",
    )
    p.add_argument("--frames", type=int, default=SPEED_SPEC.num_frames)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument(
        "--temporal-long-side",
        type=int,
        default=None,
        help="network-speed: the temporal network's working long side (0: the frame's own)",
    )
    p.add_argument(
        "--drawn-on",
        type=int,
        default=1,
        metavar="N",
        help="network-speed: each drawing shown on N frames (2: on twos), as anime is",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="folder for engine.json / engine.md (another machine's figures go elsewhere)",
    )
    p.add_argument(
        "--size",
        type=frame_size_arg,
        default=(1280, 720),
        help="frame size of the network-speed cut, WxH (other sizes are kept beside 1280x720)",
    )
    args = p.parse_args()
    parts = args.only or ["speed", "memory", "quality"]  # network-speed: on request
    res: dict = {
        "celcolor": __version__,
        "python": platform.python_version(),
        # The CPU's model: the shared machine is not always the same one (session 33
        # ran on an Intel Xeon at about half session 30's AMD EPYC speed).
        "machine": f"{environment()['cpu'] or platform.machine()}, {os.cpu_count()} cpus",
        "gpu": _gpu_name(),
        "command": " ".join(["python", "benchmarks/bench_engine.py", *sys.argv[1:]]),
    }
    with tempfile.TemporaryDirectory(prefix="celcolor-bench-") as tmp:
        work = Path(tmp)
        if "speed" in parts:
            res["speed"] = bench_speed(args.frames, args.repeat, work)
        if "network-speed" in parts:
            w, h = args.size
            key = "network_speed" if (w, h) == (1280, 720) else f"network_speed_{w}x{h}"
            side = args.temporal_long_side
            key += "" if side is None else f"_side{side}"
            key += "" if args.drawn_on == 1 else f"_on{args.drawn_on}"
            res[key] = bench_network_speed(
                min(args.frames, 96), min(args.repeat, 3), work, (w, h), side, args.drawn_on
            )
            part = f"network-speed {w}x{h}" + ("" if side is None else f" side {side}")
            part += "" if args.drawn_on == 1 else f" on {args.drawn_on}"
            parts = [part if p == "network-speed" else p for p in parts]
        if "two-keys-speed" in parts:
            res["two_keys_speed"] = bench_two_keys_speed(min(args.repeat, 3), work)
        if "memory" in parts:
            res["memory"] = bench_memory(work)
        if "quality" in parts:
            res["quality"] = bench_quality()
    res["max_rss_mb_self"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.results.mkdir(parents=True, exist_ok=True)
    # A partial run (--only) updates its parts and keeps the others' last figures.
    path = args.results / "engine.json"
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    res = {
        **earlier,
        **res,
        "commands": {**earlier.get("commands", {}), **{part: res["command"] for part in parts}},
    }
    path.write_text(json.dumps(res, indent=2, default=str))
    table = markdown(res)
    (args.results / "engine.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
