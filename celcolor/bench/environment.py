"""What a benchmark ran on: versions, commit and machine, for the report."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["environment", "git_commit", "load_average"]

# Distribution names whose versions go in every report.
_LIBRARIES = (
    "numpy",
    "opencv-python-headless",
    "opencv-python",
    "av",
    "torch",
    "torchvision",
    "kornia",
    "lpips",
    "scikit-learn",
    "matplotlib",
    "tqdm",
)


def git_commit(path: Path | None = None) -> dict[str, Any] | None:
    """The git commit of the checkout holding ``path`` (this package by default), and
    whether the working tree had changes; None outside a git checkout."""
    where = Path(path or Path(__file__).resolve().parents[2])
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        import av

        out["ffmpeg (libavcodec)"] = ".".join(
            str(x) for x in av.library_versions.get("libavcodec", ())
        )
    except (ImportError, AttributeError):
        pass
    return out


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on the machine skews speed figures)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment() -> dict[str, Any]:
    """Versions, commit, machine and the time, as a JSON-ready dict."""
    import cv2

    from .. import __version__

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info: dict[str, Any] = {
        "celcolor": __version__,
        "git": git_commit(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "memory_gib": _memory_gib(),
        "opencv_threads": cv2.getNumThreads(),
        "libraries": _versions(),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "load_average_start": load_average(),
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = bool(torch.cuda.is_available())
    return info
