"""Temp paths beside a destination, and swapping a finished temp into place."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

#: Every temp this package makes has this marker in its (hidden) name.
TEMP_MARKER = ".celcolor-"


def temp_path_beside(dst: Path, tag: str = "tmp") -> Path:
    """A fresh hidden path in ``dst``'s folder, e.g. ``.clip.celcolor-tmp-1a2b3c4d.mp4``."""
    # Same folder as dst, so the final os.replace is a rename on one filesystem (atomic).
    parent = dst.parent
    while True:
        cand = parent / f".{dst.stem}{TEMP_MARKER}{tag}-{secrets.token_hex(4)}{dst.suffix}"
        if not os.path.lexists(cand):
            return cand


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
