"""Textured regions: areas the lines do not close keep the reference's colours per pixel."""

from __future__ import annotations

import numpy as np
import pytest

from celcolor import ColorizeOptions, Colorizer, UsageError
from celcolor.engine import detail, views
from celcolor.engine.palette import NO_COLOUR
from celcolor.lineart import label_regions

H, W = 120, 200
RED, BLUE, PAPER = (220, 40, 40), (40, 60, 210), (235, 230, 220)


def _sketch(shift: int = 0) -> np.ndarray:
    """A square outline whose right side has a gap: its inside leaks into the page."""
    s = np.full((H, W, 3), 255, np.uint8)
    x0, x1 = 40 + shift, 140 + shift
    s[20:23, x0:x1] = 0
    s[97:100, x0:x1] = 0
    s[20:100, x0 : x0 + 3] = 0
    s[20:45, x1 - 3 : x1] = 0  # the right side stops at 45: a 52-pixel gap
    s[75:100, x1 - 3 : x1] = 0
    return s


def _colour(shift: int = 0) -> np.ndarray:
    """The finished frame: the square's top half red, bottom half blue, page around."""
    c = np.full((H, W, 3), PAPER, np.uint8)
    x0, x1 = 40 + shift, 140 + shift
    c[23:60, x0 + 3 : x1 - 3] = RED
    c[60:97, x0 + 3 : x1 - 3] = BLUE
    c[_sketch(shift)[..., 0] == 0] = 0
    return c


def _near(img: np.ndarray, colour: tuple[int, int, int], tol: int = 12) -> np.ndarray:
    return (np.abs(img.astype(int) - colour) <= tol).all(-1)


def test_the_leaking_square_is_one_region_with_the_page() -> None:
    """The premise: the gap joins the square's inside and the page into one region."""
    from celcolor.lineart import extract_ink

    regions = label_regions(extract_ink(_sketch()).ink_u8, None)
    assert regions.labels[40, 90] == regions.labels[5, 5] == regions.labels[80, 90]


@pytest.mark.parametrize("snap", ["auto", "flat"])
def test_keyframe_keeps_what_the_reference_shows_inside_a_leaking_region(snap: str) -> None:
    out = next(iter(Colorizer(_colour(), ColorizeOptions(snap=snap)).colorize([_sketch()])))
    top, bottom, page = out[30:55, 50:130], out[65:92, 50:130], out[5:15, 5:195]
    if snap == "flat":
        # One region, one colour: the page's (most of the region), the square lost.
        assert _near(top, PAPER).mean() > 0.95 and _near(bottom, PAPER).mean() > 0.95
    else:
        assert _near(top, RED).mean() > 0.95
        assert _near(bottom, BLUE).mean() > 0.95
        assert _near(page, PAPER).mean() > 0.95


@pytest.mark.parametrize("temporal", ["classical", "network-only"])
def test_the_texture_follows_the_drawing_as_it_moves(temporal: str) -> None:
    sketches = [_sketch(shift) for shift in (0, 4, 8, 12)]
    col = Colorizer(_colour(), ColorizeOptions(temporal=temporal))
    outs = list(col.colorize(sketches))
    last = outs[-1]
    assert _near(last[30:55, 62:140], RED).mean() > 0.9
    assert _near(last[65:92, 62:140], BLUE).mean() > 0.9
    assert col.stats.textured_frames == 4


def test_cel_regions_stay_flat() -> None:
    """Anti-aliasing slivers and a misplaced edge are not texture."""
    s = np.full((H, W, 3), 255, np.uint8)
    s[20:100, 40:43] = s[20:100, 137:140] = s[20:23, 40:140] = s[97:100, 40:140] = 0
    ref = np.full((H, W, 3), PAPER, np.uint8)
    ref[23:97, 43:137] = RED
    ref[23:97, 43:45] = BLUE  # a two-pixel sliver of another colour along the wall
    col = Colorizer(ref, ColorizeOptions())
    out = next(iter(col.colorize([s])))
    assert _near(out[25:95, 43:137], RED).mean() > 0.99
    assert col.stats.textured_frames == 0


