"""Keys wanted: the frames a run's warnings name, written out to paint and pin back."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import (
    decode_rgb,
    moved_view,
    run_cli,
    sketch_of,
    snapshot,
    view_drawing,
    write_two_view_cut,
)

from celcolor.engine import ColorizeOptions, Colorizer, EncodeOptions, colorize_video
from celcolor.engine.batch import BatchOptions, format_plan, plan_batch, run_batch
from celcolor.engine.executors import ExecutorConfig
from celcolor.engine.wanted import (
    KEYS_FILE,
    WantedKey,
    changed_files,
    painted_drafts,
    wanted_keys,
    write_wanted_keys,
)
from celcolor.errors import OutputError, UsageError
from celcolor.io import _atomic, open_writer, read_image


def test_each_new_view_wants_its_middle_and_a_burst_of_new_drawings_one_key() -> None:
    wanted = wanted_keys(
        new_drawings=[12, 13, 15, 40, 60, 80, 82],
        unseen=[(13, 28), (44, 52)],
        keyframes=[0, 60],
    )
    assert [w.frame for w in wanted] == [20, 48, 80]
    assert wanted[0] == WantedKey(
        20,
        (
            "new drawing (frames 12 to 15: mostly new lines)",
            "new view (frames 13 to 28 no longer show their keyframe's drawing)",
        ),
    )
    assert wanted[1].reasons[0] == "new drawing (frame 40: mostly new lines)"  # opens it
    assert wanted[1].reasons[1].startswith("new view (frames 44 to 52")
    assert wanted[2].reasons == ("new drawing (frames 80 to 82: mostly new lines)",)
    assert wanted_keys([], [], [0]) == []


def test_each_kind_of_stretch_says_why_it_wants_a_key(caplog) -> None:
    from celcolor.engine.advice import KeyAdvice
    from celcolor.engine.analysis import ColorizeStats

    stretches = [(4, 12), (20, 28), (36, 44)]
    wanted = wanted_keys([], stretches, [0], grown=[(20, 28)], redrawn=[(36, 44)])
    assert [w.reasons[0].split(" (")[0] for w in wanted] == [
        "new view",
        "new content",
        "changed drawing",
    ]
    stats = ColorizeStats(unseen=stretches, grown=[(20, 28)], redrawn=[(36, 44)])
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        KeyAdvice().say_unseen(stats)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3  # one warning per kind, each naming its own stretch
    assert "frames 36 to 44 are drawn too differently" in said[2]
    assert "30% of their lines" in said[2] and "--ref 40:key.png" in said[2]


def _batch_of_one(tmp_path: Path) -> tuple[BatchOptions, Path, Path]:
    """The two-view cut as a batch of one cut ``views`` with its reference beside it,
    keys wanted; returns the options, the cut's folder and the output folder."""
    frames, key = write_two_view_cut(tmp_path)
    root, out = tmp_path / "cuts", tmp_path / "coloured"
    shutil.copytree(frames, root / "views")
    shutil.copyfile(key, root / "views" / "reference.png")
    opts = BatchOptions(
        root, out, keys_wanted=True, run=ExecutorConfig(workers=0),
        encode=EncodeOptions(preset="ultrafast"),
    )  # fmt: skip
    return opts, root / "views", out


