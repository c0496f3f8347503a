"""The `colorize-video` console script: Ctrl-C while the command starts is a clean exit.

Importing :mod:`celcolor.cli` imports torch and OpenCV, a few tenths of a second
before the command's own handling of Ctrl-C is in place; an interrupt then printed
Python's traceback. This module imports nothing heavy (the package's ``__init__`` loads
the engine lazily), so it can catch that interrupt and end the way a later one does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .errors import exit_code_of, interruption


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `colorize-video`: :func:`celcolor.cli.main`, with an interrupt
    while it loads (or before its command starts) ending in one line and exit 130."""
    try:
        from .cli import main as cli_main

        return cli_main(argv)
    except KeyboardInterrupt as e:
        # The command catches interrupts while it runs; one that gets here came
        # before it began, so nothing was written.
        print(f"colorize-video: {interruption(e)}; no output was written", file=sys.stderr)
        return exit_code_of(e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
