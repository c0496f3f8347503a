"""Finding the cuts of a batch in a folder tree, and where each one's output goes.

A cut is, in order of the rules tried on every folder of the tree:

1. a video with an image of the same stem beside it (``c012.mp4`` + ``c012.png``),
   or with references pinned to frames named after it (``c012_ref_0048.png``: the
   colour of its frame 48); the cut is named after the video (``ep01/c012``);
2. a folder holding one (other) video and its reference: ``ref.*``, ``reference.*``,
   ``key*.*``, or a reference pinned to a frame (``ref_0048.png``: the colour of frame
   48, counted from 0, as ``--ref-frame``); the cut is named after the folder;
3. a video whose reference is ``<refs>/<cut name>.<image>`` in a separate folder;
4. a folder of frame images (and no video) with its reference, as in 2; the frames are
   the images that are not the reference.

With a separate references folder (``--refs``), ``<refs>/<cut name>.<image>`` (the
cut's path under the input, e.g. ``refs/ep01/c001.png``) or, when no two cuts share a
base name, ``<refs>/<base name>.<image>`` is the reference of any cut, and
``<refs>/<cut name>_ref_0048.png`` (or the base name's) its key of frame 48; they win
over the references inside the cut's folder. A folder that is a cut is a leaf: its
subfolders are not searched. Every folder or file that looks like it was meant as a cut
but matches no rule is returned as :class:`Skipped` with the reason. Hidden entries
(``.name``) are ignored.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from ..errors import UsageError
from ..io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, natural_key

__all__ = [
    "FORMATS",
    "Cut",
    "Layout",
    "Skipped",
    "discover_cuts",
    "output_name",
    "reference_pin",
]

#: Output formats: a video container, or a folder of PNG frames.
FORMATS = ("mp4", "mkv", "mov", "png")

CutKind = Literal["video", "images"]

# ref_0048.png, reference-12.jpg, key_0003.png, keyframe_7.png: pinned to that frame.
_PINNED = re.compile(r"^(?:ref|reference|key|keyframe)[_-](\d+)$", re.IGNORECASE)
# c012_ref_0048.png: pinned to frame 48 of the cut named c012 (beside its video, in --refs).
_NAMED_PIN = re.compile(r"^(.+?)[_-](?:ref|reference|key|keyframe)[_-](\d+)$", re.IGNORECASE)
_PLAIN = re.compile(r"^(?:ref|reference|key.*)$", re.IGNORECASE)

# (image, the frame its name pins it to or None), as a cut's references are gathered.
_Refs = list[tuple[Path, "int | None"]]


@dataclass(frozen=True)
class Cut:
    """One cut found in the input tree.

    Attributes:
        name: the cut's path under the input folder, ``/``-separated, without a
            video suffix (``ep01/c012``); outputs keep this structure.
        kind: "video" (one video file) or "images" (a folder of frames).
        source: the video file, or the folder of frames.
        frames: for "images", the frame files in natural order (the reference and
            any other reference-named image left out); None for "video".
        reference: the coloured reference image.
        ref_frame: the frame the reference is pinned to by its name, or None (then the
            batch's default ``--ref-frame`` applies).
        rule: which layout rule found it (shown by ``--dry-run``).
        keys: more references pinned to frames by their names (``ref_0048.png`` beside
            ``ref.png``, or beside ``ref_0000.png``; ``c012_ref_0048.png`` beside
            ``c012.mp4``), as ``(frame, image)`` in frame order: each colours its frame
            as a keyframe, as ``--ref 48:key.png`` does.
        key_stem: where a key of frame N goes to be found by the next run, less
            ``NNNN.png`` (``cuts/ep01/c012/ref_``, ``cuts/ep01/c012_ref_``):
            :meth:`key_path`.
    """

    name: str
    kind: CutKind
    source: Path
    frames: tuple[Path, ...] | None
    reference: Path
    ref_frame: int | None
    rule: str
    keys: tuple[tuple[int, Path], ...] = ()
    key_stem: str = ""

    def key_path(self, frame: int) -> Path:
        """Where a painted key of ``frame`` is saved to pin it (``.../ref_0048.png``)."""
        stem = self.key_stem or str(self.reference.parent / "ref_")
        return Path(f"{stem}{frame:04d}.png")


@dataclass(frozen=True)
class Skipped:
    """A folder or file under the input that is not a cut, and why."""

    path: str  # relative to the input folder, "/"-separated ("." for the input itself)
    reason: str


@dataclass
class Layout:
    """What :func:`discover_cuts` found."""

    root: Path
    cuts: list[Cut]
    skipped: list[Skipped]


def reference_pin(path: Path) -> tuple[bool, int | None]:
    """(is a reference name, pinned frame or None) for an image file name."""
    stem = path.stem
    m = _PINNED.match(stem)
    if m:
        return True, int(m.group(1))
    return bool(_PLAIN.match(stem)), None


def named_pin(path: Path) -> tuple[str, int] | None:
    """(cut stem, frame) for a key named after its cut (``c012_ref_0048.png``), or None."""
    m = _NAMED_PIN.match(path.stem)
    return (m.group(1), int(m.group(2))) if m else None


def output_name(cut: Cut, fmt: str | None) -> str:
    """The output's path under the output folder: ``<name>.mp4``, or ``<name>`` for PNGs.

    ``fmt`` None picks by kind: an mp4 for a video cut, a PNG folder for a frame folder.
    """
    if fmt is None:
        fmt = "mp4" if cut.kind == "video" else "png"
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return cut.name if fmt == "png" else f"{cut.name}.{fmt}"


def discover_cuts(
    root: str | os.PathLike[str], refs: str | os.PathLike[str] | None = None
) -> Layout:
    """Find every cut under ``root`` (see the module docstring for the rules).

    Raises:
        UsageError: ``root`` or ``refs`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise UsageError(f"{root}: the input {what}; give the folder that holds the cuts")
    ref_index: _RefIndex | None = None
    if refs is not None:
        refs = Path(refs)
        if not refs.is_dir():
            what = "does not exist" if not refs.exists() else "is not a folder"
            raise UsageError(f"{refs}: the references folder {what}")
        ref_index = _RefIndex(refs)
    finder = _Finder(root, ref_index)
    finder.walk(root, PurePosixPath("."), set())
    cuts, skipped = _drop_ambiguous(finder.cuts, finder.skipped, finder.flat_refs)
    cuts, skipped = _drop_same_names(cuts, skipped)
    cuts.sort(key=lambda c: natural_key(c.name))
    skipped.sort(key=lambda s: natural_key(s.path))
    return Layout(root=root, cuts=cuts, skipped=skipped)


# --------------------------------------------------------------------------- internals


def _join(rel: PurePosixPath, name: str) -> str:
    return name if str(rel) == "." else str(rel / name)


def _entries(folder: Path) -> tuple[list[Path], list[Path]]:
    """(files, folders) directly in ``folder``, hidden ones left out, natural order."""
    files: list[Path] = []
    dirs: list[Path] = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith("."):
                continue
            if e.is_dir():  # follows links to folders
                dirs.append(Path(e.path))
            elif e.is_file():
                files.append(Path(e.path))
    files.sort(key=lambda p: natural_key(p.name))
    dirs.sort(key=lambda p: natural_key(p.name))
    return files, dirs


class _RefIndex:
    """The images of a ``--refs`` folder by their path without suffix."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.by_name: dict[str, list[Path]] = {}
        self.pinned: dict[str, list[tuple[Path, int]]] = {}  # cut name -> its keys
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = PurePosixPath(Path(dirpath).relative_to(folder).as_posix())
            for f in filenames:
                p = Path(dirpath) / f
                if f.startswith(".") or p.suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                key = str(rel / p.stem) if str(rel) != "." else p.stem
                self.by_name.setdefault(key, []).append(p)
                if pin := named_pin(p):
                    cut = str(rel / pin[0]) if str(rel) != "." else pin[0]
                    self.pinned.setdefault(cut, []).append((p, pin[1]))

    def lookup(self, name: str) -> tuple[_Refs, str | None, bool, str]:
        """(references, problem, found by base name only, key stem) for a cut name:
        ``<name>.png`` and ``<name>_ref_NNNN.png``, or else those of its base name."""
        for key, flat in ((name, False), (PurePosixPath(name).name, True)):
            plain = self.by_name.get(key, [])
            found: _Refs = [(p, None) for p in plain]
            found += [(p, pin) for p, pin in self.pinned.get(key, [])]
            if not found:
                continue
            stem = str(self.folder / f"{key}_ref_")
            if len(plain) > 1:
                listed = ", ".join(p.name for p in plain)
                return [], f"several references for it in {self.folder} ({listed})", flat, stem
            return found, None, flat, stem
        return [], None, False, ""


class _Finder:
    def __init__(self, root: Path, refs: _RefIndex | None) -> None:
        self.root = root
        self.refs = refs
        self.cuts: list[Cut] = []
        self.skipped: list[Skipped] = []
        self.flat_refs: dict[str, set[Path]] = {}  # cut name -> references by base name

    def _name(self, rel: PurePosixPath) -> str:
        # The input folder itself as a cut is named after the folder.
        return str(rel) if str(rel) != "." else self.root.resolve().name

    def _external(self, name: str) -> tuple[_Refs, str | None, str]:
        """The cut's references in --refs (none without it), a problem, their key stem."""
        if self.refs is None:
            return [], None, ""
        found, problem, flat, stem = self.refs.lookup(name)
        if found and flat:
            self.flat_refs[name] = {p for p, _ in found}
        return found, problem, stem

    def _skip(self, rel: PurePosixPath | str, reason: str) -> None:
        self.skipped.append(Skipped(str(rel), reason))

    def walk(self, folder: Path, rel: PurePosixPath, seen: set[Path]) -> None:
        real = folder.resolve()
        if real in seen:
            self._skip(rel, "a link back to a folder already searched")
            return
        seen = seen | {real}
        try:
            files, dirs = _entries(folder)
        except OSError as e:
            self._skip(rel, f"cannot list the folder ({e.strerror or e})")
            return
        is_cut = self._folder(folder, rel, files, dirs)
        for d in dirs:
            sub = rel / d.name
            if is_cut:
                self._skip(sub, f"inside the cut {self._name(rel)!r}; cuts do not nest")
            else:
                self.walk(d, sub, seen)

    def _folder(
        self, folder: Path, rel: PurePosixPath, files: list[Path], dirs: list[Path]
    ) -> bool:
        """Find the cuts among ``files``; True when the folder itself is a cut (a leaf)."""
        videos = [f for f in files if f.suffix.lower() in VIDEO_EXTENSIONS]
        images = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
        if not videos and not images:
            if not dirs:
                others = f" ({len(files)} other files)" if files else ""
                self._skip(rel, f"no video or images{others}")
            return False
        by_stem: dict[str, _Refs] = {}
        for img in images:
            by_stem.setdefault(img.stem, []).append((img, None))
            if pin := named_pin(img):
                by_stem.setdefault(pin[0], []).append((img, pin[1]))
        used: set[Path] = set()
        # Rule 1: a video with a same-stem image, or keys named after it, beside it (its
        # --refs entries win).
        left: list[Path] = []
        for v in videos:
            own = by_stem.get(v.stem, [])
            if not own:
                left.append(v)
                continue
            used.update(p for p, _ in own)
            name = _join(rel, v.stem)
            ext, problem, ext_stem = self._external(name)
            if problem:
                self._skip(name, problem)
                continue
            stem = ext_stem if ext else str(v.parent / f"{v.stem}_ref_")
            ref, pin, rule, keys = self._pick(
                ext or own, "video + --refs" if ext else "video + same-stem", stem
            )
            if ref is None:
                self._skip(name, rule)
            else:
                self.cuts.append(Cut(name, "video", v, None, ref, pin, rule, keys, stem))
        refs_here: list[tuple[Path, int | None]] = []
        frames: list[Path] = []
        for p in images:
            if p in used:
                continue
            is_ref, pin = reference_pin(p)
            if is_ref:
                refs_here.append((p, pin))
            else:
                frames.append(p)
        folder_name = self._name(rel)
        # Rule 2: the folder holds one video and its reference.
        if len(left) == 1:
            ext, problem, ext_stem = self._external(folder_name)
            if problem:
                self._skip(rel, problem)
                return True
            if ext or refs_here:
                stem = ext_stem if ext else str(folder / "ref_")
                label = "video + --refs" if ext else "video +"
                ref, pin, rule, keys = self._pick(ext or refs_here, label, stem)
                if ref is None:
                    self._skip(rel, rule)
                else:
                    self.cuts.append(
                        Cut(folder_name, "video", left[0], None, ref, pin, rule, keys, stem)
                    )
                    if frames:  # perhaps the video's frames exported: say which is coloured
                        listed = ", ".join(p.name for p in frames[:3])
                        more = f" and {len(frames) - 3} more" if len(frames) > 3 else ""
                        self._skip(
                            _join(rel, frames[0].name),
                            f"frame images beside the cut's video ({listed}{more}); the video "
                            f"{left[0].name} is coloured, not them",
                        )
                return True
        # Rule 3: videos whose reference is in --refs under their own name.
        for v in left:
            name = _join(rel, v.stem)
            ext, problem, ext_stem = self._external(name)
            if ext:
                ref, pin, rule, keys = self._pick(ext, "video + --refs", ext_stem)
                if ref is None:
                    self._skip(name, rule)
                else:
                    self.cuts.append(Cut(name, "video", v, None, ref, pin, rule, keys, ext_stem))
            elif problem:
                self._skip(name, problem)
            elif refs_here:
                listed = ", ".join(p.name for p, _ in refs_here)
                self._skip(
                    _join(rel, v.name),
                    f"{len(left)} videos in one folder with one reference ({listed}); give "
                    "each video a same-stem reference or a folder of its own",
                )
            else:
                self._skip(_join(rel, v.name), self._no_ref_video(v))
        if videos:
            if frames:
                listed = ", ".join(p.name for p in frames[:3])
                more = f" and {len(frames) - 3} more" if len(frames) > 3 else ""
                self._skip(
                    rel, f"images beside videos that are no video's reference ({listed}{more})"
                )
            return False
        # Rule 4: a folder of frames and its reference.
        if not frames:
            if refs_here:
                listed = ", ".join(p.name for p, _ in refs_here)
                self._skip(rel, f"reference images ({listed}) but no frames or video")
            return False
        ext, problem, ext_stem = self._external(folder_name)
        if problem:
            self._skip(rel, f"{len(frames)} frame images but {problem}")
            return True
        stem = ext_stem if ext else str(folder / "ref_")
        label = "frames + --refs" if ext else "frames +"
        ref, pin, rule, keys = self._pick(ext or refs_here, label, stem)
        if ref is None:
            self._skip(rel, f"{len(frames)} frame images but {rule}")
            return True
        self.cuts.append(
            Cut(folder_name, "images", folder, tuple(frames), ref, pin, rule, keys, stem)
        )
        return True

    def _pick(
        self, refs: _Refs, label: str, key_stem: str
    ) -> tuple[Path | None, int | None, str, tuple[tuple[int, Path], ...]]:
        """(reference, pinned frame, rule, more pinned references), or (None, None, why
        not, ()). One reference may be unpinned; the others pin their frames.

        ``label`` starts the rule (``video + same-stem``); ``key_stem`` names the pinned
        ones in the advice (``.../c012_ref_``).
        """
        if not refs:
            return None, None, self._no_ref_text(), ()
        plain = [p for p, pin in refs if pin is None]
        pinned = sorted((pin, p) for p, pin in refs if pin is not None)
        why = None
        if len(plain) > 1:
            why = (
                f"several references ({', '.join(p.name for p in plain)}); keep one, or "
                f"name the others after the frames they colour ({Path(key_stem).name}0048.png)"
            )
        for (a, pa), (b, pb) in itertools.pairwise(pinned):
            if why is None and a == b:
                why = f"two references of frame {a} ({pa.name}, {pb.name}); keep one"
        if why is not None:
            return None, None, why, ()
        if plain:
            ref, pin, keys = plain[0], None, tuple(pinned)
        else:
            (pin, ref), keys = pinned[0], tuple(pinned[1:])
        rule = label
        if not label.endswith("--refs"):
            rule += f" {'pinned ' if pin is not None else ''}reference"
        if keys:
            rule += f" + {len(keys)} pinned"
        return ref, pin, rule, keys

    def _no_ref_text(self) -> str:
        refs = f" or {self.refs.folder}/<cut name>.png" if self.refs is not None else ""
        return f"no reference (ref.*, reference.*, key*.*, ref_<frame>.*{refs})"

    def _no_ref_video(self, v: Path) -> str:
        refs = f", or {self.refs.folder}/<cut name>.png" if self.refs is not None else ""
        return (
            f"a video with no reference ({v.stem}.png beside it, ref.* in a folder of its "
            f"own{refs})"
        )


def _drop_ambiguous(
    cuts: list[Cut], skipped: list[Skipped], flat_refs: dict[str, set[Path]]
) -> tuple[list[Cut], list[Skipped]]:
    """Skip cuts whose --refs entry was found by a base name that several cuts share."""
    if not flat_refs:
        return cuts, skipped
    base = Counter(PurePosixPath(c.name).name for c in cuts)
    kept: list[Cut] = []
    for c in cuts:
        b = PurePosixPath(c.name).name
        if c.name in flat_refs and c.reference in flat_refs[c.name] and base[b] > 1:
            skipped.append(
                Skipped(
                    c.name,
                    f"{c.reference} would serve {base[b]} cuts named {b!r}; "
                    f"name it after the cut's path (<refs>/{c.name}.png)",
                )
            )
        else:
            kept.append(c)
    return kept, skipped


def _drop_same_names(cuts: list[Cut], skipped: list[Skipped]) -> tuple[list[Cut], list[Skipped]]:
    """Skip cuts that share a name (``c001.mp4`` + ``c001.png`` beside a folder ``c001/``)."""
    count = Counter(c.name for c in cuts)
    kept: list[Cut] = []
    for c in cuts:
        if count[c.name] > 1:
            skipped.append(
                Skipped(
                    c.name,
                    f"{count[c.name]} cuts have this name (one is {c.source.name}, {c.rule}); "
                    "rename one of them",
                )
            )
        else:
            kept.append(c)
    return kept, skipped
