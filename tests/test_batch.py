"""Batch runs end to end on tiny generated cuts: isolation, resume, reports, usage errors.

Cuts are 160x96 and 8 frames, generated once per module; every test copies them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import moved_view, sketch_of, view_drawing

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine import ColorizeOptions, EncodeOptions
from celcolor.engine.batch import BatchOptions, format_table, run_batch
from celcolor.engine.batch_manifest import MANIFEST_NAME, REPORT_NAME, batch_lock
from celcolor.engine.batch_worker import CutJob
from celcolor.engine.executors import ExecutorConfig, ProcessPoolExecutor
from celcolor.errors import OutputError

N = 8


def spec(seed: int, n: int = N) -> CutSpec:
    return CutSpec(width=160, height=96, num_frames=n, seed=seed)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Path]]:
    base = tmp_path_factory.mktemp("made")
    return {s: write_cut(spec(s), base / f"s{s}", video=True) for s in range(3)}


def build_tree(made: dict[int, dict[str, Path]], root: Path, corrupt: bool = True) -> Path:
    """ep01/c001 (video + reference.png), ep01/c002 (frames + ref_0003.png inside),
    c003.mp4 + c003.png, and bad/ (a corrupt video + key.png)."""
    c1 = root / "ep01" / "c001"
    c1.mkdir(parents=True)
    shutil.copy(made[0]["sketch_video"], c1 / "sketch.mp4")
    shutil.copy(made[0]["reference"], c1 / "reference.png")
    c2 = root / "ep01" / "c002"
    shutil.copytree(made[1]["sketch_dir"], c2)
    shutil.copy(made[1]["gt_dir"] / "colour_0003.png", c2 / "ref_0003.png")
    shutil.copy(made[2]["sketch_video"], root / "c003.mp4")
    shutil.copy(made[2]["reference"], root / "c003.png")
    if corrupt:
        bad = root / "bad"
        bad.mkdir()
        # Fixed bytes, not os.urandom: about 1 draw in 100 parses as a subtitle stream.
        (bad / "clip.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
        shutil.copy(made[0]["reference"], bad / "key.png")
    return root


def frame_count(path: Path) -> int:
    if path.is_dir():
        return len(list(path.glob("*.png")))
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def outputs_mtimes(out: Path) -> dict[Path, int]:
    """mtime of every output file (the manifest, report and lock left out)."""
    return {
        p: p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and p.suffix != ".json" and not p.name.startswith(".")
    }


def report_of(out: Path) -> dict:
    return json.loads((out / REPORT_NAME).read_text())


def statuses(out: Path) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report_of(out)["cuts"]}


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "celcolor.cli", "batch", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
        check=False,
    )


def options(root: Path, out: Path, **kw) -> BatchOptions:
    kw.setdefault("run", ExecutorConfig(workers=0))  # in this process: fastest for tests
    kw.setdefault("encode", EncodeOptions(preset="ultrafast"))
    return BatchOptions(root, out, **kw)


# --------------------------------------------------------------------------- end to end


def test_batch_isolates_a_corrupt_cut_and_resumes(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts")
    out = tmp_path / "out"
    r = cli(root, "-o", out, "--workers", "2", "-q", "--preset", "ultrafast")
    assert r.returncode == 1, r.stderr
    rep = report_of(out)
    st = {c["name"]: c for c in rep["cuts"]}
    assert {n: c["status"] for n, c in st.items()} == {
        "bad": "failed",
        "c003": "done",
        "ep01/c001": "done",
        "ep01/c002": "done",
    }
    assert "not a readable video" in st["bad"]["error"]
    assert "\n" not in st["bad"]["error"]
    assert st["ep01/c002"]["ref_frame"] == st["ep01/c002"]["key_frame"] == 3
    # Not pinned by name: found in the cut (its reference is frame 0's colour key).
    assert (st["c003"]["ref_frame"], st["c003"]["key_frame"]) == ("auto", 0)
    # Outputs: nested structure kept; a video per video cut, PNGs per frame folder.
    assert frame_count(out / "ep01" / "c001.mp4") == N
    assert frame_count(out / "c003.mp4") == N
    pngs = sorted(p.name for p in (out / "ep01" / "c002").iterdir())
    assert pngs == [f"frame_{i:04d}.png" for i in range(N)]  # the reference is no frame
    # The summary table and the failed cut's line.
    assert "bad" in r.stdout and "failed" in r.stdout and "not a readable video" in r.stdout
    assert "not a readable video" in r.stderr  # failures show even with -q
    manifest = json.loads((out / MANIFEST_NAME).read_text())["cuts"]
    assert (
        manifest["ep01/c001"]["frames"] == N and len(manifest["ep01/c001"]["output_sha256"]) == 64
    )
    assert manifest["bad"]["status"] == "failed"
    # As a single run's --report: frames blended from two keys, and set aside on disk.
    for name in ("ep01/c001", "ep01/c002"):
        assert (manifest[name]["blended"], manifest[name]["waited_on_disk"]) == (0, 0)
        assert (st[name]["blended"], st[name]["waited_on_disk"]) == (0, 0)
    before = outputs_mtimes(out)

    # Rerun: the done cuts are skipped, the failed one is tried again.
    r = cli(root, "-o", out, "-q", "--preset", "ultrafast")
    assert r.returncode == 1
    assert statuses(out) == {
        "bad": "failed",
        "c003": "skipped",
        "ep01/c001": "skipped",
        "ep01/c002": "skipped",
    }
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before
    kept = {c["name"]: c for c in report_of(out)["cuts"]}["ep01/c001"]
    assert (kept["blended"], kept["waited_on_disk"]) == (0, 0)  # carried over, skipped

    # Fix the corrupt cut: only it is coloured, and the batch succeeds.
    shutil.copy(made[2]["sketch_video"], root / "bad" / "clip.mp4")
    r = cli(root, "-o", out, "-q", "--preset", "ultrafast")
    assert r.returncode == 0, r.stdout + r.stderr
    assert statuses(out)["bad"] == "done"
    assert sum(s == "done" for s in statuses(out).values()) == 1
    assert frame_count(out / "bad.mp4") == N


def test_changes_redo_only_what_they_touch(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    assert run_batch(options(root, out)).exit_code == 0
    # A changed reference re-does that cut only.
    ref = root / "c003.png"
    ref.write_bytes(ref.read_bytes())
    os.utime(ref, ns=(time.time_ns(), time.time_ns() + 10**9))
    rep = run_batch(options(root, out))
    assert {o.name: (o.status, o.reason) for o in rep.outcomes if o.status == "done"} == {
        "c003": ("done", "inputs changed")
    }
    # A changed encode setting re-does the video cuts, not the PNG one.
    rep = run_batch(options(root, out, encode=EncodeOptions(preset="ultrafast", crf=30)))
    done = {o.name for o in rep.outcomes if o.status == "done"}
    assert done == {"c003", "ep01/c001"}
    # A changed colour setting re-does everything; so does force.
    rep = run_batch(options(root, out, colour=ColorizeOptions(lines="fill")))
    assert all(o.status == "done" for o in rep.outcomes)
    rep = run_batch(options(root, out, colour=ColorizeOptions(lines="fill"), force=True))
    assert all(o.status == "done" and o.reason == "--force" for o in rep.outcomes)
    # A deleted output is made again.
    (out / "c003.mp4").unlink()
    rep = run_batch(options(root, out, colour=ColorizeOptions(lines="fill")))
    assert [o.name for o in rep.outcomes if o.status == "done"] == ["c003"]
    assert frame_count(out / "c003.mp4") == N


def test_a_manifest_from_before_a_new_setting_keeps_its_cuts(made, tmp_path: Path) -> None:
    """An upgrade that adds a setting does not re-colour a finished batch: a setting the
    manifest lacks counts as its default, and only a user's other value re-does cuts."""
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    assert run_batch(options(root, out)).exit_code == 0
    manifest = out / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    for entry in data["cuts"].values():
        del entry["settings"]["colour"]["rekey"]  # as a celcolor before --rekey wrote it
    manifest.write_text(json.dumps(data))
    before = outputs_mtimes(out)
    rep = run_batch(options(root, out))
    assert {o.status for o in rep.outcomes} == {"skipped"}
    assert outputs_mtimes(out) == before
    manifest.write_text(json.dumps(data))
    rep = run_batch(options(root, out, colour=ColorizeOptions(rekey="on")))
    assert {(o.status, o.reason) for o in rep.outcomes} == {("done", "settings changed")}


