"""The colouring engine through its Python API, scored against synthetic ground truth."""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from celcolor import (
    CelcolorError,
    ColorizeOptions,
    Colorizer,
    InputError,
    UsageError,
    colorize_video,
)
from celcolor.data.synthetic import CutSpec, SyntheticCut, generate_cut, iter_cut, write_cut
from celcolor.io import Frame, open_frames, write_image
from celcolor.metrics import psnr, region_accuracy

SPEC = CutSpec(width=320, height=180, num_frames=16, seed=0)


@pytest.fixture(scope="module")
def cut() -> SyntheticCut:
    return generate_cut(SPEC)


_runs: dict[tuple, np.ndarray] = {}


def coloured(cut: SyntheticCut, ref: np.ndarray | None = None, **options) -> np.ndarray:
    """The cut coloured with ``options`` (cached per module: several tests score one run)."""
    key = (cut.spec, None if ref is None else ref.tobytes(), tuple(sorted(options.items())))
    if key not in _runs:
        reference = cut.colour[0] if ref is None else ref
        col = Colorizer(reference, ColorizeOptions(**options))
        _runs[key] = np.stack(list(col.colorize(cut.sketch)))
    return _runs[key]


def _pure(img: np.ndarray, channel: int) -> np.ndarray:
    """Pixels of a strong, saturated primary (trace-line ink), not a dim or pastel fill."""
    a = img.astype(np.int16)
    main = a[..., channel]
    others = np.delete(a, channel, axis=-1).max(-1)
    return (main >= 180) & (others <= 110) & (main - others >= 100)


def red_lines(img: np.ndarray) -> np.ndarray:
    """Saturated red pixels (shadow trace lines are drawn about (237, 43, 43))."""
    return _pure(img, 0)


def blue_lines(img: np.ndarray) -> np.ndarray:
    """Saturated blue pixels (highlight trace lines)."""
    return _pure(img, 2)


# --------------------------------------------------------------------------- API shape


def test_colorizer_one_output_per_input_in_order(cut: SyntheticCut) -> None:
    out = list(Colorizer(cut.colour[0]).colorize(iter(list(cut.sketch))))
    assert len(out) == len(cut)
    for img in out:
        assert isinstance(img, np.ndarray)
        assert img.shape == (SPEC.height, SPEC.width, 3) and img.dtype == np.uint8
    # In order: each output is closest to its own frame's truth (the shapes move).
    for i, img in enumerate(out):
        errors = [np.abs(img.astype(int) - t.astype(int)).mean() for t in cut.colour]
        assert int(np.argmin(errors)) == i


def test_colorizer_streams_lazily(cut: SyntheticCut) -> None:
    consumed = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal consumed
        for s in cut.sketch:
            consumed += 1
            yield s

    it = Colorizer(cut.colour[0]).colorize(frames())
    next(it)
    assert consumed <= 2  # the first output does not wait for the whole cut
    next(it)
    assert consumed <= 3
    assert sum(1 for _ in it) == len(cut) - 2


def test_colorize_video_api(tmp_path: Path) -> None:
    spec = CutSpec(width=160, height=96, num_frames=8, seed=3)
    paths = write_cut(spec, tmp_path / "cut", video=True)
    dst = tmp_path / "out.mkv"
    calls: list[tuple[int, int | None]] = []
    result = colorize_video(
        paths["sketch_video"],
        paths["reference"],
        dst,
        options=ColorizeOptions(),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert result.output == dst and result.frames == 8 and result.fps > 0
    assert calls == [(i, 8) for i in range(1, 9)]
    with open_frames(dst) as s:
        frames = [f.image for f in s]
    assert len(frames) == 8
    assert all(f.shape == (96, 160, 3) and f.dtype == np.uint8 for f in frames)
    with pytest.raises(UsageError):  # options and option fields together are ambiguous
        colorize_video(
            paths["sketch_video"], paths["reference"], options=ColorizeOptions(), lines="fill"
        )
    # An array reference and option fields work the same way.
    ref = cv2.cvtColor(cv2.imread(str(paths["reference"])), cv2.COLOR_BGR2RGB)
    result = colorize_video(paths["sketch_dir"], ref, tmp_path / "png", lines="fill")
    assert result.frames == 8
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        f"frame_{i:04d}.png" for i in range(8)
    ]


