"""Frames set aside until a later keyframe is reached.

Frames before a late keyframe wait to be coloured on the way back from it, and the
frames between two keyframes wait (their sketch and the forward pass's output) for the
backward pass. A cut can hold hundreds of them, so they cannot all stay in memory; as
PNG files they cost an encode and a decode each (at 1280x720 about a quarter of the
time of colouring between two keys). So they stay in memory up to a budget of bytes,
and only the rest go to disk: memory stays bounded whatever the cut's length.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import CelcolorError
from ..io.images import channels_swapped


def _spill(path: Path, frame: np.ndarray) -> None:
    """Write an RGB (or RGBA) frame to ``path`` as PNG, or fail with one clear error."""
    if not cv2.imwrite(str(path), channels_swapped(frame)):
        raise CelcolorError(
            f"cannot hold a frame on disk at {path}: is the temporary folder full or "
            "gone? (TMPDIR sets where it is)"
        )


def _unspill(path: Path) -> np.ndarray:
    """A frame written by :func:`_spill` (RGB, or RGBA)."""
    frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if frame is None:
        raise CelcolorError(f"a frame held on disk is gone or unreadable: {path}")
    return channels_swapped(frame)


class WaitingFrames:
    """Frames by name: in memory while they fit ``budget`` bytes, else PNG in ``folder``.

    A frame is :meth:`put` once, read with :meth:`get` (or :meth:`take`, which also
    lets it go) and let go with :meth:`drop`; the memory it held is then free for the
    next. A frame is copied in (the caller may reuse its array); one got back must not
    be changed in place while it is still kept.
    """

    def __init__(self, folder: Path, budget: int) -> None:
        self.folder = folder
        self.budget = budget
        self.used = 0  # bytes held in memory
        self.most = 0  # the most bytes held in memory at once
        self.on_disk = 0  # frames that went to disk
        self._memory: dict[str, np.ndarray] = {}
        self._files: set[str] = set()

    def put(self, name: str, frame: np.ndarray) -> None:
        """Keep ``frame`` under ``name`` (a new name), in memory if it fits the budget."""
        if name in self._memory or name in self._files:
            raise ValueError(f"a waiting frame is already named {name!r}")
        if self.used + frame.nbytes <= self.budget:
            self._memory[name] = frame.copy()
            self.used += frame.nbytes
            self.most = max(self.most, self.used)
            return
        _spill(self._path(name), frame)
        self._files.add(name)
        self.on_disk += 1

    def get(self, name: str) -> np.ndarray:
        """The frame kept under ``name`` (it stays kept)."""
        if name in self._memory:
            return self._memory[name]
        return _unspill(self._path(name))

    def drop(self, name: str) -> None:
        """Let the frame under ``name`` go."""
        frame = self._memory.pop(name, None)
        if frame is not None:
            self.used -= frame.nbytes
        elif name in self._files:
            self._files.discard(name)
            self._path(name).unlink(missing_ok=True)

    def take(self, name: str) -> np.ndarray:
        """The frame kept under ``name``, let go."""
        frame = self.get(name)
        self.drop(name)
        return frame

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.png"
