"""The cuts a benchmark runs on, one protocol each.

    synthetic     generated cuts with exact ground truth: colour, regions, lines, flow
    first-frame   colour clips; sketches extracted by XDoG (or given beside the colour:
                  real line art with its truth); frame 0's colour is the reference; every
                  frame scored against the real colours (LVCD's protocol)
    lineart       line-art cuts with a reference and no ground truth

A :class:`Case` holds one cut in memory (frames are capped per clip, so this stays
small); cases are produced one at a time so a suite never holds more than one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..data.synthetic import CUT_PRESETS, generate_cut
from ..errors import InputError, UsageError
from ..io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, open_frames, read_image
from ..lineart import extract_ink, looks_like_line_art
from ..lineart.xdog import sketch_from_colour

log = logging.getLogger(__name__)

__all__ = [
    "MIN_CLIP_FRAMES",
    "SHOT_CHANGE_DISTANCE",
    "Case",
    "Clip",
    "LineartCut",
    "Skipped",
    "discover_clips",
    "discover_lineart_cuts",
    "first_frame_cases",
    "first_shot_length",
    "is_colour_clip",
    "lineart_cases",
    "read_frames",
    "synthetic_cases",
]

PROTOCOLS = ("synthetic", "first-frame", "lineart")

# A shot change: the Bhattacharyya distance between consecutive frames' colour
# histograms (8x8x8 RGB bins, 128x72 thumbnails, L1-normalised) reaches this. Found by
# eye on the development clips: real cuts score 0.3-0.8, motion within a shot
# (animation on threes, a falling object) up to 0.2. Flashes and effects can also
# trigger it; a clip is then cut short, which costs frames but never mixes two shots.
SHOT_CHANGE_DISTANCE = 0.3
# Clips (after truncation at a shot change) shorter than this are skipped.
MIN_CLIP_FRAMES = 8
# A colour clip has at least this share of pixels with HSV saturation and value > 40.
MIN_COLOUR_SHARE = 0.15
# A clip whose first sketch has less ink than this share of pixels has no line art to
# colour (an effects or CG shot, a blurred pan): skipped, as the protocol is about line art.
MIN_INK_SHARE = 0.01


@dataclass
class Case:
    """One cut under test.

    Attributes:
        protocol: "synthetic", "first-frame" or "lineart".
        name: the cut's name in the report.
        sketches: the ``H,W,3`` uint8 line-art frames every method gets.
        reference: the colour reference every method gets.
        ref_frame: index of the frame the reference colours.
        truth: the real colour frames (None in the lineart protocol).
        regions: ``T,H,W`` region ids of the truth (synthetic only), for region accuracy.
        lines: ``T,H,W`` bool line pixels of the truth (synthetic only).
        exact_flow: the generator's ``(fwd, bwd)`` flows (synthetic only).
        info: where it came from and what was done to it (written to the report).
    """

    protocol: str
    name: str
    sketches: list[np.ndarray]
    reference: np.ndarray
    ref_frame: int = 0
    truth: list[np.ndarray] | None = None
    regions: np.ndarray | None = None
    lines: np.ndarray | None = None
    exact_flow: tuple[np.ndarray, np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.sketches)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        h, w = self.sketches[0].shape[:2]
        return w, h


@dataclass(frozen=True)
class Skipped:
    """An input left out of a suite, and why (reported, never dropped in silence)."""

    protocol: str
    name: str
    reason: str


def fingerprint(frames: Iterable[np.ndarray]) -> str:
    """sha256 (first 16 hex digits) of frames' bytes: equal suites, equal fingerprints."""
    digest = hashlib.sha256()
    for f in frames:
        digest.update(np.ascontiguousarray(f).tobytes())
    return digest.hexdigest()[:16]


# ------------------------------------------------------------------------------ synthetic


def synthetic_cases(
    resolutions: Sequence[tuple[int, int]],
    num_frames: int,
    presets: Sequence[str] | None = None,
) -> Iterator[Case]:
    """The seeded synthetic suite: every preset at every resolution, one cut at a time."""
    names = list(CUT_PRESETS) if presets is None else list(presets)
    unknown = [n for n in names if n not in CUT_PRESETS]
    if unknown:
        raise UsageError(
            f"unknown synthetic preset {unknown[0]!r}; choose from {', '.join(CUT_PRESETS)}"
        )
    for w, h in resolutions:
        for name in names:
            spec = dataclasses.replace(CUT_PRESETS[name], width=w, height=h, num_frames=num_frames)
            cut = generate_cut(spec, flow=True)
            assert cut.flow_fwd is not None and cut.flow_bwd is not None
            yield Case(
                protocol="synthetic",
                name=f"{name}@{w}x{h}",
                sketches=list(cut.sketch),
                reference=cut.colour[0].copy(),
                ref_frame=0,
                truth=list(cut.colour),
                regions=cut.regions,
                lines=cut.lines,
                exact_flow=(cut.flow_fwd, cut.flow_bwd),
                info={
                    "preset": name,
                    "spec": dataclasses.asdict(spec),
                    "truth_sha256_16": fingerprint(cut.colour),
                },
            )