# --------------------------------------------------------------------------- quality


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_quality_against_ground_truth(seed: int) -> None:
    c = generate_cut(CutSpec(width=320, height=180, num_frames=16, seed=seed))
    out = coloured(c, lines="auto")
    acc = region_accuracy(out, c.colour, c.regions, lines=c.lines)
    assert acc.pixel >= 0.95
    assert float(psnr(out, c.colour)) >= 28.0
    # No frame collapses, the last included (errors must not pile up over the cut).
    last = region_accuracy(out[-1], c.colour[-1], c.regions[-1], lines=c.lines[-1])
    assert last.pixel >= 0.95


def test_per_frame_is_worse_than_classical(cut: SyntheticCut) -> None:
    classical = coloured(cut, lines="auto")
    per_frame = coloured(cut, lines="auto", temporal="per-frame")
    assert per_frame.shape == classical.shape
    acc_c = region_accuracy(classical, cut.colour, cut.regions, lines=cut.lines)
    acc_p = region_accuracy(per_frame, cut.colour, cut.regions, lines=cut.lines)
    assert acc_c.pixel - acc_p.pixel >= 0.005
    assert acc_c.region > acc_p.region
    assert float(psnr(classical, cut.colour)) - float(psnr(per_frame, cut.colour)) >= 1.0


def test_keyframe_matches_its_colour_key(cut: SyntheticCut) -> None:
    out = coloured(cut, lines="auto")
    away = ~cut.lines[0]
    diff = np.abs(out[0].astype(int) - cut.colour[0].astype(int)).max(-1)
    assert (diff[away] <= 10).mean() >= 0.99


# --------------------------------------------------------------------------- line modes


def _dominant(img: np.ndarray, channel: int, margin: int = 60) -> np.ndarray:
    """Pixels where one channel clearly leads: visibly red (0) or blue (2)."""
    a = img.astype(np.int16)
    return (a[..., channel] - np.delete(a, channel, axis=-1).max(-1)) >= margin


def test_lines_keep_keeps_trace_colours(cut: SyntheticCut) -> None:
    out = coloured(cut, lines="keep")
    red, blue = red_lines(cut.sketch), blue_lines(cut.sketch)
    assert red.sum() > 100 and blue.sum() > 20  # the cut has both kinds of trace line
    assert _dominant(out, 0)[red].mean() >= 0.98
    assert _dominant(out, 2)[blue].mean() >= 0.98
    # The line cores (fully inked) stay the pure trace colour, not a tint of the fill.
    core = cut.ink >= 200
    assert red_lines(out)[red & core].mean() >= 0.95
    assert blue_lines(out)[blue & core].mean() >= 0.95


def test_lines_auto_paints_trace_lines_and_keeps_black(cut: SyntheticCut) -> None:
    out = coloured(cut, lines="auto")
    stray = (red_lines(out) & ~red_lines(cut.colour)) | (blue_lines(out) & ~blue_lines(cut.colour))
    assert stray.sum() == 0
    # Trace-line pixels take the colour of a region next to them.
    trace = red_lines(cut.sketch) | blue_lines(cut.sketch)
    palette = cut.region_colours.astype(int)
    px = out[trace].astype(int)
    nearest = np.abs(px[:, None, :] - palette[None, :, :]).max(-1).min(1)
    assert (nearest <= 10).mean() >= 0.9
    # Black outlines stay black.
    black = cut.sketch.max(-1) < 40
    assert (out[black].max(-1) < 60).mean() >= 0.95


def test_the_faint_edge_of_a_line_is_composited_too() -> None:
    # A line's anti-aliased edge fades below the extractor's noise floor; the output
    # keeps that fade (paint * lightness) instead of a hard edge of bare paint.
    paint = (200, 120, 60)
    sketch = np.full((80, 120, 3), 255, np.uint8)
    colour = np.full((80, 120, 3), paint, np.uint8)
    for img in (sketch, colour):
        cv2.line(img, (10 * 16, 5 * 16), (110 * 16, 75 * 16), (0, 0, 0), 3, cv2.LINE_AA, 4)
    out = next(iter(Colorizer(colour, ColorizeOptions(lines="auto")).colorize([sketch])))
    lightness = sketch.min(-1).astype(float)
    faint = (lightness >= 225) & (lightness <= 250)  # 2-12% dark: below the noise floor
    assert faint.sum() >= 20
    expected = np.array(paint)[None] * lightness[faint, None] / 255.0
    assert np.abs(out[faint] - expected).max() <= 2
    assert (out[faint].astype(int).sum(-1) < sum(paint) - 3).all()  # not bare paint