def test_textured_regions_tells_a_blob_from_a_sliver() -> None:
    labels = np.zeros((H, W), np.int32)
    labels[10:110, 10:95] = 1
    labels[10:110, 105:190] = 2
    from celcolor.lineart.regions import Regions

    regions = Regions(labels=labels, count=3)
    source = np.zeros((H, W), np.uint8)
    source[10:110, 10:12] = 1  # region 1: a two-pixel sliver along its edge
    source[40:80, 130:170] = 1  # region 2: a 40x40 blob
    textured = detail.textured_regions(regions, source, np.zeros(3, np.uint8))
    assert textured.tolist() == [False, False, True]
    d = detail.detail_map(regions, textured, source, np.zeros(3, np.uint8))
    assert (d[labels == 1] == NO_COLOUR).all()
    assert (d[40:80, 130:170] == 1).all() and (d[20, 120] == 0)


def test_a_matched_region_keeps_the_networks_colours_only_where_it_leaks() -> None:
    """Large, in doubt and painted in several thick colours by the network: kept per
    pixel. A small region, or one the matcher is sure of, stays flat."""
    from celcolor.lineart.regions import Regions

    labels = np.zeros((H, W), np.int32)
    labels[:, :120] = 1  # large (60% of the frame)
    labels[:, 120:180] = 2  # large too (30%)
    labels[:, 180:] = 3  # small (10%, at the threshold: not over it)
    regions = Regions(labels=labels, count=4)
    predicted = np.zeros((H, W), np.uint8)
    predicted[20:80, 20:80] = 1  # a thick blob of another colour in region 1
    predicted[20:80, 130:170] = 1  # and in region 2
    predicted[20:80, 185:198] = 1  # and in region 3
    winner = np.zeros(4, np.uint8)
    sure = np.array([1.0, 0.4, 0.95, 0.4])
    leaks = detail.leaking_regions(regions, predicted, winner, sure)
    assert leaks.tolist() == [False, True, False, False]
    flat = np.zeros((H, W), np.uint8)  # the network agrees with the flat colour: no leak
    assert not detail.leaking_regions(regions, flat, winner, np.zeros(4)).any()


def test_bad_snap_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--snap"):
        ColorizeOptions(snap="smooth")


@pytest.mark.parametrize("frames", [6, 4])
def test_texture_survives_blending_two_keyframes(frames: int) -> None:
    """References pinned to frames 0 and 5: the segment between is blended (6 frames),
    or the cut ends before its closing keyframe (4 frames: forward colours alone)."""
    shifts = [0, 2, 4, 6, 8, 10][:frames]
    pinned = {0: _colour(0), 5: _colour(10)}
    col = Colorizer(None, ColorizeOptions(temporal="classical"), pinned=pinned)
    outs = list(col.colorize([_sketch(s) for s in shifts]))
    assert len(outs) == frames
    for out, s in zip(outs, shifts, strict=True):
        assert _near(out[30:55, 52 + s : 128 + s], RED).mean() > 0.9
        assert _near(out[65:92, 52 + s : 128 + s], BLUE).mean() > 0.9
    assert col.stats.blended == (4 if frames == 6 else 0)


