"""Errors a user can cause and fix.

Anything raised as :class:`CelcolorError` is shown by the CLI as one line on
stderr with a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal


class CelcolorError(Exception):
    """A problem with the user's input, options or environment (exit code 1)."""

    exit_code = 1


class UsageError(CelcolorError):
    """A command line that cannot be carried out as written (exit code 2)."""

    exit_code = 2


class InputError(CelcolorError):
    """An input file or folder that cannot be read as line art or a reference."""


class OutputError(CelcolorError):
    """An output path that cannot be written, or would clobber something."""


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, taken like Ctrl-C: a job scheduler's stop or a closed terminal
    gets the same clean exit (temps removed, no half output, a batch's report written).

    Defined here, not in the CLI module: run as ``python -m celcolor.cli`` that module
    is ``__main__``, and a second copy of the class would not match this one.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code_of(interrupt: KeyboardInterrupt) -> int:
    """The shell's code for a run ended by a signal: 128 + its number (130 for Ctrl-C)."""
    return 128 + (interrupt.signum if isinstance(interrupt, Stopped) else int(signal.SIGINT))


def interruption(interrupt: KeyboardInterrupt) -> str:
    """How a run was ended, for its last line: "interrupted" (Ctrl-C) or "stopped by
    SIGTERM" (a :class:`Stopped`)."""
    return f"stopped by {interrupt}" if isinstance(interrupt, Stopped) else "interrupted"
