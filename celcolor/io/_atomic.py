"""Temp paths beside a destination, and swapping a finished temp into place."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

#: Every temp this package makes has this marker in its (hidden) name.
TEMP_MARKER = ".celcolor-"


# Most filesystems take names of at most 255 bytes; a temp adds the marker, a tag and
# a token to the output's name, so a long stem is shortened in the temp's name.
_NAME_MAX = 255
_TEMP_EXTRA = len(TEMP_MARKER) + len("-old-") + 8 + 1  # marker, tag, token, leading dot


def temp_prefix(dst: Path) -> str:
    """The start of every temp name of ``dst`` (its stem, shortened to leave room)."""
    room = _NAME_MAX - _TEMP_EXTRA - len(dst.suffix.encode())
    stem = dst.stem.encode()[: max(room, 1)].decode(errors="ignore")
    return f".{stem}{TEMP_MARKER}"


def temp_path_beside(dst: Path, tag: str = "tmp") -> Path:
    """A fresh hidden path in ``dst``'s folder, e.g. ``.clip.celcolor-tmp-1a2b3c4d.mp4``."""
    # Same folder as dst, so the final os.replace is a rename on one filesystem (atomic).
    parent = dst.parent
    while True:
        cand = parent / f"{temp_prefix(dst)}{tag}-{secrets.token_hex(4)}{dst.suffix}"
        if not os.path.lexists(cand):
            return cand


def probe_writable(folder: Path) -> None:
    """Make and remove a hidden temp file in ``folder``; raises the ``OSError`` that
    writing there meets (a read-only disk, no permission), where a check of the mode
    bits would pass (root, a read-only mount)."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=f"{TEMP_MARKER}probe-"):
        pass


def replace_folder(new: Path, dst: Path) -> None:
    """Move the finished folder ``new`` to ``dst``; an existing ``dst`` is moved aside first.

    The old folder is deleted only after the new one is in place, so a failure
    at any step leaves either the old or the new output, never a mix.
    """
    if not os.path.lexists(dst):
        os.replace(new, dst)
        return
    old = temp_path_beside(dst, tag="old")
    os.replace(dst, old)
    try:
        os.replace(new, dst)
    except BaseException:
        os.replace(old, dst)  # put the old output back
        raise
    shutil.rmtree(old)
