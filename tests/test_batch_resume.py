"""Resume after ``kill -9``: no finished cut is lost, none is done twice, no half file shows.

A batch runs in a subprocess and is killed with SIGKILL part-way (in the middle of
writing an output, or after some cuts are done); a rerun must then colour exactly the
cuts that were not done, leave the done ones untouched, and every output must decode
with the right frame count.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine.batch_manifest import MANIFEST_NAME, REPORT_NAME

N = 12
CUTS = 8


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 cuts of 160x96x12: even ones as videos in folders, odd ones as frame folders."""
    base = tmp_path_factory.mktemp("resume")
    root = base / "cuts"
    for i in range(CUTS):
        made = write_cut(CutSpec(width=160, height=96, num_frames=N, seed=20 + i), base / f"g{i}")
        cut = root / f"sc{i // 4}" / f"c{i:03d}"
        if i % 2 == 0:
            cut.mkdir(parents=True)
            shutil.copy(made["sketch_video"], cut / "sketch.mp4")
        else:
            shutil.copytree(made["sketch_dir"], cut)
        shutil.copy(made["reference"], cut / "ref.png")
    return root


def outputs(out: Path) -> dict[str, Path]:
    """Visible outputs by cut name: ``sc0/c000.mp4`` files and ``sc0/c001`` PNG folders."""
    found = {}
    for p in out.glob("sc*/*"):
        if p.name.startswith("."):
            continue
        found[f"{p.parent.name}/{p.name.removesuffix('.mp4')}"] = p
    return found


def frames_in(path: Path) -> int:
    if path.is_dir():
        return len(list(path.glob("*.png")))
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def manifest(out: Path) -> dict[str, dict]:
    p = out / MANIFEST_NAME
    if not p.exists():
        return {}
    return json.loads(p.read_text())["cuts"]  # never half-written: replaced atomically


def batch(root: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "celcolor.cli", "batch", str(root), "-o", str(out), "-q",
            "--workers", "1", "--preset", "ultrafast"]  # fmt: skip


def mid_write(out: Path) -> bool:
    return any(".celcolor-tmp" in p.name for p in out.glob("sc*/.*"))


def two_done(out: Path) -> bool:
    return sum(e["status"] == "done" for e in manifest(out).values()) >= 2


@pytest.mark.parametrize("kill_when", [mid_write, two_done], ids=["mid-write", "two-done"])
def test_kill_9_then_rerun(tree: Path, tmp_path: Path, kill_when) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(batch(tree, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not kill_when(out):
            assert proc.poll() is None, f"the batch ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    done_before = {n for n, e in manifest(out).items() if e["status"] == "done"}
    assert len(done_before) < CUTS, "killed too late to test anything"
    # Nothing visible is half-written: every output in place decodes in full.
    time.sleep(0.3)  # the worker notices its driver is gone and ends
    for name, path in outputs(out).items():
        assert frames_in(path) == N, name
    before = {
        n: (p.stat().st_mtime_ns, manifest(out)[n]["finished"])
        for n, p in outputs(out).items()
        if n in done_before
    }

    r = subprocess.run(batch(tree, out), capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    report = json.loads((out / REPORT_NAME).read_text())
    status = {c["name"]: c["status"] for c in report["cuts"]}
    assert len(status) == CUTS
    # Done cuts were not redone; every other cut was done exactly once in the rerun.
    assert {n for n, s in status.items() if s == "skipped"} == done_before
    assert {n for n, s in status.items() if s == "done"} == set(status) - done_before
    after = manifest(out)
    for n, (mtime, finished) in before.items():
        assert outputs(out)[n].stat().st_mtime_ns == mtime
        assert after[n]["finished"] == finished
    # Every output is complete, and no temp is left behind.
    assert len(outputs(out)) == CUTS
    for name, path in outputs(out).items():
        assert frames_in(path) == N, name
        assert after[name]["status"] == "done" and after[name]["frames"] == N
    leftovers = [p.name for p in out.rglob(".*") if p.name != ".celcolor-batch.lock"]
    assert leftovers == []
