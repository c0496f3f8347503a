"""celcolor: colour animation line art from a coloured reference.

    >>> import celcolor
    >>> celcolor.colorize_video("sketches.mp4", "keyframe.png")   # -> sketches_color.mp4

or, frame by frame::

    colorizer = celcolor.Colorizer(reference_rgb)
    for coloured in colorizer.colorize(sketch_frames):
        ...

The engine's names load on first use (PEP 562), so that importing a light module of the
package (the console script's launcher, :mod:`celcolor.errors`) does not import torch
and OpenCV first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CelcolorError, InputError, OutputError, UsageError

if TYPE_CHECKING:  # for type checkers and editors; at run time see __getattr__
    from .engine import ColorizeOptions, Colorizer, EncodeOptions, RunResult, colorize_video

__version__ = "0.1.0"

# Name -> the module it is taken from, imported when the name is first read.
_LAZY = {
    "ColorizeOptions": ".engine",
    "Colorizer": ".engine",
    "EncodeOptions": ".engine",
    "RunResult": ".engine",
    "colorize_video": ".engine",
}

__all__ = [
    "CelcolorError",
    "ColorizeOptions",
    "Colorizer",
    "EncodeOptions",
    "InputError",
    "OutputError",
    "RunResult",
    "UsageError",
    "__version__",
    "colorize_video",
]


def __getattr__(name: str) -> Any:
    """The engine's public names, and subpackages (``celcolor.io`` after ``import
    celcolor``, as when this module imported the engine eagerly), loaded when read."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # read once: later reads skip this function
        return value
    if name.isidentifier() and not name.startswith("_"):
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise  # the module is there but something it imports is not
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