def test_the_frames_a_run_warns_of_are_written_out_and_pinning_one_quiets_the_run(
    tmp_path: Path,
) -> None:
    """The CLI writes frame 16's own file and its draft; pinned back, nothing is wanted."""
    frames, key = write_two_view_cut(tmp_path)
    out, keys = tmp_path / "out", tmp_path / "keys"
    before = snapshot(frames)
    proc = run_cli(frames, "--ref", key, "-o", f"{out}/", "--keys-wanted", keys)
    assert proc.returncode == 0, proc.stderr
    assert "keys wanted: frame 16;" in proc.stderr
    assert f"(paint {keys}/frame_0016_draft.png in place and give --ref {keys})" in proc.stderr
    record = json.loads((keys / KEYS_FILE).read_text())
    assert [k["frame"] for k in record["keys"]] == [16]
    got = record["keys"][0]
    assert any(w.startswith("new view (frames 12 to 20") for w in got["why"])
    assert got["ref"] == f"16:{keys / 'frame_0016_draft.png'}"
    assert got["batch_name"] == "ref_0016.png"
    assert (keys / got["sketch"]).read_bytes() == (frames / "f16.png").read_bytes()
    assert np.array_equal(read_image(keys / got["draft"]), read_image(out / "f16.png"))
    assert sorted(p.name for p in keys.iterdir()) == [
        "frame_0016_draft.png",
        "frame_0016_sketch.png",
        KEYS_FILE,
    ]
    assert snapshot(frames) == before

    # The animator corrects the draft, keeps it outside the keys folder and pins it.
    painted = tmp_path / "key16.png"
    shutil.copyfile(keys / got["draft"], painted)
    again = run_cli(
        frames, "--ref", key, "--ref", f"16:{painted}", "-o", f"{tmp_path / 'out2'}/",
        "--keys-wanted", keys, "--overwrite", "-q",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "no longer show" not in again.stderr
    assert "mostly new lines" not in again.stderr  # frame 11, seen from 16, took frame 0's pass
    assert json.loads((keys / KEYS_FILE).read_text())["keys"] == []
    assert sorted(p.name for p in keys.iterdir()) == [KEYS_FILE]


def test_a_video_cut_gets_its_decoded_frame_as_the_sketch(tmp_path: Path) -> None:
    frames, key = write_two_view_cut(tmp_path)
    video = tmp_path / "cut.mkv"
    with open_writer(video, width=320, height=192, fps=24.0, codec="ffv1") as w:
        for f in sorted(frames.iterdir()):
            w.write(read_image(f))
    result = colorize_video(video, key, tmp_path / "out.mkv", keys_wanted=tmp_path / "keys")
    assert [w.frame for w in result.wanted] == [16]
    record = json.loads((tmp_path / "keys" / KEYS_FILE).read_text())["keys"][0]
    assert record["sketch"] == "frame_0016_sketch.png"
    assert record["time"] == pytest.approx(16 / 24.0, abs=1e-3)  # mkv times are in ms
    assert np.array_equal(read_image(tmp_path / "keys" / record["sketch"]), decode_rgb(video)[16])
    draft = read_image(tmp_path / "keys" / record["draft"])
    assert np.array_equal(draft, decode_rgb(tmp_path / "out.mkv")[16])


@pytest.mark.parametrize(
    "where",
    [
        "inside the input",
        "around the output",
        "holding other files",
        "an earlier run's",
        "holding the reference",
    ],
)
def test_a_keys_folder_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, where: str
) -> None:
    frames, key = write_two_view_cut(tmp_path)
    keys = tmp_path / "keys"
    extra: list[object] = []
    out = tmp_path / "out"
    if where == "inside the input":
        keys = frames / "keys"
    elif where == "around the output":
        keys.mkdir()
        out = keys / "out"
    elif where == "holding other files":
        keys.mkdir()
        (keys / "notes.txt").write_text("mine")
    elif where == "an earlier run's":
        keys.mkdir()
        (keys / KEYS_FILE).write_text('{"keys": []}\n')
    else:  # the animator's own folder of keys, not one celcolor wrote
        keys.mkdir()
        shutil.copyfile(key, keys / "key16.png")
        extra = ["--ref", f"16:{keys / 'key16.png'}", "--overwrite"]
    before = snapshot(tmp_path)
    proc = run_cli(frames, "--ref", key, "-o", f"{out}/", "--keys-wanted", keys, *extra)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--keys-wanted" in proc.stderr
    assert snapshot(tmp_path) == before  # nothing coloured, nothing replaced


@pytest.mark.parametrize("earlier", [False, True])
def test_a_keys_folder_on_a_read_only_disk_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, earlier: bool
) -> None:
    # Was found out after the run, once the output had been written (exit 1).
    frames, key = write_two_view_cut(tmp_path)
    keys = tmp_path / "keys"
    if earlier:
        keys.mkdir()
    before = snapshot(tmp_path)

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    # What a read-only mount answers, even to root, whatever the mode bits say.
    monkeypatch.setattr(_atomic.tempfile, "NamedTemporaryFile", read_only)
    with pytest.raises(UsageError, match=r"^--keys-wanted .*: cannot write in .*Read-only"):
        colorize_video(frames, key, f"{tmp_path / 'out'}/", keys_wanted=keys)
    assert snapshot(tmp_path) == before  # nothing coloured