def test_lines_fill_leaves_no_black_lines(cut: SyntheticCut) -> None:
    out = coloured(cut, lines="fill")
    assert (cut.region_colours.max(-1) >= 60).all()  # no region is black
    dark = out.max(-1) < 60
    assert dark.sum() == 0
    assert (red_lines(out) | blue_lines(out)).sum() == 0
    # Line pixels carry region colours.
    palette = cut.region_colours.astype(int)
    px = out[cut.lines].astype(int)
    nearest = np.abs(px[:, None, :] - palette[None, :, :]).max(-1).min(1)
    assert (nearest <= 10).mean() >= 0.95


# --------------------------------------------------------------------------- ref_frame


@pytest.mark.parametrize("n", [5, 15])
def test_ref_frame_colours_frame_n_from_the_reference(cut: SyntheticCut, n: int) -> None:
    out = coloured(cut, ref=cut.colour[n], ref_frame=n, lines="auto")
    assert len(out) == len(cut)
    key = region_accuracy(out[n], cut.colour[n], cut.regions[n], lines=cut.lines[n])
    assert key.pixel >= 0.99
    # Frames before the key are coloured backwards from it, in order.
    acc = region_accuracy(out, cut.colour, cut.regions, lines=cut.lines)
    assert acc.pixel >= 0.95
    first = region_accuracy(out[0], cut.colour[0], cut.regions[0], lines=cut.lines[0])
    assert first.pixel >= 0.95


def test_ref_frame_past_the_end_raises(cut: SyntheticCut) -> None:
    col = Colorizer(cut.colour[0], ColorizeOptions(ref_frame=len(cut) + 3))
    with pytest.raises(InputError, match="past the end"):
        list(col.colorize(cut.sketch))


# --------------------------------------------------------------------------- bad inputs


def test_line_art_reference_raises(cut: SyntheticCut) -> None:
    with pytest.raises(InputError, match="line art"):
        Colorizer(cut.sketch[0])


