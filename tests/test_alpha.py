"""Cels on transparent (--alpha): the reference's empty area comes out transparent."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import run_cli, snapshot, write_two_view_cut

from celcolor.data.synthetic import CutSpec, write_cut
from celcolor.engine import ColorizeOptions, Colorizer, colorize_video
from celcolor.engine.batch import BatchOptions, plan_batch
from celcolor.engine.matte import background_made_empty, key_colour, matte, on_key
from celcolor.errors import InputError, UsageError
from celcolor.io import open_writer, read_image


def _cel_cut(tmp_path: Path, frames: int = 10) -> tuple[dict, Path, np.ndarray, list[np.ndarray]]:
    """A generated cut whose reference is a cel: its background colour made transparent.
    Returns the cut's paths, the cel, the background colour and the truth frames."""
    paths = write_cut(
        CutSpec(width=240, height=144, num_frames=frames, seed=3),
        tmp_path / "cut",
        video=True,
        overwrite=True,
    )
    rgba, background = background_made_empty(read_image(paths["reference"]))
    cel = tmp_path / "cel.png"
    cv2.imwrite(str(cel), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    truth = [read_image(p) for p in sorted(paths["gt_dir"].iterdir())]
    return paths, cel, background, truth


def _read_rgba(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)


@pytest.mark.parametrize("keyframe", ["first", "late", "two"])
def test_the_empty_area_of_a_cel_stays_empty_and_its_outline_stays(
    tmp_path: Path, keyframe: str
) -> None:
    """Per frame the transparent pixels are the truth's background (lines aside), in every
    way frames are coloured: forward, backward from a late keyframe, blended between
    two."""
    paths, cel, background, truth = _cel_cut(tmp_path)
    ref: object = cel
    opts = ColorizeOptions(alpha=True)
    if keyframe == "late":
        opts = ColorizeOptions(alpha=True, ref_frame=5)
        ref = tmp_path / "cel5.png"
        # frame 5's own colours as the cel: the truth with its background made empty
        t5 = truth[5]
        a5 = np.where((t5 == background).all(-1), 0, 255).astype(np.uint8)
        cv2.imwrite(str(ref), cv2.cvtColor(np.dstack([t5, a5]), cv2.COLOR_RGBA2BGRA))
    elif keyframe == "two":
        ref = [(0, str(cel)), (9, str(cel))]
    out = tmp_path / "out"
    colorize_video(paths["sketch_video"], ref, f"{out}/", options=opts)
    frames = [_read_rgba(p) for p in sorted(out.iterdir())]
    assert len(frames) == len(truth) and all(f.shape[2] == 4 for f in frames)
    for got, want in zip(frames, truth, strict=True):
        lines = (want.max(-1) <= 96).astype(np.uint8)  # the truth's lines are dark
        paint = cv2.dilate(lines, np.ones((5, 5), np.uint8)) == 0  # away from them
        empty = (want == background).all(-1)
        agree = ((got[..., 3] == 0) == empty)[paint].mean()
        assert agree > 0.97, agree
        assert (got[..., 3][paint & ~empty] == 255).mean() > 0.97
    # The outline over the empty area: drawn, dark, with its ink as alpha.
    last = frames[-1]
    partial = (last[..., 3] > 0) & (last[..., 3] < 255)
    assert partial.sum() > 50
    assert last[..., :3][last[..., 3] > 128].min(-1).mean() < 200  # no key colour shows


@pytest.mark.parametrize("suffix", [".mov", ".mkv", ".webm"])
def test_each_container_with_alpha_keeps_it(tmp_path: Path, suffix: str) -> None:
    paths, cel, _, _ = _cel_cut(tmp_path, frames=4)
    out = tmp_path / f"out{suffix}"
    colorize_video(paths["sketch_video"], cel, out, options=ColorizeOptions(alpha=True))
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        if suffix == ".webm":  # FFmpeg's own VP9 decoder leaves the alpha side data out
            assert stream.metadata.get("alpha_mode") == "1"
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            frame = next(f for p in c.demux(stream) for f in decoder.decode(p))
        else:
            frame = next(c.decode(stream))
        rgba = frame.to_ndarray(format="rgba")
    share = (rgba[..., 3] < 16).mean()
    assert 0.5 < share < 0.95, share


def test_alpha_is_refused_where_it_cannot_be_kept(tmp_path: Path) -> None:
    paths, cel, _, _ = _cel_cut(tmp_path, frames=3)
    before = snapshot(tmp_path)
    mp4 = run_cli(paths["sketch_video"], "--ref", cel, "--alpha", "-o", tmp_path / "o.mp4")
    assert mp4.returncode == 1 and mp4.stderr.count("\n") == 1, mp4.stderr
    assert "H.264 cannot keep transparency" in mp4.stderr
    opaque = run_cli(paths["sketch_video"], "--ref", paths["reference"], "--alpha", "--dry-run")
    assert opaque.returncode == 1 and "no transparent area" in opaque.stderr
    assert snapshot(tmp_path) == before
    with pytest.raises(UsageError, match=r"H\.264 cannot keep transparency"):
        (tmp_path / "cuts").mkdir()
        plan_batch(
            BatchOptions(
                tmp_path / "cuts", tmp_path / "b", colour=ColorizeOptions(alpha=True), format="mp4"
            )
        )
    default = run_cli(paths["sketch_video"], "--ref", cel, "--alpha", "--dry-run")
    assert default.returncode == 0 and '"output": ' in default.stdout
    assert str(paths["sketch_video"].with_name("sketch_color.mov")) in default.stdout


def test_the_key_colour_keeps_clear_of_the_paint() -> None:
    magenta = np.zeros((8, 8, 4), np.uint8)
    magenta[..., :3] = (250, 5, 250)  # near the first candidate
    magenta[..., 3] = 255
    magenta[:2, :, 3] = 0  # the empty part does not count as paint
    key = key_colour([magenta])
    assert key != (255, 0, 255)
    assert np.array_equal(on_key(magenta, key)[0, 0], key)
    assert np.array_equal(on_key(magenta, key)[5, 5], (250, 5, 250))
    with pytest.raises(InputError, match="no transparent area"):
        Colorizer(magenta[..., :3].copy(), ColorizeOptions(alpha=True))


def test_a_line_over_the_empty_area_keeps_its_colour_and_ink_as_alpha() -> None:
    empty = np.full((1, 3), 255, np.uint8)
    ink = np.array([[0, 255, 255]], np.uint8)
    lightness = np.array([[255, 0, 127]], np.uint8)  # none, full and half ink
    sketch = np.array([[[255, 255, 255], [40, 0, 0], [147, 127, 127]]], np.uint8)
    m = matte(empty, ink, sketch, lightness)
    assert m.alpha.tolist() == [[0, 255, 128]]
    rgba = m.apply(np.full((1, 3, 3), 200, np.uint8))
    assert rgba[0, 1, :3].tolist() == [40, 0, 0]  # a full line: its own colour
    assert abs(int(rgba[0, 2, 0]) - 40) <= 2 and rgba[0, 2, 1] <= 2  # half: unblended


def test_an_alpha_writer_takes_rgba_only(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="RGBA"),
        open_writer(tmp_path / "o/", width=8, height=8, alpha=True) as w,
    ):
        w.write(np.zeros((8, 8, 3), np.uint8))
    assert not (tmp_path / "o").exists()