# ------------------------------------------------------------------------------ real clips


@dataclass(frozen=True)
class Clip:
    """A colour clip for the first-frame protocol.

    Attributes:
        path: a video file or a folder of frames.
        name: its name in the report (default: the file stem).
        crop: ``(x, y, w, h)`` to cut out of every frame (e.g. the colour half of a
            side-by-side clip), or None.
        sketch_path: the clip's line art, frame for frame (a video or a folder), when
            it comes with its own instead of XDoG's; None with ``sketch_crop`` set
            means ``path`` itself.
        sketch_crop: ``(x, y, w, h)`` of the line art in ``sketch_path`` (e.g. the
            sketch half of a side-by-side clip), or None.
    """

    path: Path
    name: str | None = None
    crop: tuple[int, int, int, int] | None = None
    sketch_path: Path | None = None
    sketch_crop: tuple[int, int, int, int] | None = None

    @property
    def given_sketches(self) -> bool:
        """Whether the clip brings its own line art (else XDoG extracts it)."""
        return self.sketch_path is not None or self.sketch_crop is not None

    @property
    def label(self) -> str:
        return self.name or Path(self.path).stem


@dataclass(frozen=True)
class LineartCut:
    """A line-art cut and its colour reference, for the lineart protocol."""

    sketch: Path
    reference: Path
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or Path(self.sketch).stem


def read_frames(
    path: Path, max_frames: int, crop: tuple[int, int, int, int] | None = None
) -> tuple[list[np.ndarray], int | None]:
    """Up to ``max_frames`` RGB frames of a video or folder, each cut to ``crop``
    (``x, y, w, h``; an :class:`InputError` when it lies outside the frame), and the
    container's frame count (None when it does not say)."""
    frames: list[np.ndarray] = []
    with open_frames(path) as source:
        total = source.num_frames
        for frame in source:
            img = frame.image
            if crop is not None:
                x, y, w, h = crop
                if x < 0 or y < 0 or x + w > img.shape[1] or y + h > img.shape[0]:
                    raise InputError(
                        f"{path}: crop {crop} lies outside the {img.shape[1]}x{img.shape[0]} frame"
                    )
                img = np.ascontiguousarray(img[y : y + h, x : x + w])
            frames.append(img)
            if len(frames) >= max_frames:
                break
    return frames, total


