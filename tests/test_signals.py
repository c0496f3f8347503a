"""A run stopped by a signal: Ctrl-C (SIGINT), a scheduler's stop (SIGTERM) or a closed
terminal (SIGHUP) ends with one line, exit code 128 + the signal, and no temp left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine.batch_manifest import REPORT_NAME

TEMP = ".celcolor-tmp-"  # an output being written (the batch lock is ".celcolor-batch.lock")


@pytest.fixture(scope="module")
def long_cut(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A cut long enough to be stopped part-way (several seconds to colour)."""
    spec = CutSpec(width=320, height=192, num_frames=240, seed=5)
    return write_cut(spec, tmp_path_factory.mktemp("long") / "cut", video=True)


def _start(*args: object, tmpdir: Path | None = None) -> subprocess.Popen[str]:
    # As from a terminal: SIGINT at its default. A test run started in the background
    # by a non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and Python
    # then keeps ignoring it, so Ctrl-C could not be tested there.
    env = {**os.environ, "TMPDIR": str(tmpdir)} if tmpdir is not None else None
    return subprocess.Popen(
        [sys.executable, "-m", "celcolor.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint if os.name == "posix" else None,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_when(proc: subprocess.Popen[str], ready, sig: int) -> tuple[int, str]:
    """Send ``sig`` once ``ready()`` holds (the run is writing), then wait for the exit."""
    deadline = time.monotonic() + 90
    while not ready():
        assert proc.poll() is None, f"finished before it could be stopped: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "never started writing"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_run_leaves_nothing_and_keeps_the_old_output(long_cut, tmp_path, sig) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "coloured.mp4"
    out.write_bytes(b"an earlier output")
    proc = _start(long_cut["sketch_video"], "--ref", long_cut["reference"], "-o", out,
                  "--overwrite", "-q")  # fmt: skip

    def writing() -> bool:
        return any(TEMP in p.name for p in out_dir.iterdir())

    code, err = _stop_when(proc, writing, sig)
    assert code == 128 + sig
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "no output was written" in lines[0]
    if sig != signal.SIGINT:
        assert signal.Signals(sig).name in lines[0]
    assert sorted(p.name for p in out_dir.iterdir()) == ["coloured.mp4"]
    assert out.read_bytes() == b"an earlier output"


def test_a_stopped_batch_writes_its_report_and_leaves_no_temp(long_cut, tmp_path) -> None:
    cuts = tmp_path / "cuts"
    for name in ("a", "b"):
        (cuts / name).mkdir(parents=True)
        os.link(long_cut["sketch_video"], cuts / name / "sketch.mp4")
        os.link(long_cut["reference"], cuts / name / "ref.png")
    out = tmp_path / "coloured"
    scratch = tmp_path / "tmpdir"  # the workers' temporary folders (frames waiting)
    scratch.mkdir()
    proc = _start("batch", cuts, "-o", out, "--workers", "2", "-q", tmpdir=scratch)

    def writing() -> bool:
        return out.is_dir() and any(TEMP in p.name for p in out.iterdir())

    code, err = _stop_when(proc, writing, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err, err
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["interrupted"] is True and report["exit_code"] == 128 + signal.SIGTERM
    assert {c["status"] for c in report["cuts"]} == {"not run"}
    assert not [p.name for p in out.iterdir() if TEMP in p.name]
    assert not list(scratch.iterdir())  # the cancelled workers removed theirs


def test_a_stopped_run_still_leaves_its_report(long_cut, tmp_path) -> None:
    """--report is written when a scheduler stops the run, and says so."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    report = tmp_path / "run.json"
    proc = _start(long_cut["sketch_video"], "--ref", long_cut["reference"],
                  "-o", out_dir / "c.mp4", "--report", report, "-q")  # fmt: skip

    def writing() -> bool:
        return any(TEMP in p.name for p in out_dir.iterdir())

    code, err = _stop_when(proc, writing, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, err
    record = json.loads(report.read_text())
    assert (record["status"], record["exit_code"]) == ("interrupted", code)
    assert record["error"] == err.strip().removeprefix("colorize-video: ")
    assert not list(out_dir.iterdir())


# A real SIGINT while the CLI's heavy modules (torch, OpenCV) are being imported: a
# finder asked for the first of them sends it, as Ctrl-C in the first tenths of a second.
_INTERRUPT_WHILE_IMPORTING = """
import os, signal, sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name in ("torch", "cv2"):
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupt())
from celcolor.launcher import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_while_the_command_starts_is_one_line_and_exit_130(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_WHILE_IMPORTING, "demo", "-o", tmp_path / "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_default_sigint if os.name == "posix" else None,
    )
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "colorize-video: interrupted; no output was written\n"
    assert not (tmp_path / "demo").exists()


def test_importing_the_package_loads_no_engine_and_keeps_its_names() -> None:
    """The launcher's import must be light; ``celcolor.Colorizer`` etc. still work."""
    code = (
        "import sys, celcolor, celcolor.launcher\n"
        "heavy = sorted({'torch', 'cv2', 'celcolor.engine'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
        "from celcolor import *\n"
        "assert all(getattr(celcolor, n) is not None for n in celcolor.__all__)\n"
        "assert celcolor.Colorizer is celcolor.engine.Colorizer\n"
        "assert celcolor.io.read_image is not None  # a subpackage, as before\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_console_script_starts_through_the_launcher() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["colorize-video"] == "celcolor.launcher:main"


def test_a_name_the_package_lacks_is_an_attribute_error() -> None:
    """``hasattr`` must answer False, not raise, for any name (dotted ones too)."""
    import celcolor

    assert not hasattr(celcolor, "no_such_part")
    assert not hasattr(celcolor, "io.read_image")


@pytest.mark.parametrize(
    "code, status", [(1, "failed"), (2, "failed"), (129, "interrupted"), (130, "interrupted"),
                     (143, "interrupted")],
)  # fmt: skip
def test_a_record_says_interrupted_for_every_signal(code: int, status: str) -> None:
    """128 + the signal: SIGHUP (a closed terminal) 129 stops a run as SIGTERM does."""
    from celcolor.engine.run_report import failed_record

    record = failed_record("2026-01-01T00:00:00Z", {}, "stopped", code, [])
    assert (record["status"], record["exit_code"]) == (status, code)