def test_a_batch_writes_each_cuts_keys_and_restores_a_done_cuts_without_colouring(
    tmp_path: Path,
) -> None:
    opts, cut, out = _batch_of_one(tmp_path)
    (o,) = run_batch(opts).outcomes
    assert o.status == "done" and [w["frame"] for w in o.wanted] == [16]
    keys = out / "keys-wanted" / "views"
    record = json.loads((keys / KEYS_FILE).read_text())["keys"]
    assert [k["frame"] for k in record] == [16]
    assert (keys / "frame_0016_sketch.png").read_bytes() == (cut / "f16.png").read_bytes()
    assert (
        json.loads((out / "batch-report.json").read_text())["cuts"][0]["wanted"][0]["frame"] == 16
    )

    shutil.rmtree(keys)
    output = out / "views"
    coloured = snapshot(output)
    (again,) = run_batch(opts).outcomes
    assert again.status == "skipped" and (keys / "frame_0016_draft.png").is_file()
    assert snapshot(output) == coloured  # the keys came from the output, not a new colouring
    draft = read_image(keys / "frame_0016_draft.png")
    assert np.array_equal(draft, read_image(output / "f16.png"))


def test_a_painted_key_saved_in_the_cuts_folder_quiets_the_next_batch(tmp_path: Path) -> None:
    """The loop the warning asks for: the draft, corrected, saved as ref_0016.png beside
    the cut's reference; the cut is coloured again with both, and wants no key."""
    opts, cut, out = _batch_of_one(tmp_path)
    run_batch(opts)
    keys = out / "keys-wanted" / "views"
    shutil.copyfile(keys / "frame_0016_draft.png", cut / "ref_0016.png")
    plan = format_plan(plan_batch(opts))
    assert "reference.png + ref_0016.png" in plan and "keys:" in plan
    (o,) = run_batch(opts).outcomes
    assert o.status == "done" and o.reason == "inputs changed"
    assert (o.unseen, o.wanted) == ([], [])
    assert not any("no longer show" in w for w in o.warnings)
    assert not keys.exists()  # nothing is wanted now: the earlier keys went
    entry = json.loads((out / "batch-manifest.json").read_text())["cuts"]["views"]
    assert [k["frame"] for k in entry["fingerprint"]["keys"]] == [16]


