"""`colorize-video demo`: a generated sketch clip and its reference, coloured end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .data.synthetic import CutSpec, write_cut
from .engine import ColorizeOptions, EncodeOptions, colorize_video
from .engine.matte import background_made_empty
from .errors import OutputError
from .io import make_folder, read_image, write_image

# A short cut with shadows, highlights and crossing shapes: everything the engine does.
DEMO_SPEC = CutSpec(width=640, height=360, num_frames=48, seed=7)
# What a demo writes into its folder (write_cut's files, then the coloured clip).
DEMO_FILES = ("sketch.mp4", "reference.png", "cut.json", "sketch", "gt", "sketch_color.mp4")
# ... and with alpha: the reference as a cel, and the coloured cels.
ALPHA_FILES = ("cel.png", "sketch_color.mov")


def run_demo(
    folder: str | Path = "celcolor-demo",
    *,
    overwrite: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    alpha: bool = False,
) -> dict[str, Path]:
    """Write ``sketch.mp4`` and ``reference.png`` into ``folder`` and colour them.

    ``alpha``: the reference's background made transparent (``cel.png``) and the clip
    coloured as cels on transparent (``sketch_color.mov``, ProRes 4444; ``--alpha``).
    Returns the paths of the sketch clip, the reference and the coloured clip.
    """
    folder = Path(folder)
    if not overwrite:
        if (folder / "sketch.mp4").exists():
            raise OutputError(
                f"{folder} already holds a demo: pass --overwrite, or another folder with -o"
            )
        # Checked before anything is written: a clash found halfway would leave half a demo.
        for name in DEMO_FILES + (ALPHA_FILES if alpha else ()):
            path = folder / name
            if path.is_file() or (path.is_dir() and any(path.iterdir())):
                raise OutputError(
                    f"{path} already exists: pass --overwrite, or another folder with -o"
                )
    make_folder(folder, "-o")
    paths = write_cut(DEMO_SPEC, folder, video=True, overwrite=overwrite)
    reference = paths["reference"]
    if alpha:
        cel, _ = background_made_empty(read_image(reference))
        reference = folder / "cel.png"
        write_image(reference, cel)
    result = colorize_video(
        paths["sketch_video"],
        reference,
        folder / ("sketch_color.mov" if alpha else "sketch_color.mp4"),
        options=ColorizeOptions(alpha=alpha),
        encode=EncodeOptions(overwrite=overwrite),
        progress=progress,
    )
    return {"sketch": paths["sketch_video"], "reference": reference, "coloured": result.output}
