"""Tests of the synthetic cut generator: determinism, exact flow, stable regions, files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from celcolor.data.synthetic import (
    CUT_PRESETS,
    CutSpec,
    SyntheticCut,
    generate_cut,
    iter_cut,
    occlusion_mask,
    region_names,
    render_frame,
    suite,
    write_cut,
)
from celcolor.errors import OutputError

SMALL = CutSpec(width=320, height=180, num_frames=6, seed=11, motion=2.0)


def _sample(img: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``img[x + flow(x)]`` with nearest sampling, and where that lies inside the image."""
    H, W = flow.shape[:2]
    x = np.rint(np.arange(W)[None, :] + flow[..., 0]).astype(np.int64)
    y = np.rint(np.arange(H)[:, None] + flow[..., 1]).astype(np.int64)
    inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
    return img[np.clip(y, 0, H - 1), np.clip(x, 0, W - 1)], inside


def _near_lines(cut: SyntheticCut, t: int, radius: int = 1) -> np.ndarray:
    k = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(cut.ink[t], k) > 0


def _red(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., c].astype(int) for c in range(3))
    return (r > 180) & (g < 90) & (b < 90)


def _blue(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., c].astype(int) for c in range(3))
    return (b > 180) & (r < 90) & (g < 120)


@pytest.fixture(scope="module")
def cut() -> SyntheticCut:
    return generate_cut(dataclasses.replace(SMALL, motion=3.0, camera_pan=1.5, num_props=1))