def _grid(dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.dstack([xs + dx, ys + dy])


def test_smooth_motion_keeps_a_smooth_field_and_calms_a_noisy_one() -> None:
    shifted = _grid(3.5, -2.0)
    assert np.allclose(detail.smooth_motion(shifted), shifted, atol=1e-3)
    rng = np.random.default_rng(0)
    noisy = _grid() + rng.normal(0, 2, (H, W, 2)).astype(np.float32)
    calmed = detail.smooth_motion(noisy) - _grid()
    assert np.abs(calmed).mean() < 0.2 * np.abs(noisy - _grid()).mean()


def _flow_image(shift: int) -> np.ndarray:
    from celcolor.lineart import extract_ink
    from celcolor.temporal.flow import flow_friendly

    return flow_friendly(extract_ink(_sketch(shift)).ink_u8)


def test_work_positions_inverts_the_sampling_map() -> None:
    from celcolor.temporal.flow import sampling_map, work_positions

    small = _grid(2.5, -1.5)[::2, ::2] / 2  # a 60x100 work-size field of positions
    flow = small - _grid()[: H // 2, : W // 2]
    full = sampling_map(flow, (W, H))
    back = work_positions(full, (H // 2, W // 2))
    assert np.abs(back - small)[2:-2, 2:-2].max() < 0.01


def test_held_tells_a_held_drawing_from_a_moved_one() -> None:
    assert detail.held(_flow_image(0), _flow_image(0))
    assert not detail.held(_flow_image(0), _flow_image(6))


def test_anchor_pulls_a_drifted_chain_back_onto_the_keyframe() -> None:
    """The frame's square lies 8 pixels right of the keyframe's; a chain that drifted
    to 5 is re-fitted to about 8 along the square's lines; an exact chain stays."""
    from celcolor.temporal.flow import DISFlow

    flow, key, now = DISFlow("medium"), _flow_image(0), _flow_image(8)
    truth = _grid(-8.0, 0.0)
    square = np.zeros((H, W), bool)
    square[18:102, 44:152] = True  # the square's lines and what lies near them
    drifted = _grid(-5.0, 0.0)
    anchored = detail.anchor(drifted, now, key, flow)
    before = np.abs(drifted - truth)[square].mean()
    after = np.abs(anchored - truth)[square].mean()
    assert before > 1.4 and after < 0.5 * before
    exact = detail.anchor(truth, now, key, flow)
    assert np.abs(exact - truth)[square].mean() < 0.5


class _SlidingFlow:
    """A frame-to-frame flow that errs by one pixel upwards at every step."""

    name = "sliding"

    def __init__(self) -> None:
        from celcolor.temporal.flow import DISFlow

        self._dis = DISFlow()

    def __call__(self, a, b, init=None):
        f = self._dis(a, b, init)
        f[..., 1] -= 1.0
        return f


def test_anchoring_keeps_texture_on_the_shape_when_the_chain_drifts() -> None:
    """Eight steps of a flow that errs by a pixel each: the chained texture slides (its
    red/blue border is no longer where the drawing's is), the anchored one is re-fitted
    to the keyframe's lines and keeps nearly all of it in place. (Unsoftened: this is
    where the texture lands, not how softly it is shown.)"""
    shifts = [0, 3, 6, 9, 12, 15, 18, 21, 24]
    right = {}
    for carry in ("anchored", "chained"):
        options = ColorizeOptions(temporal="classical", texture_carry=carry, texture_soften=0)
        col = Colorizer(_colour(), options)
        col._flow = _SlidingFlow()
        last = list(col.colorize([_sketch(s) for s in shifts]))[-1]
        near = np.abs(last.astype(int) - _colour(24)).max(-1) <= 12
        right[carry] = near[26:94, 70:158].mean()  # inside the square, clear of the gap
    assert right["chained"] < 0.85  # the premise: the sliding flow drags the chain off
    assert right["anchored"] > 0.93


def test_bad_texture_carry_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--texture-carry"):
        ColorizeOptions(texture_carry="glued")


def test_smooth_colours_interpolate_the_keyframe() -> None:
    """Unsoftened, half a pixel into a red/blue edge gives the colour between them."""
    key = np.zeros((H, W), np.uint8)
    key[:, W // 2 :] = 1
    palette = np.array([RED, BLUE], np.uint8)
    carry = detail.Carry(detail=key, key=key, origin=_grid(0.5, 0.0))
    shown = detail.smooth_colours(carry, lambda index: palette[index], soften=0.0)
    assert shown is not None and carry.key_rgb is not None
    edge = shown[H // 2, W // 2 - 1]
    assert np.abs(edge.astype(int) - (np.array(RED) + BLUE) // 2).max() <= 1
    assert (shown[:, : W // 2 - 2] == RED).all() and (shown[:, W // 2 + 1 :] == BLUE).all()
    assert detail.smooth_colours(None, palette.__getitem__) is None


def test_carried_texture_is_softened_and_the_keyframe_shows_it_so_too() -> None:
    """Palette bands are softened over about TEXTURE_SOFTEN pixels (at 640 long side):
    the pixel beside the edge is no longer pure red, one far away still is; the
    keyframe (nothing moved yet) shows exactly what an in-between that did not move
    shows, so the texture does not change look from the keyframe to the next frame."""
    h, w = 48, 640  # 640 long side: sigma is TEXTURE_SOFTEN pixels
    key = np.zeros((h, w), np.uint8)
    key[:, w // 2 :] = 1
    palette = np.array([RED, BLUE], np.uint8)
    keyframe = detail.Carry(detail=key, key=key)
    on_key = detail.smooth_colours(keyframe, lambda index: palette[index])
    grid = np.dstack(np.meshgrid(np.arange(w), np.arange(h))).astype(np.float32)
    moved = detail.Carry(detail=key, key=key, origin=grid)
    still = detail.smooth_colours(moved, lambda index: palette[index])
    assert on_key is not None and still is not None
    assert detail.TEXTURE_SOFTEN >= 0.5
    assert np.abs(on_key.astype(int) - still).max() <= 1
    assert (on_key[:, w // 2 - 1] != RED).any()
    far = int(np.ceil(4 * detail.TEXTURE_SOFTEN)) + 1
    assert np.abs(on_key[:, : w // 2 - far].astype(int) - RED).max() <= 1


@pytest.mark.parametrize("soften", [0.0, 8.0])
def test_texture_soften_is_what_the_picture_shows(soften: float) -> None:
    """The leaking square's keyframe (red over blue inside one textured region):
    unsoftened, every pixel of it is red or blue; softened by 8 px (2.5 px at this
    size), rows next to the border blend, and the far inside stays red."""
    options = ColorizeOptions(texture_soften=soften)
    out = next(iter(Colorizer(_colour(), options).colorize([_sketch()])))
    border = out[57:63, 50:130].reshape(-1, 3)
    pure = _near(border, RED, 2) | _near(border, BLUE, 2)
    if soften == 0:
        assert pure.all()
    else:
        assert pure.mean() < 0.5
    assert _near(out[30:45, 50:130], RED, 2).mean() > 0.95


@pytest.mark.parametrize("px", [-1.0, 17.0, float("nan")])
def test_bad_texture_soften_is_a_usage_error(px: float) -> None:
    with pytest.raises(UsageError, match=r"texture.soften"):
        ColorizeOptions(texture_soften=px)


def _map(jacobian: tuple[float, float, float, float], h: int = 64, w: int = 96) -> np.ndarray:
    """Positions ``J @ (x, y) + (5, 3)``: a map with the same Jacobian everywhere."""
    a, b, c, d = jacobian
    x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.dstack([a * x + b * y + 5, c * x + d * y + 3]).astype(np.float32)


@pytest.mark.parametrize(
    ("jacobian", "expected"),
    [
        ((1, 0, 0, 1), 0.0),  # a shift
        ((1.3, 0, 0, 1.3), 0.0),  # a zoom
        ((np.cos(0.4), -np.sin(0.4), np.sin(0.4), np.cos(0.4)), 0.0),  # a turn
        ((1, 0.5, 0, 1), 0.5 / np.sqrt(2)),  # a shear
        ((1.5, 0, 0, 1), 0.5 / np.sqrt(2)),  # a stretch one way
    ],
)
def test_distortion_is_free_for_rigid_motion_and_zoom(jacobian, expected) -> None:
    moved = _map(jacobian) - _map((1, 0, 0, 1)) + np.float32([5, 3])  # the displacement
    got = detail.distortion(moved)[1:-1, 1:-1]  # the edge mirrors: slopes drop there
    assert np.abs(got - expected).max() < 1e-3
    # the same map worked at a quarter size, its slopes per 4 full-size pixels
    quarter = detail.distortion(np.ascontiguousarray(moved[::4, ::4]), (4.0, 4.0))
    assert np.abs(quarter[1:-1, 1:-1] - expected).max() < 1e-3
    if expected == 0 and jacobian[1] == 0 and jacobian[0] == 1:  # a shift: 0 to the edge
        assert np.abs(detail.distortion(moved)).max() < 1e-6


def test_distorted_texture_is_shown_softer_and_rigid_texture_is_not() -> None:
    """Red and blue stripes carried by a shift show as softened as on the keyframe;
    carried by a shear, their colours are blended: stripes 4 px wide all but vanish."""
    h, w = 64, 640  # 640 long side: sigmas are in pixels
    key = ((np.arange(w) // 4) % 2).astype(np.uint8)[None].repeat(h, 0)
    palette = np.array([RED, BLUE], np.uint8)
    render = palette.__getitem__

    def shown(jacobian, soften=detail.TEXTURE_SOFTEN):
        carry = detail.Carry(detail=key, key=key, origin=_map(jacobian, h, w))
        return detail.smooth_colours(carry, render, soften)[8:-8, 40:-40].astype(int)

    # a shear of 1.5 is past DISTORTION_FULL: shown from the fully softened keyframe
    assert 1.5 / np.sqrt(2) > detail.DISTORTION_FULL
    rigid, sheared = shown((1, 0, 0, 1)), shown((1, 1.5, 0, 1))
    keyframe = detail.smooth_colours(detail.Carry(detail=key, key=key), render).astype(int)
    assert np.abs(rigid.std((0, 1)) - keyframe.std((0, 1))).max() < 2
    # softened TEXTURE_SOFTEN px, the stripes keep most of their contrast; sheared, the
    # shown picture is within a few levels of their mean colour
    assert rigid[..., 0].std() > 50
    assert sheared[..., 0].std() < 0.2 * rigid[..., 0].std()
    # softening 0: the palette colours exactly, sheared or not
    exact = shown((1, 1.5, 0, 1), soften=0.0)
    assert (_near(exact, RED, 0) | _near(exact, BLUE, 0)).mean() > 0.75


def test_softening_share_moves_with_the_texture_and_fades() -> None:
    """A share carried by a shift of 8 px (2 quarter-size pixels) lands 2 quarter
    pixels on, SOFTENING_MEMORY times as strong; no memory, nothing carried."""
    h, w = 64, 96
    share = np.zeros((h // 4, w // 4), np.float32)
    share[:, 10] = 1.0
    sample = _map((1, 0, 0, 1), h, w) - np.float32([5 + 8, 3])  # each pixel comes from 8 px left
    moved = detail._fade(share, sample)
    assert moved is not None and moved.shape == share.shape
    assert np.abs(moved[:, 12] - detail.SOFTENING_MEMORY).max() < 1e-4
    assert np.abs(np.delete(moved, 12, axis=1)).max() < 1e-4
    assert detail._fade(None, sample) is None


def test_texture_once_distorted_stays_softened_as_it_moves_on(monkeypatch) -> None:
    """Stripes sheared in one frame and carried by a plain shift in the next keep
    most of their softening (the share fades by SOFTENING_MEMORY), where stripes that
    were never sheared stay crisp; with no memory, the next frame is crisp again."""
    h, w = 64, 640
    key = ((np.arange(w) // 4) % 2).astype(np.uint8)[None].repeat(h, 0)
    render = np.array([RED, BLUE], np.uint8).__getitem__
    grid = _map((1, 0, 0, 1), h, w) - np.float32([5, 3])

    def next_frame() -> np.ndarray:
        sheared = detail.Carry(detail=key, key=key, origin=_map((1, 1.5, 0, 1), h, w))
        detail.smooth_colours(sheared, render)
        assert sheared.loose_share is not None and sheared.loose_share.max() >= 1
        after = detail.Carry(
            detail=key, key=key, origin=grid, loose_share=detail._fade(sheared.loose_share, grid)
        )
        return detail.smooth_colours(after, render)[8:-8, 40:-40].astype(int)

    crisp = detail.smooth_colours(detail.Carry(detail=key, key=key, origin=grid), render)
    crisp = crisp[8:-8, 40:-40].astype(int)
    assert detail.SOFTENING_MEMORY >= 0.5
    assert next_frame()[..., 0].std() < 0.6 * crisp[..., 0].std()
    monkeypatch.setattr(detail, "SOFTENING_MEMORY", 0.0)
    assert np.abs(next_frame()[..., 0].std() - crisp[..., 0].std()) < 2


def test_uncharted_is_motion_far_from_lines_that_is_not_rigid() -> None:
    """A pan far from every line is rigid: none. A shear grows with the distance from
    the line the flow is filled in from: full far off, little beside it. Off: None."""
    h, w = 64, 640  # 640 long side: distances are in pixels
    labels = np.ones((h, w), np.int32)
    labels[:, :4] = 0  # a line down the left edge
    grid = _map((1, 0, 0, 1), h, w) - np.float32([5, 3])
    assert np.abs(detail.uncharted(labels, grid - np.float32([8, 0]))).max() < 1e-4  # a pan
    sheared = _map((1, 0.2, 0, 1), h, w) - np.float32([5, 3])  # shear 0.2: distortion 0.14
    share = detail.uncharted(labels, sheared)
    assert share is not None and share.shape == (h // 4, w // 4)
    full = detail.UNCHARTED_MOTION / (0.2 / np.sqrt(2))  # px from the line
    inner = share[2:-2]  # the map's edge rows mirror
    assert np.abs(inner[:, int(full / 4) + 2 :] - 1).max() < 1e-3
    assert inner[:, 1].max() < 0.2  # a few pixels from the line


def test_no_uncharted_softening_when_off(monkeypatch) -> None:
    monkeypatch.setattr(detail, "UNCHARTED_MOTION", 0.0)
    labels = np.ones((64, 96), np.int32)
    assert detail.uncharted(labels, _map((1, 0, 0, 1))) is None


def test_texture_persistence_blends_in_the_previous_frame_moved_along_the_flow() -> None:
    """Textured pixels the flow vouches for, off the ink, show a share p of the previous
    picture moved along the flow; the rest of the picture is left as it was."""
    col = Colorizer(_colour(), ColorizeOptions(texture_persistence=0.25))
    frame = col.analyse(_sketch())
    out = np.full((H, W, 3), 100, np.uint8)
    prev = np.full((H, W, 3), 200, np.uint8)
    prev[:, :100] = 0
    sample = _grid(3.0, 0.0)  # each pixel was 3 px to the right
    visible = np.ones((H, W), np.uint8)
    visible[:, :60] = 0
    textured = np.full((H, W), NO_COLOUR, np.uint8)
    textured[30:90, 50:150] = 1
    col._persist(out, detail.Carry(detail=textured, key=textured), prev, frame, (sample, visible))
    assert (out[50, 70] == 75).all()  # 0.25 * 0 (from x = 73) + 0.75 * 100
    assert (out[50, 120] == 125).all()  # 0.25 * 200 + 0.75 * 100
    assert (out[50, 96] == 75).all() and (out[50, 97] == 125).all()  # from x = 99 and 100
    assert (out[50, 55] == 100).all()  # not vouched for by the flow
    assert (out[20, 120] == 100).all() and (out[95, 120] == 100).all()  # not textured
    ink = frame.art.ink_u8 > 0
    assert ink[30:45, 137:140].all()  # the square's right side, inside the textured area
    assert (out[ink] == 100).all()


@pytest.mark.parametrize("share", [-0.1, 1.0, float("nan")])
def test_bad_texture_persistence_is_a_usage_error(share: float) -> None:
    with pytest.raises(UsageError, match=r"texture.persistence"):
        ColorizeOptions(texture_persistence=share)


def _redrawn(shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Another drawing of the leaking square: crossed by new lines (under twice its
    ink). Its sketch and its finished frame (the square's halves as before)."""
    sketch, colour = _sketch(shift), _colour(shift)
    for x in range(48 + shift, 132 + shift, 10):
        sketch[24:96, x : x + 2] = 0
    colour[sketch[..., 0] == 0] = 0
    return sketch, colour


def test_a_drawing_keyed_at_the_end_of_its_segment_is_not_warned_of_as_redrawn() -> None:
    """Frames 8 to 15 redraw the square and a key at 15 shows them: the way back from
    that key fits them, so no changed drawing is warned of; keyed at 0 alone they are."""
    shifts = list(range(0, 32, 2))
    sketches = [_sketch(s) if i < 8 else _redrawn(s)[0] for i, s in enumerate(shifts)]
    alone = Colorizer(_colour(0), ColorizeOptions(temporal="classical"))
    list(alone.colorize(sketches))
    assert alone.stats.redrawn == [(8, 12)], alone.stats.unseen
    pinned = {0: _colour(0), 15: _redrawn(shifts[15])[1]}
    both = Colorizer(None, ColorizeOptions(temporal="classical"), pinned=pinned)
    list(both.colorize(sketches))
    assert both.stats.blended > 0
    assert both.stats.redrawn == [] and both.stats.wanted == []


def test_a_held_sample_is_judged_by_the_drawing_it_shows() -> None:
    """On twos, offset by one: samples 8, 12 and 16 hold the drawing before them (they
    are not coloured again), and show the redrawn square all the same."""
    drawings = list(range(0, 20, 2))
    indices = [0] + [1 + (i - 1) // 2 for i in range(1, 18)]  # 0, 1, 1, 2, 2, ...
    sketches = [_sketch(drawings[d]) if d < 4 else _redrawn(drawings[d])[0] for d in indices]
    col = Colorizer(_colour(0), ColorizeOptions(temporal="classical"))
    list(col.colorize(sketches))
    assert {8, 12, 16} <= set(col.stats.held)
    assert {8, 12, 16} <= set(col._views._fit)  # told, though not coloured again
    assert col.stats.redrawn[:1] == [(8, 12)], (col.stats.unseen, col._views._fit)


def test_the_way_back_tells_samples_held_on_twos() -> None:
    """Between keys at 0 and 15, the redrawn square on twos from frame 8 (9 holds 8, 13
    holds 12): on the way back the samples are not coloured again, the frame after each
    is, and its fit is the sample's. The key at 15 shows that drawing: no warning."""
    shifts = list(range(0, 32, 2))
    sketches = [_sketch(shifts[i]) if i < 8 else _redrawn(shifts[i - i % 2])[0] for i in range(16)]
    pinned = {0: _colour(0), 15: _redrawn(shifts[14])[1]}
    col = Colorizer(None, ColorizeOptions(temporal="classical"), pinned=pinned)
    list(col.colorize(sketches))
    assert {9, 13} <= set(col.stats.held) and col.stats.blended > 0
    assert col._views._fit[8] < views.REDRAWN_SHARE and col._views._fit[12] < views.REDRAWN_SHARE
    assert col.stats.redrawn == [] and col.stats.wanted == []


def test_frames_shown_as_a_key_miss_none_of_its_lines() -> None:
    """Frames 8 to 14 hold the drawing of the key at 15 and are shown as that key: the
    forward pass's poor fit (from the key at 0) is not theirs."""
    shifts = list(range(0, 32, 2))
    sketches = [_sketch(shifts[i]) if i < 8 else _redrawn(shifts[8])[0] for i in range(16)]
    pinned = {0: _colour(0), 15: _redrawn(shifts[8])[1]}
    col = Colorizer(None, ColorizeOptions(temporal="classical"), pinned=pinned)
    outs = list(col.colorize(sketches))
    assert all(np.array_equal(outs[i], outs[15]) for i in range(8, 15))
    assert col._views._fit[8] == col._views._fit[12] == 0.0
    assert col.stats.redrawn == [] and col.stats.wanted == []


def test_a_held_keyframe_drawing_misses_none_of_its_lines() -> None:
    """Frames 1 to 8 hold the drawing of the key at 0 (shown as it); the way back from
    the key at 15 colours frame 8 from another drawing, but what shows is the key's own."""
    shifts = list(range(0, 32, 2))
    dense, dense_colour = _redrawn(0)
    for y in range(30, 95, 12):
        dense[y : y + 2, 44:136] = 0
    dense_colour[dense[..., 0] == 0] = 0
    sketches = [dense if i <= 8 else _sketch(shifts[i]) for i in range(16)]
    col = Colorizer(
        None,
        ColorizeOptions(temporal="classical"),
        pinned={0: dense_colour, 15: _colour(shifts[15])},
    )
    outs = list(col.colorize(sketches))
    assert np.array_equal(outs[8], outs[0])
    assert col._views._fit[8] == 0.0 and 8 not in col._views.strayed()