def test_a_draft_painted_in_place_is_never_replaced_or_removed(tmp_path: Path) -> None:
    """The animator paints over frame 16's draft inside the batch's keys folder, and
    saves a .psd beside it: the next batch pins the painted draft (the cut is coloured
    again and wants no key) and keeps both files; a single-cut run given the folder
    without --ref refuses it, even with --overwrite."""
    opts, cut, out = _batch_of_one(tmp_path)
    run_batch(opts)
    keys = out / "keys-wanted" / "views"
    assert changed_files(keys) == []
    draft = keys / "frame_0016_draft.png"
    painted = _paint(draft)
    (keys / "frame_0016_draft.psd").write_bytes(b"layers")
    assert changed_files(keys) == ["frame_0016_draft.png", "frame_0016_draft.psd"]
    assert "reference.png + frame_0016_draft.png" in format_plan(plan_batch(opts))

    (o,) = run_batch(opts).outcomes
    assert o.status == "done" and o.reason == "inputs changed" and o.wanted == []
    assert not any("no longer show" in w for w in o.warnings), o.warnings
    assert (
        draft.read_bytes() == painted and (keys / "frame_0016_draft.psd").read_bytes() == b"layers"
    )
    record = json.loads((keys / KEYS_FILE).read_text())["keys"]
    assert [(k["frame"], k["painted"]) for k in record] == [(16, ["frame_0016_draft.png"])]
    keyed = read_image(out / "views" / "f16.png").astype(int)
    assert np.abs(keyed - read_image(draft).astype(int)).mean() < 8  # the key colours it
    (again,) = run_batch(opts).outcomes
    assert again.status == "skipped" and draft.read_bytes() == painted
    work = snapshot(keys)

    proc = run_cli(
        cut, "--ref", cut / "reference.png", "-o", f"{tmp_path / 'single'}/",
        "--keys-wanted", keys, "--overwrite",
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "painted in place?" in proc.stderr
    assert snapshot(keys) == work


def test_a_batch_cut_with_two_painted_images_for_a_frame_fails_by_name(tmp_path: Path) -> None:
    opts, _, out = _batch_of_one(tmp_path)
    run_batch(opts)
    keys = out / "keys-wanted" / "views"
    _paint(keys / "frame_0016_draft.png")
    shutil.copyfile(keys / "frame_0016_draft.png", keys / "frame_0016_v2.png")
    (o,) = run_batch(opts).outcomes
    assert o.status == "failed" and "frame 16 has 2 painted images" in o.reason
    assert str(keys) in o.reason and "--ref" not in o.reason


def test_the_keys_folder_given_as_a_reference_pins_its_painted_drafts(tmp_path: Path) -> None:
    """The single-cut loop: paint frame 16's draft in place, pass the folder as --ref."""
    frames, key = write_two_view_cut(tmp_path)
    keys = tmp_path / "keys"
    first = run_cli(frames, "--ref", key, "-o", f"{tmp_path / 'out'}/", "--keys-wanted", keys)
    assert first.returncode == 0, first.stderr
    untouched = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / 'o2'}/")
    assert untouched.returncode == 2 and untouched.stderr.count("\n") == 1
    assert "none of its drafts was painted" in untouched.stderr

    draft = keys / "frame_0016_draft.png"
    painted = np.ascontiguousarray(read_image(draft)[..., ::-1])  # the animator's recolour
    cv2.imwrite(str(draft), cv2.cvtColor(painted, cv2.COLOR_RGB2BGR))
    again = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / 'o3'}/", "-v")
    assert again.returncode == 0, again.stderr
    assert "the painted drafts of frames 16 pinned" in again.stderr
    assert "no longer show" not in again.stderr  # frame 16 is keyed now
    keyed = read_image(tmp_path / "o3" / "f16.png").astype(int)
    before = read_image(tmp_path / "out" / "f16.png").astype(int)
    assert np.abs(keyed - painted).mean() < 0.25 * np.abs(before - painted).mean()


def _paint(draft: Path) -> bytes:
    """The animator's correction of a draft, saved in place; returns the file's bytes."""
    painted = read_image(draft)
    painted[:8, :8] = (255, 0, 0)
    cv2.imwrite(str(draft), cv2.cvtColor(painted, cv2.COLOR_RGB2BGR))
    return draft.read_bytes()


def test_one_keys_folder_serves_the_whole_loop(tmp_path: Path) -> None:
    """Keys wanted into the folder the painted drafts are pinned from: the painted draft,
    its sketch and the animator's own files stay; celcolor's stale drafts go; the next
    round pins the same painted draft again."""
    frames, key = write_two_view_cut(tmp_path)
    keys, out = tmp_path / "keys", tmp_path / "out"
    assert colorize_video(frames, key, f"{out}/", keys_wanted=keys).wanted  # frame 16
    # An earlier round also wanted frame 5 (its draft left unpainted).
    write_wanted_keys(keys, [WantedKey(5, ("test",)), WantedKey(16, ("test",))], frames, out)
    painted = _paint(keys / "frame_0016_draft.png")
    (keys / "notes.txt").write_text("frame 16: sleeves darker")
    (keys / ".DS_Store").write_bytes(b"the file browser's")

    plain = run_cli(frames, "--ref", key, "-o", f"{tmp_path / 'o1'}/", "--keys-wanted", keys,
                    "--overwrite")  # fmt: skip
    assert plain.returncode == 2 and "give --ref" in plain.stderr  # would ignore the paint

    for round_ in ("o2", "o3"):
        proc = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / round_}/",
                       "--keys-wanted", keys, "--overwrite", "-v")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "the painted drafts of frames 16 pinned" in proc.stderr
        assert "keys wanted: none" in proc.stderr
        assert sorted(p.name for p in keys.iterdir()) == [
            ".DS_Store", "frame_0016_draft.png", "frame_0016_sketch.png", KEYS_FILE, "notes.txt"
        ]  # fmt: skip
        assert (keys / "frame_0016_draft.png").read_bytes() == painted
        record = json.loads((keys / KEYS_FILE).read_text())
        assert [(k["frame"], k.get("painted")) for k in record["keys"]] == [
            (16, ["frame_0016_draft.png"])
        ]
        assert changed_files(keys) == ["frame_0016_draft.png", "notes.txt"]


