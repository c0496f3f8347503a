"""`colorize-video demo`: a generated sketch clip and its reference, coloured end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .data.synthetic import CutSpec, write_cut
from .engine import EncodeOptions, colorize_video
from .errors import OutputError
from .io import make_folder

# A short cut with shadows, highlights and crossing shapes: everything the engine does.
DEMO_SPEC = CutSpec(width=640, height=360, num_frames=48, seed=7)
# What a demo writes into its folder (write_cut's files, then the coloured clip).
DEMO_FILES = ("sketch.mp4", "reference.png", "cut.json", "sketch", "gt", "sketch_color.mp4")


def run_demo(
    folder: str | Path = "celcolor-demo",
    *,
    overwrite: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Path]:
    """Write ``sketch.mp4`` and ``reference.png`` into ``folder`` and colour them.

    Returns the paths of the sketch clip, the reference and the coloured clip.
    """
    folder = Path(folder)
    if not overwrite:
        if (folder / "sketch.mp4").exists():
            raise OutputError(
                f"{folder} already holds a demo: pass --overwrite, or another folder with -o"
            )
        # Checked before anything is written: a clash found halfway would leave half a demo.
        for name in DEMO_FILES:
            path = folder / name
            if path.is_file() or (path.is_dir() and any(path.iterdir())):
                raise OutputError(
                    f"{path} already exists: pass --overwrite, or another folder with -o"
                )
    make_folder(folder, "-o")
    paths = write_cut(DEMO_SPEC, folder, video=True, overwrite=overwrite)
    result = colorize_video(
        paths["sketch_video"],
        paths["reference"],
        folder / "sketch_color.mp4",
        encode=EncodeOptions(overwrite=overwrite),
        progress=progress,
    )
    return {
        "sketch": paths["sketch_video"],
        "reference": paths["reference"],
        "coloured": result.output,
    }
