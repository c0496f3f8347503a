"""Encoding: a video file, a PNG-sequence folder or one image, written atomically.

Everything goes to a hidden temp beside the destination and is moved into place
only when the writer closes cleanly, so a failed run never leaves a half-written
output and never harms an existing one. Video keeps each source frame's
timestamp (variable frame rate survives) and can carry the source's audio along,
copied packet by packet and interleaved as it goes, so memory stays flat.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from celcolor.cpus import cpu_count
from celcolor.errors import InputError, OutputError
from celcolor.io._atomic import replace_folder, temp_path_beside
from celcolor.io.frames import VIDEO_EXTENSIONS, Frame, SourceKind
from celcolor.io.images import IMAGE_EXTENSIONS, PILLOW_ONLY, channels_swapped, check_rgb
from celcolor.io.queues import BackgroundWorker

__all__ = [
    "CODECS",
    "VIDEO_OUTPUT_EXTENSIONS",
    "FrameWriter",
    "OutputKind",
    "check_alpha_output",
    "check_encoding",
    "check_folder_spelling",
    "check_output",
    "open_writer",
    "output_kind",
    "resolve_output",
    "write_video",
]

log = logging.getLogger(__name__)

OutputKind = Literal["video", "image", "folder"]

#: Container suffix -> FFmpeg muxer name.
_MUXERS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".webm": "webm",
}
VIDEO_OUTPUT_EXTENSIONS: frozenset[str] = frozenset(_MUXERS)
# Suffixes we read but cannot write: named in the error instead of becoming a folder name.
_UNWRITABLE = VIDEO_EXTENSIONS - VIDEO_OUTPUT_EXTENSIONS

#: Codec names accepted by ``codec=`` -> (encoder, suffixes it may go in).
CODECS: dict[str, tuple[str, frozenset[str]]] = {
    "h264": ("libx264", frozenset({".mp4", ".m4v", ".mkv", ".mov", ".avi"})),
    "vp9": ("libvpx-vp9", frozenset({".webm", ".mkv", ".mp4"})),
    "ffv1": ("ffv1", frozenset({".mkv", ".avi"})),
    "prores": ("prores_ks", frozenset({".mov", ".mkv"})),
}
_DEFAULT_CODEC = {".webm": "vp9"}  # everything else: h264
# Encoders whose files keep a non-square pixel shape as PyAV writes them (tested):
# libvpx-vp9 and ffv1 drop it.
_DECLARES_ASPECT = frozenset({"h264", "prores"})
_X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
    "placebo",
)  # fmt: skip
# libvpx-vp9 speed (cpu-used) for each x264 preset name: lower is slower and better.
_VP9_SPEED = dict(zip(_X264_PRESETS, (8, 7, 6, 5, 4, 3, 2, 1, 0, 0), strict=True))
# Re-encode target when the source's audio codec cannot go in the output container.
_AUDIO_FALLBACK = {
    "mp4": "aac",
    "mov": "aac",
    "matroska": "libopus",
    "webm": "libopus",
    "avi": "libmp3lame",
}
_AVCOL_BT709 = 1  # AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic: BT.709
_AVCOL_RANGE_MPEG = 1  # limited ("TV") range
DEFAULT_FPS = 24.0


# --------------------------------------------------------------------------- paths


def output_kind(dst: str | os.PathLike[str]) -> OutputKind:
    """What ``dst`` names: a video file, an image file, or a PNG-sequence folder.

    A folder is a path that ends with a separator, is an existing folder, or has no
    suffix (or a suffix that is neither a video nor an image type, e.g. ``shot.v2``).
    """
    s = os.fspath(dst)
    p = Path(s)
    if s.endswith(("/", os.sep)) or p.is_dir():
        return "folder"
    ext = p.suffix.lower()
    if ext in VIDEO_OUTPUT_EXTENSIONS:
        return "video"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in _UNWRITABLE:
        raise OutputError(
            f"{p}: cannot write '{ext}' files; use {', '.join(sorted(VIDEO_OUTPUT_EXTENSIONS))}, "
            "an image suffix, or a folder for PNG frames"
        )
    return "folder"


def check_folder_spelling(dst: str | os.PathLike[str]) -> None:
    """Refuse a path written as a folder (trailing separator) whose suffix names a file.

    ``Path("shot.mp4/")`` is ``shot.mp4``: the separator is lost as soon as the path is
    one, so the run would write the video file where a folder of frames was asked for.
    """
    s = os.fspath(dst)
    p = Path(s)
    ext = p.suffix.lower()
    a_file = ext in VIDEO_OUTPUT_EXTENSIONS or ext in IMAGE_EXTENSIONS
    if a_file and s.endswith(("/", os.sep)) and not p.is_dir():
        raise OutputError(
            f"{s}: the trailing / asks for a folder of PNG frames but '{ext}' names a file; "
            f"drop the / to write {p.name}, or the suffix to write a folder"
        )


def resolve_output(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None,
    src_kind: SourceKind,
    alpha: bool = False,
) -> Path:
    """Where the output goes: ``dst`` as given, or a default name beside ``src``.

    Defaults: a video -> ``<stem>_color.mp4`` (``<stem>_color.mov``, ProRes 4444, with
    ``alpha``: H.264 cannot keep it); a folder of images -> ``<folder>_color/``; one
    image -> ``<stem>_color.png``, all in ``src``'s folder.
    """
    s = Path(src)
    if dst is not None:
        return Path(dst)
    if s.name in ("", ".", ".."):
        s = s.resolve()  # "." has no name to build "<folder>_color" from
    if src_kind == "video":
        return s.with_name(f"{s.stem}_color.{'mov' if alpha else 'mp4'}")
    if src_kind == "images":
        return s.with_name(f"{s.name}_color")
    if src_kind == "image":
        return s.with_name(f"{s.stem}_color.png")
    raise ValueError(f"unknown source kind {src_kind!r}; expected 'video', 'images' or 'image'")


def make_folder(folder: Path, option: str) -> Path:
    """Create the output folder ``folder`` (parents too) given by the flag ``option``
    (``-o``, ``--out``): a file in its place, or a place where no folder can be made
    (no permission, a read-only or virtual file system), is a one-line
    :class:`OutputError` naming the flag."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; choose another {option}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create the folder ({e.strerror or e})") from e
    return folder


