"""The `colorize-video` command end to end, in a subprocess.

Every run colours a tiny generated cut (160x96, 8 frames unless a test needs more) and
checks what a user sees: files written (or not), frame counts and timestamps, stdout,
stderr and the exit code.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from conftest import (
    SMALL_SPEC,
    cli_command,
    count_decodable,
    dark_share,
    decode_rgb,
    listing,
    load_frames,
    make_audio_only,
    make_clip,
    make_zero_frame_video,
    probe,
    run_cli,
    snapshot,
    truncate_half,
    write_oversized_png,
    write_two_view_cut,
)

import celcolor.models
from celcolor.data.synthetic import CutSpec, iter_cut, write_cut
from celcolor.engine import Colorizer, colorize_video
from celcolor.errors import OutputError
from celcolor.io import open_frames, read_image, write_image, write_video

N = SMALL_SPEC.num_frames
W, H = SMALL_SPEC.width, SMALL_SPEC.height


def assert_one_line_error(proc, code: int) -> str:
    """The run failed with ``code`` and exactly one clear line on stderr; returns it."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("colorize-video: error:"), lines[0]
    assert "internal error" not in lines[0]
    assert proc.stdout == ""
    return lines[0]


# --------------------------------------------------------------------------- demo


def test_demo_refuses_a_clash_before_writing_anything(tmp_path: Path) -> None:
    from celcolor.demo import run_demo
    from celcolor.errors import OutputError

    out = tmp_path / "demo"
    out.mkdir()
    mine = out / "sketch_color.mp4"
    mine.write_text("the user's own clip")
    with pytest.raises(OutputError, match=r"sketch_color\.mp4 already exists: pass --overwrite"):
        run_demo(out)
    assert listing(out) == ["sketch_color.mp4"] and mine.read_text() == "the user's own clip"
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        run_demo(afile)
    with pytest.raises(OutputError, match="cannot create the folder"):
        run_demo(afile / "sub")


