"""The Ray executor on a local Ray instance gives the same outputs as the local pool.

Skipped when Ray is not installed (``pip install .[cluster]`` installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine import EncodeOptions
from celcolor.engine.batch import BatchOptions, run_batch
from celcolor.engine.batch_manifest import MANIFEST_NAME, REPORT_NAME
from celcolor.engine.executors import ExecutorConfig

ray = pytest.importorskip("ray")

N = 8


@pytest.fixture(scope="module")
def local_ray():
    """A two-CPU Ray instance for this module (an existing one is reused and kept)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "cuts"
    for i, kind in enumerate(["video", "frames", "loose"]):
        made = write_cut(
            CutSpec(width=160, height=96, num_frames=N, seed=40 + i), tmp_path / f"g{i}"
        )
        if kind == "video":
            (root / "c0").mkdir(parents=True)
            shutil.copy(made["sketch_video"], root / "c0" / "sketch.mp4")
            shutil.copy(made["reference"], root / "c0" / "ref.png")
        elif kind == "frames":
            shutil.copytree(made["sketch_dir"], root / "ep" / "c1")
            shutil.copy(made["gt_dir"] / "colour_0002.png", root / "ep" / "c1" / "ref_0002.png")
        else:
            shutil.copy(made["sketch_video"], root / "c2.mp4")
            shutil.copy(made["reference"], root / "c2.png")
    (root / "bad").mkdir()
    # Fixed bytes, not os.urandom: about 1 draw in 100 parses as a subtitle stream.
    (root / "bad" / "clip.mp4").write_bytes(np.random.default_rng(0).bytes(2000))
    shutil.copy(root / "c2.png", root / "bad" / "key.png")
    return root


def test_ray_matches_the_local_executor(local_ray, tree: Path, tmp_path: Path) -> None:
    encode = EncodeOptions(preset="ultrafast")

    def batch(out: Path, run: ExecutorConfig):
        return run_batch(BatchOptions(tree, out, encode=encode, format="png", run=run))

    local = batch(tmp_path / "local", ExecutorConfig(workers=1))
    on_ray = batch(tmp_path / "ray", ExecutorConfig(executor="ray"))
    assert local.exit_code == on_ray.exit_code == 1  # the corrupt cut fails on both
    assert [(o.name, o.status, o.frames) for o in local.outcomes] == [
        (o.name, o.status, o.frames) for o in on_ray.outcomes
    ]
    by = {o.name: o for o in on_ray.outcomes}
    assert by["bad"].status == "failed" and "not a readable video" in (by["bad"].error or "")
    assert by["ep/c1"].ref_frame == 2
    m_local = json.loads((tmp_path / "local" / MANIFEST_NAME).read_text())["cuts"]
    m_ray = json.loads((tmp_path / "ray" / MANIFEST_NAME).read_text())["cuts"]
    for name in ("c0", "ep/c1", "c2"):
        assert m_ray[name]["frames"] == N
        assert m_ray[name]["output_sha256"] == m_local[name]["output_sha256"], name
    # Only the driver writes the manifest; a rerun on Ray skips what is done.
    again = batch(tmp_path / "ray", ExecutorConfig(executor="ray", workers=1))
    assert {o.name: o.status for o in again.outcomes} == {
        "bad": "failed",
        "c0": "skipped",
        "c2": "skipped",
        "ep/c1": "skipped",
    }


def test_cli_starts_its_own_local_ray(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "celcolor.cli", "batch", str(tree), "-o", str(out), "-q"]
    cmd += ["--executor", "ray", "--workers", "2", "--preset", "ultrafast"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 1, r.stderr  # the corrupt cut
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["options"]["run"]["executor"] == "ray"
    assert {c["name"]: c["status"] for c in report["cuts"]} == {
        "bad": "failed",
        "c0": "done",
        "c2": "done",
        "ep/c1": "done",
    }
    assert "bad" in r.stdout and "not a readable video" in r.stdout


def test_an_address_nothing_answers_at_fails_at_once() -> None:
    """ray.init would retry a dead HOST:PORT for minutes; the batch says so at once."""
    import socket
    import time

    from celcolor.engine.executors import _check_reachable
    from celcolor.errors import CelcolorError

    with socket.socket() as s:  # a port nothing listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(CelcolorError, match=f"cannot reach Ray at 127.0.0.1:{port}"):
        _check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - t0 < 10
    _check_reachable("auto")  # Ray's own forms are left to Ray
    _check_reachable("ray://head:10001")
