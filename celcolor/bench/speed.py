"""Speed and memory: frames per second per stage and end to end, and peak RSS.

How each figure is measured (all wall-clock, ``time.perf_counter``, one run each,
after a small warm-up run that loads the libraries):

- input: a generated cut (the "medium" preset) encoded as H.264 (CRF 18, preset
  "medium") with a colour reference of frame 0, at each size.
- decode: a decode-only pass over the input (PyAV decode and RGB conversion, the
  frames dropped), through :func:`celcolor.io.open_frames`.
- end to end, per method: the real file-to-file path, input video in, output video
  out (:func:`celcolor.engine.colorize_video` for the engine's modes, the same
  decode -> colour -> encode streaming for other methods), encoder H.264 CRF 18
  preset "medium" (the CLI's defaults), audio off.
- line art, flow, snap, compose: ``RunResult.stage_seconds`` of that run. The stages
  run in threads beside decode and encode, so ``frames / stage seconds`` is the rate a
  stage sustains while sharing the CPU, not its rate alone.
- encode: an encode-only pass of the classical method's output (decoded into memory
  first, then encoded with the same settings; only the encoding is timed).
- decode + re-encode: the plain transcode of the input with the same settings, in
  the same streaming shape (decode thread, encode thread); "x transcode" is a method's
  end-to-end time over this one.
- peak RSS: each run a fresh ``python -m celcolor.cli INPUT --ref REF -o OUT``
  process, started by a small launcher that reaps it with ``os.wait4``; its peak
  resident set is that child's own ``ru_maxrss`` (see ``_LAUNCHER``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.synthetic import CUT_PRESETS, iter_cut, render_frame
from ..engine import EncodeOptions, colorize_video, load_reference
from ..errors import CelcolorError
from ..io import Frame, open_frames, open_writer, prefetch, write_image, write_video
from .methods import Method, MethodSettings
from .scoring import captured_logs

log = logging.getLogger(__name__)

__all__ = ["ENCODE", "memory_growth", "speed_suite", "write_speed_input"]

#: Encoder settings of every timed output (the CLI's defaults).
ENCODE = EncodeOptions(codec=None, crf=18, preset="medium", audio=False, overwrite=True)
SPEED_PRESET = "medium"
_QUEUE = 4


def write_speed_input(
    folder: Path, size: tuple[int, int], num_frames: int, *, preset: str = "medium"
) -> tuple[Path, Path]:
    """Write a generated sketch cut (``sketch.mp4``) and its reference; returns both paths."""
    w, h = size
    spec = dataclasses.replace(CUT_PRESETS[SPEED_PRESET], width=w, height=h, num_frames=num_frames)
    folder.mkdir(parents=True, exist_ok=True)
    src, ref = folder / "sketch.mp4", folder / "reference.png"
    write_video(
        src,
        (f.sketch for f in iter_cut(spec, flow=False)),
        fps=24.0,
        crf=18,
        preset=preset,
        overwrite=True,
    )
    write_image(ref, render_frame(spec, 0, flow=False).colour)
    return src, ref


def _time_decode(src: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    with open_frames(src) as source:
        for _ in source:
            n += 1
    return time.perf_counter() - t0, n


def _stream(
    src: Path,
    dst: Path,
    encode: EncodeOptions,
    transform: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]],
) -> tuple[float, int]:
    """decode (thread) -> transform -> encode (thread), as the engine streams; (seconds, n)."""
    t0 = time.perf_counter()
    done = 0
    with open_frames(src) as source:
        pending: deque[Frame] = deque()

        def images() -> Iterator[np.ndarray]:
            for frame in source:
                pending.append(frame)
                yield frame.image

        with open_writer(
            dst,
            width=source.width,
            height=source.height,
            fps=source.fps,
            time_base=source.time_base,
            codec=encode.codec,
            crf=encode.crf,
            preset=encode.preset,
            overwrite=True,
            threaded=True,
            queue_size=_QUEUE,
        ) as writer:
            stream = prefetch(images(), maxsize=_QUEUE)
            try:
                for rgb in transform(stream):
                    writer.write(rgb, pending.popleft())
                    done += 1
            finally:
                stream.close()
    return time.perf_counter() - t0, done


def _time_encode(frames: Sequence[np.ndarray], dst: Path, encode: EncodeOptions) -> float:
    h, w = frames[0].shape[:2]
    t0 = time.perf_counter()
    with open_writer(
        dst,
        width=w,
        height=h,
        fps=24.0,
        codec=encode.codec,
        crf=encode.crf,
        preset=encode.preset,
        overwrite=True,
    ) as writer:
        for f in frames:
            writer.write(f)
    return time.perf_counter() - t0


def _read_all(path: Path) -> list[np.ndarray]:
    with open_frames(path) as source:
        return [f.image for f in source]


def run_file(
    method: Method, src: Path, ref: Path, dst: Path, encode: EncodeOptions = ENCODE
) -> dict[str, Any]:
    """A method's end-to-end run, video file in, video file out; seconds, frames, stages."""
    settings = MethodSettings()
    if method.engine_options is not None:
        with captured_logs():
            result = colorize_video(
                src, ref, dst, options=method.engine_options(settings), encode=encode
            )
        return {
            "seconds": result.seconds,
            "frames": result.frames,
            "stage_seconds": dict(result.stage_seconds),
            "path": "celcolor.engine.colorize_video",
        }
    reference = load_reference(ref)
    holder: dict[str, Any] = {}

    def transform(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        colorizer = method.build(reference, settings)
        holder["c"] = colorizer
        yield from colorizer.colorize(frames)

    with captured_logs():
        seconds, n = _stream(src, dst, encode, transform)
    stats = getattr(holder.get("c"), "stats", None)
    stages = dict(getattr(stats, "seconds", {}) or {})
    return {"seconds": seconds, "frames": n, "stage_seconds": stages, "path": "bench stream"}


def _fps(frames: int, seconds: float) -> float | None:
    return frames / seconds if seconds > 0 else None


def speed_suite(
    methods: Sequence[Method],
    sizes: Sequence[tuple[int, int]],
    num_frames: int,
    workdir: Path,
    *,
    progress: Callable[[int, int | None], None] | None = None,
) -> list[dict[str, Any]]:
    """Frames per second of every stage and method at each size (see the module doc)."""
    methods = [m for m in methods if m.available]
    # Warm-up: load codecs and libraries once, untimed.
    warm = workdir / "warmup"
    src, ref = write_speed_input(warm, (160, 96), 4, preset="ultrafast")
    for m in methods:
        run_file(m, src, ref, warm / f"{m.name.replace(':', '_')}.mp4")
    rows = []
    for k, (w, h) in enumerate(sizes):
        folder = workdir / f"speed_{w}x{h}"
        src, ref = write_speed_input(folder, (w, h), num_frames)
        decode_s, n = _time_decode(src)
        transcode_s, tn = _stream(src, folder / "transcode.mp4", ENCODE, lambda it: it)
        if tn != n:
            raise CelcolorError(f"transcode wrote {tn} of {n} frames")
        row: dict[str, Any] = {
            "size": [w, h],
            "frames": n,
            "input": {"preset": SPEED_PRESET, "codec": "h264", "crf": 18, "x264_preset": "medium"},
            "decode": {"seconds": decode_s, "fps": _fps(n, decode_s)},
            "transcode": {"seconds": transcode_s, "fps": _fps(n, transcode_s)},
            "methods": {},
        }
        encode_source = None
        for m in methods:
            out = folder / f"{m.name.replace(':', '_')}.mp4"
            res = run_file(m, src, ref, out)
            if res["frames"] != n:
                raise CelcolorError(f"{m.name} wrote {res['frames']} of {n} frames at {w}x{h}")
            stages = res["stage_seconds"]
            row["methods"][m.name] = {
                "seconds": res["seconds"],
                "fps": _fps(n, res["seconds"]),
                "x_transcode": res["seconds"] / transcode_s if transcode_s > 0 else None,
                "stage_seconds": stages,
                "stage_fps": {s: _fps(n, t) for s, t in stages.items()},
                "path": res["path"],
            }
            if m.name == "classical" or encode_source is None:
                encode_source = (m.name, out)
        if encode_source is not None:
            frames = _read_all(encode_source[1])
            enc_s = _time_encode(frames, folder / "encode_only.mp4", ENCODE)
            row["encode"] = {"seconds": enc_s, "fps": _fps(n, enc_s), "of": encode_source[0]}
            del frames
        rows.append(row)
        if progress is not None:
            progress(k + 1, len(sizes))
    return rows


# ------------------------------------------------------------------------------ memory


def _child_env() -> dict[str, str]:
    """The child imports this very celcolor, installed or not."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _peak_rss_mib(ru_maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


# A small launcher process starts the measured one and reaps it with os.wait4. The
# launcher matters: a child's ru_maxrss counts the memory of the process it was forked
# from (Linux keeps the pre-exec high-water mark), so a child of this bench (hundreds of
# MiB with torch loaded) would report at least that. From the launcher (~15 MiB of
# bare Python) the figure is the child's own.
_LAUNCHER = (
    "import json, os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(json.dumps({'exit': os.waitstatus_to_exitcode(status), 'maxrss': usage.ru_maxrss}))\n"
)


def run_child(argv: Sequence[str]) -> dict[str, Any]:
    """Run a command in a fresh process; its exit code, wall time and peak RSS (MiB)."""
    if not hasattr(os, "wait4"):
        raise CelcolorError("peak RSS needs os.wait4 (POSIX); not measurable on this platform")
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *argv],
            stdout=subprocess.PIPE,
            stderr=err,
            env=_child_env(),
            check=False,
        )
        seconds = time.perf_counter() - t0
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", "replace")
    try:
        result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise CelcolorError(f"the memory probe failed: {tail.strip()[-300:]}") from None
    return {
        "returncode": result["exit"],
        "seconds": seconds,
        "peak_rss_mib": _peak_rss_mib(result["maxrss"]),
        "stderr_tail": tail,
    }


def memory_growth(
    frame_counts: Sequence[int],
    size: tuple[int, int],
    workdir: Path,
    *,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Peak RSS of ``colorize-video`` streaming generated cuts of each length, each in a
    fresh process, and how it grows with the length."""
    python = sys.executable
    baseline = run_child([python, "-c", "import celcolor.cli, celcolor.engine"])
    runs = []
    for k, n in enumerate(frame_counts):
        folder = workdir / f"memory_{n}"
        # The input's own encoding speed is not measured: a fast preset saves time.
        src, ref = write_speed_input(folder, size, n, preset="veryfast")
        res = run_child(
            [
                python,
                "-m",
                "celcolor.cli",
                str(src),
                "--ref",
                str(ref),
                "-o",
                str(folder / "out.mp4"),
                "--overwrite",
                "--no-audio",
                "-q",
            ]
        )
        if res["returncode"] != 0:
            raise CelcolorError(
                f"colorize-video failed on the {n}-frame memory cut (exit {res['returncode']}): "
                f"{res['stderr_tail'].strip()[-300:]}"
            )
        runs.append(
            {
                "frames": n,
                "peak_rss_mib": res["peak_rss_mib"],
                "seconds": res["seconds"],
                "fps": _fps(n, res["seconds"]),
            }
        )
        (folder / "out.mp4").unlink(missing_ok=True)
        src.unlink(missing_ok=True)
        if progress is not None:
            progress(k + 1, len(frame_counts))
    growth = None
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        growth = {
            "from_frames": a["frames"],
            "to_frames": b["frames"],
            "mib": b["peak_rss_mib"] - a["peak_rss_mib"],
            "kib_per_frame": 1024
            * (b["peak_rss_mib"] - a["peak_rss_mib"])
            / (b["frames"] - a["frames"]),
        }
    return {
        "size": list(size),
        "command": "python -m celcolor.cli INPUT --ref REF -o OUT --overwrite --no-audio -q",
        "import_baseline_mib": baseline["peak_rss_mib"],
        "runs": runs,
        "growth": growth,
    }