def test_demo_writes_and_colours_a_clip(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = run_cli("demo", "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    expected = {n: out / n for n in ("sketch.mp4", "reference.png", "sketch_color.mp4")}
    for p in expected.values():
        assert p.is_file() and p.stat().st_size > 0
        assert str(p) in proc.stdout
    assert read_image(expected["reference.png"]).ndim == 3
    sketch, coloured = probe(expected["sketch.mp4"]), probe(expected["sketch_color.mp4"])
    assert coloured["n"] == sketch["n"] > 1
    assert coloured["size"] == sketch["size"]
    assert not [n for n in listing(out) if n.startswith(".")]  # no temp left beside them


def test_demo_with_alpha_colours_cels_on_transparent(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = run_cli("demo", "-o", out, "-q", "--alpha")
    assert proc.returncode == 0, proc.stderr
    assert f"reference: {out / 'cel.png'}" in proc.stdout
    assert f"coloured: {out / 'sketch_color.mov'}" in proc.stdout
    assert (read_image(out / "cel.png", keep_alpha=True)[..., 3] == 0).mean() > 0.5
    with av.open(str(out / "sketch_color.mov")) as c:
        frames = [f.to_ndarray(format="rgba") for f in c.decode(video=0)]
    assert len(frames) == probe(out / "sketch.mp4")["n"]
    assert all(0.5 < (f[..., 3] < 16).mean() < 0.95 for f in frames)


def _full_disk(src, ref, dst, **kwargs):
    """A colouring that fails as a full disk would, after the sketch was written."""
    raise OSError(errno.ENOSPC, "No space left on device", str(dst))


def test_a_demo_that_fails_midway_leaves_its_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import celcolor.demo as demo

    monkeypatch.setattr(demo, "colorize_video", _full_disk)
    with pytest.raises(OSError, match="No space left"):
        demo.run_demo(tmp_path / "new" / "demo")
    assert listing(tmp_path) == []  # no half demo, no folder made for it, no temp
    # With --overwrite an earlier demo is replaced only once the new one is whole.
    old = tmp_path / "old"
    old.mkdir()
    (old / "sketch.mp4").write_text("an earlier demo's clip")
    (old / "notes.txt").write_text("the user's own file")
    before = snapshot(old)
    with pytest.raises(OSError, match="No space left"):
        demo.run_demo(old, overwrite=True)
    assert snapshot(old) == before
    assert listing(tmp_path) == ["old"]


def _copy_as_colour(src, ref, dst, **kwargs):
    """The sketch copied as its coloured clip (the real colouring: the tests above)."""
    shutil.copy(src, dst)
    return SimpleNamespace(output=Path(dst))


def test_a_demo_moves_its_files_into_place_and_returns_their_final_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import celcolor.demo as demo

    monkeypatch.setattr(demo, "colorize_video", _copy_as_colour)
    out = tmp_path / "demo"
    out.mkdir()
    (out / "sketch_color.mp4").write_text("an earlier demo's clip")
    (out / "notes.txt").write_text("the user's own file")
    paths = demo.run_demo(out, overwrite=True)
    assert paths == {
        "sketch": out / "sketch.mp4",
        "reference": out / "reference.png",
        "coloured": out / "sketch_color.mp4",
    }
    assert (out / "sketch_color.mp4").read_bytes() == (out / "sketch.mp4").read_bytes()
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert listing(out) == sorted([*demo.DEMO_FILES, "notes.txt"])
    assert listing(tmp_path) == ["demo"]  # the temp folder moved out of the way


def test_a_demo_is_built_inside_its_folder_where_the_parent_refuses_a_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-o .`` in a home folder whose parent only root may write."""
    import celcolor.demo as demo

    out, blocked = tmp_path / "out", tmp_path / "a file"
    blocked.write_text("")
    made_beside = demo.temp_path_beside

    def beside(dst: Path, tag: str = "tmp") -> Path:  # nothing can be made beside out
        return blocked / "temp" if dst == out.resolve() else made_beside(dst, tag)

    monkeypatch.setattr(demo, "temp_path_beside", beside)
    monkeypatch.setattr(demo, "colorize_video", _copy_as_colour)
    paths = demo.run_demo(out)
    assert all(p.is_file() for p in paths.values())
    assert listing(out) == sorted(demo.DEMO_FILES)  # the temp inside it removed
    assert listing(tmp_path) == ["a file", "out"]


# --------------------------------------------------------------------------- commands


def test_a_command_name_runs_the_command_even_beside_a_path_of_that_name(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli("demo", "--help", cwd=work)
    assert proc.returncode == 0 and "usage: colorize-video demo" in proc.stdout
    assert proc.stderr == ""
    shutil.copytree(small_cut["sketch_dir"], work / "demo")
    proc = run_cli("demo", "--help", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "usage: colorize-video demo" in proc.stdout
    (line,) = proc.stderr.splitlines()
    assert line == (
        "colorize-video: WARNING: 'demo' runs the demo command rather than colouring the "
        "folder ./demo here; write ./demo to colour it"
    )
    # Written as a path, it is the input.
    for spelling in ("./demo", "demo/"):
        proc = run_cli(spelling, "--ref", small_cut["reference"], "--dry-run", cwd=work)
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        assert (info["source"]["input"], info["source"]["frames"]) == ("demo", N)
        assert "WARNING" not in proc.stderr


# --------------------------------------------------------------------------- one cut


def test_video_default_output_beside_input(small_cut: dict[str, Path]) -> None:
    src = small_cut["sketch_video"]
    before = src.read_bytes()
    proc = run_cli(src, "--ref", small_cut["reference"])
    assert proc.returncode == 0, proc.stderr
    dst = src.with_name("sketch_color.mp4")
    assert dst.is_file()
    assert Path(proc.stdout.strip()) == dst  # only the output path on stdout
    a, b = probe(src), probe(dst)
    assert b["n"] == a["n"] == N
    assert b["size"] == (W, H)
    assert np.allclose(a["times"], b["times"], atol=max(a["tick"], b["tick"]) + 1e-9)
    assert src.read_bytes() == before
    # Progress on stderr: the frame count and a rate.
    assert f"{N}/{N}" in proc.stderr
    assert "frame/s" in proc.stderr
    # The colours are there: not the black-on-white sketch.
    out0 = decode_rgb(dst)[0].astype(int)
    assert (out0.max(-1) - out0.min(-1)).mean() > 20


def test_quiet_prints_no_progress(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "q.mp4"
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", dst, "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == str(dst)
    assert probe(dst)["n"] == N


def test_vfr_timestamps_survive(small_cut: dict[str, Path], tmp_path: Path) -> None:
    frames = load_frames(small_cut["sketch_dir"])
    pts = [0, 40, 50, 130, 140, 300, 333, 400]  # ms, uneven
    src = make_clip(tmp_path / "vfr.mkv", frames, pts=pts, time_base=Fraction(1, 1000))
    dst = tmp_path / "vfr_color.mkv"
    proc = run_cli(src, "--ref", small_cut["reference"], "-o", dst, "-q", "--preset", "ultrafast")
    assert proc.returncode == 0, proc.stderr
    got = probe(dst)
    assert got["n"] == len(pts)
    assert np.allclose(got["times"], [p / 1000 for p in pts], atol=1e-3 + 1e-9)


def test_image_folder_to_png_folder_keeps_names_and_input(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    frames_dir = small_cut["sketch_dir"]
    before = snapshot(frames_dir)
    out_dir = tmp_path / "out_dir"
    proc = run_cli(f"{frames_dir}/", "--ref", small_cut["reference"], "-o", f"{out_dir}/", "-q")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve() == out_dir.resolve()
    assert listing(out_dir) == listing(frames_dir)
    assert len(listing(out_dir)) == N
    for name in listing(out_dir):
        img = read_image(out_dir / name)
        assert img.shape == (H, W, 3)
    assert snapshot(frames_dir) == before  # same files, bytes and mtimes
    assert not [n for n in listing(tmp_path) if n.startswith(".")]


def test_image_folder_default_output_is_a_sibling_folder(small_cut: dict[str, Path]) -> None:
    frames_dir = small_cut["sketch_dir"]
    proc = run_cli(frames_dir, "--ref", small_cut["reference"], "-q")
    assert proc.returncode == 0, proc.stderr
    out = frames_dir.with_name("sketch_color")
    assert Path(proc.stdout.strip()).resolve() == out.resolve()
    assert listing(out) == listing(frames_dir)


def test_single_image_input(small_cut: dict[str, Path]) -> None:
    src = small_cut["sketch_dir"] / "frame_0000.png"
    proc = run_cli(src, "--ref", small_cut["reference"], "-q")
    assert proc.returncode == 0, proc.stderr
    out = src.with_name("frame_0000_color.png")
    assert Path(proc.stdout.strip()) == out
    img = read_image(out)
    assert img.shape == (H, W, 3)
    ref = read_image(small_cut["reference"])
    # The keyframe coloured from its own colour key looks like the key.
    assert (np.abs(img.astype(int) - ref.astype(int)).max(-1) <= 10).mean() > 0.95


def test_mov_input_to_mkv_with_crf_and_preset(small_cut: dict[str, Path], tmp_path: Path) -> None:
    frames = load_frames(small_cut["sketch_dir"])
    src = tmp_path / "cut.mov"
    write_video(src, frames, preset="ultrafast")
    dst = tmp_path / "out.mkv"
    proc = run_cli(
        src, "--ref", small_cut["reference"], "-o", dst, "--crf", "16", "--preset", "slow", "-q"
    )
    assert proc.returncode == 0, proc.stderr
    got = probe(dst)
    assert got["n"] == N and got["codec"] == "h264" and got["size"] == (W, H)


def test_ffv1_output_is_exactly_the_api_output(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "x.mkv"
    proc = run_cli(
        small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", dst, "--codec", "ffv1"
    )
    assert proc.returncode == 0, proc.stderr
    assert probe(dst)["codec"] == "ffv1"
    got = decode_rgb(dst)
    with open_frames(small_cut["sketch_video"]) as s:
        sketches = [f.image for f in s]
    want = list(Colorizer(read_image(small_cut["reference"])).colorize(sketches))
    assert len(got) == len(want) == N
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(g, w), f"frame {i} differs from Colorizer.colorize"


def test_prores_mov(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "x.mov"
    proc = run_cli(
        small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", dst, "--codec", "prores"
    )
    assert proc.returncode == 0, proc.stderr
    got = probe(dst)
    assert got["codec"] == "prores" and got["n"] == N


@pytest.mark.parametrize("mode", ["fill", "keep", "auto"])
def test_lines_modes(small_cut: dict[str, Path], tmp_path: Path, mode: str) -> None:
    dst = tmp_path / f"{mode}.mkv"
    args = ["--lines", mode, "--codec", "ffv1", "-q"]
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", dst, *args)
    assert proc.returncode == 0, proc.stderr
    frames = decode_rgb(dst)
    assert len(frames) == N
    dark = np.mean([dark_share(f) for f in frames])
    if mode == "fill":
        assert dark < 0.001  # black outlines painted over
    else:
        assert dark > 0.01  # black outlines kept


def test_temporal_per_frame(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "pf.mp4"
    ref = small_cut["reference"]
    proc = run_cli(small_cut["sketch_video"], "--ref", ref, "-o", dst, "--temporal", "per-frame")
    assert proc.returncode == 0, proc.stderr
    assert probe(dst)["n"] == N


def test_ref_frame(small_cut: dict[str, Path], tmp_path: Path) -> None:
    # The colour key of frame 3, as an animator would hand it over.
    cut = write_cut(SMALL_SPEC, tmp_path / "gt", video=False)
    key3 = cut["gt_dir"] / "colour_0003.png"
    dst = tmp_path / "rf.mkv"
    proc = run_cli(
        small_cut["sketch_video"], "--ref", key3, "-o", dst, "--ref-frame", "3", "--codec", "ffv1"
    )
    assert proc.returncode == 0, proc.stderr
    frames = decode_rgb(dst)
    assert len(frames) == N
    d = np.abs(frames[3].astype(int) - read_image(key3).astype(int)).max(-1)
    assert (d <= 10).mean() > 0.95
    assert "WARNING" not in proc.stderr  # the key of frame 3 is recognised as frame 3's drawing


def test_ref_frame_auto_finds_the_keys_frame(small_cut: dict[str, Path], tmp_path: Path) -> None:
    # The colour key of frame 5, handed over without its frame number.
    cut = write_cut(SMALL_SPEC, tmp_path / "gt", video=False)
    key5 = cut["gt_dir"] / "colour_0005.png"
    dst = tmp_path / "auto.mkv"
    proc = run_cli(
        small_cut["sketch_video"], "--ref", key5, "-o", dst, "--ref-frame", "auto",
        "--codec", "ffv1", "-v",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"the reference is the drawing of frame (\d+)", proc.stderr)
    # This cut moves slowly at 160x96: frames 4 to 6 are nearly one drawing.
    assert found and abs(int(found.group(1)) - 5) <= 1
    key = int(found.group(1))
    d = np.abs(decode_rgb(dst)[key].astype(int) - read_image(key5).astype(int)).max(-1)
    assert (d <= 10).mean() > 0.9


def test_dry_run_prints_settings_and_writes_nothing(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    folder = small_cut["sketch_video"].parent
    before = snapshot(folder)
    dst = tmp_path / "never.mkv"
    proc = run_cli(
        small_cut["sketch_video"],
        "--ref",
        small_cut["reference"],
        "-o",
        dst,
        "--dry-run",
        "--lines",
        "fill",
        "--temporal",
        "per-frame",
        "--ref-frame",
        "2",
        "--crf",
        "20",
        "--no-audio",
        "--rekey",
        "on",
        "--texture-carry",
        "chained",
        "--texture-soften",
        "0",
        "--texture-persistence",
        "0.5",
        "--keys-wanted",
        tmp_path / "keys",
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["output"] == str(dst)
    assert info["keys_wanted"] == str(tmp_path / "keys")
    assert info["source"]["frames"] == N
    assert info["source"]["size"] == [W, H]
    assert info["source"]["kind"] == "video"
    assert info["colour"]["lines"] == "fill"
    assert info["colour"]["temporal"] == "per-frame"
    assert info["colour"]["ref_frame"] == 2
    assert info["colour"]["rekey"] == "on"
    assert info["colour"]["texture_carry"] == "chained"
    assert info["colour"]["texture_soften"] == 0.0
    assert info["colour"]["texture_persistence"] == 0.5
    assert info["encode"]["crf"] == 20
    assert info["encode"]["audio"] is False
    assert not dst.exists()
    assert listing(tmp_path) == ["cut"]
    assert snapshot(folder) == before


def test_audio_kept_by_default_and_dropped_with_no_audio(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    frames = load_frames(small_cut["sketch_dir"])
    src = make_clip(tmp_path / "talk.mp4", frames, audio_s=N / 24)
    assert probe(src)["audio"]["codec"] == "aac"
    ref = small_cut["reference"]
    with_audio, without = tmp_path / "with.mp4", tmp_path / "without.mp4"
    proc = run_cli(src, "--ref", ref, "-o", with_audio, "-q", "--preset", "ultrafast")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(src, "--ref", ref, "-o", without, "-q", "--no-audio", "--preset", "ultrafast")
    assert proc.returncode == 0, proc.stderr
    a = probe(with_audio)
    assert a["n"] == N
    assert a["audio"] is not None and a["audio"]["codec"] == "aac"
    assert a["audio"]["duration"] == pytest.approx(probe(src)["audio"]["duration"], abs=0.03)
    b = probe(without)
    assert b["n"] == N and b["audio"] is None


def test_odd_size_end_to_end(tmp_path: Path) -> None:
    paths = write_cut(CutSpec(width=161, height=97, num_frames=6, seed=4), tmp_path / "odd")
    dst = tmp_path / "odd.mp4"
    proc = run_cli(paths["sketch_video"], "--ref", paths["reference"], "-o", dst, "-q")
    assert proc.returncode == 0, proc.stderr
    got = probe(dst)
    assert got["n"] == 6 and got["size"] == (161, 97)
    out_dir = tmp_path / "odd_png"
    proc = run_cli(paths["sketch_dir"], "--ref", paths["reference"], "-o", f"{out_dir}/", "-q")
    assert proc.returncode == 0, proc.stderr
    assert [read_image(p).shape for p in sorted(out_dir.iterdir())] == [(97, 161, 3)] * 6


# --------------------------------------------------------------------------- exit codes

_INPUTS = ["reference.png", "sketch", "sketch.mp4"]


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--lines", "sometimes"],
        ["--temporal", "magic"],
        ["--codec", "mpeg2"],
        ["--ref-frame", "x"],
        ["--temporal-long-side", "32"],
    ],
)
def test_usage_errors_exit_2(small_cut: dict[str, Path], args: list[str]) -> None:
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert listing(small_cut["sketch_video"].parent) == ["cut.json", "gt", *_INPUTS]


@pytest.mark.parametrize(
    "flag", ["--checkpoint", "--matcher-checkpoint", "--temporal-checkpoint", "--flow-weights"]
)
@pytest.mark.parametrize("command", ["colour", "batch"])
def test_a_weights_file_that_is_not_there_is_a_usage_error(
    small_cut: dict[str, Path], tmp_path: Path, flag: str, command: str
) -> None:
    """Refused before the run, also where the run would not load it (a cut the copy
    colours never reads --checkpoint): a mistyped path is not silently ignored."""
    work = tmp_path / "work"
    work.mkdir()
    missing = work / "typo.safetensors"
    if command == "batch":
        cuts = work / "cuts" / "c1"
        cuts.mkdir(parents=True)
        shutil.copy(small_cut["sketch_video"], cuts / "c1.mp4")
        shutil.copy(small_cut["reference"], cuts / "ref.png")
        args = ["batch", cuts.parent, "-o", work / "out", flag, missing]
    else:
        args = [small_cut["sketch_video"], "--ref", small_cut["reference"], flag, missing]
        args += ["-o", work / "out.mp4"]
    line = assert_one_line_error(run_cli(*args), 2)
    assert f"{flag} {missing}: not found" in line
    assert listing(work) == (["cuts"] if command == "batch" else [])


@pytest.mark.parametrize("where", ["ref", "frame"])
def test_a_png_damaged_inside_is_one_line_without_libpng(
    small_cut: dict[str, Path], tmp_path: Path, where: str
) -> None:
    """Bytes lost from a PNG's pixel data (its end marker kept): our line, not libpng's."""
    bad = small_cut["reference"] if where == "ref" else small_cut["sketch_dir"] / "frame_0003.png"
    png = bad.read_bytes()
    start = png.index(b"IDAT") + 4
    bad.write_bytes(png[: start + 100] + png[start + 300 :])
    out = tmp_path / "out"
    out.mkdir()
    args = [small_cut["sketch_dir"], "--ref", small_cut["reference"], "-q", "-o", out / "c.mp4"]
    proc = run_cli(*args)
    line = assert_one_line_error(proc, 1)
    assert f"{bad.name}: the PNG is damaged" in line
    assert listing(out) == []


@pytest.mark.parametrize("where", ["ref", "frame"])
def test_a_tiff_cut_short_is_one_line_without_opencvs(
    small_cut: dict[str, Path], tmp_path: Path, where: str
) -> None:
    """OpenCV's TIFF decoder printed four lines of its own before ours."""
    frames = tmp_path / "tiffs"
    frames.mkdir()
    for png in sorted(small_cut["sketch_dir"].glob("*.png"))[:4]:
        write_image(frames / f"{png.stem}.tif", read_image(png))
    ref = tmp_path / "ref.tif"
    write_image(ref, read_image(small_cut["reference"]))
    bad = ref if where == "ref" else frames / "frame_0002.tif"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli(frames, "--ref", ref, "-q", "-o", out / "c.mp4")
    line = assert_one_line_error(proc, 1)
    assert f"{bad.name}: the TIFF file is damaged or cut short" in line
    assert listing(out) == []


def test_device_cuda_without_a_gpu_refuses_a_network_run_and_warns_on_a_classical_one(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    """A run that would put a network on the missing GPU fails before colouring; one that
    uses none succeeds, with one warning that the flag did nothing."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    out = tmp_path / "out"
    out.mkdir()
    args = [small_cut["sketch_video"], "--ref", small_cut["reference"], "--device", "cuda", "-q"]
    line = assert_one_line_error(run_cli(*args, "--temporal", "network", "-o", out / "n.mp4"), 2)
    assert "--device cuda: torch sees no CUDA device" in line
    assert listing(out) == []
    proc = run_cli(*args, "--temporal", "classical", "-o", out / "c.mp4")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("--device cuda had no effect on this run") == 1, proc.stderr
    assert listing(out) == ["c.mp4"]


@pytest.mark.parametrize(
    ("at", "argument"),
    [
        ("input", "input"),
        ("ref", "--ref"),
        ("output", "-o/--output"),
        ("keys", "--keys-wanted"),
        ("report", "--report"),
        ("weights", "--checkpoint"),
    ],
)
def test_an_empty_path_is_a_usage_error(
    small_cut: dict[str, Path], tmp_path: Path, at: str, argument: str
) -> None:
    """Not read as the current folder ("not a folder: .", "no images in this folder")."""
    video, ref = small_cut["sketch_video"], small_cut["reference"]
    args = {
        "input": ["", "--ref", ref],
        "ref": [video, "--ref", ""],
        "output": [video, "--ref", ref, "-o", ""],
        "keys": [video, "--ref", ref, "--keys-wanted", ""],
        "report": [video, "--ref", ref, "--report", ""],
        "weights": [video, "--ref", ref, "--checkpoint", ""],
    }[at]
    work = tmp_path / "work"  # where "" taken as "." would point
    work.mkdir()
    line = assert_one_line_error(run_cli(*args, cwd=work), 2)
    assert f"argument {argument}: the path is empty" in line
    assert listing(video.parent) == ["cut.json", "gt", *_INPUTS]
    assert listing(work) == []


def test_missing_ref_is_a_usage_error(small_cut: dict[str, Path]) -> None:
    proc = run_cli(small_cut["sketch_video"])
    assert proc.returncode == 2
    assert "--ref" in proc.stderr and "Traceback" not in proc.stderr


def test_negative_ref_frame_is_a_usage_error(small_cut: dict[str, Path]) -> None:
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], "--ref-frame", "-1")
    assert_one_line_error(proc, 2)
    assert not small_cut["sketch_video"].with_name("sketch_color.mp4").exists()


@pytest.mark.parametrize("spelling", ["--ref", "--ref="])
def test_a_key_pinned_before_frame_0_is_a_usage_error(
    small_cut: dict[str, Path], spelling: str
) -> None:
    """Not argparse's "expected one argument", nor "reference not found": the pin's own."""
    pin = f"-1:{small_cut['reference']}"
    args = [spelling, pin] if spelling == "--ref" else [spelling + pin]
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], *args)
    line = assert_one_line_error(proc, 2)
    assert "frames are counted from 0" in line


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("refs", ["one pinned", "two pinned", "a keys folder"])
def test_a_ref_frame_with_every_ref_pinned_is_a_usage_error(
    small_cut: dict[str, Path], tmp_path: Path, refs: str, dry_run: bool
) -> None:
    """With only pinned references the earliest pinned frame is the keyframe: a
    --ref-frame would be ignored without a word."""
    ref = small_cut["reference"]
    if refs == "a keys folder":  # --ref KEYS pins the drafts painted in it
        keys = tmp_path / "keys"
        keys.mkdir()
        (keys / "keys-wanted.json").write_text("{}")
        args = ["--ref", keys]
    else:
        args = ["--ref", f"3:{ref}"] + (["--ref", f"6:{ref}"] if refs == "two pinned" else [])
    proc = run_cli(small_cut["sketch_video"], *args, "--ref-frame", "5", *(["--dry-run"] * dry_run))
    line = assert_one_line_error(proc, 2)
    assert "--ref-frame 5 has no effect when every --ref is pinned to a frame" in line
    assert "drop --ref-frame, or add an unpinned --ref" in line
    assert listing(small_cut["sketch_video"].parent) == ["cut.json", "gt", *_INPUTS]


@pytest.mark.parametrize(
    "args",
    [
        ["--ref", "3:{ref}", "--ref-frame", "auto"],  # the default, written out
        ["--ref", "{ref}", "--ref", "3:{ref}", "--ref-frame", "5"],  # the unpinned one keys 5
        ["--ref", "3:{ref}"],
    ],
)
def test_a_ref_frame_that_is_used_passes_with_pinned_refs(
    small_cut: dict[str, Path], args: list[str]
) -> None:
    ref = small_cut["reference"]
    proc = run_cli(small_cut["sketch_video"], *(a.format(ref=ref) for a in args), "--dry-run")
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- bad inputs


def _bad_input(kind: str, folder: Path, cut: dict[str, Path]) -> tuple[Path, Path, str]:
    """(input, reference, a regex the error must match) for one kind of bad input."""
    ref = cut["reference"]
    if kind == "missing input":
        return folder / "nope.mp4", ref, r"(?=.*nope\.mp4)(?=.*(not found|no such))"
    if kind == "missing reference":
        return cut["sketch_video"], folder / "nokey.png", r"nokey\.png"
    if kind == "random bytes mp4":
        p = folder / "noise.mp4"
        p.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
        return p, ref, r"noise\.mp4"
    if kind == "text file":
        p = folder / "notes.txt"
        p.write_text("not a video\n")
        return p, ref, r"notes\.txt"
    if kind == "text named mp4":
        p = folder / "notes.mp4"
        p.write_text("not a video\n" * 100)
        return p, ref, r"notes\.mp4"
    if kind == "audio only":
        return make_audio_only(folder / "sound.mkv"), ref, r"sound\.mkv.*no video stream"
    if kind == "zero frames":
        return make_zero_frame_video(folder / "empty.mkv"), ref, r"empty\.mkv"
    if kind == "empty reference":
        p = folder / "empty.png"
        p.write_bytes(b"")
        return cut["sketch_video"], p, r"empty\.png.*empty"
    if kind == "text reference":
        p = folder / "key.png"
        p.write_text("a colour key, honest\n")
        return cut["sketch_video"], p, r"key\.png"
    if kind == "tiny reference":  # the line names the file, not just "the reference"
        p = folder / "tiny.png"
        write_image(p, np.array([[[200, 40, 40], [40, 40, 200]]] * 2, np.uint8))
        return (
            cut["sketch_video"],
            p,
            r"tiny\.png is too small \(2x2; at least 8 pixels on each side\)",
        )
    if kind == "sketch reference":
        return cut["sketch_video"], cut["sketch_dir"] / "frame_0000.png", r"no colour|line art"
    if kind == "oversized reference":
        return cut["sketch_video"], write_oversized_png(folder / "big.png"), r"big\.png.*2\^30"
    if kind == "oversized frame":
        d = folder / "frames"
        d.mkdir()
        write_oversized_png(d / "frame_0000.png")
        return d, ref, r"frame_0000\.png.*2\^30"
    if kind == "pipe input":  # a named pipe nothing writes to: opened, it would block
        os.mkfifo(folder / "stream.mp4")
        return folder / "stream.mp4", ref, r"stream\.mp4.*pipe"
    if kind == "pipe reference":
        os.mkfifo(folder / "key.png")
        return cut["sketch_video"], folder / "key.png", r"key\.png.*pipe"
    if kind == "folder reference":
        return cut["sketch_video"], cut["sketch_dir"], r"sketch"
    if kind == "empty folder":
        d = folder / "frames"
        d.mkdir()
        (d / "notes.txt").write_text("no frames here\n")
        return d, ref, r"frames.*no images"
    if kind == "mixed sizes":
        d = folder / "mixed"
        d.mkdir()
        for p in sorted(cut["sketch_dir"].glob("*.png"))[:3]:
            (d / p.name).write_bytes(p.read_bytes())
        write_image(d / "frame_0003.png", np.full((50, 60, 3), 255, np.uint8))
        return d, ref, r"frame_0003\.png.*60x50"
    raise AssertionError(kind)


BAD_INPUTS = [
    "missing input",
    "missing reference",
    "random bytes mp4",
    "text file",
    "text named mp4",
    "audio only",
    "zero frames",
    "empty reference",
    "text reference",
    "tiny reference",
    "sketch reference",
    "folder reference",
    "pipe input",
    "pipe reference",
    "oversized reference",
    "oversized frame",
    "empty folder",
    "mixed sizes",
]


@pytest.mark.parametrize(
    ("kind", "explicit_output"),
    [(k, False) for k in BAD_INPUTS]
    + [(k, True) for k in ("missing input", "text named mp4", "sketch reference", "mixed sizes")],
)
def test_bad_input_one_line_error_and_nothing_written(
    small_cut: dict[str, Path], tmp_path: Path, kind: str, explicit_output: bool
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src, ref, pattern = _bad_input(kind, work, small_cut)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    watched = [work, small_cut["sketch_video"].parent, out_dir]
    before = {w: snapshot(w) for w in watched}
    before_names = {w: listing(w) for w in watched}
    args = ["-o", out_dir / "x.mp4"] if explicit_output else []
    proc = run_cli(src, "--ref", ref, *args, "-q")
    line = assert_one_line_error(proc, 1)
    assert re.search(pattern, line, re.IGNORECASE), line
    for w in watched:  # no output, no temp, input and reference untouched
        assert listing(w) == before_names[w], w
        assert snapshot(w) == before[w], w


@pytest.mark.parametrize("kind", ["missing input", "text reference", "sketch reference"])
def test_bad_input_without_quiet_prints_only_the_error(
    small_cut: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    # No empty progress bar above the error when the run fails before its first frame.
    src, ref, pattern = _bad_input(kind, tmp_path, small_cut)
    line = assert_one_line_error(run_cli(src, "--ref", ref), 1)
    assert re.search(pattern, line, re.IGNORECASE), line


def test_a_name_the_system_refuses_is_a_one_line_error(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    long_name = out / ("a" * 300 + ".mp4")  # past the 255 bytes of a file name
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", long_name)
    line = assert_one_line_error(proc, 1)
    assert "File name too long" in line
    assert listing(out) == []


def test_output_folder_missing(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "no" / "such" / "x.mp4"
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", dst, "-q")
    line = assert_one_line_error(proc, 1)
    assert "does not exist" in line
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("name", ["shot.mp4/", "still.png/"])
def test_a_folder_output_spelled_with_a_files_suffix_is_refused(
    small_cut: dict[str, Path], tmp_path: Path, name: str
) -> None:
    """``-o shot.mp4/`` asks for a folder (trailing /) but became the file shot.mp4 once
    argparse made it a path: refused, by the command and by the API, writing nothing."""
    out = tmp_path / "out"
    out.mkdir()
    dst = f"{out}/{name}"
    proc = run_cli(small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", dst, "-q")
    line = assert_one_line_error(proc, 2)
    assert "trailing / asks for a folder" in line
    with pytest.raises(OutputError, match="trailing / asks for a folder"):
        colorize_video(small_cut["sketch_video"], small_cut["reference"], dst)
    assert listing(out) == []


@pytest.mark.parametrize("spelling", ["same", "dotted"])
def test_output_equal_to_input(small_cut: dict[str, Path], spelling: str) -> None:
    src = small_cut["sketch_video"]
    dst = src if spelling == "same" else src.parent / "." / "sketch.mp4"
    before = snapshot(src.parent)
    proc = run_cli(src, "--ref", small_cut["reference"], "-o", dst, "--overwrite", "-q")
    line = assert_one_line_error(proc, 1)
    assert "input" in line
    assert snapshot(src.parent) == before


def test_output_equal_to_reference(small_cut: dict[str, Path]) -> None:
    src = small_cut["sketch_dir"] / "frame_0001.png"
    ref = small_cut["reference"]
    before = snapshot(ref.parent)
    proc = run_cli(src, "--ref", ref, "-o", ref, "--overwrite", "-q")
    line = assert_one_line_error(proc, 1)
    assert "reference" in line
    assert snapshot(ref.parent) == before


def test_a_folder_output_holding_the_reference_is_refused(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    # A finished run replaces a PNG-frame folder whole: with --overwrite the reference
    # kept there would be lost.
    folder = tmp_path / "shot"
    folder.mkdir()
    ref = folder / "ref.png"
    ref.write_bytes(small_cut["reference"].read_bytes())
    before = snapshot(folder)
    proc = run_cli(small_cut["sketch_dir"], "--ref", ref, "-o", f"{folder}/", "--overwrite", "-q")
    line = assert_one_line_error(proc, 1)
    assert "reference" in line and "inside this output folder" in line
    assert snapshot(folder) == before


def test_a_frame_folder_holding_its_reference_leaves_it_out(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    shot = tmp_path / "shot"
    shot.mkdir()
    for name in listing(small_cut["sketch_dir"]):
        (shot / name).write_bytes((small_cut["sketch_dir"] / name).read_bytes())
    (shot / "ref.png").write_bytes(small_cut["reference"].read_bytes())
    before = snapshot(shot)
    out = tmp_path / "out"
    proc = run_cli(shot, "--ref", shot / "ref.png", "-o", f"{out}/", "-q")
    assert proc.returncode == 0, proc.stderr
    assert listing(out) == listing(small_cut["sketch_dir"])  # N frames, no ref.png
    assert snapshot(shot) == before
    dry = run_cli(shot, "--ref", shot / "ref.png", "-o", tmp_path / "o.mp4", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["source"]["frames"] == N


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_codec_for_png_frames_is_a_clear_error(
    small_cut: dict[str, Path], tmp_path: Path, dry_run: bool
) -> None:
    out = tmp_path / "frames"
    extra = ["--dry-run"] if dry_run else []
    proc = run_cli(
        small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", f"{out}/",
        "--codec", "ffv1", "-q", *extra,
    )  # fmt: skip
    line = assert_one_line_error(proc, 1)
    assert "--codec ffv1 applies to video outputs" in line
    assert not out.exists()


def test_crf_follows_the_codec_the_extension_picks(
    small_cut: dict[str, Path], tmp_path: Path
) -> None:
    # VP9's scale runs to 63, H.264's to 51: with no --codec the extension decides.
    args = [small_cut["sketch_video"], "--ref", small_cut["reference"], "--crf", "55", "-q"]
    proc = run_cli(*args, "-o", tmp_path / "a.webm")
    assert proc.returncode == 0, proc.stderr
    assert count_decodable(tmp_path / "a.webm") == N
    proc = run_cli(*args, "-o", tmp_path / "b.mp4")
    line = assert_one_line_error(proc, 1)
    assert "0..51 for H.264" in line
    assert not (tmp_path / "b.mp4").exists()


def test_existing_output_needs_overwrite(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "x.mp4"
    dst.write_bytes(b"precious")
    src, ref = small_cut["sketch_video"], small_cut["reference"]
    before = snapshot(tmp_path)
    proc = run_cli(src, "--ref", ref, "-o", dst, "-q")
    line = assert_one_line_error(proc, 1)
    assert "exists" in line
    assert snapshot(tmp_path) == before  # untouched, and no temp beside it
    proc = run_cli(src, "--ref", ref, "-o", dst, "--overwrite", "-q")
    assert proc.returncode == 0, proc.stderr
    assert dst.read_bytes() != b"precious"
    assert probe(dst)["n"] == N
    assert listing(tmp_path) == ["cut", "x.mp4"]


def test_existing_default_output_needs_overwrite(small_cut: dict[str, Path]) -> None:
    src, ref = small_cut["sketch_video"], small_cut["reference"]
    dst = src.with_name("sketch_color.mp4")
    dst.write_bytes(b"an earlier take")
    before = snapshot(src.parent)
    proc = run_cli(src, "--ref", ref, "--lines", "fill", "-q")
    line = assert_one_line_error(proc, 1)
    assert "sketch_color.mp4" in line and "exists" in line
    assert snapshot(src.parent) == before


def test_ref_frame_past_the_end(small_cut: dict[str, Path], tmp_path: Path) -> None:
    spill = tmp_path / "tmp"
    spill.mkdir()
    dst = tmp_path / "out" / "x.mp4"
    dst.parent.mkdir()
    proc = run_cli(
        small_cut["sketch_video"],
        "--ref",
        small_cut["reference"],
        "-o",
        dst,
        "--ref-frame",
        str(N + 5),
        "-q",
        env={"TMPDIR": str(spill)},
    )
    line = assert_one_line_error(proc, 1)
    assert f"{N + 5}" in line and "past the end" in line
    assert listing(dst.parent) == []
    assert listing(spill) == []  # frames held for the keyframe are cleaned up


def test_ref_frame_exactly_at_the_end(small_cut: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "x.mp4"
    ref = small_cut["reference"]
    proc = run_cli(small_cut["sketch_video"], "--ref", ref, "-o", dst, "--ref-frame", N, "-q")
    line = assert_one_line_error(proc, 1)
    assert "past the end" in line
    assert listing(tmp_path) == ["cut"]


# --------------------------------------------------------------------------- damaged video


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 48-frame cut as mkv and faststart mp4, their truncated halves, and the reference."""
    folder = tmp_path_factory.mktemp("long")
    spec = CutSpec(width=160, height=96, num_frames=48, seed=2)
    frames, ref = [], None
    for f in iter_cut(spec, flow=False):
        frames.append(f.sketch)
        if ref is None:
            ref = f.colour
    write_image(folder / "reference.png", ref)
    out = {"reference": folder / "reference.png"}
    for ext, faststart in ((".mkv", False), (".mp4", True)):
        full = make_clip(folder / f"full{ext}", frames, faststart=faststart)
        out[ext] = truncate_half(full, folder / f"cut{ext}")
    return out


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_truncated_video_fails_with_a_count(
    long_clips: dict[str, Path], tmp_path: Path, ext: str
) -> None:
    src = tmp_path / f"cut{ext}"
    src.write_bytes(long_clips[ext].read_bytes())
    good = count_decodable(src)
    assert 0 < good < 48
    proc = run_cli(src, "--ref", long_clips["reference"], "-q")
    line = assert_one_line_error(proc, 1)
    assert re.search(rf"decoded {good} of (about )?48 frames", line), line
    assert listing(tmp_path) == [f"cut{ext}"]


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_truncated_video_allowed_keeps_every_good_frame(
    long_clips: dict[str, Path], tmp_path: Path, ext: str
) -> None:
    src = tmp_path / f"cut{ext}"
    src.write_bytes(long_clips[ext].read_bytes())
    good = count_decodable(src)
    dst = tmp_path / "out.mp4"
    proc = run_cli(
        src, "--ref", long_clips["reference"], "-o", dst, "--allow-truncated", "-q",
        "--preset", "ultrafast",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln]
    assert len(warnings) == 1 and f"decoded {good} of" in warnings[0], proc.stderr
    assert probe(dst)["n"] == good
    assert proc.stdout.strip() == str(dst)


def test_a_cut_that_leaves_its_keyframes_view_is_warned_of_once(tmp_path: Path) -> None:
    """Frames 12 on show another drawing: one warning names them and the frame to key."""
    frames, key = write_two_view_cut(tmp_path)
    out = tmp_path / "out"
    proc = run_cli(frames, "--ref", key, "-o", f"{out}/", "-q")
    assert proc.returncode == 0, proc.stderr
    said = [ln for ln in proc.stderr.splitlines() if "no longer show" in ln]
    assert len(said) == 1 and "frames 12 to 20" in said[0] and "--ref 16:key.png" in said[0]
    assert len(list(out.glob("*.png"))) == 24


# --------------------------------------------------------------------------- --report


def test_report_records_a_run_that_coloured_its_cut(tmp_path: Path) -> None:
    """What a farm reads back: status, output and its sha256, the warned frames and the
    keys wanted, warnings as printed, settings; a rerun replaces the record."""
    from celcolor.engine.batch_manifest import output_digest

    frames, key = write_two_view_cut(tmp_path)
    out, report = tmp_path / "out.mkv", tmp_path / "run.json"
    proc = run_cli(frames, "--ref", key, "-o", out, "--codec", "ffv1", "--report", report,
                   "--keys-wanted", tmp_path / "keys", "-q")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = json.loads(report.read_text())
    assert (r["status"], r["exit_code"], r["error"]) == ("done", 0, None)
    assert r["kind"] == "celcolor run" and r["frames"] == 24 and r["output"] == str(out)
    assert r["output_sha256"] == output_digest(out)["output_sha256"]
    assert r["unseen"] == [[12, 20]] and [w["frame"] for w in r["wanted"]] == [16]
    assert r["warnings"] and all(w in proc.stderr for w in r["warnings"])
    assert r["settings"]["colour"]["lines"] == "auto" and r["settings"]["encode"]["codec"] == "ffv1"
    assert r["references"] == [str(key)] and isinstance(r["key_frame"], int)

    assert r["waited_on_disk"] == r["blended"] == 0  # nothing waits for a later key here

    again = run_cli(frames, "--ref", key, "-o", out, "--overwrite", "--report", report, "-q",
                    "--ref-frame", "5", "--wait-memory", "0")  # fmt: skip
    assert again.returncode == 0, again.stderr
    r = json.loads(report.read_text())
    assert r["settings"]["encode"]["codec"] is None
    # Frames 0 to 4 waited for the keyframe, their sketches and then their outputs.
    assert r["settings"]["colour"]["wait_memory"] == 0 and r["waited_on_disk"] == 10

    # Two keys, 23 frames apart: the 22 frames between are coloured both ways, unless
    # the blend window is narrower than that.
    for window, blended in (("480", 22), ("16", 0)):
        two = run_cli(frames, "--ref", f"0:{key}", "--ref", f"23:{key}", "-o", out, "-q",
                      "--overwrite", "--report", report, "--blend-window", window)  # fmt: skip
        assert two.returncode == 0, two.stderr
        assert json.loads(report.read_text())["blended"] == blended


def test_report_records_a_failed_run(small_cut: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(small_cut["reference"].read_bytes()[:300])
    report = tmp_path / "run.json"
    proc = run_cli(small_cut["sketch_video"], "--ref", bad, "-o", tmp_path / "o.mp4",
                   "--report", report)  # fmt: skip
    line = assert_one_line_error(proc, 1)
    r = json.loads(report.read_text())
    assert (r["status"], r["exit_code"]) == ("failed", 1)
    assert r["error"] == line.removeprefix("colorize-video: ")
    assert "output" not in r and not (tmp_path / "o.mp4").exists()


def _unwritable(*args, **kwargs):
    raise OSError(30, "Read-only file system")


def test_a_report_folder_that_cannot_be_written_is_refused_before_the_run(
    small_cut: dict[str, Path], tmp_path: Path, monkeypatch, capsys
) -> None:
    from celcolor import cli
    from celcolor.io import _atomic

    monkeypatch.setattr(_atomic.tempfile, "NamedTemporaryFile", _unwritable)
    out = tmp_path / "o.mp4"
    code = cli.main(
        [str(small_cut["sketch_video"]), "--ref", str(small_cut["reference"]),
         "-o", str(out), "--report", str(tmp_path / "r.json"), "-q"]
    )  # fmt: skip
    assert code == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "cannot write in" in err[0] and "Read-only" in err[0]
    assert not out.exists()


def test_a_report_that_fails_to_write_is_one_line_and_keeps_the_runs_own_error(
    small_cut: dict[str, Path], tmp_path: Path, monkeypatch, capsys, caplog
) -> None:
    from celcolor import cli
    from celcolor.engine import run_report

    monkeypatch.setattr(run_report, "write_json_atomic", _unwritable)
    out, report = tmp_path / "o.mp4", tmp_path / "r.json"
    args = ["--ref", str(small_cut["reference"]), "--report", str(report), "-q"]
    code = cli.main([str(small_cut["sketch_video"]), *args, "-o", str(out)])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 1 and len(err) == 1, err
    assert "cannot write the run record" in err[0] and f"the output {out} was written" in err[0]
    assert count_decodable(out) == N
    # A run that fails reports its own error; the record's failure is a warning beside it.
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    code = cli.main([str(text), *args, "-o", str(tmp_path / "p.mp4")])
    err = capsys.readouterr().err
    assert code == 1
    assert "not a readable video" in err.splitlines()[-1] and "internal error" not in err
    assert "cannot write the run record" in caplog.text


@pytest.mark.parametrize("where", ["the input", "in the input", "a reference", "not a record"])
def test_report_path_that_would_harm_a_file_is_refused_before_the_run(
    small_cut: dict[str, Path], tmp_path: Path, where: str
) -> None:
    src, ref = small_cut["sketch_video"], small_cut["reference"]
    report = {
        "the input": src,
        "in the input": small_cut["sketch_dir"] / "run.json",
        "a reference": ref,
        "not a record": tmp_path / "notes.json",
    }[where]
    if where == "in the input":
        src = small_cut["sketch_dir"]
    if where == "not a record":
        report.write_text('{"mine": true}')
    before = snapshot(tmp_path)  # the cut is in it too
    proc = run_cli(src, "--ref", ref, "-o", tmp_path / "o.mp4", "--report", report)
    assert_one_line_error(proc, 2)
    assert "--report" in proc.stderr
    assert snapshot(tmp_path) == before


def test_a_reader_that_stops_reading_ends_the_command_quietly(small_cut: dict[str, Path]) -> None:
    """`colorize-video --dry-run | head -1`: the pipe closes before the command prints;
    it ends as a command killed by SIGPIPE does (141), with no error line."""
    proc = subprocess.Popen(
        [*cli_command(), str(small_cut["sketch_video"]), "--ref", str(small_cut["reference"]),
         "--dry-run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # before the command has loaded: its print meets a closed pipe
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err
    assert err.decode().strip() == ""


@pytest.mark.parametrize(
    "flag, file, said",
    [
        ("--checkpoint", "matcher.safetensors", "weights of the matcher model, not exemplar"),
        ("--temporal-checkpoint", "exemplar.safetensors", "of the exemplar model, not temporal"),
        ("--matcher-checkpoint", "temporal.safetensors", "of the temporal model, not matcher"),
    ],
)
def test_celcolor_weights_of_another_model_are_a_usage_error(
    small_cut: dict[str, Path], tmp_path: Path, flag: str, file: str, said: str
) -> None:
    """Refused before the run, also where this run would not load them (the copy colours
    this cut): a swapped file is not silently ignored."""
    weights = Path(celcolor.models.__file__).parent / "weights" / file
    out = tmp_path / "out.mp4"
    args = [small_cut["sketch_video"], "--ref", small_cut["reference"], "-o", out]
    line = assert_one_line_error(run_cli(*args, flag, weights), 2)
    assert said in line and not out.exists()
    line = assert_one_line_error(run_cli(*args, flag, small_cut["reference"]), 2)
    assert "not a safetensors checkpoint; give" in line