def test_an_output_in_the_way_needs_overwrite(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "c003.mp4").write_bytes(b"someone else's file")
    rep = run_batch(options(root, out))
    by = {o.name: o for o in rep.outcomes}
    assert rep.exit_code == 1
    assert by["c003"].status == "failed" and "--overwrite" in (by["c003"].error or "")
    assert (out / "c003.mp4").read_bytes() == b"someone else's file"
    assert by["ep01/c001"].status == "done"
    # A failure recorded for it does not make the file the batch's own.
    rep = run_batch(options(root, out))
    assert rep.exit_code == 1
    assert (out / "c003.mp4").read_bytes() == b"someone else's file"
    rep = run_batch(options(root, out, encode=EncodeOptions(preset="ultrafast", overwrite=True)))
    assert rep.exit_code == 0 and frame_count(out / "c003.mp4") == N


def test_an_output_changed_since_the_batch_made_it_needs_overwrite(made, tmp_path: Path) -> None:
    """A rerun re-does a cut whose output changed, but replaces it only with --overwrite:
    what lies there now (a frame retouched, a file added, another file in its place)
    is the user's, not the batch's (it replaced them all without --overwrite)."""
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    assert run_batch(options(root, out)).exit_code == 0
    added = out / "ep01" / "c002" / "frame_0000_fixed.png"
    shutil.copy(root / "c003.png", added)
    (out / "c003.mp4").write_bytes(b"graded elsewhere")
    rep = run_batch(options(root, out))
    by = {o.name: o for o in rep.outcomes}
    assert rep.exit_code == 1 and by["ep01/c001"].status == "skipped"
    for name in ("ep01/c002", "c003"):
        assert by[name].status == "failed" and "--overwrite" in (by[name].error or "")
        assert "changed since this batch made it" in (by[name].error or "")
    assert added.exists() and (out / "c003.mp4").read_bytes() == b"graded elsewhere"
    rep = run_batch(options(root, out, encode=EncodeOptions(preset="ultrafast", overwrite=True)))
    assert rep.exit_code == 0 and not added.exists() and frame_count(out / "c003.mp4") == N
    # An output deleted is made again without --overwrite: nothing there to keep.
    (out / "c003.mp4").unlink()
    rep = run_batch(options(root, out))
    assert rep.exit_code == 0 and frame_count(out / "c003.mp4") == N