def _histogram(rgb: np.ndarray) -> np.ndarray:
    small = cv2.resize(rgb, (128, 72), interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([small], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3)
    return cv2.normalize(hist, None, 1.0, 0.0, cv2.NORM_L1).ravel()


def first_shot_length(frames: Sequence[np.ndarray]) -> int:
    """Frames before the first shot change (all of them when there is none).

    A shot change is a Bhattacharyya distance of :data:`SHOT_CHANGE_DISTANCE` or more
    between the colour histograms of consecutive frames.
    """
    prev = None
    for i, frame in enumerate(frames):
        hist = _histogram(frame)
        distance = 1.0 if prev is None else cv2.compareHist(prev, hist, cv2.HISTCMP_BHATTACHARYYA)
        if prev is not None and distance >= SHOT_CHANGE_DISTANCE:
            return i
        prev = hist
    return len(frames)


def is_colour_clip(rgb: np.ndarray) -> bool:
    """True when a frame is painted in colour (not line art, not black and white)."""
    if looks_like_line_art(rgb):
        return False
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    share = float(np.mean((hsv[..., 1] > 40) & (hsv[..., 2] > 40)))
    return share >= MIN_COLOUR_SHARE


def _even_size(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Crop a trailing odd row or column (x264 needs even sizes; scoring does not care)."""
    h, w = frames[0].shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return [np.ascontiguousarray(f[: h - h % 2, : w - w % 2]) for f in frames]


def first_frame_cases(
    clips: Iterable[Clip],
    *,
    max_frames: int = 48,
    min_frames: int = MIN_CLIP_FRAMES,
    xdog: dict[str, float] | None = None,
    skipped: list[Skipped] | None = None,
    cut_at_shot_change: bool = True,
) -> Iterator[Case]:
    """The first-frame protocol (LVCD): colour clips in, XDoG sketches, frame 0 the reference.

    Each clip is read up to ``max_frames`` frames from its start and cut at its first
    shot change (unless ``cut_at_shot_change`` is False: then several shots go through
    as one cut, as a user might hand over a sequence). A clip with its own line art
    (:attr:`Clip.given_sketches`) is sketched by it, not by XDoG. It is skipped (and
    recorded in ``skipped``) when frame 0 is not in colour, when fewer than
    ``min_frames`` frames remain, or when the sketch of frame 0 has almost no lines
    (:data:`MIN_INK_SHARE`).
    """
    params = dict(xdog or {})
    for clip in clips:
        label = clip.label
        try:
            frames, total = read_frames(Path(clip.path), max_frames, clip.crop)
        except InputError as e:
            _skip(skipped, "first-frame", label, f"unreadable: {e}")
            continue
        if not is_colour_clip(frames[0]):
            _skip(skipped, "first-frame", label, "not a colour clip (line art or black and white)")
            continue
        shot = first_shot_length(frames) if cut_at_shot_change else len(frames)
        if shot < min_frames:
            where = "before the first shot change" if shot < len(frames) else "in all"
            _skip(skipped, "first-frame", label, f"{shot} frames {where} (fewer than {min_frames})")
            continue
        read = len(frames)
        frames = _even_size(frames[:shot])
        if clip.given_sketches:
            try:
                sketches = _given_sketches(clip, frames)
            except InputError as e:
                _skip(skipped, "first-frame", label, f"its line art: {e}")
                continue
        else:
            sketches = [sketch_from_colour(f, **params) for f in frames]
        # XDoG draws solid black; given line art may be grey pencil, so its ink is
        # what the engine's extractor finds in it.
        ink = (
            float(extract_ink(sketches[0]).line_mask().mean())
            if clip.given_sketches
            else float(np.mean(sketches[0][..., 0] < 128))
        )
        if ink < MIN_INK_SHARE:
            _skip(
                skipped,
                "first-frame",
                label,
                f"its sketch has almost no lines ({100 * ink:.1f}% ink, under "
                f"{100 * MIN_INK_SHARE:.0f}%): no line art to colour",
            )
            continue
        yield Case(
            protocol="first-frame",
            name=label,
            sketches=sketches,
            reference=frames[0].copy(),
            ref_frame=0,
            truth=frames,
            info={
                "source": str(clip.path),
                "crop": list(clip.crop) if clip.crop else None,
                "frames_in_source": total,
                "frames_used": len(frames),
                "cut_at_shot_change": shot < read,
                "sketch_ink_share": ink,
                "sketches": (
                    {"path": str(clip.sketch_path or clip.path), "crop": clip.sketch_crop}
                    if clip.given_sketches
                    else "xdog"
                ),
                "xdog": None if clip.given_sketches else params or "defaults",
                "max_frames": max_frames,
                "truth_sha256_16": fingerprint(frames),
            },
        )


def _given_sketches(clip: Clip, frames: list[np.ndarray]) -> list[np.ndarray]:
    """A clip's own line art for its (read, cut, even-sized) colour ``frames``."""
    path = Path(clip.sketch_path or clip.path)
    sketches, _ = read_frames(path, len(frames), clip.sketch_crop)
    if len(sketches) < len(frames):
        raise InputError(f"{path}: {len(sketches)} frames of line art for {len(frames)} colour")
    h, w = frames[0].shape[:2]
    if sketches[0].shape[:2] != (h, w):
        sketches = [cv2.resize(s, (w, h), interpolation=cv2.INTER_AREA) for s in sketches]
    return sketches


def lineart_cases(
    cuts: Iterable[LineartCut],
    *,
    max_frames: int = 48,
    skipped: list[Skipped] | None = None,
) -> Iterator[Case]:
    """The lineart protocol: line-art cuts with a reference, no ground truth."""
    for cut in cuts:
        label = cut.label
        try:
            frames, total = read_frames(Path(cut.sketch), max_frames)
            reference = read_image(cut.reference)
        except InputError as e:
            _skip(skipped, "lineart", label, f"unreadable: {e}")
            continue
        if len(frames) < 2:
            _skip(skipped, "lineart", label, "fewer than 2 frames")
            continue
        if looks_like_line_art(reference):
            _skip(skipped, "lineart", label, "the reference has no colour")
            continue
        frames = _even_size(frames)
        yield Case(
            protocol="lineart",
            name=label,
            sketches=frames,
            reference=reference,
            ref_frame=0,
            info={
                "source": str(cut.sketch),
                "reference": str(cut.reference),
                "frames_in_source": total,
                "frames_used": len(frames),
                "max_frames": max_frames,
                "sketch_sha256_16": fingerprint(frames),
            },
        )


def _skip(skipped: list[Skipped] | None, protocol: str, name: str, reason: str) -> None:
    log.info("skipping %s (%s): %s", name, protocol, reason)
    if skipped is not None:
        skipped.append(Skipped(protocol, name, reason))


# ------------------------------------------------------------------------------ discovery


def _is_video(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def discover_clips(path: Path) -> list[Clip]:
    """Colour clips in ``path``: a video file, or a folder of videos and frame folders.

    A folder that holds only images is one clip (its frames); otherwise every video
    in it and every sub-folder of images is a clip, and so is every sub-folder that
    holds a ``colour`` (or ``color``) video or frame folder beside its own line art,
    ``sketch`` (or ``lineart``, ``line_art``, ``sketches``), frame for frame: that
    line art is the input instead of XDoG's (real line art with its truth).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_file():
        if not _is_video(path):
            raise InputError(f"{path}: not a video; give a clip or a folder of clips")
        return [Clip(path)]
    entries = _visible(path)
    if (
        entries
        and all(_is_image(p) for p in entries if p.is_file())
        and not any(p.is_dir() for p in entries)
    ):
        return [Clip(path)]
    clips = [Clip(p) for p in entries if _is_video(p)]
    clips += [Clip(p) for p in entries if p.is_dir() and any(_is_image(q) for q in _visible(p))]
    clips += [c for p in entries if p.is_dir() and (c := _clip_with_line_art(p)) is not None]
    if not clips:
        raise InputError(
            f"{path}: no clips found; expected videos ({', '.join(sorted(VIDEO_EXTENSIONS))}), "
            "folders of frames, or folders holding colour.* and sketch.*"
        )
    return clips


_COLOUR_STEMS = ("colour", "color")


def _clip_with_line_art(folder: Path) -> Clip | None:
    """A clip laid out as ``folder/colour.mp4`` (or ``colour/`` frames) + ``folder/sketch.mp4``."""

    def named(stems: tuple[str, ...]) -> Path | None:
        for p in _visible(folder):
            is_frames = p.is_dir() and any(_is_image(q) for q in _visible(p))
            if p.stem.lower() in stems and (_is_video(p) or is_frames):
                return p
        return None

    colour, sketch = named(_COLOUR_STEMS), named(_SKETCH_STEMS)
    if colour is None or sketch is None:
        return None
    return Clip(colour, name=folder.name, sketch_path=sketch)


_REFERENCE_STEMS = ("reference", "ref", "first_frame", "keyframe", "colour", "color")
_SKETCH_STEMS = ("sketch", "lineart", "line_art", "sketches")


def _cut_in_folder(folder: Path) -> LineartCut | None:
    """A cut laid out as ``folder/{sketch.mp4 | sketch/} + folder/reference.png``."""
    entries = _visible(folder)
    refs = [p for p in entries if _is_image(p) and p.stem.lower() in _REFERENCE_STEMS]
    sketches = [
        p
        for p in entries
        if p.stem.lower() in _SKETCH_STEMS
        and (_is_video(p) or (p.is_dir() and any(_is_image(q) for q in _visible(p))))
    ]
    if len(refs) >= 1 and len(sketches) >= 1:
        return LineartCut(sketch=sketches[0], reference=refs[0], name=folder.name)
    return None


def discover_lineart_cuts(path: Path) -> list[LineartCut]:
    """Line-art cuts and their references under ``path``. Layouts understood:

    - ``path/`` is one cut: ``sketch.mp4`` (or ``sketch/`` frames) and
      ``reference.png`` (also ``ref``, ``first_frame``, ``keyframe``; any image suffix);
    - ``path/<cut>/`` folders, each laid out as above;
    - ``path/sketch/<name>.mp4`` with ``path/reference/<name>.png``, paired by name;
    - ``path/<name>.mp4`` with ``path/<name>.png``, paired by name.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: expected a folder of line-art cuts")
    one = _cut_in_folder(path)
    if one is not None:
        return [one]
    cuts = [c for p in _visible(path) if p.is_dir() and (c := _cut_in_folder(p)) is not None]
    if cuts:
        return cuts
    sketch_dir, ref_dir = path / "sketch", path / "reference"
    if sketch_dir.is_dir() and ref_dir.is_dir():
        refs = {p.stem: p for p in _visible(ref_dir) if _is_image(p)}
        cuts = [
            LineartCut(sketch=p, reference=refs[p.stem], name=p.stem)
            for p in _visible(sketch_dir)
            if (_is_video(p) or p.is_dir()) and p.stem in refs
        ]
    else:
        refs = {p.stem: p for p in _visible(path) if _is_image(p)}
        cuts = [
            LineartCut(sketch=p, reference=refs[p.stem], name=p.stem)
            for p in _visible(path)
            if _is_video(p) and p.stem in refs
        ]
    if not cuts:
        raise InputError(
            f"{path}: no line-art cuts found; lay each out as <cut>/sketch.mp4 + "
            "<cut>/reference.png (see colorize-video bench --help)"
        )
    return cuts
