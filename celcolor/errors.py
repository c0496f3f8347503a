"""Errors a user can cause and fix.

Anything raised as :class:`CelcolorError` is shown by the CLI as one line on
stderr with a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


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