def test_stale_temps_are_removed_and_the_folder_is_locked(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    (out / "ep01").mkdir(parents=True)
    stale_file = out / ".c003.celcolor-tmp-0badf00d.mp4"
    stale_dir = out / "ep01" / ".c002.celcolor-tmp-0badf00d"
    stale_file.write_bytes(b"half")
    stale_dir.mkdir()
    (stale_dir / "frame_0000.png").write_bytes(b"half")
    stale_manifest = out / ".batch-manifest.celcolor-tmp-0badf00d.json"
    stale_manifest.write_text("{")
    keep = out / "ep01" / ".c002-notes.txt"  # not ours: kept
    keep.write_text("x")
    with batch_lock(out), pytest.raises(OutputError, match="another batch"):
        run_batch(options(root, out))
    assert run_batch(options(root, out)).exit_code == 0
    assert not stale_file.exists() and not stale_dir.exists() and keep.exists()
    assert not stale_manifest.exists()


def test_a_stop_during_the_first_write_still_writes_the_report(
    made, tmp_path: Path, monkeypatch
) -> None:
    # A scheduler's SIGTERM can land while the manifest is first written (its temp is
    # the run's first file): the report must say what happened all the same.
    from celcolor.engine import batch_manifest
    from celcolor.errors import Stopped

    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"

    def stopped(self) -> None:
        raise Stopped(signal.SIGTERM)

    monkeypatch.setattr(batch_manifest.Manifest, "save", stopped)
    with pytest.raises(Stopped):
        run_batch(options(root, out))
    report = report_of(out)
    assert report["interrupted"] is True and report["exit_code"] == 128 + signal.SIGTERM
    assert {c["status"] for c in report["cuts"]} == {"not run"}
    assert not [p for p in out.rglob("*") if ".celcolor-tmp-" in p.name]


def test_a_worker_that_dies_fails_only_its_cut(made, tmp_path: Path) -> None:
    long_cut = write_cut(spec(5, n=200), tmp_path / "long", video=True)

    def job(name: str, paths: dict[str, Path]) -> CutJob:
        return CutJob(
            name=name,
            source=str(paths["sketch_video"]),
            frames=None,
            reference=str(paths["reference"]),
            output=str(tmp_path / f"{name}.mp4"),
            options=ColorizeOptions().as_dict(),
            encode={"preset": "ultrafast"},
        )

    started: list[int] = []
    ex = ProcessPoolExecutor(1, 1, {}, progress=lambda name, done, total: started.append(done))
    try:
        victim = ex._workers[0].process
        ex.submit(job("long", long_cut))
        deadline = time.monotonic() + 30
        while not started and time.monotonic() < deadline:
            ex._poll(timeout=0.05)
        os.kill(victim.pid, signal.SIGKILL)
        result = ex.next_result()
        assert not result.ok and "SIGKILL" in (result.error or "")
        assert not (tmp_path / "long.mp4").exists()
        ex.submit(job("after", made[0]))  # the pool replaced the worker
        result = ex.next_result()
        assert result.ok and result.frames == N
    finally:
        ex.close()


# --------------------------------------------------------------------------- command line


def test_dry_run_prints_the_plan_and_writes_nothing(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts")
    (root / "stray").mkdir()
    (root / "stray" / "readme.txt").write_text("x")
    out = tmp_path / "out"
    r = cli(root, "-o", out, "--dry-run", "--format", "mkv")
    assert r.returncode == 0, r.stderr
    for text in ("ep01/c002.mkv", "ref_0003.png", "bad.mkv", "run: new", "stray", "no video"):
        assert text in r.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope", "-o", "{tmp}/out"], "does not exist"),
        (["{root}", "-o", "{root}/out"], "inside the input"),
        (["{root}/ep01/c001", "-o", "{root}/ep01"], "lies inside this output folder"),
        (["{root}", "-o", "{tmp}/out", "--address", "auto"], "need --executor ray"),
        (["{root}", "-o", "{tmp}/out", "--workers", "-1"], "--workers"),
        (["{root}", "-o", "{tmp}/out", "--threads", "100000"], "--threads must be in 1..1024"),
        (["{root}", "-o", "{tmp}/out", "--codec", "ffv1"], "--format mkv"),
        (["{root}", "-o", "{tmp}/out", "--codec", "h264", "--format", "png"], "PNG frames"),
        (["{root}"], "required"),
        (["", "-o", "{tmp}/out"], "argument input: the path is empty"),
        (["{root}", "-o", ""], "argument -o/--output: the path is empty"),
        (["{root}", "-o", "{tmp}/out", "--refs", ""], "argument --refs: the path is empty"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    made, tmp_path: Path, monkeypatch, args, message
) -> None:
    monkeypatch.chdir(tmp_path)  # where an empty path, if taken as ".", would write
    root = build_tree(made, tmp_path / "cuts")
    r = cli(*[a.format(tmp=tmp_path, root=root) for a in args])
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_ray_missing_is_one_line(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts")
    fake = tmp_path / "fake"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    r = cli(root, "-o", tmp_path / "out", "--executor", "ray", env={"PYTHONPATH": str(fake)})
    assert r.returncode == 2
    assert "pip install 'celcolor[cluster]'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_no_cut_found_exits_1(tmp_path: Path) -> None:
    (tmp_path / "cuts" / "x").mkdir(parents=True)
    (tmp_path / "cuts" / "x" / "notes.txt").write_text("x")
    r = cli(tmp_path / "cuts", "-o", tmp_path / "out")
    assert r.returncode == 1
    assert "no cut found" in r.stderr
    assert not (tmp_path / "out").exists()  # no empty folder (or lock) left behind
    (tmp_path / "kept").mkdir()
    assert cli(tmp_path / "cuts", "-o", tmp_path / "kept").returncode == 1
    assert (tmp_path / "kept").is_dir()  # a folder the user made stays


def test_refs_folder_and_the_default_ref_frame(made, tmp_path: Path) -> None:
    root, refs, out = tmp_path / "cuts", tmp_path / "refs", tmp_path / "out"
    shutil.copytree(made[1]["sketch_dir"], root / "ep" / "c7")
    (refs / "ep").mkdir(parents=True)
    shutil.copy(made[1]["gt_dir"] / "colour_0002.png", refs / "ep" / "c7.png")
    rep = run_batch(
        options(root, out, refs=refs, colour=ColorizeOptions(ref_frame=2), format="mp4")
    )
    assert rep.exit_code == 0
    (o,) = rep.outcomes
    assert (o.name, o.ref_frame, o.output) == ("ep/c7", 2, "ep/c7.mp4")
    assert frame_count(out / "ep" / "c7.mp4") == N


def test_a_codec_is_for_the_video_cuts_and_frame_folders_still_give_png(
    made, tmp_path: Path
) -> None:
    root, out = tmp_path / "cuts", tmp_path / "out"
    shutil.copytree(made[1]["sketch_dir"], root / "frames")
    shutil.copy(made[1]["reference"], root / "frames" / "ref.png")
    shutil.copy(made[0]["sketch_video"], root / "video.mp4")
    shutil.copy(made[0]["reference"], root / "video.png")
    encode = EncodeOptions(codec="h264", preset="ultrafast")
    rep = run_batch(options(root, out, encode=encode))
    assert rep.exit_code == 0, [o.error for o in rep.outcomes]
    assert frame_count(out / "frames") == N
    with av.open(str(out / "video.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"


def test_a_damaged_manifest_is_a_one_line_error(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text('{"format": "celcolor-batch-manifest", "cuts": {')
    r = cli(root, "-o", out, "-q")
    assert r.returncode == 1
    assert "not a valid manifest" in r.stderr and "move it aside" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize(
    "content,message",
    [
        (bytes(range(256)) * 2, "not UTF-8"),
        (b'{"format": "celcolor-batch-manifest", "version": "1", "cuts": {}}', "not a celcolor"),
        (
            b'{"format": "celcolor-batch-manifest", "version": 1, "cuts": []}',
            'not a valid manifest ("cuts" is a list, not an object); move it aside',
        ),
    ],
)
def test_a_manifest_of_the_wrong_kind_is_a_one_line_error(made, tmp_path, content, message):
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_bytes(content)
    r = cli(root, "-o", out, "-q")
    assert r.returncode == 1 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("damage", ["a string", "frames NaN", "warnings a number"])
def test_a_damaged_manifest_entry_redoes_only_that_cut(made, tmp_path, damage, caplog) -> None:
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    out = tmp_path / "out"
    assert run_batch(options(root, out)).exit_code == 0
    path = out / MANIFEST_NAME
    data = json.loads(path.read_text())
    if damage == "a string":
        data["cuts"]["c003"] = "done"
    elif damage == "frames NaN":
        data["cuts"]["c003"]["frames"] = float("nan")
    else:
        data["cuts"]["c003"]["warnings"] = 7
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        report = run_batch(options(root, out))
    assert "damaged entry (c003): those cuts are coloured again" in caplog.text
    # An entry that still says this batch made the output may replace it; of a string
    # nothing is known, so the output there is kept unless --overwrite.
    c003 = "failed" if damage == "a string" else "done"
    assert report.exit_code == (1 if c003 == "failed" else 0)
    assert statuses(out) == {"ep01/c001": "skipped", "ep01/c002": "skipped", "c003": c003}


def test_a_wrong_typed_field_of_an_entry_is_named_and_only_that_cut_redone(
    made, tmp_path: Path
) -> None:
    """A hand edit that leaves a field of the wrong type: one warning line naming the
    manifest, the cut and the field, never an internal error."""
    root, out = tmp_path / "cuts", tmp_path / "out"
    root.mkdir()
    shutil.copy(made[2]["sketch_video"], root / "c003.mp4")
    shutil.copy(made[2]["reference"], root / "c003.png")
    assert run_batch(options(root, out)).exit_code == 0
    path = out / MANIFEST_NAME
    good = path.read_text()
    for key, value, said in [
        ("settings", [], '"settings" is a list, not an object'),
        ("settings", 0, '"settings" is the number 0, not an object'),
        ("fingerprint", "x", '"fingerprint" is a string, not an object'),
        ("new_drawings", ["4"], '"new_drawings" is a list, not a list of frame numbers'),
        ("status", 1, '"status" is the number 1, not a string'),
    ]:
        data = json.loads(good)
        data["cuts"]["c003"][key] = value
        path.write_text(json.dumps(data))
        r = cli(root, "-o", out, "--dry-run", "-q")
        assert r.returncode == 0, r.stderr
        (line,) = r.stderr.splitlines()
        assert line == (
            f"colorize-video: WARNING: {path}: 1 damaged entry (c003): those cuts are "
            f"coloured again (c003: {said})"
        )
        assert "run: unfinished before" in r.stdout  # this batch's output: replaced


def test_the_manifest_is_one_cut_per_line_and_round_trips(tmp_path: Path) -> None:
    from celcolor.engine.batch_manifest import Manifest

    m = Manifest.load(tmp_path)
    m.set("ep01/c001", {"status": "done", "frames": 48, "note": "ünïcode"})
    m.set("c002", {"status": "failed", "error": "x"})
    first = {"status": "running"}
    m.set("ep01/c001", first)
    text = (tmp_path / MANIFEST_NAME).read_text()
    assert len([ln for ln in text.splitlines() if ln.startswith('  "')]) == 2
    back = Manifest.load(tmp_path)
    assert back.cuts == {
        "ep01/c001": {"status": "running"},
        "c002": {"status": "failed", "error": "x"},
    }
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, False),
        ({"temporal": "auto", "keyframe_mode": "auto"}, False),
        ({"temporal": "network"}, True),
        ({"temporal": "network-only"}, True),
        ({"keyframe_mode": "match"}, True),
        ({"checkpoint": "w.safetensors"}, True),
    ],
)
def test_workers_import_torch_up_front_when_a_network_will_run(fields, expected) -> None:
    from celcolor.engine.batch_worker import _needs_torch

    assert _needs_torch(fields) is expected


def test_new_drawings_reach_the_report_the_table_and_a_resumed_run(
    made, tmp_path: Path, caplog
) -> None:
    # One cut whose drawing switches at frame 4 (a second shot in the same folder).
    root, out = tmp_path / "cuts", tmp_path / "out"
    cut = root / "shots"
    cut.mkdir(parents=True)
    for i in range(4):
        shutil.copy(made[0]["sketch_dir"] / f"frame_{i:04d}.png", cut / f"frame_{i:04d}.png")
        shutil.copy(made[1]["sketch_dir"] / f"frame_{i:04d}.png", cut / f"frame_{i + 4:04d}.png")
    shutil.copy(made[0]["reference"], cut / "reference.png")
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        rep = run_batch(options(root, out))
    assert rep.exit_code == 0
    (o,) = rep.outcomes
    assert (o.new_drawings, o.rekeyed) == ([4], [])
    # The worker's warning comes back with the result and is said once, named.
    (said,) = [w for w in o.warnings if "mostly new lines" in w]
    assert "shots: " + said in caplog.text
    assert caplog.text.count("mostly new lines") == 1
    assert "new drawings" in format_table(rep) and " 4 " in format_table(rep).splitlines()[1]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert next(iter(manifest["cuts"].values()))["new_drawings"] == [4]
    (again,) = run_batch(options(root, out)).outcomes  # done earlier: read from the manifest
    assert (again.status, again.new_drawings) == ("skipped", [4])
    rekeyed = run_batch(options(root, out, colour=ColorizeOptions(rekey="on"))).outcomes[0]
    assert (rekeyed.status, rekeyed.new_drawings, rekeyed.rekeyed) == ("done", [4], [4])


def test_new_views_reach_the_report_the_table_and_a_resumed_run(tmp_path: Path) -> None:
    """A cut whose frames 12 on show another drawing: its stretch, kept per cut."""
    root, out = tmp_path / "cuts", tmp_path / "out"
    cut = root / "views"
    cut.mkdir(parents=True)
    for i in range(24):
        ink = moved_view(view_drawing(0 if i < 12 else 1), i % 12, 0, 0)
        cv2.imwrite(str(cut / f"frame_{i:04d}.png"), sketch_of(ink))
    ref = np.full((192, 320, 3), 200, np.uint8)
    ref[view_drawing(0) > 128] = 0
    ref[:96, :160] = (60, 60, 200)
    cv2.imwrite(str(cut / "reference.png"), ref)
    rep = run_batch(options(root, out))
    (o,) = rep.outcomes
    assert (o.status, o.unseen) == ("done", [[12, 20]])
    assert any("no longer show" in w for w in o.warnings)
    header, row = format_table(rep).splitlines()[:2]
    assert "new views" in header and " 12-20 " in row
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert next(iter(manifest["cuts"].values()))["unseen"] == [[12, 20]]
    assert report_of(out)["cuts"][0]["unseen"] == [[12, 20]]
    (again,) = run_batch(options(root, out)).outcomes  # done earlier: read from the manifest
    assert (again.status, again.unseen) == ("skipped", [[12, 20]])


def test_quiet_still_names_what_is_not_a_cut(made, tmp_path: Path) -> None:
    root = build_tree(made, tmp_path / "cuts", corrupt=False)
    lost = root / "ep02" / "c009"
    lost.mkdir(parents=True)
    shutil.copy(made[0]["sketch_video"], lost / "sketch.mp4")  # its reference was forgotten
    r = cli(root, "-o", tmp_path / "out", "-q")
    assert r.returncode == 0
    assert "1 folders or files are not cuts (ep02/c009/sketch.mp4: a video with no reference" in (
        r.stderr
    )


def test_a_cut_of_two_cel_layers_fails_naming_its_own_folder(tmp_path: Path) -> None:
    """Its frames are staged beside its reference; the error names the cut's folder,
    not the staging one, and a skip in the other cut's numbers is warned of by name."""
    root = tmp_path / "cuts"
    key = np.full((192, 320, 3), 200, np.uint8)  # a colour key of the drawing
    key[view_drawing(0) > 128] = 0
    key[:96, :160] = (200, 60, 60)
    for cut, names in (
        ("c012", [f"{layer}{i:04d}.png" for layer in "AB" for i in range(1, 4)]),
        ("c013", [f"c013_{i:04d}.png" for i in (1, 2, 3, 5)]),
    ):
        (root / cut).mkdir(parents=True)
        for i, name in enumerate(names):
            cv2.imwrite(str(root / cut / name), sketch_of(moved_view(view_drawing(0), i, 0, 0)))
        cv2.imwrite(str(root / cut / "reference.png"), key)
    report = run_batch(BatchOptions(root, tmp_path / "out", run=ExecutorConfig(workers=0)))
    layers, skips = sorted(report.outcomes, key=lambda o: o.name)
    assert layers.status == "failed" and layers.error.startswith("c012: holds 2 numbered"), (
        layers.error
    )
    assert "celcolor-frames" not in layers.error
    assert skips.status == "done"
    assert any(w.startswith("c013: the frame numbers skip (3 to 5;") for w in skips.warnings), (
        skips.warnings
    )