def test_line_art_reference_raises_in_colorize_video(tmp_path: Path, cut: SyntheticCut) -> None:
    src = tmp_path / "cut"
    src.mkdir()
    for i in range(3):
        write_image(src / f"f{i}.png", cut.sketch[i])
    with pytest.raises(InputError, match="line art"):
        colorize_video(src, cut.sketch[0], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut"]


def test_reference_of_another_drawing_warns_and_colours(
    cut: SyntheticCut, caplog: pytest.LogCaptureFixture
) -> None:
    # The copy (forced here) transfers colours by position: the user is warned.
    other = generate_cut(CutSpec(width=320, height=180, num_frames=1, seed=9)).colour[0]
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        out = list(Colorizer(other, ColorizeOptions(keyframe_mode="copy")).colorize(cut.sketch[:6]))
    assert len(out) == 6 and all(o.shape == cut.sketch[0].shape for o in out)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    other = [m for m in warnings if "not the coloured version" in m]
    assert len(other) == 1, warnings  # said once per cut, not once per frame
    # Still coloured: not the black-on-white sketch.
    assert (out[0].max(-1).astype(int) - out[0].min(-1)).mean() > 20


def test_own_colour_key_does_not_warn(cut: SyntheticCut, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        list(Colorizer(cut.colour[0]).colorize(cut.sketch[:3]))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_cut_with_no_line_art_is_warned_of(
    cut: SyntheticCut, caplog: pytest.LogCaptureFixture
) -> None:
    """A slate, a blank export or the wrong file: every frame one paint, said once."""
    blank = [np.full_like(cut.sketch[0], 255)] * 4
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        out = list(Colorizer(cut.colour[0]).colorize(blank))
    assert len(out) == 4
    said = [r for r in caplog.records if "no frame of the cut has any line art" in r.getMessage()]
    assert len(said) == 1


def test_a_reference_of_greys_only_is_warned_of(
    cut: SyntheticCut, caplog: pytest.LogCaptureFixture
) -> None:
    """Not refused (a value key may be meant), but the cut comes out grey: said once."""
    grey = cv2.cvtColor(cv2.cvtColor(cut.colour[0], cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        out = list(Colorizer(grey).colorize(cut.sketch[:3]))
    assert len(out) == 3
    said = [r for r in caplog.records if "no colour, only greys" in r.getMessage()]
    assert len(said) == 1


def test_a_cel_reference_of_greys_only_is_warned_of(
    cut: SyntheticCut, caplog: pytest.LogCaptureFixture
) -> None:
    """With --alpha only the cel's painted pixels count, not the colour its empty area
    stores (nor the key colour the engine paints there)."""
    grey = cv2.cvtColor(cv2.cvtColor(cut.colour[0], cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    cel = np.dstack([grey, np.full(grey.shape[:2], 255, np.uint8)])
    cel[:20, :, :3], cel[:20, :, 3] = (255, 0, 255), 0  # an empty band, magenta stored
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        Colorizer(cel, ColorizeOptions(alpha=True))
    assert [r for r in caplog.records if "no colour, only greys" in r.getMessage()]


def test_frames_changing_size_mid_cut_raise(cut: SyntheticCut) -> None:
    frames = [cut.sketch[0], cut.sketch[1], cv2.resize(cut.sketch[2], (160, 90)), cut.sketch[3]]
    it = Colorizer(cut.colour[0]).colorize(frames)
    assert next(it).shape == (180, 320, 3)
    assert next(it).shape == (180, 320, 3)
    with pytest.raises(InputError, match="size changed"):
        next(it)


def test_frame_of_another_size_before_the_keyframe_raises(cut: SyntheticCut) -> None:
    frames = [cv2.resize(cut.sketch[0], (160, 90)), cut.sketch[1], cut.sketch[2], cut.sketch[3]]
    col = Colorizer(cut.colour[2], ColorizeOptions(ref_frame=2))
    with pytest.raises(InputError, match="size"):
        list(col.colorize(frames))


def test_empty_cut_raises(cut: SyntheticCut) -> None:
    with pytest.raises(InputError, match="no frames"):
        list(Colorizer(cut.colour[0]).colorize([]))


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((180, 320), np.uint8),
        np.zeros((180, 320, 3), np.float32),
        np.zeros((4, 4, 3), np.uint8),
    ],
    ids=["grey", "float", "tiny"],
)
def test_malformed_reference_raises(bad: np.ndarray) -> None:
    with pytest.raises(InputError):
        Colorizer(bad)


def test_flow_weights_that_are_not_a_checkpoint_raise_input_error(
    cut: SyntheticCut, tmp_path: Path
) -> None:
    bogus = tmp_path / "raft.pth"
    bogus.write_text("hello\n")
    with pytest.raises(CelcolorError):
        Colorizer(cut.colour[0], ColorizeOptions(flow="raft", flow_weights=str(bogus)))


def test_flow_weights_with_dis_flow_warn_that_they_are_unused(
    cut: SyntheticCut, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # DIS never reads them: the run goes on, but not silently.
    weights = str(tmp_path / "raft_large.pth")
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        Colorizer(cut.colour[0], ColorizeOptions(flow="dis", flow_weights=weights))
    assert "--flow-weights has no effect on this run" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        Colorizer(cut.colour[0], ColorizeOptions(flow="dis"))
    assert "--flow-weights" not in caplog.text


def test_device_cuda_on_a_run_without_a_network_warns_and_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = CutSpec(width=96, height=64, num_frames=3, seed=2)
    paths = write_cut(spec, tmp_path / "cut", video=False)
    classical = {"temporal": "classical", "keyframe_mode": "copy", "ref_frame": 0}
    for device, warned in (("cuda", True), ("cpu", False)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="celcolor"):
            result = colorize_video(
                paths["sketch_dir"],
                paths["reference"],
                tmp_path / f"out_{device}/",
                options=ColorizeOptions(device=device, **classical),
            )
        assert result.frames == 3
        assert ("--device cuda had no effect on this run" in caplog.text) is warned


# --------------------------------------------------------------------------- memory


LONG = CutSpec(width=160, height=96, num_frames=200, seed=5)
FRAME_BYTES = LONG.width * LONG.height * 3


@pytest.fixture(scope="module")
def long_stream() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sketches and colours of a 200-frame 160x96 cut (rendered outside any measurement)."""
    frames = list(iter_cut(LONG, flow=False))
    return [f.sketch for f in frames], [f.colour for f in frames]


def _fresh(frames: list[np.ndarray]) -> Iterator[np.ndarray]:
    """A generator of new frame buffers, as a decoder hands them out."""
    for s in frames:
        yield s.copy()


def test_memory_stays_flat_over_a_long_stream(long_stream) -> None:
    sketches, colours = long_stream
    col = Colorizer(colours[0])
    at: dict[int, int] = {}
    n = 0
    tracemalloc.start()
    try:
        for i, out in enumerate(col.colorize(_fresh(sketches))):
            assert out.shape == (LONG.height, LONG.width, 3)
            n += 1
            if i == 10:
                at[i] = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()  # the keyframe's one-off work is behind us
        at[n] = tracemalloc.get_traced_memory()[0]
        steady_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == LONG.num_frames
    total = LONG.num_frames * FRAME_BYTES
    assert at[n] - at[10] < 5 * FRAME_BYTES  # 190 more frames left nothing behind
    assert steady_peak < 0.5 * total  # well under holding the cut (about 0.3 measured)


def _held_at_first_output(sketches, colours, key: int, memory: int = 0) -> tuple[int, int]:
    """Traced bytes alive when the first frame comes out, with the keyframe at ``key``
    and ``memory`` MiB for the frames waiting for it."""
    col = Colorizer(colours[key], ColorizeOptions(ref_frame=key, wait_memory=memory))
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        it = col.colorize(_fresh(sketches))
        first = next(it)  # everything up to the keyframe has happened by now
        held = tracemalloc.get_traced_memory()[0] - start
        n = 1 + sum(1 for _ in it)
    finally:
        tracemalloc.stop()
    assert first.shape == (LONG.height, LONG.width, 3)
    return held, n


@pytest.mark.parametrize("memory", [0, 1])
def test_memory_with_a_late_ref_frame_spills_held_frames(long_stream, memory: int) -> None:
    """The frames before a late keyframe wait in ``wait_memory`` MiB, the rest on disk:
    140 more of them (6.4 MB here) raise the memory held by that budget at most."""
    sketches, colours = long_stream
    # Warm up: first-call imports and cached grids are one-off, not held frames.
    list(Colorizer(colours[3], ColorizeOptions(ref_frame=3)).colorize(_fresh(sketches[:6])))
    early, n_early = _held_at_first_output(sketches, colours, 10, memory)
    late, n_late = _held_at_first_output(sketches, colours, 150, memory)
    assert n_early == n_late == LONG.num_frames
    budget = memory << 20
    assert 4 * budget < 140 * FRAME_BYTES  # most of them do not fit
    assert late - early < budget + 5 * FRAME_BYTES
    if memory:
        assert late - early > budget / 2  # what fits is held in memory
    assert late < budget + 40 * FRAME_BYTES  # and the working set itself is a few frames


def _alive_frames() -> int:
    """Decoded :class:`celcolor.io.Frame` objects still holding their image."""
    return sum(1 for o in gc.get_objects() if type(o) is Frame and o.image is not None)


def _frames_alive_at_first_output(tmp_path: Path, ref_frame: int) -> int:
    spec = CutSpec(width=160, height=96, num_frames=40, seed=5)
    paths = write_cut(spec, tmp_path / f"cut{ref_frame}", video=True)
    ref = next(f for f in iter_cut(spec, flow=False) if f.index == ref_frame).colour
    alive: list[int] = []

    def progress(done: int, total: int | None) -> None:
        if done == 1:
            alive.append(_alive_frames())

    result = colorize_video(
        paths["sketch_video"], ref, tmp_path / f"out{ref_frame}.mp4", ref_frame=ref_frame,
        progress=progress,
    )  # fmt: skip
    assert result.frames == 40
    return alive[0]


def test_colorize_video_holds_few_frames(tmp_path: Path) -> None:
    assert _frames_alive_at_first_output(tmp_path, 0) <= 16  # bounded queues only


def test_colorize_video_with_late_ref_frame_holds_few_frames(tmp_path: Path) -> None:
    assert _frames_alive_at_first_output(tmp_path, 30) <= 16


@pytest.mark.parametrize("size", [(8, 8), (2, 2)])
def test_frames_too_small_to_draw_on_are_one_clear_error(cut: SyntheticCut, size) -> None:
    # The flow needs 12 pixels on a side; such frames used to fail inside OpenCV.
    frames = [np.full((*size, 3), 255, np.uint8) for _ in range(3)]
    with pytest.raises(InputError, match="too small to colour"):
        list(Colorizer(cut.colour[0]).colorize(frames))


def test_a_huge_reference_is_shrunk_on_loading(tmp_path: Path, monkeypatch, caplog) -> None:
    from celcolor.engine import pipeline

    monkeypatch.setattr(pipeline, "MAX_REFERENCE_PIXELS", 64 * 48)
    ref = np.zeros((96, 128, 3), np.uint8)
    ref[:, 64:] = (200, 40, 40)
    path = tmp_path / "big.png"
    write_image(path, ref)
    with caplog.at_level(logging.INFO, logger="celcolor"):
        small = pipeline.load_reference(path)
    assert small.shape[0] * small.shape[1] <= 64 * 48 and small.shape[1] / small.shape[0] == 4 / 3
    assert "shrunk to 64x48" in caplog.text
    assert (small[:, -1] == (200, 40, 40)).all()  # the colours survive
    assert pipeline.fit_reference(small) is small  # within the limit: untouched


@pytest.mark.parametrize("rgb", [(0, 0, 0), (255, 255, 255), (200, 40, 40)])
def test_a_reference_of_one_flat_colour_is_refused(rgb) -> None:
    from celcolor.engine.reference_checks import check_reference

    with pytest.raises(InputError, match="one flat colour"):
        check_reference(np.full((90, 160, 3), rgb, np.uint8))
    night = np.full((1024, 1024, 3), 8, np.uint8)
    night[500:510, 500:510] = (250, 200, 60)  # a small lit window in a dark frame
    check_reference(night)  # is colour, though little of it


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"blend_window": "a"}, "blend_window must be a whole number"),
        ({"blend_window": 2.5}, "blend_window must be a whole number"),
        ({"blend_fade": 1.5}, "blend_fade must be a whole number"),
        ({"wait_memory": 0.5}, "wait_memory must be a whole number"),
        ({"line_threshold": float("nan")}, "line_threshold must be a number"),
        ({"rekey_threshold": True}, "rekey_threshold must be a number"),
    ],
)
def test_options_refuse_what_is_not_a_number(fields, message) -> None:
    with pytest.raises(UsageError, match=message):
        ColorizeOptions(**fields)
    assert ColorizeOptions(blend_window=4.0).blend_window == 4  # a whole float is taken


@pytest.mark.parametrize("field", ["blend_window", "blend_fade", "wait_memory"])
def test_blend_settings_refuse_a_negative_count(field: str) -> None:
    with pytest.raises(UsageError, match=f"--{field.replace('_', '-')} must be 0 or more"):
        ColorizeOptions(**{field: -1})


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"colour": "red"}, "unknown option 'colour'"),
        ({"options": ColorizeOptions(), "lines": "fill"}, "not both"),
        ({"options": {"lines": "fill"}}, "must be a ColorizeOptions"),
    ],
)
def test_colorize_video_names_a_misused_option(tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(UsageError, match=message):
        colorize_video(tmp_path / "cut.mp4", tmp_path / "key.png", tmp_path / "out.mp4", **kwargs)


def test_colorize_video_names_arguments_of_the_wrong_kind(tmp_path: Path) -> None:
    src = tmp_path / "cut.png"
    src.write_bytes(b"")  # exists: the checks below come before any decoding
    key = tmp_path / "key.png"
    cases = [
        ((None, key), {}, "src must be a path, got NoneType"),
        ((src, key, 5), {}, "dst must be a path, got int"),
        ((src, key), {"encode": {"crf": 16}}, "encode must be an EncodeOptions, got dict"),
        ((src, None), {}, "a reference is a path or an H,W,3 uint8 RGB array, got NoneType"),
        ((src, [("48", key)]), {}, "a pinned reference is \\(frame number, reference\\)"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(UsageError, match=message):
            colorize_video(*args, **kwargs)


def test_a_reference_pinned_past_the_end_is_named_and_a_negative_frame_refused(
    cut: SyntheticCut, caplog
) -> None:
    pinned = {0: cut.colour[0], 99: cut.colour[1]}
    with caplog.at_level(logging.WARNING):
        out = list(Colorizer(None, pinned=pinned).colorize(list(cut.sketch[:4])))
    assert len(out) == 4
    assert "the reference of frame 99 was not used: the cut has 4 frames" in caplog.text
    with pytest.raises(UsageError, match="pinned frames must be 0 or more"):
        Colorizer(None, pinned={-1: cut.colour[0]})
