"""Small shared fixtures and helpers for the CLI and engine tests.

Inputs are generated here (synthetic cuts, clips made with PyAV directly), never read
from shared data. Clips are tiny (160x96, 8-24 frames) so the whole suite stays fast.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.io import read_image, write_image

#: The small cut most CLI tests colour: 160x96, 8 frames.
SMALL_SPEC = CutSpec(width=160, height=96, num_frames=8, seed=1)

_SCRIPT = Path(sys.executable).with_name("colorize-video")


def cli_command() -> list[str]:
    """The installed ``colorize-video`` beside this interpreter, else ``python -m celcolor.cli``."""
    if _SCRIPT.exists():
        return [str(_SCRIPT)]
    return [sys.executable, "-m", "celcolor.cli"]


def run_cli(
    *args: object, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``colorize-video ARGS`` in a subprocess; returns the finished process (text mode)."""
    full_env = dict(os.environ)
    full_env.pop("COLUMNS", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [*cli_command(), *(str(a) for a in args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------- probing


def probe(path: Path) -> dict:
    """Decode ``path`` with PyAV directly: frame count, times, size, codecs, audio span."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        codec = v.codec_context.name
        frames = list(c.decode(v))
        out = {
            "n": len(frames),
            "times": [float(f.pts * v.time_base) for f in frames],
            "size": (frames[0].width, frames[0].height),
            "tick": float(v.time_base),
            "codec": codec,
            "audio": None,
        }
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            pk = [p for p in c.demux(a) if p.pts is not None]
            start = float(pk[0].pts * pk[0].time_base)
            end = float((pk[-1].pts + pk[-1].duration) * pk[-1].time_base)
            out["audio"] = {"codec": a.codec_context.name, "duration": end - start}
    return out


def decode_rgb(path: Path) -> list[np.ndarray]:
    """Every frame of a video as ``H,W,3`` uint8 RGB, decoded with PyAV directly."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def count_decodable(path: Path) -> int:
    """Frames PyAV decodes from a (possibly damaged) file before the first error."""
    n = 0
    with av.open(str(path)) as c:
        try:
            for _ in c.decode(c.streams.video[0]):
                n += 1
        except av.FFmpegError:
            pass
    return n


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder`` (hidden ones included): relative name -> (mtime_ns, bytes)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def listing(folder: Path) -> list[str]:
    """Names directly in ``folder``, hidden ones included, sorted."""
    return sorted(os.listdir(folder))


def dark_share(img: np.ndarray) -> float:
    """Share of pixels whose brightest channel is below 60 (black ink)."""
    return float((img.max(axis=-1) < 60).mean())


# --------------------------------------------------------------------------- making inputs


def load_frames(folder: Path) -> list[np.ndarray]:
    """The PNG frames of a folder in name order (all synthetic names sort naturally)."""
    return [read_image(p) for p in sorted(folder.glob("*.png"))]


def write_gif(path: Path, frames: list[np.ndarray]) -> None:
    """An animated GIF of ``frames`` (RGB uint8) at ``path``, folders made."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)


def still_texture_frames(count: int) -> list[np.ndarray]:
    """A nearly static clip: a 16-colour 80x60 texture, one pixel changed per frame (GIF
    keeps identical frames as one). Two crops of it differ nearly everywhere, so a crop
    drawn per frame shows at once."""
    texture = np.random.default_rng(0).integers(0, 16, (60, 80, 1)) * np.array([16, 7, 3])
    frames = []
    for t in range(count):
        f = texture.astype(np.uint8).copy()
        f[0, t] = 255
        frames.append(f)
    return frames


def make_clip(
    path: Path,
    frames: list[np.ndarray],
    *,
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 24),
    audio_s: float | None = None,
    faststart: bool = False,
    audio_codec: str = "aac",
) -> Path:
    """An H.264 clip of ``frames`` (given timestamps) made with PyAV, optionally with audio.

    ``audio_s`` adds a 440 Hz stereo sine of that many seconds, encoded at 48 kHz as
    ``audio_codec`` (AAC, or 16-bit PCM: "pcm_s16le").
    """
    h, w = frames[0].shape[:2]
    pts = list(range(len(frames))) if pts is None else pts
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.time_base = v.codec_context.time_base = time_base
        v.options = {"preset": "ultrafast", "crf": "12"}
        a = c.add_stream(audio_codec, rate=48000) if audio_s else None
        for img, p in zip(frames, pts, strict=True):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = p, time_base
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        if a is not None:
            n = int(audio_s * 48000)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = tone[start : start + 1024]
                if audio_codec == "pcm_s16le":  # packed 16-bit samples, channels interleaved
                    pcm = (np.stack([chunk, chunk], 1) * 32767).astype(np.int16)
                    af = av.AudioFrame.from_ndarray(
                        pcm.reshape(1, -1), format="s16", layout="stereo"
                    )
                else:
                    af = av.AudioFrame.from_ndarray(
                        np.stack([chunk, chunk]), format="fltp", layout="stereo"
                    )
                af.sample_rate, af.pts = 48000, start
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def make_audio_only(path: Path) -> Path:
    """A one-second silent Opus file with no video stream."""
    with av.open(str(path), "w") as c:
        a = c.add_stream("libopus", rate=48000)
        for start in range(0, 48000, 960):
            af = av.AudioFrame.from_ndarray(
                np.zeros((1, 960 * 2), np.int16), format="s16", layout="stereo"
            )
            af.sample_rate, af.pts = 48000, start
            c.mux(a.encode(af))
        c.mux(a.encode(None))
    return path


def make_zero_frame_video(path: Path) -> Path:
    """A video file whose one video stream holds no frame."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = 16, 16, "yuv420p"
        c.start_encoding()
    return path


def write_oversized_png(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A small PNG whose header claims ``width`` x ``height`` (past OpenCV's 2^30-pixel
    limit by default): a damaged or hostile file, complete to its end marker."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def truncate_half(src: Path, dst: Path) -> Path:
    """Copy the first half of ``src``'s bytes to ``dst`` (a damaged file)."""
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def small_cut_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SMALL_SPEC written once: sketch.mp4, sketch/ PNGs, reference.png (colour of frame 0)."""
    folder = tmp_path_factory.mktemp("small_cut")
    return write_cut(SMALL_SPEC, folder, video=True)


@pytest.fixture
def small_cut(small_cut_files: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A private copy of the small cut in ``tmp_path/cut`` (tests may write beside it)."""
    src = small_cut_files["sketch_video"].parent
    dst = tmp_path / "cut"
    shutil.copytree(src, dst)
    return {k: dst / v.relative_to(src) for k, v in small_cut_files.items()}


# --------------------------------------------------------------------------- views


def view_drawing(seed: int, w: int = 320, h: int = 192) -> np.ndarray:
    """``H,W`` ink coverage of random strokes and rings: one "view" per seed."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((h, w), np.uint8)
    for _ in range(40):
        a, b = rng.integers(0, [w, h], size=(2, 2))
        cv2.line(ink, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, 2, cv2.LINE_AA)
    for _ in range(15):
        c = rng.integers(0, [w, h])
        cv2.circle(ink, (int(c[0]), int(c[1])), int(rng.integers(5, 30)), 255, 2, cv2.LINE_AA)
    return ink


def moved_view(ink: np.ndarray, dx: float, dy: float, degrees: float) -> np.ndarray:
    """The same drawing after a small camera move (shift and roll)."""
    h, w = ink.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(ink, m, (w, h))


def sketch_of(ink: np.ndarray) -> np.ndarray:
    """A black-on-white RGB sketch of an ink map (what a user's frames look like)."""
    return np.repeat((255 - ink)[..., None], 3, axis=2)


def write_two_view_cut(folder: Path) -> tuple[Path, Path]:
    """``folder/cut/f00.png`` ..: 24 frames, a drawing panned for 12 frames, then another
    drawing (frame 12 on); and ``folder/key.png``, the first drawing's colour key."""
    frames = folder / "cut"
    frames.mkdir(parents=True)
    for i in range(24):
        ink = moved_view(view_drawing(0 if i < 12 else 1), i % 12, 0, 0)
        write_image(frames / f"f{i:02d}.png", sketch_of(ink))
    ref = np.full((192, 320, 3), 200, np.uint8)
    ref[view_drawing(0) > 128] = 0
    ref[:96, :160] = (60, 60, 200)
    write_image(folder / "key.png", ref)
    return frames, folder / "key.png"