def check_output(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], overwrite: bool = False
) -> None:
    """Raise :class:`OutputError` unless ``dst`` can be written without harming ``src`` or data.

    Refused: ``dst`` is ``src`` (or ``src`` lies inside the ``dst`` folder), ``dst``'s
    folder is missing or not writable, or ``dst`` exists and ``overwrite`` is False.
    An existing empty folder is fine without ``overwrite``.
    """
    kind = output_kind(dst)
    d = Path(dst).absolute()
    s = Path(src).absolute()
    d_real, s_real = d.resolve(), s.resolve()
    if d_real == s_real or (d.exists() and s.exists() and os.path.samefile(d, s)):
        raise OutputError(f"{dst}: the output is the input {src}; choose another output path")
    if kind == "folder" and s_real.is_relative_to(d_real):
        raise OutputError(
            f"{dst}: the input {src} lies inside this output folder; choose a folder outside it"
        )
    if s.is_dir() and d_real.is_relative_to(s_real):
        raise OutputError(
            f"{dst}: lies inside the input folder {src}, which is never modified; "
            "choose an output outside it"
        )
    if kind == "image" and Path(dst).suffix.lower() in PILLOW_ONLY:
        raise OutputError(f"{dst}: '{Path(dst).suffix}' images are read, not written; use .png")
    if kind == "image" and (s.is_dir() or s.suffix.lower() in VIDEO_EXTENSIONS):
        raise OutputError(
            f"{dst}: an image file holds one frame but {src} is a cut; give a video file "
            "or a folder for PNG frames"
        )
    parent = d.parent
    if not parent.is_dir():
        raise OutputError(f"{dst}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{dst}: the folder {parent} is not writable; choose another output path")
    if os.path.lexists(d):
        _check_existing(d, kind, overwrite)


def _check_existing(d: Path, kind: OutputKind, overwrite: bool) -> None:
    """Can the existing ``d`` be replaced by an output of ``kind``?"""
    if kind == "folder":
        if not d.is_dir():
            raise OutputError(f"{d}: exists and is not a folder; choose another output path")
        entries = list(d.iterdir())
        if not entries:
            return  # an empty folder holds nothing to lose
        if not overwrite:
            raise OutputError(
                f"{d}: exists; pass --overwrite (overwrite=True) or choose another output path"
            )
        # Replacing deletes the old folder: only do that to a folder of frames, never
        # to one that holds anything else (a user's project, the input, ...).
        others = [e.name for e in entries if e.is_dir() or e.suffix.lower() not in IMAGE_EXTENSIONS]
        if others:
            raise OutputError(
                f"{d}: holds {len(others)} entries that are not images (e.g. {others[0]!r}); "
                "refusing to replace it, choose a new or empty folder"
            )
        return
    if d.is_dir():
        raise OutputError(f"{d}: is a folder; give a file name for the {kind} output")
    if not overwrite:
        raise OutputError(
            f"{d}: exists; pass --overwrite (overwrite=True) or choose another output path"
        )


