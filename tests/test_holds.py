"""Held drawings (animation on twos and threes): shown as the frame they repeat."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
from conftest import load_frames, run_cli

from celcolor import ColorizeOptions, Colorizer
from celcolor.data.synthetic import CUT_PRESETS, CutSpec, SyntheticCut, generate_cut
from celcolor.engine import holds
from celcolor.io import write_image, write_video
from celcolor.lineart import extract_ink
from celcolor.metrics import psnr
from celcolor.temporal.flow import pixel_grid


@pytest.fixture(scope="module")
def cut() -> SyntheticCut:
    return generate_cut(CutSpec(width=320, height=180, num_frames=8, seed=3))


def _jpeg(image: np.ndarray, quality: int = 60) -> np.ndarray:
    """``image`` through a lossy codec: a copy of a drawing as a video holds it."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def on_twos(cut: SyntheticCut) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The cut's drawings each shown twice, the second copy through JPEG, and the truth."""
    sketches, truth = [], []
    for sketch, colour in zip(cut.sketch[:4], cut.colour[:4], strict=True):
        sketches += [sketch, _jpeg(sketch)]
        truth += [colour, colour]
    return sketches, truth


def _ink(sketch: np.ndarray) -> np.ndarray:
    return extract_ink(sketch).ink_u8


def _still(shape: tuple[int, int]) -> np.ndarray:
    return pixel_grid(*shape).copy()


def test_a_compressed_copy_of_a_drawing_is_the_same_drawing(cut: SyntheticCut) -> None:
    ink = _ink(cut.sketch[0])
    copy = _ink(_jpeg(cut.sketch[0]))
    assert not np.array_equal(ink, copy)  # the codec did change it
    assert holds.same_drawing(ink, copy, _still(ink.shape), 1.0)


def test_the_next_drawing_is_not_the_same(cut: SyntheticCut) -> None:
    ink, nxt = _ink(cut.sketch[0]), _ink(cut.sketch[1])
    assert holds.new_line_share(ink, nxt) > holds.NEW_LINE_SHARE
    assert not holds.same_drawing(ink, nxt, _still(ink.shape), 1.0)


def test_a_small_change_in_one_place_is_not_a_hold(cut: SyntheticCut) -> None:
    """A blink: a short stroke drawn in one spot, the rest of the drawing as it was."""
    sketch = cut.sketch[0]
    blink = sketch.copy()
    cv2.line(blink, (150, 90), (162, 90), (0, 0, 0), 2)
    ink = _ink(sketch)
    assert not holds.same_drawing(ink, _ink(blink), _still(ink.shape), 1.0)


