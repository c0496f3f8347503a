"""A single cut's run record (``colorize-video --report FILE``), for pipelines.

A render farm or a shot tracker that runs ``colorize-video`` once per cut reads what
happened from one JSON file rather than from stderr: whether the cut was coloured,
the error line if not, the output and its sha256, the frames the warnings name (new
drawings, new views) and the keys wanted, timings, settings and versions. It holds
what a batch keeps per cut in ``batch-report.json``. The file is written whole
(a temp renamed into place) at the end of the run, also when the run fails or is
interrupted, so a job that exited always left its record.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import OutputError, UsageError
from ..io import resolve_output
from ..io._atomic import probe_writable
from ..io.frames import source_kind
from .batch_manifest import now_iso, output_digest, write_json_atomic

__all__ = ["REPORT_KIND", "check_report_path", "done_record", "failed_record", "write_report"]

#: Marks a file as a celcolor run record: one may be replaced by the next run.
REPORT_KIND = "celcolor run"


def check_report_path(
    report: Path,
    *,
    src: Path,
    output: Path | None,
    references: list[Path],
    keys_wanted: Path | None,
) -> None:
    """Refuse a report path the run would harm or could not write (before the run).

    Raises :class:`UsageError` when ``report`` is a folder, lies in the input, the
    output or the keys folder, is a reference, has no folder, or is a file that is not
    an earlier celcolor run record (a record is replaced by the next run).
    """
    r = report.absolute().resolve()
    out = resolve_output(src, output, source_kind(src) or "video").absolute().resolve()
    for what, path in (("the input", src), ("the output", out), ("the keys folder", keys_wanted)):
        if path is not None and r.is_relative_to(Path(path).absolute().resolve()):
            raise UsageError(f"--report {report}: is or lies in {what} {path}; give another path")
    for ref in references:
        if r == ref.absolute().resolve():
            raise UsageError(f"--report {report}: is the reference {ref}; give another path")
    if r.is_dir():
        raise UsageError(f"--report {report}: is a folder; give a file (run.json)")
    if not r.parent.is_dir():
        raise UsageError(f"--report {report}: the folder {report.parent} does not exist")
    if r.exists() and not _is_record(r):
        raise UsageError(
            f"--report {report}: exists and is not a celcolor run record; give another path"
        )
    try:  # the record goes through a temp beside it: that must be possible
        probe_writable(r.parent)
    except OSError as e:
        raise UsageError(
            f"--report {report}: cannot write in {report.parent} ({e.strerror or e}); "
            "give another path"
        ) from e


def _is_record(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("kind") == REPORT_KIND


def _common(started: str, run: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": REPORT_KIND,
        **run,
        "started": started,
        "finished": now_iso(),
        "celcolor": __version__,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
    }


def done_record(started: str, run: dict[str, Any], result: Any, warnings: list[str]) -> dict:
    """The record of a run that coloured its cut (``result``: the engine's RunResult).

    ``run``: what the command was given (input, references, settings).
    """
    stats = result.stats
    return {
        "status": "done",
        "exit_code": 0,
        "error": None,
        **_common(started, run),
        "output": str(result.output),
        **output_digest(Path(result.output)),
        "frames": result.frames,
        "seconds": round(result.seconds, 4),
        "fps": round(result.fps, 3),
        "key_frame": result.ref_frame,
        "new_drawings": list(stats.new_drawings),
        "rekeyed": list(stats.rekeyed),
        "held": list(stats.held),
        "unseen": [list(s) for s in stats.unseen],
        "wanted": [w.as_dict() for w in result.wanted],
        # Frames set aside for a later keyframe that did not fit --wait-memory: the
        # temporary folder's use, for a farm that sizes it.
        "waited_on_disk": stats.waited_on_disk,
        # Frames coloured from two keys (forward and back), 0 where no second key lay
        # within --blend-window: whether the blend took place.
        "blended": stats.blended,
        "warnings": warnings,
        "stage_seconds": {k: round(v, 4) for k, v in result.stage_seconds.items()},
    }


def failed_record(
    started: str, run: dict[str, Any], error: str, exit_code: int, warnings: list[str]
) -> dict:
    """The record of a run that stopped: ``status`` "interrupted" for exit codes over
    128 (128 + a signal's number: SIGHUP 129, Ctrl-C 130, SIGTERM 143), else "failed";
    ``error`` is the line the command printed."""
    return {
        "status": "interrupted" if exit_code > 128 else "failed",
        "exit_code": exit_code,
        "error": error,
        **_common(started, run),
        "warnings": warnings,
    }


def write_report(path: Path, record: dict[str, Any]) -> None:
    """Write ``record`` to ``path`` whole (a temp beside it, renamed into place);
    :class:`OutputError` when it cannot be written."""
    try:
        write_json_atomic(path, record)
    except OSError as e:
        why = e.strerror or e
        raise OutputError(f"--report {path}: cannot write the run record ({why})") from e