# --------------------------------------------------------------------------- codecs


@dataclass
class _Codec:
    """The encoder settings for one output."""

    name: str  # our name: h264, vp9, ffv1, prores
    encoder: str  # FFmpeg encoder
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)
    yuv: bool = True  # tag and convert as BT.709 limited-range YUV


def _x264_threads() -> int:
    """Encoder threads: one core fewer than this process may use (at least one).

    The encoder shares the machine with decoding and colouring; x264's own default
    (1.5 threads per core) spends CPU on synchronisation that the colouring needs:
    on 2 cores one thread encodes 720p at ~14.5 ms of CPU per frame, the default ~17.
    """
    return max(1, cpu_count() - 1)


# With alpha (--alpha) the default codec by suffix is one that keeps it.
_DEFAULT_ALPHA_CODEC = {".mov": "prores", ".mkv": "ffv1", ".avi": "ffv1", ".webm": "vp9"}


def _choose_codec(
    dst: Path,
    codec: str | None,
    width: int,
    height: int,
    crf: int,
    preset: str,
    alpha: bool = False,
) -> _Codec:
    ext = dst.suffix.lower()
    defaults = _DEFAULT_ALPHA_CODEC if alpha else _DEFAULT_CODEC
    name = (codec or defaults.get(ext, "h264")).lower()
    if name not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    encoder, exts = CODECS[name]
    if ext not in exts:
        raise OutputError(
            f"{dst}: {name} cannot go in a '{ext}' file; use {' or '.join(sorted(exts))}"
        )
    if name == "h264" and crf > 51:
        raise OutputError(f"{dst}: --crf must be in 0..51 for H.264, got {crf}")
    if preset not in _X264_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(_X264_PRESETS)}")
    if alpha and name == "h264":
        raise OutputError(
            f"{dst}: H.264 cannot keep transparency (--alpha); write a .mov (ProRes 4444), "
            "a .webm (VP9), a .mkv (FFV1) or a folder of PNG frames"
        )
    spec = _plain_codec(dst, name, encoder, width, height, crf, preset)
    return _with_alpha(spec) if alpha else spec


def _plain_codec(
    dst: Path, name: str, encoder: str, width: int, height: int, crf: int, preset: str
) -> _Codec:
    """The encoder settings of ``name`` for an output without transparency."""
    if name == "h264":
        pix = "yuv420p"
        if width % 2 or height % 2:
            # 4:2:0 H.264 needs even sizes (its cropping also works in 2-pixel steps), so an
            # odd size is either padded, scaled, or kept at full chroma. We keep the size.
            pix = "yuv444p"
            log.warning(
                "%s: %dx%d is odd; H.264 4:2:0 needs even sizes, so this is encoded as 4:4:4 "
                "(High 4:4:4 profile), which some players (browsers, QuickTime) cannot play; "
                "use .webm, an even size, or a PNG folder for the widest support",
                dst,
                width,
                height,
            )
        opts = {"crf": str(crf), "preset": preset, "threads": str(_x264_threads())}
        return _Codec(name, encoder, pix, opts)
    if name == "vp9":
        # crf with bit rate 0 is libvpx's constant-quality mode; VP9 handles odd sizes in 4:2:0.
        opts = {"crf": str(crf), "b": "0", "row-mt": "1", "deadline": "good"}
        opts["cpu-used"] = str(_VP9_SPEED[preset])
        return _Codec(name, encoder, "yuv420p", opts)
    if name == "ffv1":
        # bgr0 keeps RGB exactly: a lossless round trip, no YUV conversion.
        return _Codec(name, encoder, "bgr0", {"level": "3", "slicecrc": "1"}, yuv=False)
    return _Codec(name, encoder, "yuv422p10le", {"profile": "hq", "vendor": "apl0"})


def check_alpha_output(dst: Path, codec: str | None = None) -> None:
    """Refuse an output that cannot keep transparency (``--alpha``), before the run."""
    kind = output_kind(dst)
    if kind == "video":
        _choose_codec(dst, codec, 2, 2, 18, "medium", alpha=True)
    elif kind == "image" and dst.suffix.lower() not in _ALPHA_IMAGES:
        raise OutputError(f"{dst}: a '{dst.suffix}' image cannot keep transparency; use .png")


def check_encoding(dst: Path, codec: str | None, crf: int = 18, preset: str = "medium") -> None:
    """Refuse, before the run, an output its encoding settings cannot make: a codec
    for PNG frames or an image, a codec its container cannot hold, a CRF past the
    codec's scale."""
    kind = output_kind(dst)
    if kind == "video":
        _choose_codec(dst, codec, 2, 2, crf, preset)
    elif codec is not None:
        what = "a folder of PNG frames" if kind == "folder" else "an image"
        raise OutputError(
            f"{dst}: --codec {codec} applies to video outputs and this is {what}; "
            "leave --codec out or give a video file"
        )