def test_an_image_saved_beside_a_draft_is_its_frames_key(tmp_path: Path) -> None:
    """The animator's paint program saves a JPEG (or a second PNG) named after the frame
    instead of writing over the draft: that image is the key --ref DIR pins."""
    frames, key = write_two_view_cut(tmp_path)
    keys = tmp_path / "keys"
    colorize_video(frames, key, f"{tmp_path / 'out'}/", keys_wanted=keys)
    painted = read_image(keys / "frame_0016_draft.png")
    painted[:8, :8] = (255, 0, 0)
    cv2.imwrite(str(keys / "frame_0016_draft.jpg"), cv2.cvtColor(painted, cv2.COLOR_RGB2BGR))
    (keys / "frame_0099_draft.png").write_bytes(b"")  # no such key: not a pin
    assert painted_drafts(keys) == [(16, keys / "frame_0016_draft.jpg")]

    proc = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / 'o2'}/",
                   "--keys-wanted", keys, "--overwrite", "-v")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "the painted drafts of frames 16 pinned" in proc.stderr
    assert {"frame_0016_draft.jpg", "frame_0016_draft.png", "frame_0016_sketch.png"} <= {
        p.name for p in keys.iterdir()
    }
    record = json.loads((keys / KEYS_FILE).read_text())["keys"]
    assert [(k["frame"], k["painted"]) for k in record] == [(16, ["frame_0016_draft.jpg"])]
    assert painted_drafts(keys) == [(16, keys / "frame_0016_draft.jpg")]  # and next round

    shutil.copyfile(keys / "frame_0016_draft.jpg", keys / "frame_0016_v2.jpg")
    twice = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / 'o3'}/")
    assert twice.returncode == 2 and twice.stderr.count("\n") == 1, twice.stderr
    assert "frame 16 has 2 painted images" in twice.stderr


@pytest.mark.parametrize("moved", [0, 1], ids=["after the record", "after one file"])
def test_an_interrupted_refresh_never_makes_celcolors_files_count_as_painted(
    tmp_path: Path, monkeypatch, moved: int
) -> None:
    frames, key = write_two_view_cut(tmp_path)
    keys, out = tmp_path / "keys", tmp_path / "out"
    colorize_video(frames, key, f"{out}/")
    write_wanted_keys(keys, [WantedKey(5, ("a",)), WantedKey(16, ("a",))], frames, out)
    painted = _paint(keys / "frame_0016_draft.png")
    out2 = tmp_path / "out2"  # another colouring: frame 5's draft differs
    colorize_video(frames, key, f"{out2}/", options=ColorizeOptions(snap="flat"))
    assert read_image(out2 / "f05.png").tobytes() != read_image(out / "f05.png").tobytes()
    moves = []

    def stop_after_the_record(a, b):
        if Path(b).parent == keys:  # into the folder: the record first, then the files
            moves.append(b)
            if len(moves) > 1 + moved:
                raise OSError(28, "No space left on device")
        return os.rename(a, b)

    monkeypatch.setattr("celcolor.engine.wanted.os.replace", stop_after_the_record)
    with pytest.raises(OutputError, match="No space left"):
        write_wanted_keys(keys, [WantedKey(5, ("b",))], frames, out2)
    assert changed_files(keys) == ["frame_0016_draft.png"]  # frame 5's draft: either one
    new_draft = np.array_equal(
        read_image(keys / "frame_0005_draft.png"), read_image(out2 / "f05.png")
    )
    assert new_draft == bool(moved)
    assert (keys / "frame_0016_draft.png").read_bytes() == painted


def test_a_keys_record_without_digests_vouches_for_the_files_it_names_by_time(
    tmp_path: Path,
) -> None:
    """Keys folders written before the digests: a named file newer than the record, or
    a file it does not name, is the user's; hidden files are litter."""
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "frame_0003_draft.png").write_bytes(b"draft")
    (keys / "frame_0003_sketch.png").write_bytes(b"sketch")
    (keys / KEYS_FILE).write_text(
        json.dumps({"keys": [{"frame": 3, "sketch": "frame_0003_sketch.png",
                              "draft": "frame_0003_draft.png"}]})
    )  # fmt: skip
    (keys / ".DS_Store").write_bytes(b"")
    assert changed_files(keys) == []
    later = (keys / KEYS_FILE).stat().st_mtime_ns + 10**9
    os.utime(keys / "frame_0003_draft.png", ns=(later, later))
    (keys / "notes.txt").write_text("fix the hair")
    assert changed_files(keys) == ["frame_0003_draft.png", "notes.txt"]
    (keys / KEYS_FILE).write_text("{not json")
    assert changed_files(keys) == [KEYS_FILE]


