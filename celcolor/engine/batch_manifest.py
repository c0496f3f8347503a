"""The batch manifest: what was done to which inputs, kept so a rerun can resume.

The manifest is one JSON file in the output folder, ``batch-manifest.json``, written
only by the driver and only ever replaced whole: written to a hidden temp beside it,
flushed to disk, then renamed over the old one (an atomic rename on one filesystem,
also on NFS). A ``kill -9`` at any moment leaves the old or the new manifest, never a
mix. JSON rather than SQLite because the output folder often lies on shared storage
(NFS, SMB, cluster filesystems), where SQLite's locking is unreliable.

One entry per cut, keyed by the cut's name::

    "ep01/c001": {
      "status": "done",                  # "running", "done" or "failed"
      "output": "ep01/c001.mp4",         # relative to the output folder
      "fingerprint": {...},              # see fingerprint()
      "settings": {...},                 # colour and encode settings that change output
      "frames": 48, "output_sha256": "...", "output_bytes": 123456, "output_files": 1,
      "seconds": 2.1, "fps": 22.9, "error": null, "finished": "2025-...Z", ...
    }

"running" is written before a cut is handed to a worker, so a rerun knows that an
output left at that path was made by this batch (and may be replaced) even if the run
was killed before it could record "done".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError, OutputError
from ..io._atomic import TEMP_MARKER, temp_path_beside, temp_prefix
from .batch_layout import Cut

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "batch_lock",
    "fingerprint",
    "output_digest",
    "output_present",
    "remove_stale_temps",
    "write_json_atomic",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "batch-manifest.json"
REPORT_NAME = "batch-report.json"
LOCK_NAME = ".celcolor-batch.lock"
_FORMAT = "celcolor-batch-manifest"
_VERSION = 1
_EDGE = 1 << 20  # bytes hashed at each end of a video


def now_iso() -> str:
    """The current UTC time, ISO 8601 with a Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- fingerprints


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha256_edges(path: Path, size: int) -> str:
    """sha256 of the first and last MB of a file (all of it when it is under 2 MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= 2 * _EDGE:
            h.update(fh.read())
        else:
            h.update(fh.read(_EDGE))
            fh.seek(size - _EDGE)
            h.update(fh.read(_EDGE))
    return h.hexdigest()


def _stat(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def fingerprint(cut: Cut, root: Path) -> dict[str, Any]:
    """What identifies a cut's inputs: sizes, mtimes and content hashes.

    Reference (and each more pinned one): size, mtime and the sha256 of the whole file.
    Video: size, mtime and the sha256 of its first and last MB. Frame folder: the frame
    count, a sha256 over every frame's name, size and mtime, and the sha256 of the first
    and last frames. Paths are relative to the input folder, so a tree moved with its
    timestamps keeps its fingerprints.

    Raises:
        InputError: a file cannot be read (the cut then fails with that message).
    """
    try:
        ref = {
            "path": _rel(cut.reference, root),
            **_stat(cut.reference),
            "sha256": _sha256_file(cut.reference),
        }
        fp: dict[str, Any] = {"kind": cut.kind, "reference": ref, "ref_frame_pin": cut.ref_frame}
        if cut.keys:  # only then: a cut of one reference keeps its earlier fingerprint
            fp["keys"] = [
                {"frame": f, "path": _rel(p, root), **_stat(p), "sha256": _sha256_file(p)}
                for f, p in cut.keys
            ]
        if cut.frames is None:
            st = _stat(cut.source)
            fp["video"] = {
                "path": _rel(cut.source, root),
                **st,
                "edges_sha256": _sha256_edges(cut.source, st["size"]),
            }
        else:
            listing = hashlib.sha256()
            for f in cut.frames:
                st = _stat(f)
                listing.update(f"{f.name}\t{st['size']}\t{st['mtime_ns']}\n".encode())
            fp["frames"] = {
                "path": _rel(cut.source, root),
                "count": len(cut.frames),
                "listing_sha256": listing.hexdigest(),
                "first_sha256": _sha256_file(cut.frames[0]),
                "last_sha256": _sha256_file(cut.frames[-1]),
            }
    except OSError as e:
        raise InputError(f"{e.filename or cut.source}: cannot read ({e.strerror or e})") from e
    return fp


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # a reference from a --refs folder outside the input
        return str(path)


# --------------------------------------------------------------------------- outputs


def _output_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


def output_digest(path: Path) -> dict[str, Any]:
    """sha256, bytes and file count of a finished output (a file, or a folder of frames).

    A folder's sha256 is taken over ``name NUL sha256(file)`` of its files in name order.
    """
    files = _output_files(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in files:
            h.update(f"{f.name}\0{_sha256_file(f)}\n".encode())
        digest = h.hexdigest()
    else:
        digest = _sha256_file(path)
    return {
        "output_sha256": digest,
        "output_bytes": sum(f.stat().st_size for f in files),
        "output_files": len(files),
    }


def output_present(path: Path, entry: dict[str, Any]) -> bool:
    """Is the output recorded in ``entry`` still there, with its recorded size?

    Only sizes are compared (a full hash of every output on every rerun would read the
    whole batch back from storage).
    """
    if not os.path.lexists(path):
        return False
    try:
        files = _output_files(path)
        return len(files) == entry.get("output_files") and sum(
            f.stat().st_size for f in files
        ) == entry.get("output_bytes")
    except OSError:
        return False


def remove_stale_temps(outputs: Iterable[Path]) -> list[Path]:
    """Delete temps a killed run left beside ``outputs`` (only names this package makes).

    A temp of ``out/c001.mp4`` is ``out/.c001.celcolor-tmp-1a2b3c4d.mp4`` (or ``-old-``
    for an output being replaced). Each folder is listed once. Call this only while
    holding :func:`batch_lock` and before any worker writes: it cannot tell a stale
    temp from one being written.
    """
    prefixes: dict[Path, set[str]] = {}
    for out in outputs:
        prefixes.setdefault(out.parent, set()).add(temp_prefix(out))
    removed: list[Path] = []
    for parent, wanted in prefixes.items():
        try:
            entries = list(os.scandir(parent))
        except FileNotFoundError:
            continue
        for e in entries:
            cut = e.name.find(TEMP_MARKER)
            if cut < 0 or e.name[: cut + len(TEMP_MARKER)] not in wanted:
                continue
            p = Path(e.path)
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


# --------------------------------------------------------------------------- files


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temp beside it and a rename: never half a file."""
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp beside ``path``, flush it to disk, rename it over ``path``."""
    tmp = temp_path_beside(path)
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def batch_lock(output_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder for the whole run.

    An OS lock (``flock``), so it is released when the process ends in any way,
    ``kill -9`` included; no stale lock to clean up. Where ``fcntl`` is missing
    (Windows) the run goes on unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = output_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise OutputError(
                f"{output_dir}: another batch is writing to this folder ({holder}); wait for "
                "it to finish or choose another output folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------- manifest


def _json_kind(value: Any) -> str:
    """What a JSON value is, for a message: "a list", "a string", "null"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), "a value")


