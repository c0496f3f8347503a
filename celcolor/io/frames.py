"""Decoding: a video, a folder of images or one image, as a stream of RGB frames.

Frames come one at a time, so memory does not grow with the length of the cut. For
video, each frame keeps its presentation timestamp (``pts`` in the stream's
``time_base``), so a variable-frame-rate input can be written back with the same
timing. Problems are found early: the first frame is decoded when the source opens.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
from av.video.reformatter import Colorspace

from celcolor.errors import InputError
from celcolor.io.images import (
    IMAGE_EXTENSIONS,
    check_not_a_stream,
    composite_on_white,
    exif_orientation,
    may_say_orientation,
    natural_key,
    quiet_pillow,
    read_image,
    shown_size,
)

__all__ = [
    "VIDEO_EXTENSIONS",
    "Frame",
    "FrameSource",
    "ImageSequenceSource",
    "VideoSource",
    "list_images",
    "open_frames",
]

log = logging.getLogger(__name__)

#: Lower-case suffixes (with the dot) opened as video with PyAV.
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".apng", ".ts", ".mts",
        ".m2ts", ".mpg", ".mpeg", ".flv", ".wmv", ".ogv", ".y4m", ".nut", ".3gp", ".mxf",
    }
)  # fmt: skip

SourceKind = Literal["video", "images", "image"]

_AVCOL_SPC_UNSPECIFIED = 2  # libavutil's AVColorSpace for "not tagged"
_AVCOL_RANGE_JPEG = 2  # full-range samples


@dataclass(eq=False)
class Frame:
    """One decoded frame: an ``H,W,3`` uint8 RGB image and where it sits in time."""

    index: int  # 0-based position in the cut
    image: np.ndarray = field(repr=False)  # H,W,3 uint8 RGB, C-contiguous
    pts: int | None  # presentation timestamp in the source's time_base (None for images)
    time: float | None  # pts in seconds (None for images)
    name: str  # file stem for image inputs, "frame_000123" for video


class FrameSource:
    """Frames of one cut. Iterate for :class:`Frame` objects; close (or use ``with``) when done."""

    path: Path
    kind: SourceKind
    width: int
    height: int
    num_frames: int | None  # the container's count; None when it does not say
    fps: float | None  # average rate; None for images
    time_base: Fraction | None  # unit of Frame.pts; None for images
    duration: float | None  # seconds, when the container says
    has_audio: bool
    # Width over height of one pixel as the file declares it (anamorphic HD: 4/3), as
    # frames come out (turned upright); None: square, or not said.
    sample_aspect: Fraction | None = None
    # The start timecode the file carries ("01:00:10:05"; ";" before the frames when
    # drop-frame), for an output that editorial can conform; None: none.
    timecode: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release open files. Safe to call twice."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, kind={self.kind!r}, "
            f"size={self.width}x{self.height}, num_frames={self.num_frames}, fps={self.fps})"
        )


def source_kind(path: Path) -> SourceKind | None:
    """What :func:`open_frames` opens ``path`` as, by its name: a folder of images, one
    image or a video; None for a suffix that is neither."""
    if path.is_dir():
        return "images"
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    return "video" if ext in VIDEO_EXTENSIONS else None


def open_frames(
    path: str | os.PathLike[str],
    *,
    allow_truncated: bool = False,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> FrameSource:
    """Open a video file, a folder of images or a single image as a :class:`FrameSource`.

    The first frame is decoded here, so unreadable inputs fail now with
    :class:`~celcolor.errors.InputError`. With ``allow_truncated``, a video that ends
    early (truncated or corrupt) yields its good frames and logs a warning instead
    of raising after them. ``exclude``: images a folder holds that are not frames
    (the cut's references, kept beside its frames as a batch keeps them).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder; check the path")
    check_not_a_stream(p)
    kind = source_kind(p)
    if kind == "images":
        files = list_images(p)
        others = {Path(e).resolve() for e in exclude}
        kept = []
        for f in files:
            if f.resolve() in others:
                log.debug("%s: a reference, not a frame of the cut", f)
            else:
                kept.append(f)
        if files and not kept:
            raise InputError(f"{p}: the folder holds only the references, no frames")
        files = kept
        check_numbering(p, files)
        return ImageSequenceSource(p, files, kind="images")
    if kind == "image":
        return ImageSequenceSource(p, [p], kind="image")
    if kind == "video":
        return VideoSource(p, allow_truncated=allow_truncated)
    raise InputError(
        f"{p}: '{p.suffix or 'no suffix'}' is neither a video nor an image suffix; "
        f"give a video ({', '.join(sorted(VIDEO_EXTENSIONS))}), an image "
        f"({', '.join(sorted(IMAGE_EXTENSIONS))}) or a folder of images"
    )


# --------------------------------------------------------------------------- images


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (hidden files skipped), in natural order; a
    broken link named as one is an :class:`InputError`."""
    try:
        entries = list(folder.iterdir())
    except OSError as e:
        raise InputError(f"{folder}: cannot list the folder ({e.strerror or e})") from e
    named = [
        f for f in entries if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".")
    ]
    files = [f for f in named if f.is_file()]
    # A link to a frame on a drive now gone: refused, not dropped (the run went on
    # without that frame, warned only of numbers that skip "missing from the export").
    broken = [f for f in named if f.is_symlink() and not f.exists()]
    if broken:
        f = min(broken, key=lambda f: natural_key(f.name))
        raise InputError(
            f"{f}: a link to {os.readlink(f)}, which is not there; restore or remove it"
        )
    if not files:
        raise InputError(
            f"{folder}: no images in this folder ({len(entries)} other entries); "
            f"expected {', '.join(sorted(IMAGE_EXTENSIONS))} files"
        )
    return sorted(files, key=lambda f: natural_key(f.name))


def _header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file header without decoding pixels; None if Pillow can't tell."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as f:
            head = f.read(65536)
            f.seek(0)
            with quiet_pillow(), Image.open(f) as im:
                size = im.size
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    # getexif() here would decode a PNG whole: the orientation is read only when the
    # file's first bytes carry EXIF.
    if not may_say_orientation(head):
        return size
    return shown_size(size, exif_orientation(path.read_bytes()))


# A frame's number: the last run of digits in its name ("c012_A_0024" -> 24).
_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")


def _of_sequence(m: re.Match[str] | None, key: tuple[str, str, str]) -> bool:
    """Whether a frame whose name matched ``_NUMBERED`` as ``m`` belongs to the numbered
    sequence ``key`` names, a letter after its number (an inserted drawing) and its
    extension aside."""
    if m is None or m.group(1) != key[0]:
        return False
    after = m.group(3)
    return after == key[1] or (after[:1].isalpha() and after[1:] == key[1])


def check_numbering(folder: Path, files: list[Path]) -> None:
    """Refuse a folder that holds several numbered sequences, or one sequence and images
    that are not of it, and warn of numbers that skip in its one sequence.

    Anime cels are often kept as layers named by letter (``A0001.png`` .. and
    ``B0001.png`` .., one per character or part), and a folder may gather them: in
    natural order one layer would follow the other as if they were one cut. An image
    beside the sequence (a ``layout.png``, a ``f0003 copy.png``) would be coloured as a
    frame of the cut, in its place in natural order. A number that skips (``f0012``
    then ``f0014``) is a frame missing from an export: the output keeps each frame's
    name, but a video made from it plays the frames back to back, a frame short there.
    A constant step (numbered on twos) is not a skip.

    Raises :class:`InputError` naming the sequences, or the images that are not of it.
    """
    named_as = [(f, _NUMBERED.match(f.stem)) for f in files]
    # A sequence: the text around the number, and the extension, that its frames share.
    sequences: dict[tuple[str, str, str], list[int]] = {}
    for f, m in named_as:
        if m is not None:
            key = (m.group(1), m.group(3), f.suffix.lower())
            sequences.setdefault(key, []).append(int(m.group(2)))
    long = {k: v for k, v in sequences.items() if len(v) > 1}
    if len(long) > 1:
        named = [f"{a}#{b}{c} ({len(v)} frames)" for (a, b, c), v in sorted(long.items())]
        more = f" and {len(named) - 3} more" if len(named) > 3 else ""
        raise InputError(
            f"{folder}: holds {len(long)} numbered sequences, {', '.join(named[:3])}{more}; "
            "colour each from a folder of its own (cel layers A, B, ...: one folder each)"
        )
    if not long:
        return
    ((key, numbers),) = long.items()
    # Of the sequence: its frames whatever their extension (one re-exported as .jpg),
    # and drawings inserted between two (OpenToonz saves frame 4a as A.0004a.png).
    frames, stray = [], []
    for f, m in named_as:
        (frames if _of_sequence(m, key) else stray).append(f)
    # Only beside a sequence that is the folder's bulk: takes named f0001_v2.png ..
    # (each its own "sequence") with one frame in two takes are no such folder.
    if stray and len(stray) < len(frames):
        names = ", ".join(f.name for f in stray[:3]) + (
            f" and {len(stray) - 3} more" if len(stray) > 3 else ""
        )
        raise InputError(
            f"{folder}: {names} {'is' if len(stray) == 1 else 'are'} not of its numbered "
            f"frames ({frames[0].name} .. {frames[-1].name}, {len(frames)} frames) and would "
            "be coloured as frames of the cut; move them out of the folder (a reference "
            "given with --ref may stay)"
        )
    numbers.sort()
    steps = np.diff(numbers)
    step = int(np.bincount(steps).argmax()) if len(steps) else 1
    pairs = zip(numbers[:-1], numbers[1:], steps, strict=True)
    odd = [(int(a), int(b)) for a, b, d in pairs if d != step]
    if odd and step > 0:
        shown = ", ".join(f"{a} to {b}" if b > a else f"{a} twice" for a, b in odd[:4]) + (
            ", ..." if len(odd) > 4 else ""
        )
        log.warning(
            "%s: the frame numbers skip (%s; the step is %d elsewhere): a frame missing "
            "from the export? Outputs keep each frame's name, but a video plays them back "
            "to back",
            folder,
            shown,
            step,
        )


class ImageSequenceSource(FrameSource):
    """A folder of same-size images in natural order (``kind="images"``), or one image."""

    def __init__(self, path: Path, files: list[Path], kind: SourceKind) -> None:
        self.path = path
        self.kind = kind
        self.files = files
        self.num_frames = len(files)
        self.fps = None
        self.time_base = None
        self.duration = None
        self.has_audio = False
        # Decode the first image fully now, so a broken input fails on open.
        self._first: np.ndarray | None = read_image(files[0])
        self.height, self.width = self._first.shape[:2]
        # Every other size from its header (cheap), so a stray frame fails now, not at frame 900.
        for f in files[1:]:
            size = _header_size(f)
            if size is None:
                size = read_image(f).shape[1::-1]  # raises InputError if it is broken
            self._check_size(f, size[0], size[1])

    def _check_size(self, f: Path, w: int, h: int) -> None:
        if (w, h) != (self.width, self.height):
            raise InputError(
                f"{f}: is {w}x{h} but {self.files[0].name} is {self.width}x{self.height}; "
                "every frame in a folder must have the same size"
            )

    def __iter__(self) -> Iterator[Frame]:
        for i, f in enumerate(self.files):
            if i == 0 and self._first is not None:
                img, self._first = self._first, None  # hand it over once, don't keep it
            else:
                img = read_image(f)
            self._check_size(f, img.shape[1], img.shape[0])
            yield Frame(index=i, image=img, pts=None, time=None, name=f.stem)

    def close(self) -> None:
        self._first = None


# --------------------------------------------------------------------------- video


class VideoSource(FrameSource):
    """A video file decoded with PyAV, one frame at a time (``kind="video"``)."""

    def __init__(self, path: Path, *, allow_truncated: bool = False) -> None:
        self.path = path
        self.kind = "video"
        self.allow_truncated = allow_truncated
        self._open_containers: list[Any] = []
        # Decoding may run in a prefetch thread while close() comes from the caller's
        # thread: the lock keeps close() from freeing a container in the middle of a decode.
        self._lock = threading.RLock()
        self._closed = False
        # The container opened (and its first frame decoded) here serves the first iteration.
        self._pending: _Decode | None = self._open()
        container, first = self._pending.container, self._pending.first
        stream = container.streams.video[self._stream_index]
        # Frames come out as players show them: a phone clip stored on its side with a
        # display rotation is turned upright, as the reference was painted.
        self._turns = _quarter_turns(path, first)
        self._stored = (first.width, first.height)
        self.width, self.height = self._stored[:: -1 if self._turns % 2 else 1]
        self.timecode = _timecode(container, stream)
        sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
        if sar and sar != 1:
            self.sample_aspect = Fraction(sar) if self._turns % 2 == 0 else 1 / Fraction(sar)
        self.time_base = stream.time_base
        self.num_frames = int(stream.frames) or None
        rate = stream.average_rate or stream.guessed_rate
        self.fps = float(rate) if rate else None
        self.has_audio = bool(container.streams.audio)
        self._start, self._end = _declared_span(container, stream)
        self.duration = self._end - self._start if self._end is not None else None

    def _open(self) -> _Decode:
        p = self.path
        try:
            container = av.open(str(p), mode="r", metadata_errors="replace")
        except av.error.EOFError as e:
            raise InputError(f"{p}: the file ends before any frame; it is empty or cut off") from e
        except av.FFmpegError as e:
            raise InputError(
                f"{p}: not a readable video ({_av_reason(e)}); re-export it as mp4, mkv or mov"
            ) from e
        self._open_containers.append(container)
        try:
            stream = _pick_video_stream(container)
            if stream is None:
                kinds = ", ".join(s.type for s in container.streams) or "no streams"
                raise InputError(f"{p}: has no video stream ({kinds}); give a video with pictures")
            self._stream_index = list(container.streams.video).index(stream)
            stream.thread_type = "AUTO"  # frame + slice threads: decoding keeps up with compute
            errors: list[av.FFmpegError] = []
            raw = _raw_frames(container, stream, errors)
            first = next(raw, None)
            if first is None:
                err = errors[0] if errors else None
                why = f" ({_av_reason(err)})" if err is not None else ""
                raise InputError(
                    f"{p}: no frame could be decoded{why}; the file is empty or broken"
                )
        except BaseException:
            self._close_container(container)
            raise
        return _Decode(container, raw, first, errors)

    def __iter__(self) -> Iterator[Frame]:
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path}: iterating a closed source")
            if self._pending is not None:
                dec, self._pending = self._pending, None
            else:  # a second pass: decode from the start again
                dec = self._open()
        return self._frames(dec)

    def _frames(self, dec: _Decode) -> Iterator[Frame]:
        n = 0
        last_end: float | None = None  # when the last decoded frame ends, in seconds
        try:
            av_frame = dec.first
            while av_frame is not None:
                with self._lock:
                    if self._closed:
                        return  # closed by the caller (from another thread): stop quietly
                    if (av_frame.width, av_frame.height) != self._stored:
                        w, h = self._stored
                        raise InputError(
                            f"{self.path}: frame {n} is {av_frame.width}x{av_frame.height} but "
                            f"the video starts at {w}x{h}; re-encode it at one size"
                        )
                    img = _to_rgb(av_frame)
                    if self._turns:
                        img = np.ascontiguousarray(np.rot90(img, self._turns))
                pts = av_frame.pts
                t = float(pts * self.time_base) if pts is not None and self.time_base else None
                if t is not None:
                    # Where this frame ends: its own duration when the file says (a held
                    # last drawing in a VFR cut can be long), else one average frame.
                    dur = av_frame.duration
                    step = float(dur * self.time_base) if dur and self.time_base else 0.0
                    last_end = t + max(step, 1.0 / (self.fps or 24.0))
                yield Frame(index=n, image=img, pts=pts, time=t, name=f"frame_{n:06d}")
                n += 1
                with self._lock:
                    if self._closed:
                        return
                    av_frame = next(dec.raw, None)
            self._check_complete(n, last_end, dec.errors[0] if dec.errors else None)
        finally:
            with self._lock:
                dec.raw.close()
                self._close_container(dec.container)

    def _check_complete(
        self, decoded: int, last_end: float | None, err: av.FFmpegError | None
    ) -> None:
        """Raise (or warn, with allow_truncated) when fewer frames came out than declared."""
        short = self._shortfall(decoded, last_end)
        if err is None and short is None:
            return
        of = short or f"decoded {decoded} frames before a decoding error ({_av_reason(err)})"
        if self.allow_truncated:
            log.warning(
                "%s: %s; the file is truncated or corrupt; keeping those frames", self.path, of
            )
            return
        raise InputError(
            f"{self.path}: {of}; the file is truncated or corrupt; re-export it, "
            f"or pass --allow-truncated (allow_truncated=True) to keep the {decoded} good frames"
        )

    def _shortfall(self, decoded: int, last_end: float | None) -> str | None:
        """'decoded N of M frames' when the frames clearly fall short of the file's length."""
        fps = self.fps or 24.0
        end = self._end
        # Does the last frame reach the declared end (within a few frames / 5 %)?
        reached_end = True
        if end is not None and last_end is not None:
            tol = max(3.0 / fps, 0.05 * (end - self._start))
            reached_end = last_end >= end - tol
        declared = self.num_frames
        if declared:
            # Edit lists can hide a few samples, so only a clear gap counts, and only
            # when the timestamps agree that the end was not reached.
            if decoded < declared - max(2, declared // 50) and not reached_end:
                return f"decoded {decoded} of {declared} frames"
            return None
        if not reached_end and end is not None:
            expected = round((end - self._start) * fps)
            return f"decoded {decoded} of about {expected} frames"
        return None

    def _close_container(self, container: Any) -> None:
        if container in self._open_containers:
            self._open_containers.remove(container)
            container.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._pending is not None:
                self._pending.raw.close()
                self._pending = None
            for c in list(self._open_containers):
                self._close_container(c)


@dataclass
class _Decode:
    """One open decoding pass: the container, its frame generator and the first frame."""

    container: Any
    raw: Generator[Any, None, None]
    first: Any
    errors: list[av.FFmpegError]  # a decoding error that ended the pass early


def _raw_frames(
    container: Any, stream: Any, errors: list[av.FFmpegError]
) -> Generator[Any, None, None]:
    """av.VideoFrames in order; a decoding error ends the stream and goes into ``errors``."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError as e:
        errors.append(e)


def _pick_video_stream(container: Any) -> Any | None:
    """The first video stream that is real pictures, not cover art."""
    for s in container.streams.video:
        if not (s.disposition & av.stream.Disposition.attached_pic):
            return s
    return None


_DURATION_TAG = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")


def _declared_span(container: Any, stream: Any) -> tuple[float, float | None]:
    """(start, end) in seconds of the video stream, as the file's header declares them."""
    tb = stream.time_base
    start = float(stream.start_time * tb) if stream.start_time is not None and tb else 0.0
    if stream.duration and tb:
        return start, start + float(stream.duration * tb)
    # Matroska keeps a per-track DURATION tag ("00:00:02.000000000").
    m = _DURATION_TAG.match(str(stream.metadata.get("DURATION", "")).strip())
    if m:
        h, mi, s = m.groups()
        return start, start + int(h) * 3600 + int(mi) * 60 + float(s)
    # The container's length is the video's only when nothing else (audio) could be longer.
    if container.duration and len(container.streams) == 1:
        c_start = (container.start_time or 0) / av.time_base
        return start, c_start + container.duration / av.time_base
    return start, None


_TIMECODE = re.compile(r"\d{2}:\d{2}:\d{2}[:;.]\d{2,3}")


def _timecode(container: Any, stream: Any) -> str | None:
    """The start timecode of a video: its stream's, a timecode track's (mov, mp4) or the
    container's (mkv); None when there is none or it is not ``HH:MM:SS:FF``."""
    tags = [stream.metadata, *(s.metadata for s in container.streams), container.metadata]
    for t in tags:
        value = next((v for k, v in t.items() if k.lower() == "timecode"), None)
        if value is not None and _TIMECODE.fullmatch(str(value).strip()):
            return str(value).strip()
    return None


def _quarter_turns(path: Path, first: Any) -> int:
    """Counter-clockwise quarter turns that show the video's frames upright (its display
    rotation, as players apply it); 0 for an angle that is no multiple of 90, said once."""
    angle = float(getattr(first, "rotation", 0) or 0)
    turns = round(angle / 90)
    if abs(angle - 90 * turns) > 1:
        log.warning(
            "%s: a display rotation of %g degrees is not kept; frames as stored", path, angle
        )
        return 0
    if turns % 4:
        log.info(
            "%s: stored turned by %g degrees; coloured upright, as players show it", path, angle
        )
    return turns % 4


def has_alpha(path: str | os.PathLike[str]) -> bool:
    """Whether a folder of frames or a video carries transparency (its first frame's
    PNG has an alpha channel; its stream's pixel format has one, or a VP9 alpha)."""
    p = Path(path)
    if p.is_dir():
        files = list_images(p)
        if not files:
            return False
        head = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
        return head is not None and head.ndim == 3 and head.shape[2] in (2, 4)
    try:
        with av.open(str(p)) as container:
            stream = _pick_video_stream(container)
            if stream is None:
                return False
            if stream.metadata.get("alpha_mode") == "1":
                return True
            fmt = stream.codec_context.format
            return fmt is not None and any(c.is_alpha for c in fmt.components)
    except (av.FFmpegError, OSError):
        return False


def rgba_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """The frames of an output written with alpha (a folder of PNGs, or a video), as
    ``H,W,4`` uint8 RGBA, in order. A VP9 stream's alpha is decoded by libvpx (FFmpeg's
    own VP9 decoder leaves it out)."""
    p = Path(path)
    if p.is_dir():
        for file in list_images(p):
            yield read_image(file, keep_alpha=True)
        return
    with av.open(str(p)) as container:
        stream = _pick_video_stream(container)
        if stream is None:
            raise InputError(f"{p}: no video stream")
        if stream.codec_context.name == "vp9" and stream.metadata.get("alpha_mode") == "1":
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            for packet in container.demux(stream):
                for f in decoder.decode(packet):
                    yield f.to_ndarray(format="rgba")
            return
        for f in container.decode(stream):
            yield f.to_ndarray(format="rgba")


def _to_rgb(f: Any) -> np.ndarray:
    """av.VideoFrame -> H,W,3 uint8 RGB; transparency is composited on white."""
    fmt = f.format
    kw: dict[str, Any] = {}
    if not fmt.is_rgb and not fmt.has_palette:
        if f.colorspace == _AVCOL_SPC_UNSPECIFIED:
            # Untagged: do what players do, BT.709 for HD and BT.601 for SD.
            kw["src_colorspace"] = Colorspace.ITU709 if f.height >= 720 else Colorspace.ITU601
        if f.color_range == _AVCOL_RANGE_JPEG or fmt.name.startswith("yuvj"):
            kw["src_color_range"] = "JPEG"
    if fmt.has_palette or any(c.is_alpha for c in fmt.components):
        rgba = f.to_ndarray(format="rgba", **kw)
        return composite_on_white(rgba[..., :3], rgba[..., 3])
    # to_ndarray can return a view with row padding; the edge promises C-contiguous.
    return np.ascontiguousarray(f.to_ndarray(format="rgb24", **kw))


def _av_reason(e: BaseException | None) -> str:
    """A short one-line reason from a PyAV error (without the repeated file name)."""
    if e is None:
        return "unknown error"
    reason = getattr(e, "strerror", None) or str(e)
    return " ".join(str(reason).split())
