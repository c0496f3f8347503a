"""Keys wanted: the frames a run's warnings name, written out for an animator to paint.

A run warns of frames that want a reference of their own: new drawings (a new shot,
a new character) and stretches that no longer show their keyframe's view, or show
far more than it (:mod:`celcolor.engine.views`). Acting on
that means finding those frames in the cut, painting them and pinning them
(``--ref 37:key37.png``). With a keys folder the run does the finding: for every such
frame it writes

- ``frame_0037_sketch.<ext>``: the line art as given (a frame folder's own file,
  copied; a video's frame as PNG);
- ``frame_0037_draft.png``: what celcolor made of it, to correct rather than paint
  from scratch;
- ``keys-wanted.json``: the frames, why each is wanted, its time in the video, the
  ``--ref`` argument that pins the painted draft, and the name that pins it in a
  batch cut's folder (``ref_0037.png``); in a batch, ``pin_as``: the file that pins it
  for that cut (``.../c012_ref_0037.png`` beside a same-stem cut's video).

A new folder is written whole, beside its destination, and renamed into place. The
record keeps a digest of every file written, so a folder whose draft was painted in
place (or that gained a file) is never replaced or removed: :func:`changed_files`.
An earlier keys folder is refreshed in place: the drafts painted since (the keys that
``--ref DEST`` pins) and any file the animator added stay as they are, listed on as
``painted``; celcolor's own files of the earlier round make way for this round's
(:func:`write_wanted_keys`). So one folder serves the whole loop: colour, paint a
draft, colour again with ``--ref DEST --keys-wanted DEST``, paint the next.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CelcolorError, OutputError, UsageError
from ..io import IMAGE_EXTENSIONS, open_frames, write_image
from ..io._atomic import probe_writable, replace_folder, temp_path_beside
from ..io.frames import has_alpha, rgba_frames
from .views import SAMPLE_EVERY, key_of

__all__ = [
    "KEYS_FILE",
    "WantedKey",
    "changed_files",
    "check_keys_folder",
    "is_keys_folder",
    "key_for_drawing",
    "painted_drafts",
    "refresh_keys_folder",
    "remove_keys_folder",
    "wanted_keys",
    "write_wanted_keys",
]

#: The record in a keys folder; its presence marks the folder as celcolor's to replace.
KEYS_FILE = "keys-wanted.json"

# New drawings closer than this to the previous one are one event (a whip pan or a
# fast action makes several frames in a row count as new): one key, at its start.
_SAME_EVENT = SAMPLE_EVERY


@dataclass(frozen=True)
class WantedKey:
    """A frame that wants a reference of its own, and why."""

    frame: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """``{"frame": 12, "why": [...]}``, as manifests keep it."""
        return {"frame": self.frame, "why": list(self.reasons)}

    @classmethod
    def from_dict(cls, d: dict) -> WantedKey:
        """The inverse of :meth:`as_dict`."""
        return cls(int(d["frame"]), tuple(str(w) for w in d.get("why") or ()))


def wanted_keys(
    new_drawings: Iterable[int],
    unseen: Iterable[Sequence[int]],
    keyframes: Iterable[int] = (),
    grown: Iterable[Sequence[int]] = (),
    redrawn: Iterable[Sequence[int]] = (),
) -> list[WantedKey]:
    """The frames a run's warnings name, in order, each once.

    Args:
        new_drawings: frames with mostly new lines (``ColorizeStats.new_drawings``);
            a burst of them (each within ``SAMPLE_EVERY`` frames of the last) wants
            one key, at its first frame, unless it opens or lies in a new view.
        unseen: ``(first, last)`` stretches that no longer show their keyframe's
            drawing (``ColorizeStats.unseen``); each wants a key in its middle
            (:func:`~celcolor.engine.views.key_of`), where it colours both ways.
        keyframes: frames that have a reference already; never wanted.
        grown: those of ``unseen`` that strayed by far more ink than their keyframes
            (``ColorizeStats.grown``: new content, not another view).
        redrawn: those of ``unseen`` whose drawing changed beyond what the carry
            follows (``ColorizeStats.redrawn``: a turn, a new pose).
    """
    keyed = set(keyframes)
    bursts: list[list[int]] = []
    for f in sorted(set(new_drawings) - keyed):
        if bursts and f - bursts[-1][-1] <= _SAME_EVENT:
            bursts[-1].append(f)
        else:
            bursts.append([f])
    reasons: dict[int, list[str]] = {}
    stretches = [(s[0], s[-1]) for s in unseen]
    for b in bursts:
        span = f"frames {b[0]} to {b[-1]}" if len(b) > 1 else f"frame {b[0]}"
        at = key_for_drawing(b[0], stretches)
        if at not in keyed:
            reasons.setdefault(at, []).append(f"new drawing ({span}: mostly new lines)")
    more = {(g[0], g[-1]) for g in grown}
    changed = {(r[0], r[-1]) for r in redrawn}
    for first, last in stretches:
        at = key_of((first, last))
        if at in keyed:
            continue
        if (first, last) in more:
            why = f"new content (frames {first} to {last} show far more than their keyframe)"
        elif (first, last) in changed:
            why = (
                f"changed drawing (frames {first} to {last}: their keyframe's lines, "
                "carried to them, miss much of them)"
            )
        else:
            why = f"new view (frames {first} to {last} no longer show their keyframe's drawing)"
        reasons.setdefault(at, []).append(why)
    return [WantedKey(f, tuple(reasons[f])) for f in sorted(reasons)]


def key_for_drawing(frame: int, unseen: Iterable[Sequence[int]]) -> int:
    """The key a new drawing at ``frame`` wants: itself, or the key of the new view
    (``(first, last)`` in ``unseen``) it opens or lies in, which serves it too."""
    for s in unseen:
        if s[0] - _SAME_EVENT <= frame <= s[-1]:
            return key_of(s)
    return frame


def is_keys_folder(path: str | os.PathLike[str] | None) -> bool:
    """Whether ``path`` is a folder ``--keys-wanted`` wrote (it holds ``KEYS_FILE``)."""
    return path is not None and (Path(path) / KEYS_FILE).is_file()


def _foreign(dest: Path) -> bool:
    """Whether ``dest`` is a folder holding files but no keys record (not ours)."""
    return dest.is_dir() and any(dest.iterdir()) and not is_keys_folder(dest)


# What file browsers leave in a folder they show: not the user's work.
_LITTER = frozenset({"Thumbs.db", "desktop.ini"})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _vouches(recorded: object, digest: str) -> bool:
    """Whether a record's entry for a file (a digest, or the digests a refresh in
    progress may leave there) names ``digest``."""
    return recorded == digest or (isinstance(recorded, list) and digest in recorded)


def _read_record(dest: Path) -> dict | None:
    """``keys-wanted.json`` of ``dest`` with its ``keys`` list, or None when unreadable."""
    try:
        record = json.loads((dest / KEYS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("keys", []), list):
        return None
    for k in record.get("keys") or []:  # frames are read as numbers everywhere
        if not isinstance(k, dict) or not isinstance(k.get("frame", 0), int):
            return None
    return record


def changed_files(dest: Path, record: dict | None = None) -> list[str]:
    """The files of keys folder ``dest`` that celcolor did not write as they are now:
    a draft painted in place, a file added (hidden files left out). Empty when none.

    The record's digests tell; a record without them (celcolor 0.1.0 before them)
    vouches for the files it names that are no newer than itself. ``record``: the
    folder's record, when the caller has read it already.
    """
    record = record if record is not None else _read_record(dest)
    try:
        written = (dest / KEYS_FILE).stat().st_mtime_ns
    except OSError:
        record = None
    if record is None:
        return [KEYS_FILE]  # no readable record: nothing in the folder is vouched for
    files = record.get("files")
    keys = [k for k in record.get("keys") or [] if isinstance(k, dict)]
    changed = []
    for p in sorted(dest.iterdir()):
        if p.name == KEYS_FILE or p.name.startswith(".") or p.name in _LITTER:
            continue
        if not p.is_file() or p.is_symlink():
            changed.append(p.name)
        elif isinstance(files, dict):
            if not _vouches(files.get(p.name), _digest(p)):
                changed.append(p.name)
        elif p.stat().st_mtime_ns > written or not any(
            p.name in (k.get("sketch"), k.get("draft")) for k in keys
        ):
            changed.append(p.name)
    return changed


def _painted(dest: Path, record: dict, changed: Iterable[str]) -> dict[int, list[str]]:
    """Per frame of the record's keys, the images in ``dest`` painted for it since
    celcolor wrote the folder (of ``changed``, :func:`changed_files`): its draft painted
    over in place, or an image added and named after the frame (``frame_0026_draft.jpg``
    saved beside, ``frame_0026.png``). Frames with none are left out."""
    frames = {
        int(k["frame"]) for k in record.get("keys") or [] if isinstance(k, dict) and "frame" in k
    }
    painted: dict[int, list[str]] = {}
    for name in changed:
        stem, ext = Path(name).stem, Path(name).suffix.lower()
        head = stem.split("_")
        if (
            ext in IMAGE_EXTENSIONS
            and len(head) >= 2
            and head[0] == "frame"
            and head[1].isdigit()
            and int(head[1]) in frames
            and (dest / name).is_file()
        ):
            painted.setdefault(int(head[1]), []).append(name)
    return painted


def painted_drafts(dest: Path, name: str | None = None) -> list[tuple[int, Path]]:
    """``(frame, key)`` for each frame of keys folder ``dest`` painted since celcolor
    wrote it (:func:`_painted`), in frame order: the keys ``--ref DEST`` pins. Drafts
    left as celcolor made them are not keys.

    Raises :class:`UsageError` when ``dest`` has no readable record, or a frame has two
    painted images (which one is the key is the animator's to say). ``name``: how the
    error names the folder (default ``--ref DEST``).
    """
    name = name or f"--ref {dest}"
    record = _read_record(dest)
    if record is None:
        raise UsageError(f"{name}: its {KEYS_FILE} cannot be read; not a keys folder")
    pins = []
    for frame, names in sorted(_painted(dest, record, changed_files(dest, record)).items()):
        if len(names) > 1:
            raise UsageError(
                f"{name}: frame {frame} has {len(names)} painted images "
                f"({_listed(sorted(names))}); keep the one that is its key"
            )
        pins.append((frame, dest / names[0]))
    return pins


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def check_keys_folder(
    dest: Path,
    *,
    src: Path,
    output: Path,
    references: Iterable[Path] = (),
    overwrite: bool = False,
) -> None:
    """Refuse a keys folder the run could not write or must not refresh (before the run).

    Raises :class:`UsageError` when ``dest`` is in the input, the output or a
    reference's way, or is a folder of files celcolor did not write; when it holds an
    earlier keys folder and ``overwrite`` is not given; and when drafts in it were
    painted since but the run does not take them (no reference lies in it): their
    frames would be wanted again, beside the painted keys; and when it, or the folder
    it is written in, cannot be written (a read-only disk, no permission).
    """
    d, s, o = dest.resolve(), src.resolve(), output.resolve()
    if d.is_relative_to(s) or s.is_relative_to(d):
        raise UsageError(
            f"--keys-wanted {dest}: the keys folder and the input {src} must not contain each other"
        )
    if d.is_relative_to(o) or o.is_relative_to(d):
        raise UsageError(
            f"--keys-wanted {dest}: the keys folder and the output {output} must not "
            "contain each other"
        )
    # A reference in the folder, as named or as resolved (a link there to the key).
    here = dest.absolute()
    taken = [
        r for r in references if r.resolve().is_relative_to(d) or r.absolute().is_relative_to(here)
    ]
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--keys-wanted {dest}: is a file; give a folder")
    if dest.is_dir() and any(dest.iterdir()):
        if _foreign(dest):
            held = f" (it holds the reference {taken[0]})" if taken else ""
            raise UsageError(
                f"--keys-wanted {dest}: the folder holds files celcolor did not write{held}; "
                "give a new or empty folder"
            )
        changed = changed_files(dest)
        if KEYS_FILE in changed:
            raise UsageError(
                f"--keys-wanted {dest}: its {KEYS_FILE} cannot be read; give a new or empty folder"
            )
        if changed and not taken:
            raise UsageError(
                f"--keys-wanted {dest}: {_listed(changed)} changed since celcolor wrote the "
                f"folder (painted in place?) and this run does not take them; give --ref "
                f"{dest} too (it pins the painted drafts and keeps them beside the next "
                "keys), or another folder"
            )
        if not overwrite:
            raise UsageError(
                f"--keys-wanted {dest}: holds the keys of an earlier run; give --overwrite "
                "to replace them, or another folder"
            )
    if not dest.parent.is_dir():
        raise UsageError(f"--keys-wanted {dest}: the folder {dest.parent} does not exist")
    # The keys are written beside the folder and moved in, or refreshed in it: known
    # only at the end of the run, after the output was written.
    for folder in (dest.parent, dest) if dest.is_dir() else (dest.parent,):
        try:
            probe_writable(folder)
        except OSError as e:
            raise UsageError(
                f"--keys-wanted {dest}: cannot write in {folder} ({e.strerror or e}); "
                "give another folder"
            ) from e


def write_wanted_keys(
    dest: Path,
    wanted: list[WantedKey],
    src: Path,
    output: Path,
    key_stem: str | None = None,
    exclude: Iterable[Path] = (),
) -> list[dict[str, object]]:
    """Write the sketch and the draft of every wanted frame, and ``keys-wanted.json``.

    A new folder is written whole and renamed to ``dest`` when complete. An earlier
    keys folder there is refreshed in place (:func:`_refresh`): what changed since
    celcolor wrote it (a draft painted over, a file added) stays as it is, and its
    painted drafts stay listed, as ``painted``; celcolor's other files of the earlier
    round are replaced or removed.

    ``src`` is the cut as coloured, ``output`` what the run wrote (its frames are the
    drafts). ``key_stem``: where a batch cut's key of frame N goes, less ``NNNN.png``
    (recorded as ``pin_as``; None: a single cut, ``batch_name`` is the folder form).
    ``exclude``: the references a frame folder ``src`` holds, not frames (as
    :func:`~celcolor.io.open_frames` leaves them out for the run).
    Returns the records of this round's keys (the painted ones left out).
    """
    tmp = temp_path_beside(dest)
    try:
        tmp.mkdir()
        if dest.is_dir() and any(dest.iterdir()):
            earlier = None if _foreign(dest) else _read_record(dest)
            if earlier is None:
                raise OutputError(f"it holds files but no readable {KEYS_FILE}")
            return _refresh(dest, earlier, tmp, wanted, src, output, key_stem, exclude)
        records = _export(tmp, dest, wanted, src, output, key_stem, exclude)
        files = {p.name: _digest(p) for p in sorted(tmp.iterdir())}
        _write_record(tmp, output, records, files)
        replace_folder(tmp, dest)
    except (OSError, CelcolorError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise OutputError(
            f"{dest}: the keys wanted could not be written ({why}); the output {output} is complete"
        ) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return records


def _write_record(dest: Path, output: Path, keys: list, files: dict) -> None:
    """``keys-wanted.json`` of ``dest``, written beside and renamed into place."""
    text = json.dumps({"output": str(output), "keys": keys, "files": files}, indent=2) + "\n"
    tmp = temp_path_beside(dest / KEYS_FILE)
    try:
        tmp.write_text(text)
        os.replace(tmp, dest / KEYS_FILE)
    finally:
        tmp.unlink(missing_ok=True)


def _refresh(
    dest: Path,
    earlier: dict,
    tmp: Path,
    wanted: list[WantedKey],
    src: Path,
    output: Path,
    key_stem: str | None,
    exclude: Iterable[Path] = (),
) -> list[dict[str, object]]:
    """Refresh keys folder ``dest`` (record ``earlier``) in place with this round's keys,
    exported first into the empty folder ``tmp``.

    Kept as they are: the files that changed since celcolor wrote them (painted
    drafts, added files) and a painted frame's sketch and draft. The record is rewritten
    before any file moves, naming both digests of every file about to be replaced, so
    an interrupted refresh never leaves a file of celcolor's that counts as painted.
    """
    changed = set(changed_files(dest, earlier))
    recorded = earlier.get("files") if isinstance(earlier.get("files"), dict) else {}
    pins = _painted(dest, earlier, changed)
    painted = [
        dict(k, painted=sorted(pins[int(k["frame"])]))
        for k in earlier.get("keys") or []
        if isinstance(k, dict) and "frame" in k and int(k["frame"]) in pins
    ]
    pinned = set(pins)
    records = _export(tmp, dest, [w for w in wanted if w.frame not in pinned], src, output,
                      key_stem, exclude)  # fmt: skip
    new = {p.name: _digest(p) for p in sorted(tmp.iterdir())}
    if clash := sorted(set(new) & changed):
        raise OutputError(f"{_listed(clash)} would be written over, and changed since")
    ours = {  # celcolor's files as it wrote them (hidden files and litter are nobody's)
        p.name: _digest(p)
        for p in dest.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and p.name not in (KEYS_FILE, *_LITTER, *changed)
    }
    # Kept: a painted frame's sketch and draft, as the record had them where painted
    # over (so they still count as painted; None where it had no digests), else as
    # they are. Images added for it stay out of the record: they count as painted.
    kept: dict[str, object] = {}
    for k in painted:
        for name in (k.get("sketch"), k.get("draft")):
            if isinstance(name, str) and name in ours:
                kept[name] = ours[name]
            elif isinstance(name, str) and name in changed:
                kept[name] = recorded.get(name)
    during = {**{n: [d] for n, d in ours.items()}, **kept}
    for name, digest in new.items():
        during[name] = [ours[name], digest] if name in ours else digest
    _write_record(dest, output, [*painted, *records], during)
    for name in new:
        os.replace(tmp / name, dest / name)
    for name in set(ours) - set(new) - set(kept):
        (dest / name).unlink(missing_ok=True)
    keys = sorted([*painted, *records], key=lambda k: int(k["frame"]))  # type: ignore[arg-type]
    _write_record(dest, output, keys, {**kept, **new})
    return records


def _export(
    tmp: Path,
    dest: Path,
    wanted: list[WantedKey],
    src: Path,
    output: Path,
    key_stem: str | None,
    exclude: Iterable[Path] = (),
) -> list[dict[str, object]]:
    by_frame = {w.frame: w for w in wanted}
    records: dict[int, dict[str, object]] = {}
    last = max(by_frame, default=-1)
    if last < 0:
        return []
    with open_frames(src, exclude=exclude) as source:
        files = getattr(source, "files", None)
        for frame in source:
            if frame.index > last:
                break
            if frame.index not in by_frame:
                continue
            stem = f"frame_{frame.index:04d}"
            if files is not None:  # a frame folder: the animator's own file, untouched
                sketch = f"{stem}_sketch{files[frame.index].suffix.lower()}"
                shutil.copyfile(files[frame.index], tmp / sketch)
            else:
                sketch = f"{stem}_sketch.png"
                write_image(tmp / sketch, frame.image)
            draft = f"{stem}_draft.png"
            records[frame.index] = {
                "frame": frame.index,
                "time": None if frame.time is None else round(frame.time, 6),
                "source_name": frame.name,
                "why": list(by_frame[frame.index].reasons),
                "sketch": sketch,
                "draft": draft,
                "ref": f"{frame.index}:{dest / draft}",
                "batch_name": f"ref_{frame.index:04d}.png",
            }
            if key_stem:
                pin_as = Path(f"{key_stem}{frame.index:04d}.png")
                records[frame.index].update(batch_name=pin_as.name, pin_as=str(pin_as))
    drafted = set()
    with open_frames(output) as coloured:
        # Cels (--alpha): drafts keep their transparency, to be painted as cels.
        alpha = has_alpha(output)
        images = rgba_frames(output) if alpha else (f.image for f in coloured)
        for index, image in enumerate(images):
            if index > last:
                break
            if index in records:
                write_image(tmp / str(records[index]["draft"]), image)
                drafted.add(index)
    for f in set(records) - drafted:  # the output is shorter (a truncated input)
        records[f].update(draft=None, ref=None)
    return [records[f] for f in sorted(records)]


def remove_keys_folder(dest: Path) -> bool:
    """Remove a keys folder celcolor wrote, as it wrote it; False when there is none.

    Raises :class:`OutputError`, leaving the folder as it is, when it holds files
    celcolor did not write or a file changed since (:func:`changed_files`).
    """
    if not dest.is_dir() or dest.is_symlink():
        return False
    _check_ours(dest)
    shutil.rmtree(dest)
    return True


def _check_ours(dest: Path) -> None:
    if _foreign(dest):
        raise OutputError(
            f"{dest}: holds files celcolor did not write; the keys folder was left as it is"
        )
    if changed := changed_files(dest):
        raise OutputError(
            f"{dest}: {_listed(changed)} changed since celcolor wrote it (painted in "
            "place?); the keys folder was left as it is: move your work out of it"
        )


def refresh_keys_folder(
    dest: Path, wanted: list[WantedKey], src: Path, output: Path, key_stem: str | None = None
) -> None:
    """A batch's keys folder of one cut: written or refreshed in place when keys are
    wanted or drafts in it were painted (the batch pins those: they stay, see
    :func:`write_wanted_keys`); an earlier one of celcolor's removed when neither holds
    (a re-coloured cut that a new key quieted).

    Raises :class:`OutputError`, writing nothing, when ``dest`` holds files but no
    readable record (not a keys folder of celcolor's).
    """
    if dest.is_dir() and any(dest.iterdir()):
        if _foreign(dest) or _read_record(dest) is None:
            raise OutputError(
                f"{dest}: holds files celcolor did not write; the keys folder was left as it is"
            )
        if not wanted and not changed_files(dest):
            remove_keys_folder(dest)
            return
    elif not wanted:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_wanted_keys(dest, wanted, src, output, key_stem)
