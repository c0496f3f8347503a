"""Progress bars on stderr (tqdm), shared by the command-line entry points."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

ProgressFn = Callable[[int, int | None], None]


def progress_bar(
    quiet: bool, desc: str, unit: str = "frame"
) -> tuple[ProgressFn, Callable[[], None]]:
    """A tqdm bar (count, rate, ETA) and its close function; no-ops when quiet.

    The returned ``update(done, total)`` takes the absolute count done so far and
    the total when known (None for an unknown length). While the bar is shown, log
    lines go through it (``tqdm.write``), each on its own line above the bar instead
    of glued to its end.
    """
    if quiet:
        return (lambda done, total: None), (lambda: None)
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    # Created on the first update, so a run that fails before its first frame
    # prints its one-line error without an empty bar above it.
    bars: list[tqdm] = []
    redirect = contextlib.ExitStack()

    def update(done: int, total: int | None) -> None:
        if not bars:
            redirect.enter_context(logging_redirect_tqdm())
            bars.append(
                tqdm(
                    unit=unit,
                    desc=desc,
                    total=total or None,
                    file=sys.stderr,
                    dynamic_ncols=True,
                    leave=True,
                )
            )
        bar = bars[0]
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close() -> None:
        if bars:
            bars[0].close()
        redirect.close()

    return update, close