def test_the_drafts_of_a_cel_run_are_cels_too(tmp_path: Path) -> None:
    """Keys wanted from an --alpha run are drafted with their transparency, so the
    animator paints a cel, which keys the next run as one."""
    frames, key = write_two_view_cut(tmp_path)
    ref = read_image(key)
    alpha = np.where((ref == 200).all(-1), 0, 255).astype(np.uint8)
    cel = tmp_path / "cel.png"
    cv2.imwrite(str(cel), cv2.cvtColor(np.dstack([ref, alpha]), cv2.COLOR_RGBA2BGRA))
    keys = tmp_path / "keys"
    result = colorize_video(
        frames, cel, tmp_path / "out.mov", options=ColorizeOptions(alpha=True), keys_wanted=keys
    )
    assert [w.frame for w in result.wanted] == [16]
    draft = _read_rgba(keys / "frame_0016_draft.png")
    assert draft.shape[2] == 4 and 0.2 < (draft[..., 3] == 0).mean() < 0.95
    assert (keys / "frame_0016_sketch.png").is_file()


def test_a_transparent_area_too_small_to_carry_is_said_and_frames_stay_opaque(caplog) -> None:
    ref = np.zeros((128, 128, 4), np.uint8)
    ref[..., 0] = np.arange(128)[None] * 2  # a colour key of many paints
    ref[..., 1] = 120
    ref[..., 3] = 255
    ref[0, 0, 3] = 0  # one empty pixel
    sketch = np.full((128, 128, 3), 255, np.uint8)
    sketch[64] = 0
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        out = list(Colorizer(ref, ColorizeOptions(alpha=True)).colorize([sketch, sketch]))
    assert "too small to colour as a paint of its own" in caplog.text
    assert all(f.shape == (128, 128, 4) and (f[..., 3] == 255).all() for f in out)