# Image files that keep an alpha channel as OpenCV writes them.
_ALPHA_IMAGES = frozenset({".png", ".tif", ".tiff", ".webp"})


# With alpha, each codec's pixel format that keeps it (and ProRes's 4444 profile).
_ALPHA_PIX_FMT = {"vp9": "yuva420p", "ffv1": "bgra", "prores": "yuva444p10le"}


def _with_alpha(spec: _Codec) -> _Codec:
    """``spec`` keeping transparency: the same encoder and settings, an alpha layout."""
    options = {**spec.options, "profile": "4444"} if spec.name == "prores" else spec.options
    return replace(spec, pix_fmt=_ALPHA_PIX_FMT[spec.name], options=options)


# RGB -> BT.709 limited-range Y'CbCr as one 3x4 matrix (Kr 0.2126, Kb 0.0722; Y' in
# 16..235, Cb/Cr in 16..240): cv2.transform applies it with rounding and saturation.
_BT709_LIMITED = np.array(
    [
        [0.2126 * 219 / 255, 0.7152 * 219 / 255, 0.0722 * 219 / 255, 16.0],
        [-0.1146 * 224 / 255, -0.3854 * 224 / 255, 0.5 * 224 / 255, 128.0],
        [0.5 * 224 / 255, -0.4542 * 224 / 255, -0.0458 * 224 / 255, 128.0],
    ],
    np.float32,
)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """``H,W,3`` uint8 RGB (H a multiple of 4, W even) to planar BT.709 limited 4:2:0.

    Returns the ``3H/2, W`` uint8 layout of ``VideoFrame.from_ndarray(format="yuv420p")``.
    Chroma is the mean of each 2x2 block (centre-sited). This is 4-5x faster than
    swscale's conversion, whose cost otherwise shows in the end-to-end speed.
    """
    h, w = rgb.shape[:2]
    y, cb, cr = cv2.split(cv2.transform(rgb, _BT709_LIMITED))
    half = (w // 2, h // 2)
    cb = cv2.resize(cb, half, interpolation=cv2.INTER_AREA).reshape(h // 4, w)
    cr = cv2.resize(cr, half, interpolation=cv2.INTER_AREA).reshape(h // 4, w)
    return np.concatenate([y, cb, cr])


def _fps_fraction(fps: float | Fraction | None) -> Fraction:
    if fps is None or not fps or fps <= 0:
        return Fraction(DEFAULT_FPS)
    return Fraction(fps).limit_denominator(1001)  # 29.97 -> 30000/1001


# --------------------------------------------------------------------------- sinks


class _Sink:
    """Writes frames into a temp path; ``finish`` completes it, ``discard`` removes it."""

    tmp: Path

    def write(self, rgb: np.ndarray, frame: Frame | None, index: int) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the temp output (flush, trailer)."""

    def discard(self) -> None:
        raise NotImplementedError


class _FolderSink(_Sink):
    def __init__(self, dst: Path) -> None:
        self.dst = dst
        self.tmp = temp_path_beside(dst)
        try:
            self.tmp.mkdir()
        except OSError as e:
            raise OutputError(f"{dst}: cannot create a folder beside it ({e.strerror or e})") from e
        self._used: set[str] = set()

    def write(self, rgb: np.ndarray, frame: Frame | None, index: int) -> None:
        name = Path(frame.name).name if frame is not None and frame.name else f"frame_{index:06d}"
        if name.casefold() in self._used:  # e.g. a.png and a.jpg in one input folder
            name = f"{name}_{index:06d}"
        self._used.add(name.casefold())
        try:
            _write_png(self.tmp / f"{name}.png", rgb)
        except OSError as e:  # a full disk, a quota, a folder removed under the run
            raise OutputError(f"{self.dst}: writing the frames failed ({_reason(e)})") from e

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=False)


class _ImageSink(_Sink):
    def __init__(self, dst: Path) -> None:
        self.tmp = temp_path_beside(dst)
        self._ext = dst.suffix.lower()
        self._count = 0

    def write(self, rgb: np.ndarray, frame: Frame | None, index: int) -> None:
        if self._count:
            raise ValueError(f"{self.tmp.name}: an image output holds one frame; write a folder")
        ok, buf = cv2.imencode(self._ext, channels_swapped(rgb))
        if not ok:
            raise OutputError(f"cannot encode a '{self._ext}' image; use .png")
        try:
            with open(self.tmp, "xb") as fh:
                fh.write(buf.tobytes())
        except OSError as e:
            raise OutputError(f"{self.tmp}: writing the image failed ({_reason(e)})") from e
        self._count += 1

    def finish(self) -> None:
        if not self._count:
            raise ValueError("no frame was written to the image output")

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", channels_swapped(rgb))
    if not ok:
        raise OutputError(f"{path}: OpenCV could not encode the frame as PNG")
    with open(path, "xb") as fh:
        fh.write(buf.tobytes())


class _VideoSink(_Sink):
    def __init__(
        self,
        dst: Path,
        *,
        width: int,
        height: int,
        fps: float | Fraction | None,
        time_base: Fraction | None,
        codec: _Codec,
        audio_from: Path | None,
        sample_aspect: Fraction | None = None,
        timecode: str | None = None,
    ) -> None:
        self.dst = dst
        self.tmp = temp_path_beside(dst)
        self.codec = codec
        self.fmt = _MUXERS[dst.suffix.lower()]
        rate = _fps_fraction(fps)
        # Frames keep the source's pts in the source's time base; image inputs count frames.
        self.time_base = Fraction(time_base) if time_base else 1 / rate
        self._exact_pts = bool(time_base)  # frame.pts is in our time base only when given
        self._step = max(1, round(1 / (rate * self.time_base)))  # ticks per frame, for pts=None
        self._last_pts: int | None = None
        self._warned_pts = False
        options = {"movflags": "+faststart"} if self.fmt in ("mp4", "mov") else {}
        try:
            self.container = av.open(str(self.tmp), mode="w", format=self.fmt, options=options)
        except (av.FFmpegError, OSError) as e:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"{dst}: cannot create the video file ({_reason(e)})") from e
        self.audio: _AudioMuxer | None = None
        try:
            s = self.container.add_stream(codec.encoder, rate=rate)
            s.width, s.height, s.pix_fmt = width, height, codec.pix_fmt
            s.time_base = self.time_base
            s.codec_context.time_base = self.time_base
            s.options = dict(codec.options)
            if codec.yuv:
                cc = s.codec_context
                cc.colorspace = cc.color_primaries = cc.color_trc = _AVCOL_BT709
                cc.color_range = _AVCOL_RANGE_MPEG
            if sample_aspect is not None and sample_aspect != 1:
                # Non-square pixels (anamorphic HD, DV): played at the source's shape.
                s.codec_context.sample_aspect_ratio = sample_aspect
                if codec.name not in _DECLARES_ASPECT:
                    log.warning(
                        "%s: the source's pixels are not square (%s) and %s here cannot "
                        "say so: it plays narrower than the source; .mp4 or .mov keeps the "
                        "shape",
                        dst,
                        sample_aspect,
                        codec.name,
                    )
            if timecode:
                # Editorial conforms the output by it: mov and mp4 keep it as a timecode
                # track (from the stream's tag), Matroska as the file's TIMECODE tag.
                s.metadata["timecode"] = timecode
                if self.fmt in ("matroska", "webm"):
                    self.container.metadata["timecode"] = timecode
            self.stream = s
            if audio_from is not None:
                self.audio = _AudioMuxer.create(Path(audio_from), self.container, self.fmt)
        except BaseException:
            self.discard()
            raise

    def write(self, rgb: np.ndarray, frame: Frame | None, index: int) -> None:
        pts: int | None = None
        if frame is not None:
            if self._exact_pts:
                pts = frame.pts
            elif frame.time is not None:
                # No source time base was given: place the frame by its time in seconds.
                pts = round(frame.time / self.time_base)
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._step
        elif self._last_pts is not None and pts <= self._last_pts:
            # An encoder refuses non-increasing timestamps; nudge rather than drop the frame.
            if not self._warned_pts:
                log.warning(
                    "%s: frame %d has timestamp %d, not after %d; shifting it by one tick "
                    "(further cases are not reported)",
                    self.dst,
                    index,
                    pts,
                    self._last_pts,
                )
                self._warned_pts = True
            pts = self._last_pts + 1
        self._last_pts = pts
        h, w = rgb.shape[:2]
        if rgb.shape[2] == 4:  # with alpha: RGBA in, the codec's own layout out
            vf = av.VideoFrame.from_ndarray(rgb, format="rgba")
            if self.codec.yuv:
                vf = vf.reformat(
                    format=self.codec.pix_fmt,
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                )
            else:
                vf = vf.reformat(format=self.codec.pix_fmt)
        elif self.codec.pix_fmt == "yuv420p" and h % 4 == 0 and w % 2 == 0:
            # Rows of a chroma plane are packed two per W-wide row: needs H % 4 == 0.
            vf = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
        elif self.codec.yuv:
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            vf = vf.reformat(
                format=self.codec.pix_fmt,
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
        else:
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        vf.pts = pts
        vf.time_base = self.time_base
        try:
            packets = self.stream.encode(vf)
        except av.FFmpegError as e:
            raise OutputError(
                f"{self.dst}: the {self.codec.encoder} encoder failed ({_reason(e)})"
            ) from e
        self._mux(packets)

    def _mux(self, packets: list[Any]) -> None:
        for pkt in packets:
            try:
                if self.audio is not None:
                    ts = pkt.dts if pkt.dts is not None else pkt.pts
                    if ts is not None:
                        self.audio.pump(float(ts * pkt.time_base))
                self.container.mux(pkt)
            except (av.FFmpegError, OSError) as e:
                raise OutputError(f"{self.dst}: writing the video failed ({_reason(e)})") from e

    def finish(self) -> None:
        try:
            self._mux(self.stream.encode(None))
            if self.audio is not None:
                self.audio.pump(None)
                self.audio.close()
                self.audio = None
            self.container.close()
        except (av.FFmpegError, OSError) as e:
            raise OutputError(f"{self.dst}: finishing the video failed ({_reason(e)})") from e

    def discard(self) -> None:
        try:
            if self.audio is not None:
                self.audio.close()
            self.container.close()
        except (av.FFmpegError, OSError) as e:
            # The file is being thrown away; closing it is best effort, but say so.
            log.debug("closing the discarded %s failed: %s", self.tmp, e)
        finally:
            self.tmp.unlink(missing_ok=True)


class _AudioMuxer:
    """Copies (or re-encodes) the first audio stream of a file into an output container."""

    def __init__(self, src: Path, inp: Any, in_stream: Any, out: Any, out_stream: Any, copy: bool):
        self.src = src
        self.inp = inp
        self.in_stream = in_stream
        self.out = out
        self.out_stream = out_stream
        self.copy = copy
        self._packets: Iterator[Any] | None = inp.demux(in_stream)
        self._next: Any | None = None

    @classmethod
    def create(cls, src: Path, out: Any, fmt: str) -> _AudioMuxer | None:
        """Add an audio stream to ``out`` for ``src``'s audio; None (logged) if there is none."""
        try:
            inp = av.open(str(src), mode="r", metadata_errors="replace")
        except (av.FFmpegError, OSError) as e:
            raise InputError(f"{src}: cannot read its audio ({_reason(e)})") from e
        try:
            if not inp.streams.audio:
                log.info("%s: no audio stream; the output has none either", src)
                inp.close()
                return None
            a = inp.streams.audio[0]
            if _can_mux(fmt, a, src):
                return cls(src, inp, a, out, out.add_stream_from_template(a), copy=True)
            enc = _AUDIO_FALLBACK.get(fmt)
            if enc is None:
                log.warning(
                    "%s: its %s audio cannot go in a %s file and is dropped; use .mkv or .mp4 "
                    "to keep it",
                    src,
                    a.codec_context.name,
                    fmt,
                )
                inp.close()
                return None
            log.warning(
                "%s: its %s audio cannot go in a %s file as it is; re-encoding it to %s",
                src,
                a.codec_context.name,
                fmt,
                enc,
            )
            rate = a.codec_context.sample_rate or 48000
            if enc == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
                rate = 48000  # the only rates Opus takes; PyAV resamples on encode
            o = out.add_stream(enc, rate=rate)
            # By its channel count: PCM's layout may be an unnamed "2 channels", which
            # encoders such as AAC refuse.
            layout = a.codec_context.layout
            o.layout = "mono" if layout is not None and layout.nb_channels == 1 else "stereo"
            return cls(src, inp, a, out, o, copy=False)
        except BaseException:
            inp.close()
            raise

    def pump(self, until: float | None) -> None:
        """Mux audio up to ``until`` seconds (all that is left when None)."""
        while True:
            if self._next is None:
                self._next = self._read()
                if self._next is None:
                    return
            pkt = self._next
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if until is not None and ts is not None and float(ts * pkt.time_base) > until:
                return
            self._next = None
            if self.copy:
                pkt.stream = self.out_stream  # PyAV rescales its timestamps to the output's
                self.out.mux(pkt)
            else:
                try:
                    decoded = pkt.decode()
                except av.FFmpegError as e:
                    # A damaged audio packet must not sink the picture: skip it, say so.
                    log.warning(
                        "%s: skipping an undecodable audio packet (%s)", self.src, _reason(e)
                    )
                    continue
                for af in decoded:
                    af.pts = None  # the encoder counts samples itself after resampling
                    self.out.mux(self.out_stream.encode(af))

    def _read(self) -> Any | None:
        if self._packets is None:
            return None
        try:
            for pkt in self._packets:
                if pkt.dts is None and pkt.pts is None:
                    continue  # the demuxer's empty flush packet
                return pkt
        except av.FFmpegError as e:
            # Audio that ends early must not sink the picture: keep what was copied.
            log.warning(
                "%s: reading the audio stopped early (%s); the rest is left out",
                self.src,
                _reason(e),
            )
        self._packets = None
        if not self.copy:
            self.out.mux(self.out_stream.encode(None))  # flush the audio encoder
        return None

    def close(self) -> None:
        self._packets = None
        self.inp.close()


def _can_mux(fmt: str, stream: Any, src: Path) -> bool:
    """Whether ``fmt`` accepts ``stream`` (``src``'s first audio stream) as is: tried on
    a throwaway in-memory file, header, first packet (read from ``src`` again) and
    trailer. Some muxers take a codec's header and fail only at the trailer (PCM in MP4)."""
    try:
        with av.open(str(src), mode="r", metadata_errors="replace") as inp:
            source = inp.streams.audio[0]
            first = next((p for p in inp.demux(source) if p.dts is not None), None)
            with av.open(io.BytesIO(), mode="w", format=fmt) as probe:
                copied = probe.add_stream_from_template(stream)
                probe.start_encoding()
                if first is not None:
                    first.stream = copied
                    probe.mux(first)
    except (av.FFmpegError, ValueError, IndexError) as e:
        log.debug("%s cannot hold %s audio: %s", fmt, stream.codec_context.name, e)
        return False
    return True


def _reason(e: BaseException) -> str:
    return " ".join(str(getattr(e, "strerror", None) or e).split())


# --------------------------------------------------------------------------- writer


class FrameWriter:
    """Writes frames to a video, a PNG folder or one image; commits atomically on clean close.

    Use as a context manager: on a clean exit the temp output is moved into place; on an
    exception it is removed and an existing destination is left as it was.
    """

    def __init__(
        self,
        dst: str | os.PathLike[str],
        *,
        width: int,
        height: int,
        fps: float | Fraction | None = None,
        time_base: Fraction | None = None,
        codec: str | None = None,
        crf: int = 18,
        preset: str = "medium",
        audio_from: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        threaded: bool = False,
        queue_size: int = 8,
        niceness: int = 0,
        sample_aspect: Fraction | None = None,
        timecode: str | None = None,
        alpha: bool = False,
    ) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        self.kind: OutputKind = output_kind(dst)
        self.path = Path(dst)
        ext = self.path.suffix.lower()
        if self.kind == "folder" and ext and not self.path.is_dir():
            log.warning(
                "%s: '%s' is not a video or image suffix; writing PNG frames into this folder",
                self.path,
                ext,
            )
        self.width, self.height = width, height
        self.alpha = alpha
        self.overwrite = overwrite
        self.frames_written = 0
        self._worker: BackgroundWorker | None = None
        self._closed = False
        parent = self.path.absolute().parent
        if not parent.is_dir():
            raise OutputError(f"{self.path}: the folder {parent} does not exist; create it first")
        if os.path.lexists(self.path):
            _check_existing(self.path, self.kind, overwrite)
        if alpha:
            check_alpha_output(self.path, codec)
        self._sink: _Sink
        if self.kind == "video":
            spec = _choose_codec(self.path, codec, width, height, crf, preset, alpha)
            self._sink = _VideoSink(
                self.path,
                width=width,
                height=height,
                fps=fps,
                time_base=time_base,
                codec=spec,
                audio_from=Path(audio_from) if audio_from is not None else None,
                sample_aspect=sample_aspect,
                timecode=timecode,
            )
        else:
            if sample_aspect is not None and sample_aspect != 1:
                log.info(
                    "%s: the source's pixels are not square (%s); PNG frames keep them as "
                    "stored: scale the width by that to view them as played",
                    self.path,
                    sample_aspect,
                )
            if codec is not None:
                raise ValueError(f"codec={codec!r} applies to video outputs, not to {self.path}")
            if audio_from is not None:
                log.warning(
                    "%s: a %s output cannot hold audio; audio dropped", self.path, self.kind
                )
            self._sink = _FolderSink(self.path) if self.kind == "folder" else _ImageSink(self.path)
        self._worker = (
            BackgroundWorker(self._sink.write, maxsize=queue_size, name="encode", niceness=niceness)
            if threaded
            else None
        )

    def write(self, rgb: np.ndarray, frame: Frame | None = None) -> None:
        """Encode one ``H,W,3`` uint8 RGB image (``H,W,4`` RGBA when opened with
        ``alpha``); ``frame`` gives its timestamp and name."""
        if self._closed:
            raise ValueError(f"{self.path}: write() on a closed writer")
        check_rgb(rgb, alpha=self.alpha)
        if rgb.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"frame is {rgb.shape[1]}x{rgb.shape[0]}, the writer was opened for "
                f"{self.width}x{self.height}"
            )
        index = self.frames_written
        if self._worker is not None:
            # Copy: the caller may reuse its buffer while the frame waits in the queue.
            self._worker.put(np.array(rgb, order="C", copy=True), frame, index)
        else:
            self._sink.write(np.ascontiguousarray(rgb), frame, index)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the output and move it into place (raises if any write failed)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._worker is not None:
                self._worker.close()  # re-raises an encoder failure
            self._sink.finish()
            self._commit()
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        """Throw the output away; an existing destination is untouched."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.abort()
        self._discard()

    def _discard(self) -> None:
        if not os.path.lexists(self._sink.tmp):
            return  # never made (its creation is what failed)
        try:
            self._sink.discard()
        except OSError as e:
            log.warning(
                "could not remove the temp output %s (%s); delete it by hand", self._sink.tmp, e
            )

    def _commit(self) -> None:
        tmp = self._sink.tmp
        if os.path.lexists(self.path):
            # Checked again: something may have appeared there while we were encoding.
            _check_existing(self.path, self.kind, self.overwrite)
        try:
            if self.kind == "folder":
                replace_folder(tmp, self.path)
            else:
                os.replace(tmp, self.path)
        except OSError as e:
            raise OutputError(
                f"{self.path}: cannot move the finished output into place ({e})"
            ) from e

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() or abort(): remove its temp, never commit it.
        if getattr(self, "_closed", True) or not hasattr(self, "_sink"):
            return
        log.warning("%s: writer dropped without close(); its output is discarded", self.path)
        self.abort()


def open_writer(
    dst: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    fps: float | Fraction | None = None,
    time_base: Fraction | None = None,
    codec: str | None = None,
    crf: int = 18,
    preset: str = "medium",
    audio_from: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    threaded: bool = False,
    queue_size: int = 8,
    niceness: int = 0,
    sample_aspect: Fraction | None = None,
    timecode: str | None = None,
    alpha: bool = False,
) -> FrameWriter:
    """Open a :class:`FrameWriter` (video, PNG folder or one image, chosen by ``dst``).

    For video from a video source pass the source's ``fps`` and ``time_base`` and each
    source :class:`Frame` to ``write`` so timestamps are kept; otherwise frames are spaced
    at ``fps`` (24 when None). ``codec`` is one of :data:`CODECS` (default by suffix:
    h264, or vp9 for .webm). ``audio_from`` copies that file's first audio stream.
    ``threaded`` encodes in a worker thread (``queue_size`` frames behind), which runs,
    with the encoder's own threads, at ``niceness`` below the caller's priority (see
    :func:`~celcolor.io.queues.lower_priority`). ``sample_aspect``: the pixels' shape
    (width over height) a video output declares, as the source's (None: square).
    ``timecode``: the start timecode a video output carries, as the source's.
    ``alpha``: frames are ``H,W,4`` RGBA and the output keeps their transparency (PNG,
    ProRes 4444 by default in .mov, FFV1 in .mkv and .avi, VP9 in .webm; H.264 cannot).
    """
    return FrameWriter(
        dst,
        width=width,
        height=height,
        fps=fps,
        time_base=time_base,
        codec=codec,
        crf=crf,
        preset=preset,
        audio_from=audio_from,
        overwrite=overwrite,
        threaded=threaded,
        queue_size=queue_size,
        niceness=niceness,
        sample_aspect=sample_aspect,
        timecode=timecode,
        alpha=alpha,
    )


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float = DEFAULT_FPS,
    codec: str | None = None,
    crf: int = 18,
    preset: str = "medium",
    overwrite: bool = False,
) -> int:
    """Write ``H,W,3`` uint8 RGB images as a constant-rate video; returns the frame count.

    For an exact (lossless) round trip use ``codec="ffv1"`` with a ``.mkv`` path.
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    check_rgb(first)
    h, w = first.shape[:2]
    with open_writer(
        path, width=w, height=h, fps=fps, codec=codec, crf=crf, preset=preset, overwrite=overwrite
    ) as wr:
        wr.write(first)
        for img in it:
            wr.write(img)
        return wr.frames_written
