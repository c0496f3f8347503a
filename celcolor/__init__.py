"""celcolor: colour animation line art from a coloured reference.

    >>> import celcolor
    >>> celcolor.colorize_video("sketches.mp4", "keyframe.png")   # -> sketches_color.mp4

or, frame by frame::

    colorizer = celcolor.Colorizer(reference_rgb)
    for coloured in colorizer.colorize(sketch_frames):
        ...
"""

from .engine import ColorizeOptions, Colorizer, EncodeOptions, RunResult, colorize_video
from .errors import CelcolorError, InputError, OutputError, UsageError

__version__ = "0.1.0"

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
