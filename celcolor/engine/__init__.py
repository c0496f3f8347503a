"""The streaming colouring engine: keyframe from the reference, propagation, snap, lines."""

from .colorizer import Colorizer, ColorizeStats, FrameAnalysis
from .locate import Located, locate_reference
from .options import ColorizeOptions
from .pipeline import EncodeOptions, RunResult, colorize_video, load_reference

__all__ = [
    "ColorizeOptions",
    "ColorizeStats",
    "Colorizer",
    "EncodeOptions",
    "FrameAnalysis",
    "Located",
    "RunResult",
    "colorize_video",
    "load_reference",
    "locate_reference",
]