def test_a_cut_coloured_again_without_keys_wanted_loses_its_stale_keys_folder(
    tmp_path: Path,
) -> None:
    opts, _cut, out = _batch_of_one(tmp_path)
    run_batch(opts)
    assert (out / "keys-wanted" / "views" / KEYS_FILE).is_file()
    again = BatchOptions(
        opts.input, out, force=True, run=opts.run, encode=opts.encode
    )  # no --keys-wanted: the drafts of the old output would go stale
    (o,) = run_batch(again).outcomes
    assert o.status == "done" and [w["frame"] for w in o.wanted] == [16]
    assert not (out / "keys-wanted").exists()  # the folder, and the emptied root
    assert not any("left as it is" in w for w in o.warnings)


def test_a_cut_whose_output_would_lie_in_the_keys_root_is_not_a_cut(tmp_path: Path) -> None:
    opts, cut, _out = _batch_of_one(tmp_path)
    shutil.copytree(cut, opts.input / "keys-wanted")
    plan = plan_batch(opts)
    assert [pc.cut.name for pc in plan.cuts] == ["views"]
    (why,) = [s.reason for s in plan.skipped if s.path == "keys-wanted"]
    assert "keys-wanted/, where the batch keeps the keys wanted" in why


def test_a_same_stem_cut_is_told_and_takes_a_key_named_after_it(tmp_path: Path) -> None:
    """A loose video with its same-stem reference has no folder for ref_0016.png: the
    warning and keys-wanted.json name c_ref_0016.png beside it, and that key pins."""
    frames, key = write_two_view_cut(tmp_path)
    root, out = tmp_path / "cuts", tmp_path / "coloured"
    root.mkdir()
    with open_writer(root / "c.mkv", width=320, height=192, fps=24.0, codec="ffv1") as w:
        for f in sorted(frames.iterdir()):
            w.write(read_image(f))
    shutil.copyfile(key, root / "c.png")
    opts = BatchOptions(
        root, out, keys_wanted=True, run=ExecutorConfig(workers=0),
        encode=EncodeOptions(preset="ultrafast"),
    )  # fmt: skip
    (o,) = run_batch(opts).outcomes
    assert o.status == "done" and [w["frame"] for w in o.wanted] == [16]
    draft = out.absolute() / "keys-wanted" / "c" / "frame_0016_draft.png"
    told = f"(paint {draft} in place and run the batch again, or save it as c_ref_0016.png)"
    assert any(told in w for w in o.warnings), o.warnings
    (got,) = json.loads((out / "keys-wanted" / "c" / KEYS_FILE).read_text())["keys"]
    assert got["batch_name"] == "c_ref_0016.png"
    assert got["pin_as"] == str((root / "c_ref_0016.png").absolute())

    shutil.copyfile(out / "keys-wanted" / "c" / got["draft"], got["pin_as"])
    (again,) = run_batch(opts).outcomes
    assert again.status == "done" and again.reason == "inputs changed"
    assert (again.unseen, again.wanted) == ([], [])
    assert not (out / "keys-wanted").exists()


def test_a_new_shot_that_opens_a_new_view_is_keyed_once_in_its_middle(caplog) -> None:
    """Both warnings, and the keys wanted, name one frame: the new view's middle."""
    second = cv2.resize(view_drawing(1, w=160, h=96), (320, 192))  # thicker lines: new
    sketches = [sketch_of(moved_view(view_drawing(0), i, 0, 0)) for i in range(12)]
    sketches += [sketch_of(moved_view(second, i, 0, 0)) for i in range(12)]
    ref = np.full((192, 320, 3), 200, np.uint8)
    ref[view_drawing(0) > 128] = 0
    ref[:96, :160] = (60, 60, 200)
    col = Colorizer(ref, ColorizeOptions(temporal="classical"))
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        list(col.colorize(sketches))
    assert (col.stats.new_drawings, col.stats.unseen) == ([12], [(12, 20)])
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(said) == 2 and all("--ref 16:key.png" in w for w in said)
    (only,) = wanted_keys(col.stats.new_drawings, col.stats.unseen, col.keyframes)
    assert only.frame == 16 and len(only.reasons) == 2
    assert col.stats.wanted == [only]  # what the run itself derives at its end