@pytest.fixture(scope="module")
def dirty_cut() -> SyntheticCut:
    return generate_cut(dataclasses.replace(SMALL, faults=True, motion=3.0))


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_arrays() -> None:
    spec = dataclasses.replace(SMALL, num_frames=3, faults=True)
    a, b = generate_cut(spec), generate_cut(spec)
    for name in ("colour", "sketch", "regions", "ink", "owners", "flow_fwd", "flow_bwd"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    c = generate_cut(dataclasses.replace(spec, seed=spec.seed + 1))
    assert not np.array_equal(a.colour, c.colour)
    assert not np.array_equal(a.sketch, c.sketch)


def test_streaming_matches_stacked_and_random_access(cut: SyntheticCut) -> None:
    frames = list(iter_cut(cut.spec))
    assert [f.index for f in frames] == list(range(cut.spec.num_frames))
    assert frames[0].flow_bwd is None and frames[-1].flow_fwd is None
    for f in frames:
        assert np.array_equal(f.sketch, cut.sketch[f.index])
        assert np.array_equal(f.regions, cut.regions[f.index])
    lone = render_frame(cut.spec, 3)
    assert np.array_equal(lone.colour, cut.colour[3])
    assert lone.flow_fwd is not None and np.array_equal(lone.flow_fwd, cut.flow_fwd[3])
    assert lone.flow_bwd is not None and np.array_equal(lone.flow_bwd, cut.flow_bwd[2])
    assert render_frame(cut.spec, 2, flow=False).flow_fwd is None


def test_types_and_shapes(cut: SyntheticCut) -> None:
    T, H, W = cut.spec.num_frames, cut.spec.height, cut.spec.width
    assert cut.colour.shape == (T, H, W, 3) and cut.colour.dtype == np.uint8
    assert cut.sketch.shape == (T, H, W, 3) and cut.sketch.dtype == np.uint8
    assert cut.regions.shape == (T, H, W) and cut.regions.dtype == np.int32
    assert cut.lines.dtype == bool and np.array_equal(cut.lines, cut.ink >= 128)
    assert cut.flow_fwd is not None and cut.flow_fwd.shape == (T - 1, H, W, 2)
    assert cut.flow_fwd.dtype == np.float32
    assert cut.regions.min() == 0 and cut.regions.max() < len(cut.region_colours)
    assert len(cut.region_names) == len(cut.region_colours)


# --------------------------------------------------------------------------- exact flow


@pytest.mark.parametrize("which", ["cut", "dirty_cut"])
def test_backward_flow_warps_colour_and_regions_exactly(which: str, request) -> None:
    cut: SyntheticCut = request.getfixturevalue(which)
    assert cut.flow_fwd is not None and cut.flow_bwd is not None
    checked = 0
    for t in range(len(cut) - 1):
        bwd = cut.flow_bwd[t]  # frame t+1 -> t, on frame t+1's pixels
        visible = ~occlusion_mask(bwd, cut.owners[t + 1], cut.owners[t])
        near_source, _ = _sample(_near_lines(cut, t), bwd)  # off lines in both frames
        valid = visible & ~_near_lines(cut, t + 1) & ~near_source
        # only pixels whose colour changed: where a zero flow would be wrong
        changed = valid & (cut.colour[t] != cut.colour[t + 1]).any(axis=-1)
        warped, inside = _sample(cut.colour[t], bwd)
        same = (warped == cut.colour[t + 1]).all(axis=-1)
        assert inside[valid].all()
        assert same[valid].mean() >= 0.99
        assert changed.sum() > 150 and same[changed].mean() >= 0.99
        regions, _ = _sample(cut.regions[t], bwd)
        assert (regions == cut.regions[t + 1])[valid].mean() >= 0.99
        checked += int(changed.sum())
    assert checked > 1000


def test_forward_and_backward_flows_agree_off_occlusions(cut: SyntheticCut) -> None:
    assert cut.flow_fwd is not None and cut.flow_bwd is not None
    for t in range(len(cut) - 1):
        fwd, bwd = cut.flow_fwd[t], cut.flow_bwd[t]
        moving = cut.owners[t] > 0
        assert np.linalg.norm(fwd, axis=-1)[moving].mean() > 1.0  # not a trivial flow
        visible = ~occlusion_mask(fwd, cut.owners[t], cut.owners[t + 1])
        back, _ = _sample(bwd, fwd)
        err = np.linalg.norm(fwd + back, axis=-1)
        assert visible.mean() > 0.5
        assert np.quantile(err[visible], 0.99) < 0.1
        # and the forward flow carries frame t's colours onto frame t+1
        valid = visible & ~_near_lines(cut, t, 2)
        landed, _ = _sample(cut.colour[t + 1], fwd)
        assert (landed == cut.colour[t])[valid].all(axis=-1).mean() >= 0.99


def test_flow_carries_each_shape_onto_its_next_position() -> None:
    # without occlusion every shape is whole in every frame: the mean of x + flow(x) over
    # a shape (its regions) must land on the shape's centroid in the next frame; the
    # rasteriser's sub-pixel jitter is the only error
    spec = dataclasses.replace(CUT_PRESETS["slow"], width=320, height=180, num_frames=6)
    c = generate_cut(dataclasses.replace(spec, motion=3.0))
    assert c.flow_fwd is not None
    predicted, measured = [], []
    for k in range(spec.num_shapes):
        ids = [i for i, n in enumerate(c.region_names) if n.split(".")[0] == f"shape{k}"]
        for t in range(len(c) - 1):
            here, there = np.isin(c.regions[t], ids), np.isin(c.regions[t + 1], ids)
            ys, xs = np.nonzero(here)
            start = np.array([xs.mean(), ys.mean()])
            ys, xs = np.nonzero(there)
            predicted.append(c.flow_fwd[t][here].mean(axis=0))
            measured.append(np.array([xs.mean(), ys.mean()]) - start)
    p, m = np.array(predicted), np.array(measured)
    assert np.abs(p).mean() > 1.0
    assert np.abs(p - m).max() < 0.35
    slope = float((p * m).sum() / (p * p).sum())
    assert 0.98 < slope < 1.02


def test_ink_belongs_to_the_shapes(cut: SyntheticCut, dirty_cut: SyntheticCut) -> None:
    for c in (cut, dirty_cut):
        assert (c.owners[c.ink >= 16] > 0).all()  # outlines move with their shape
        assert (c.owners[c.regions > 0] > 0).all()


def test_still_cut_has_zero_flow_and_identical_frames() -> None:
    c = generate_cut(dataclasses.replace(SMALL, motion=0.0, num_frames=3))
    assert c.flow_fwd is not None and np.abs(c.flow_fwd).max() < 1e-4
    assert np.array_equal(c.colour[0], c.colour[2])


def test_camera_pan_moves_the_background() -> None:
    spec = dataclasses.replace(SMALL, motion=0.0, camera_pan=2.0, num_frames=3)
    f = render_frame(spec, 1)
    assert f.flow_fwd is not None
    bg = f.flow_fwd[f.owners == 0]
    assert np.linalg.norm(bg, axis=-1).min() > 0.5
    assert np.allclose(bg, bg[0])  # the camera moves everything alike
    assert np.allclose(f.flow_fwd[f.owners > 0], bg[0], atol=1e-3)


# --------------------------------------------------------------------------- regions


def test_colour_is_the_region_colour_away_from_lines(cut: SyntheticCut) -> None:
    off = cut.ink == 0
    assert off.mean() > 0.8
    painted = cut.region_colours[cut.regions]
    assert np.array_equal(painted[off], cut.colour[off])
    # lines have black ink in the colour frame too
    outline = cut.lines & ~_red(cut.sketch) & ~_blue(cut.sketch)
    assert cut.colour[outline].max(axis=-1).mean() < 100


def test_region_ids_are_stable_without_occlusion() -> None:
    spec = dataclasses.replace(CUT_PRESETS["slow"], width=320, height=180, num_frames=8)
    c = generate_cut(spec, flow=False)
    ids0 = set(np.unique(c.regions[0]).tolist())
    assert ids0 == set(range(len(c.region_names)))  # every region is visible
    for t in range(1, len(c)):
        assert set(np.unique(c.regions[t]).tolist()) == ids0
        off = c.ink[t] == 0
        assert np.array_equal(c.region_colours[c.regions[t]][off], c.colour[t][off])
    # the same ids keep the same colours as the shapes move
    for r in range(len(c.region_names)):
        for t in (0, 7):
            inside = c.colour[t][(c.regions[t] == r) & (c.ink[t] == 0)]
            assert len(inside) > 0, f"region {c.region_names[r]} is all line in frame {t}"
            assert (inside == c.region_colours[r]).all()


def test_region_ids_in_later_frames_come_from_frame_zero(cut: SyntheticCut) -> None:
    ids0 = set(np.unique(cut.regions[0]).tolist())
    for t in range(1, len(cut)):
        assert set(np.unique(cut.regions[t]).tolist()) <= set(range(len(cut.region_names)))
        assert len(ids0 & set(np.unique(cut.regions[t]).tolist())) >= len(ids0) - 2


# --------------------------------------------------------------------------- sketch


def test_sketch_is_white_away_from_lines(cut: SyntheticCut) -> None:
    off = cut.ink == 0
    assert (cut.sketch[off] == 255).all()
    assert (cut.sketch[cut.lines].min(axis=-1) < 160).all()  # black, red or blue ink


def test_trace_lines_are_coloured_in_the_sketch_only(cut: SyntheticCut) -> None:
    assert _red(cut.sketch).sum() > 100
    assert _blue(cut.sketch).sum() > 20
    assert _red(cut.colour).sum() == 0
    assert _blue(cut.colour).sum() == 0
    # trace pixels are painted with the region colour in the finished frame
    coloured = _red(cut.sketch) | _blue(cut.sketch)
    black = np.stack(
        [
            cv2.dilate((li & ~co).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            for li, co in zip(cut.lines, coloured, strict=True)
        ]
    )
    trace = cut.lines & coloured & ~black
    assert trace.sum() > 100
    assert np.array_equal(cut.colour[trace], cut.region_colours[cut.regions[trace]])


def test_no_trace_lines_without_shadows_and_highlights() -> None:
    spec = dataclasses.replace(SMALL, shadows=False, highlights=False, num_frames=2)
    c = generate_cut(spec, flow=False)
    assert _red(c.sketch).sum() == 0 and _blue(c.sketch).sum() == 0
    assert all("." not in n for n in c.region_names)
    shadows_only = generate_cut(dataclasses.replace(spec, shadows=True), flow=False)
    assert _red(shadows_only.sketch).sum() > 0 and _blue(shadows_only.sketch).sum() == 0


def test_trace_lines_can_be_drawn_black() -> None:
    spec = dataclasses.replace(SMALL, num_frames=2)
    traced = generate_cut(spec, flow=False)
    black = generate_cut(dataclasses.replace(spec, trace_colours=False), flow=False)
    assert _red(black.sketch).sum() == 0 and _blue(black.sketch).sum() == 0
    # the same drawing and paint: only the trace lines' colour in the sketch differs
    assert np.array_equal(traced.regions, black.regions)
    assert np.array_equal(traced.ink, black.ink)
    assert np.array_equal(traced.colour, black.colour)
    coloured = _red(traced.sketch) | _blue(traced.sketch)
    assert (black.sketch[coloured].max(axis=-1) < 160).all()


def test_faults_dirty_the_sketch_but_keep_the_regions() -> None:
    clean = generate_cut(dataclasses.replace(SMALL, motion=3.0, num_frames=2), flow=False)
    dirty = generate_cut(dataclasses.replace(SMALL, motion=3.0, num_frames=2, faults=True))
    assert np.array_equal(clean.regions, dirty.regions)  # faults change the drawing only
    assert not np.array_equal(clean.sketch, dirty.sketch)
    assert not np.array_equal(clean.ink, dirty.ink)  # gaps, wobble, doubled strokes
    off = dirty.ink == 0
    paper = dirty.sketch[off]
    assert paper.mean() < 250  # off-white paper
    assert (paper.min(axis=-1) < 180).sum() > 10  # specks of dirt
    # one flag alone: dirt on the sheet, the drawing itself untouched
    specks = generate_cut(
        dataclasses.replace(SMALL, motion=3.0, num_frames=2, specks=True), flow=False
    )
    assert np.array_equal(specks.ink, clean.ink) and np.array_equal(specks.colour, clean.colour)
    assert not np.array_equal(specks.sketch, clean.sketch)


def test_gradient_background_is_one_region() -> None:
    spec = dataclasses.replace(SMALL, background="gradient", camera_pan=2.0, num_frames=2)
    f0, f = render_frame(spec, 0), render_frame(spec, 1)
    bg = (f.regions == 0) & ~f.lines
    assert bg.any() and len(np.unique(f.colour[bg].reshape(-1, 3), axis=0)) > 10
    # the gradient is painted on the set: it moves with the camera (to rounding)
    assert f.flow_bwd is not None
    warped, inside = _sample(f0.colour, f.flow_bwd)
    keep = bg & inside & (f.owners == 0)
    keep &= ~occlusion_mask(f.flow_bwd, f.owners, f0.owners)
    assert np.abs(warped[keep].astype(int) - f.colour[keep]).max() <= 2


# --------------------------------------------------------------------------- presets, spec


def test_presets_and_suite() -> None:
    assert {"slow", "medium", "fast", "pan", "dirty"} <= set(CUT_PRESETS)
    specs = suite((256, 144), num_frames=3)
    assert [n for n, _ in specs] == list(CUT_PRESETS)
    for name, spec in specs:
        assert (spec.width, spec.height, spec.num_frames) == (256, 144, 3)
        f = render_frame(spec, 2, flow=False)
        assert f.colour.shape == (144, 256, 3), name
    assert CUT_PRESETS["pan"].camera_pan > 0 and CUT_PRESETS["dirty"].faults
    assert not CUT_PRESETS["slow"].occlusion
    assert CUT_PRESETS["fast"].motion > CUT_PRESETS["slow"].motion


@pytest.mark.parametrize(
    "bad", [{"width": 8}, {"num_frames": 0}, {"motion": -1.0}, {"background": "stripes"}]
)
def test_spec_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        CutSpec(**bad)


def test_region_names_follow_the_flags() -> None:
    names = region_names(dataclasses.replace(SMALL, num_props=2))
    assert names[:3] == ("background", "prop0", "prop1")
    assert "shape0.shadow" in names and "shape0.highlight" in names


# --------------------------------------------------------------------------- files


def test_write_cut_writes_the_files(tmp_path: Path) -> None:
    spec = dataclasses.replace(SMALL, num_frames=5)
    out = write_cut(spec, tmp_path / "cut", ground_truth=True)
    assert out["sketch_video"].is_file() and out["reference"].is_file()
    names = sorted(p.name for p in out["sketch_dir"].iterdir())
    assert names == [f"frame_{i:04d}.png" for i in range(5)]
    for i in range(5):
        assert (out["gt_dir"] / f"colour_{i:04d}.png").is_file()
    ref = cv2.cvtColor(cv2.imread(str(out["reference"])), cv2.COLOR_BGR2RGB)
    assert np.array_equal(ref, render_frame(spec, 0, flow=False).colour)
    sk = cv2.cvtColor(cv2.imread(str(out["sketch_dir"] / "frame_0003.png")), cv2.COLOR_BGR2RGB)
    f3 = render_frame(spec, 3)
    assert np.array_equal(sk, f3.sketch)
    regions = cv2.imread(str(out["gt_dir"] / "regions_0003.png"), cv2.IMREAD_UNCHANGED)
    assert regions.dtype == np.uint16 and np.array_equal(regions, f3.regions)
    with np.load(out["gt_dir"] / "flow_0003.npz") as z:
        assert np.array_equal(z["fwd"], f3.flow_fwd) and np.array_equal(z["bwd"], f3.flow_bwd)
    with np.load(out["gt_dir"] / "flow_0000.npz") as z:
        assert set(z.files) == {"fwd"}
    info = json.loads(out["info"].read_text())
    assert info["spec"]["seed"] == spec.seed and info["num_frames"] == 5

    import av

    with av.open(str(out["sketch_video"])) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 5
    assert decoded[0].shape == (180, 320, 3)
    assert np.abs(decoded[2].astype(int) - cut_sketch(spec, 2)).mean() < 8  # lossy but close

    with pytest.raises(OutputError):
        write_cut(spec, tmp_path / "cut")
    shorter = dataclasses.replace(spec, num_frames=2)
    out = write_cut(shorter, tmp_path / "cut", overwrite=True, video=False)
    assert len(list(out["sketch_dir"].glob("*.png"))) == 2
    assert not (out["gt_dir"] / "flow_0003.npz").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a full disk)")
def test_a_full_disk_is_named_when_writing_a_cut(tmp_path: Path, capfd) -> None:
    """The system's reason, not "check the folder is writable", and no libpng line."""
    from celcolor.data.synthetic import _write_png

    with pytest.raises(OutputError, match="No space left on device"):
        _write_png(Path("/dev/full"), np.zeros((8, 8, 3), np.uint8))
    assert "libpng" not in capfd.readouterr().err
    with pytest.raises(OutputError, match="No such file or directory"):
        _write_png(tmp_path / "gone" / "x.png", np.zeros((8, 8), np.uint16))


def cut_sketch(spec: CutSpec, i: int) -> np.ndarray:
    return render_frame(spec, i, flow=False).sketch.astype(int)


def test_write_cut_from_a_generated_cut_without_video(tmp_path: Path) -> None:
    c = generate_cut(dataclasses.replace(SMALL, num_frames=2), flow=False)
    out = write_cut(c, tmp_path, video=False)
    assert "sketch_video" not in out and not (tmp_path / "sketch.mp4").exists()
    assert len(list(out["sketch_dir"].glob("*.png"))) == 2
    with pytest.raises(ValueError):
        write_cut(c, tmp_path / "gt", ground_truth=True)
