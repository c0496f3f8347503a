"""Line art: ink extraction, cleanup and closed-region segmentation."""

from .ink import InkOptions, LineArt, extract_ink, line_colours, looks_like_line_art
from .regions import RegionOptions, Regions, fill_holes, label_regions

__all__ = [
    "InkOptions",
    "LineArt",
    "RegionOptions",
    "Regions",
    "extract_ink",
    "fill_holes",
    "label_regions",
    "line_colours",
    "looks_like_line_art",
]
