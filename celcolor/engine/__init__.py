"""The streaming colouring engine: keyframe from the reference, propagation, snap, lines."""

from .analysis import ColorizeStats, FrameAnalysis
from .colorizer import Colorizer
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