def _number(v: Any, whole: bool = False) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return False
    return v >= 0 and (not whole or float(v).is_integer())


def _frame(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _list_of(item: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or (isinstance(v, list) and all(item(x) for x in v))


def _object(v: Any) -> bool:
    return v is None or isinstance(v, dict)


# The fields of an entry that a run reads, with what each must hold when present: the
# run trusts these types, so a hand edit that breaks one would end it in a traceback.
_ENTRY_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "status": (lambda v: isinstance(v, str), "a string"),
    "frames": (lambda v: _number(v, whole=True), "a whole number, 0 or more"),
    "seconds": (_number, "a number, 0 or more"),
    "fps": (_number, "a number, 0 or more"),
    "key_frame": (lambda v: v is None or _frame(v), "a frame number"),
    "new_drawings": (_list_of(_frame), "a list of frame numbers"),
    "rekeyed": (_list_of(_frame), "a list of frame numbers"),
    "held": (_list_of(_frame), "a list of frame numbers"),
    "blended": (lambda v: _number(v, whole=True), "a whole number, 0 or more"),
    "waited_on_disk": (lambda v: _number(v, whole=True), "a whole number, 0 or more"),
    "unseen": (
        _list_of(lambda x: isinstance(x, list) and len(x) == 2 and all(map(_frame, x))),
        "a list of [first, last] frame pairs",
    ),
    "wanted": (
        _list_of(lambda w: isinstance(w, dict) and _frame(w.get("frame"))),
        "a list of objects, each with its frame",
    ),
    "warnings": (_list_of(lambda w: isinstance(w, str)), "a list of strings"),
    "fingerprint": (_object, "an object"),
    "settings": (_object, "an object"),
    "stage_seconds": (_object, "an object"),
}


def _entry_fault(entry: Any) -> str | None:
    """What is wrong with a manifest entry's shape (a damaged one is re-done), or None."""
    if not isinstance(entry, dict):
        return f"the entry is {_json_kind(entry)}, not an object"
    for key, (fits, wanted) in _ENTRY_FIELDS.items():
        if key in entry and not fits(entry[key]):
            return f'"{key}" is {_json_kind(entry[key]):.40}, not {wanted}'
    return None


class Manifest:
    """The per-cut records of one output folder (see the module docstring).

    The file holds one cut per line, so it stays readable and greppable, and a save
    re-encodes only the entries that changed: a thousand-cut manifest is rewritten in
    a few milliseconds.
    """

    def __init__(self, path: Path, cuts: dict[str, dict[str, Any]] | None = None) -> None:
        self.path = path
        self.cuts: dict[str, dict[str, Any]] = cuts if cuts is not None else {}
        # name -> (the entry object, its JSON line); kept by reference, so an entry
        # replaced by a new dict is never mistaken for it.
        self._encoded: dict[str, tuple[dict[str, Any], str]] = {}

    @classmethod
    def load(cls, output_dir: Path) -> Manifest:
        """The manifest of ``output_dir``; empty when there is none yet."""
        path = output_dir / MANIFEST_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except UnicodeDecodeError as e:
            raise OutputError(
                f"{path}: not a valid manifest (not UTF-8 text); move it aside to start the "
                "batch afresh"
            ) from e
        except OSError as e:
            raise OutputError(f"{path}: cannot read the manifest ({e.strerror or e})") from e
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise OutputError(
                f"{path}: not a valid manifest ({e.msg} at line {e.lineno}); move it aside "
                "to start the batch afresh"
            ) from e
        version = data.get("version", 0) if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("format") != _FORMAT
            or not isinstance(version, int)
            or isinstance(version, bool)
        ):
            raise OutputError(f"{path}: not a celcolor batch manifest; move it aside")
        if version > _VERSION:
            raise OutputError(
                f"{path}: written by a newer celcolor (manifest version {version}); "
                "upgrade celcolor or use another output folder"
            )
        cuts = data.get("cuts", {})
        if not isinstance(cuts, dict):  # every cut's record lost: not one to guess at
            raise OutputError(
                f'{path}: not a valid manifest ("cuts" is {_json_kind(cuts):.40}, not an '
                "object); move it aside to start the batch afresh"
            )
        faults = {name: fault for name, entry in cuts.items() if (fault := _entry_fault(entry))}
        damaged = list(faults)
        if damaged:
            log.warning(
                "%s: %d damaged entr%s (%s%s): those cuts are coloured again (%s: %s)",
                path,
                len(damaged),
                "y" if len(damaged) == 1 else "ies",
                ", ".join(damaged[:3]),
                ", ..." if len(damaged) > 3 else "",
                damaged[0],
                faults[damaged[0]],
            )
            for name in damaged:
                entry = cuts.pop(name)
                owned = entry.get("owns_output") if isinstance(entry, dict) else None
                if isinstance(owned, str):  # still ours to replace, once coloured again
                    cuts[name] = {"status": "damaged", "owns_output": owned}
        return cls(path, cuts)

    def get(self, name: str) -> dict[str, Any] | None:
        return self.cuts.get(name)

    def set(self, name: str, entry: dict[str, Any]) -> None:
        """Record ``entry`` for a cut and replace the file (atomically)."""
        self.cuts[name] = entry
        self.save()

    def _line(self, name: str, entry: dict[str, Any]) -> str:
        cached = self._encoded.get(name)
        if cached is not None and cached[0] is entry:
            return cached[1]
        line = f"  {json.dumps(name, ensure_ascii=False)}: " + json.dumps(
            entry, ensure_ascii=False, separators=(", ", ": ")
        )
        self._encoded[name] = (entry, line)
        return line

    def save(self) -> None:
        """Replace the file with the current entries (temp, fsync, rename)."""
        from .. import __version__

        head = {"format": _FORMAT, "version": _VERSION, "celcolor": __version__}
        head["updated"] = now_iso()
        lines = ",\n".join(self._line(n, e) for n, e in self.cuts.items())
        text = json.dumps(head)[:-1] + ',\n "cuts": {\n' + lines + "\n }}\n"
        write_text_atomic(self.path, text)