def test_characters_coming_in_front_of_the_set_are_warned_of_and_wanted(caplog) -> None:
    """The set still matches the keyframe, but far more is drawn: new content."""
    set_only = view_drawing(0).copy()
    set_only[:, 110:] = 0
    walk_in = np.maximum(view_drawing(1), view_drawing(2))
    walk_in[:, :110] = 0
    sketches = [sketch_of(moved_view(set_only, i, 0, 0)) for i in range(8)]
    sketches += [sketch_of(moved_view(np.maximum(set_only, walk_in), i, 0, 0)) for i in range(12)]
    ref = np.full((192, 320, 3), 200, np.uint8)
    ref[set_only > 128] = 0
    ref[:96, :100] = (60, 60, 200)
    col = Colorizer(ref, ColorizeOptions(temporal="classical", rekey_threshold=1.0))
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        list(col.colorize(sketches))
    assert col.stats.unseen == col.stats.grown == [(8, 16)]
    (said,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "frames 8 to 16 show far more than the drawing of the keyframe" in said
    assert "--ref 12:key.png" in said
    (key,) = wanted_keys([], col.stats.unseen, col.keyframes, col.stats.grown)
    assert key.frame == 12 and key.reasons[0].startswith("new content (frames 8 to 16")
    assert col.stats.wanted == [key]


@pytest.mark.parametrize("record", ['{"keys": [{"frame": "x"}]}', '{"keys": ["16"]}', "{"])
def test_a_hand_broken_keys_record_is_one_line_either_way(tmp_path: Path, record: str) -> None:
    frames, key = write_two_view_cut(tmp_path)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / KEYS_FILE).write_text(record)
    shutil.copyfile(key, keys / "frame_0016_draft.png")
    before = snapshot(keys)
    as_ref = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / 'o'}/")
    into = run_cli(frames, "--ref", key, "-o", f"{tmp_path / 'o'}/", "--keys-wanted", keys,
                   "--overwrite")  # fmt: skip
    for proc in (as_ref, into):
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "cannot be read" in proc.stderr
    assert snapshot(keys) == before


def test_a_link_in_the_keys_folder_to_a_painted_key_is_taken_and_kept(tmp_path: Path) -> None:
    frames, key = write_two_view_cut(tmp_path)
    keys = tmp_path / "keys"
    colorize_video(frames, key, f"{tmp_path / 'out'}/", keys_wanted=keys)
    painted = tmp_path / "studio" / "c016.png"
    painted.parent.mkdir()
    shutil.copyfile(keys / "frame_0016_draft.png", painted)
    _paint(painted)
    (keys / "frame_0016_draft.png").unlink()  # the draft moved out; a link left instead
    (keys / "frame_0016_key.png").symlink_to(painted)
    proc = run_cli(frames, "--ref", key, "--ref", keys, "-o", f"{tmp_path / 'o2'}/",
                   "--keys-wanted", keys, "--overwrite", "-v")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "the painted drafts of frames 16 pinned" in proc.stderr
    assert (keys / "frame_0016_key.png").is_symlink() and painted.is_file()


def test_a_key_kept_among_the_frames_does_not_shift_the_sketches(tmp_path: Path) -> None:
    """A reference in the frame folder is no frame of the cut, for the run and for the
    keys it writes: named to sort first, it must not shift the frames' numbers."""
    frames, key = write_two_view_cut(tmp_path)
    inside = frames / "0_key.png"  # before f00.png in natural order
    inside.write_bytes(key.read_bytes())
    keys, out = tmp_path / "keys", tmp_path / "out"
    wanted = colorize_video(frames, inside, f"{out}/", keys_wanted=keys).wanted
    assert [w.frame for w in wanted] == [16]
    sketch = read_image(keys / "frame_0016_sketch.png")
    assert np.array_equal(sketch, read_image(frames / "f16.png"))
