"""`colorize-video demo`: a generated sketch clip and its reference, coloured end to end."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .data.synthetic import CutSpec, write_cut
from .engine import ColorizeOptions, colorize_video
from .engine.matte import background_made_empty
from .errors import OutputError
from .io import make_folder, read_image, write_image
from .io._atomic import replace_folder, temp_path_beside

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
    The files are made in a hidden folder beside ``folder`` and moved in only when all
    of them are done, so a failed run leaves ``folder`` as it was. Returns the paths
    (in ``folder``) of the sketch clip, the reference and the coloured clip.
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
    new_folders = [p for p in (folder, *folder.parents) if not p.exists()]  # deepest first
    make_folder(folder, "-o")
    # Everything is made in a hidden folder and moved in only once all of it is done: a
    # run that fails (a full disk, Ctrl-C) leaves the folder as it was, and with
    # --overwrite an earlier demo is replaced only at the end.
    work = None
    try:
        work = _work_folder(folder)
        paths = write_cut(DEMO_SPEC, work, video=True)
        reference = paths["reference"]
        if alpha:
            cel, _ = background_made_empty(read_image(reference))
            reference = work / "cel.png"
            write_image(reference, cel)
        result = colorize_video(
            paths["sketch_video"],
            reference,
            work / ("sketch_color.mov" if alpha else "sketch_color.mp4"),
            options=ColorizeOptions(alpha=alpha),
            progress=progress,
        )
        _move_into(work, folder)
    except BaseException:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        for made in new_folders:  # only the folders this call made, and only while empty
            with contextlib.suppress(OSError):
                made.rmdir()
        raise
    work.rmdir()
    return {
        "sketch": folder / paths["sketch_video"].name,
        "reference": folder / reference.name,
        "coloured": folder / Path(result.output).name,
    }


def _work_folder(folder: Path) -> Path:
    """A fresh hidden folder on ``folder``'s filesystem, so that each move into it is a
    rename: beside it, or inside it where its parent cannot be written (``-o .`` in a
    home folder)."""
    real = folder.resolve()  # beside the real folder, were it a link
    for place in (real, real / "demo"):  # a temp is made in place.parent
        work = temp_path_beside(place)
        try:
            work.mkdir()
            return work
        except OSError as e:
            error = e
    raise OutputError(f"{folder}: cannot write the demo there ({error.strerror or error})")


def _move_into(work: Path, folder: Path) -> None:
    """Move every file and folder of ``work`` into ``folder``, replacing those there."""
    for item in sorted(work.iterdir()):
        if item.is_dir():
            replace_folder(item, folder / item.name)  # the old one goes only once it is in
        else:
            os.replace(item, folder / item.name)