def test_one_part_moved_by_a_pixel_is_not_a_hold(cut: SyntheticCut) -> None:
    """A head turning a little: its lines stay within a pixel of where they were, so no
    line is new, but much of the ink there changed."""
    sketch = cut.sketch[0]
    ink = _ink(sketch)
    ys, xs = np.nonzero(ink[20:-20, 20:-20] >= holds.LINE)
    y, x = ys[len(ys) // 2] + 20, xs[len(xs) // 2] + 20  # a spot on a line
    turned = sketch.copy()
    turned[y - 12 : y + 12, x - 12 : x + 12] = sketch[y - 11 : y + 13, x - 11 : x + 13]
    moved = _ink(turned)
    assert holds.new_line_share(ink, moved) <= holds.NEW_LINE_SHARE
    assert holds.ink_change(ink, moved) > holds.INK_CHANGE
    assert not holds.same_drawing(ink, moved, _still(ink.shape), 1.0)
    assert holds.ink_change(ink, _ink(_jpeg(sketch))) <= holds.INK_CHANGE


def test_a_drawing_that_moves_without_new_lines_is_not_a_hold(cut: SyntheticCut) -> None:
    """Half a pixel a frame: the lines stay within a pixel of the last ones, and the
    flow shows the move."""
    ink = _ink(cut.sketch[0])
    moved = _still(ink.shape)
    moved[..., 0] += 0.5
    assert holds.new_line_share(ink, ink) == 0.0
    assert not holds.same_drawing(ink, ink, moved, 1.0)
    assert holds.line_motion(ink, moved, 0.5) == pytest.approx(0.25)


def test_no_lines_at_all_is_a_hold() -> None:
    blank = np.zeros((90, 160), np.uint8)
    assert holds.same_drawing(blank, blank, _still(blank.shape), 1.0)


def _colour(sketches, reference, **options) -> tuple[np.ndarray, Colorizer]:
    col = Colorizer(reference, ColorizeOptions(**options))
    return np.stack(list(col.colorize(sketches))), col


@pytest.mark.parametrize("temporal", ["classical", "network"])
def test_held_frames_are_shown_as_the_frame_they_hold(cut: SyntheticCut, temporal: str) -> None:
    sketches, truth = on_twos(cut)
    out, col = _colour(sketches, cut.colour[0], temporal=temporal)
    assert col.stats.held == [1, 3, 5, 7]
    assert col.stats.frames == len(sketches)
    for k in (1, 3, 5, 7):
        assert np.array_equal(out[k], out[k - 1]), k
    assert not np.array_equal(out[2], out[1])  # the next drawing is coloured afresh
    off, col_off = _colour(sketches, cut.colour[0], temporal=temporal, hold_drawings=False)
    assert col_off.stats.held == []
    # Coloured afresh, a copy of a drawing comes out otherwise (what holding mends) ...
    assert any(not np.array_equal(off[k], off[k - 1]) for k in (1, 3, 5, 7))
    # ... and holding costs no accuracy.
    on_psnr = np.mean([psnr(o, t).mean for o, t in zip(out[1:], truth[1:], strict=True)])
    off_psnr = np.mean([psnr(o, t).mean for o, t in zip(off[1:], truth[1:], strict=True)])
    assert on_psnr >= off_psnr - 0.2


def test_a_key_pinned_to_a_held_frame_still_keys_it(cut: SyntheticCut) -> None:
    """Frame 3 holds frame 2's drawing, but a reference is pinned to it: it is coloured
    from that reference, and frame 4 (another drawing) goes on from it."""
    sketches, _ = on_twos(cut)
    recoloured = np.ascontiguousarray(cut.colour[1][..., ::-1])  # another paint job
    col = Colorizer(cut.colour[0], ColorizeOptions(blend_window=0), pinned={3: recoloured})
    out = np.stack(list(col.colorize(sketches)))
    assert 3 not in col.stats.held and 5 in col.stats.held
    assert not np.array_equal(out[3], out[2])
    assert psnr(out[3], recoloured).mean > psnr(out[2], recoloured).mean + 3


def test_a_key_pinned_before_a_late_keyframe_still_keys_a_held_frame(cut: SyntheticCut) -> None:
    """On the way back to a late keyframe (frame 3), frame 2 holds frame 3's drawing,
    but a reference is pinned to it: it is coloured from that reference."""
    sketches, _ = on_twos(cut)  # frames 2 and 3: drawing 1
    recoloured = np.ascontiguousarray(cut.colour[1][..., ::-1])
    col = Colorizer(cut.colour[1], ColorizeOptions(ref_frame=3), pinned={2: recoloured})
    out = np.stack(list(col.colorize(sketches)))
    assert 2 not in col.stats.held and 0 in col.stats.held  # 0 holds frame 1's drawing
    assert psnr(out[2], recoloured).mean > psnr(out[3], recoloured).mean + 3


def test_holds_inside_a_blended_segment_and_before_a_late_keyframe(cut: SyntheticCut) -> None:
    """Frames coloured forward and backward between two keys, and frames before a late
    keyframe (coloured on the way back from it): a frame holding a drawing is shown as
    the frame it holds, exactly, whichever pass coloured it."""
    sketches, truth = on_twos(cut)  # drawing k on frames 2k and 2k + 1
    # The key is frame 2 (drawing 1), a second key is pinned to frame 7 (drawing 3).
    col = Colorizer(cut.colour[1], ColorizeOptions(ref_frame=2), pinned={7: cut.colour[3]})
    out = np.stack(list(col.colorize(sketches)))
    assert len(out) == len(sketches)
    for k in range(len(out)):
        assert psnr(out[k], truth[k]).mean > 20, k
    # 0: before the key, it holds frame 1's drawing; 3: the key's drawing, in the
    # blended segment; 5: held inside the segment; 6: the second key's drawing, shown
    # as that keyframe (frames 3 to 5 blended).
    assert col.stats.held == [0, 3, 5] and col.stats.blended == 3
    for a, b in ((0, 1), (3, 2), (5, 4), (6, 7)):
        assert np.array_equal(out[a], out[b]), a
    assert not np.array_equal(out[4], out[3])
    assert not np.array_equal(out[6], out[5])


def test_one_drawing_from_key_to_key_stays_the_first_keys(cut: SyntheticCut) -> None:
    """A still drawing between two keys that paint it differently: every frame between
    holds both keys' drawing and is shown as the first key, as on the way forward (not
    switched to the second key's paint before it comes)."""
    sketches = [cut.sketch[0]] + [_jpeg(cut.sketch[0]) for _ in range(5)]
    second = np.ascontiguousarray(cut.colour[0][..., ::-1])
    col = Colorizer(None, pinned={0: cut.colour[0], 5: second})
    out = list(col.colorize(sketches))
    for k in range(1, 5):
        assert np.array_equal(out[k], out[0]), k
    assert not np.array_equal(out[5], out[4])


def test_alpha_cels_hold_with_their_matte(cut: SyntheticCut) -> None:
    sketches, _ = on_twos(cut)
    cel = np.dstack([cut.colour[0], np.full(cut.colour[0].shape[:2], 255, np.uint8)])
    cel[:40, :60, 3] = 0  # a transparent corner
    out, col = _colour(sketches, cel, alpha=True, temporal="classical")
    assert out.shape[-1] == 4 and col.stats.held == [1, 3, 5, 7]
    for k in (1, 3, 5, 7):
        assert np.array_equal(out[k], out[k - 1]), k
    assert (out[1][..., 3] == 0).any()


def test_the_command_holds_a_video_on_twos_and_reports_it(cut: SyntheticCut, tmp_path) -> None:
    """A line-art video on twos through H.264: the copies of each drawing come out as
    that drawing's frame, the run's record lists them, and ``--holds off`` colours
    every frame afresh."""
    sketches, _ = on_twos(cut)
    clip = tmp_path / "twos.mp4"
    write_video(clip, sketches, fps=24)
    ref = tmp_path / "key.png"
    write_image(ref, cut.colour[0])
    runs = {}
    for holding in ("on", "off"):
        out, report = tmp_path / f"out_{holding}", tmp_path / f"{holding}.json"
        done = run_cli(clip, "--ref", ref, "-o", f"{out}/", "--holds", holding, "--report", report)
        assert done.returncode == 0, done.stderr
        runs[holding] = (load_frames(out), json.loads(report.read_text())["held"])
    frames, held = runs["on"]
    assert held == [1, 3, 5, 7]
    assert all(np.array_equal(frames[k], frames[k - 1]) for k in held)
    assert runs["off"][1] == []


def test_a_drawing_that_creeps_is_never_held(cut: SyntheticCut) -> None:
    """One drawing moved by 0.4 pixel a frame (a slow pan over a held cel): each frame
    is its own, though no line is new; the engine's flow sees the move."""
    sketch = cut.sketch[0]
    h, w = sketch.shape[:2]
    creeping = [
        cv2.warpAffine(
            sketch,
            np.float32([[1, 0, 0.4 * k], [0, 1, 0]]),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        for k in range(6)
    ]
    _, col = _colour(creeping, cut.colour[0], temporal="classical")
    assert col.stats.held == []
    still, col = _colour([sketch] * 6, cut.colour[0], temporal="classical")
    assert col.stats.held == [1, 2, 3, 4, 5]
    assert all(np.array_equal(f, still[0]) for f in still[1:])


def test_a_generated_cut_drawn_on_ones_holds_nothing() -> None:
    spec = dataclasses.replace(CUT_PRESETS["slow"], width=320, height=180, num_frames=8)
    slow = generate_cut(spec)
    _, col = _colour(list(slow.sketch), slow.colour[0], temporal="classical")
    assert col.stats.held == []


def test_a_batch_records_the_held_frames_per_cut(cut: SyntheticCut, tmp_path) -> None:
    """The manifest and the report keep them, and a resumed run reads them back."""
    from celcolor.engine import EncodeOptions
    from celcolor.engine.batch import BatchOptions, run_batch
    from celcolor.engine.batch_manifest import MANIFEST_NAME
    from celcolor.engine.executors import ExecutorConfig

    sketches, _ = on_twos(cut)
    folder = tmp_path / "cuts" / "twos"
    folder.mkdir(parents=True)
    for i, sketch in enumerate(sketches):
        write_image(folder / f"frame_{i:04d}.png", sketch)
    write_image(folder / "reference.png", cut.colour[0])
    out = tmp_path / "out"
    opts = BatchOptions(
        tmp_path / "cuts",
        out,
        run=ExecutorConfig(workers=0),
        encode=EncodeOptions(preset="ultrafast"),
    )
    (done,) = run_batch(opts).outcomes
    assert (done.status, done.held) == ("done", [1, 3, 5, 7])
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert next(iter(manifest["cuts"].values()))["held"] == [1, 3, 5, 7]
    (again,) = run_batch(opts).outcomes
    assert (again.status, again.held) == ("skipped", [1, 3, 5, 7])


# -- held parts: one part of the drawing holds while another moves ----------------------


@pytest.fixture(scope="module")
def half_moved() -> tuple[SyntheticCut, np.ndarray]:
    """A cut at 640x360 (cells of 8 pixels) and its first drawing with the right half
    taken from the second: the left half holds, the right half moves."""
    big = generate_cut(CutSpec(width=640, height=360, num_frames=2, seed=3))
    mixed = big.sketch[0].copy()
    mixed[:, 320:] = big.sketch[1][:, 320:]
    return big, mixed


def _lines_in(ink: np.ndarray, columns: slice) -> np.ndarray:
    mask = np.zeros(ink.shape, bool)
    mask[:, columns] = ink[:, columns] >= holds.LINE
    return mask


def test_the_part_that_holds_is_held_and_the_part_that_moves_is_not(half_moved) -> None:
    big, mixed = half_moved
    ink, now = _ink(big.sketch[0]), _ink(mixed)
    weight = holds.held_parts(ink, now, _still(ink.shape), 1.0)
    assert weight is not None
    left, right = _lines_in(ink, slice(0, 250)), _lines_in(ink, slice(400, None))
    assert left.sum() > 200 and right.sum() > 200  # both halves have lines
    assert weight[left].mean() > 0.9
    assert weight[right].mean() < 0.3


def test_a_drawing_that_moves_everywhere_has_no_held_part(cut: SyntheticCut) -> None:
    """Shifted by 3 pixels, with the flow that says so: every line cell moves."""
    sketch = cut.sketch[0]
    h, w = sketch.shape[:2]
    shifted = cv2.warpAffine(sketch, np.float32([[1, 0, 3], [0, 1, 0]]), (w, h))
    sample = _still((h, w))
    sample[..., 0] -= 3
    assert holds.held_parts(_ink(sketch), _ink(shifted), sample, 1.0) is None


def test_a_part_that_creeps_is_not_held(half_moved) -> None:
    """The left half moved by 0.4 pixel (a slow move no line test sees), the flow
    saying so: it keeps its motion."""
    big, _ = half_moved
    sketch = big.sketch[0]
    h, w = sketch.shape[:2]
    crept = cv2.warpAffine(
        sketch, np.float32([[1, 0, 0.4], [0, 1, 0]]), (w, h), flags=cv2.INTER_LINEAR
    )
    sample = _still((h, w))
    sample[..., 0] -= 0.4
    ink = _ink(sketch)
    weight = holds.held_parts(ink, _ink(crept), sample, 1.0)
    assert weight is None or weight[_lines_in(ink, slice(None))].max() < 0.5


def test_damping_scales_the_motion_by_what_holds() -> None:
    grid = _still((6, 8))
    sample = grid + np.float32([2.0, -1.0])
    assert holds.damp_held_parts(sample, None) is sample
    np.testing.assert_allclose(holds.damp_held_parts(sample, np.ones((6, 8), np.float32)), grid)
    np.testing.assert_allclose(holds.damp_held_parts(sample, np.zeros((6, 8), np.float32)), sample)
    half = holds.damp_held_parts(sample, np.full((6, 8), 0.5, np.float32))
    np.testing.assert_allclose(half - grid, np.broadcast_to([1.0, -0.5], (6, 8, 2)), atol=1e-5)


def test_the_engine_drops_the_flow_noise_of_a_held_part_unless_holds_are_off(
    half_moved,
) -> None:
    """Through a light codec the flow over the held half is small noise; the engine's
    motion there is none, and the moving half keeps its motion either way."""
    big, mixed = half_moved
    mixed = _jpeg(mixed, quality=95)
    shares = {}
    for on in (True, False):
        col = Colorizer(big.colour[0], ColorizeOptions(hold_drawings=on))
        first, second = col.analyse(big.sketch[0]), col.analyse(mixed)
        sample, _ = col.motion(first, second, (360, 640))
        moved = np.abs(sample - _still((360, 640))).max(2)
        ink = first.art.ink_u8
        shares[on] = (moved[_lines_in(ink, slice(0, 250))] < 1e-3).mean()
        assert (moved[_lines_in(ink, slice(400, None))] > 0.5).mean() > 0.95
    assert shares[True] > 0.6
    assert shares[True] > shares[False] + 0.2
