"""Whether in-betweens still show their keyframe's drawing (celcolor.engine.views)."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from conftest import moved_view, sketch_of, view_drawing

from celcolor.engine import ColorizeOptions, Colorizer, views


def _check(check: views.ViewCheck, index: int, ink: np.ndarray) -> None:
    check.check(index, lambda: views.features(ink))


def test_a_moved_view_is_seen_and_another_drawing_is_not() -> None:
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    _check(check, 4, moved_view(view_drawing(0), 10, -5, 3))
    _check(check, 8, moved_view(view_drawing(0), 20, 8, -5))
    _check(check, 12, view_drawing(1))
    assert check.strayed() == [12]
    assert check.stretches() == []  # one strayed sample is no stretch


def test_a_stretch_needs_strayed_samples_in_a_row_and_a_keyframe_ends_it() -> None:
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    for i, seed in [(4, 0), (8, 2), (12, 3), (16, 4), (20, 0), (24, 5), (28, 0), (36, 6)]:
        _check(check, i, view_drawing(seed))
    # 8..16 strayed in a row; 24 alone; 36 alone too once a keyframe sits at 32.
    check.add_key(32, views.features(view_drawing(7)))
    _check(check, 40, view_drawing(8))
    assert check.strayed() == [8, 12, 16, 24, 36, 40]
    assert check.stretches() == [(8, 16), (36, 40)]
    check.add_key(38, views.features(view_drawing(9)))
    assert check.stretches() == [(8, 16)]


def test_a_new_drawing_since_the_last_sample_opens_the_stretch() -> None:
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    for i in (4, 8, 12, 16):
        _check(check, i, view_drawing(0 if i == 4 else i))
    # The shot changed at frame 6 (after the matched sample 4): the stretch opens there.
    assert check.stretches() == [(8, 16)]
    assert check.stretches(new_drawings=[2, 6, 7, 14]) == [(6, 16)]
    assert check.stretches(new_drawings=[3]) == [(8, 16)]  # before sample 4: not this one


def test_only_sampled_frames_with_enough_lines_are_judged() -> None:
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    _check(check, 5, view_drawing(1))  # not a sampled frame
    blank = np.zeros((192, 320), np.uint8)
    assert not views.features(blank).matchable and views.features(blank).ink == 0
    _check(check, 8, blank)  # nothing drawn: cannot tell
    assert check.strayed() == []


def test_far_more_ink_than_the_keyframe_strays_whatever_still_matches() -> None:
    """Characters walking in front of the keyframe's set: the set still matches."""
    set_only = view_drawing(0).copy()
    set_only[:, 110:] = 0  # a set at the left; the rest of the frame empty
    walk_in = np.maximum(view_drawing(1), view_drawing(2))
    walk_in[:, :110] = 0
    crowd = np.maximum(set_only, walk_in)
    key, frame = views.features(set_only), views.features(crowd)
    assert frame.ink >= views.GROWTH * key.ink
    assert views._inliers(key, frame) >= 5 * views.MIN_INLIERS  # the set still matches
    check = views.ViewCheck()
    check.add_key(0, views.features(set_only))
    for i in (4, 8, 12):
        _check(check, i, crowd if i >= 8 else moved_view(set_only, 2, 0, 0))
    assert check.strayed() == check.grown() == [8, 12]
    assert check.stretches() == [(8, 12)] and check.kind((8, 12)) == views.GROWN
    # A keyframe with too little drawn to match: judged by its ink alone.
    sparse = np.zeros_like(set_only)
    cv2.line(sparse, (10, 10), (300, 10), 255, 2)
    empty_key = views.ViewCheck()
    empty_key.add_key(0, views.features(sparse))
    assert not views.features(sparse).matchable
    _check(empty_key, 4, view_drawing(1))
    _check(empty_key, 8, np.maximum(sparse, moved_view(sparse, 0, 3, 0)))  # the same, cannot tell
    assert empty_key.strayed() == [4]


def test_a_frame_met_again_is_matched_to_a_later_keyframe() -> None:
    """A blended segment's backward pass: the closing keyframe shows that view."""
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    _check(check, 12, view_drawing(1))
    assert check.strayed() == [12]
    check.add_key(16, views.features(moved_view(view_drawing(1), 5, 5, 2)))
    _check(check, 12, view_drawing(1))
    assert check.strayed() == []


def test_large_frames_are_matched_at_the_long_side() -> None:
    big = cv2.resize(view_drawing(0), (1280, 768), interpolation=cv2.INTER_LINEAR)
    f = views.features(big)
    assert f is not None and f.points[:, 0].max() < views.LONG_SIDE


@pytest.fixture(scope="module")
def two_views() -> tuple[np.ndarray, list[np.ndarray]]:
    """A reference and 24 frames: 12 of one view panning, then 12 of another."""
    first = [sketch_of(moved_view(view_drawing(0), i, 0, 0)) for i in range(12)]
    second = [sketch_of(moved_view(view_drawing(1), i, 0, 0)) for i in range(12)]
    ref = np.full((192, 320, 3), 200, np.uint8)
    ref[view_drawing(0) > 128] = 0
    ref[:96, :160] = (200, 60, 60)
    return ref, first + second


def _colour(ref, frames, caplog: pytest.LogCaptureFixture) -> tuple[Colorizer, list[str]]:
    """Classical propagation over ``frames``: the colorizer and its new-view warnings."""
    col = Colorizer(ref, ColorizeOptions(temporal="classical", keyframe_mode="copy"))
    with caplog.at_level(logging.WARNING, logger="celcolor"):
        out = list(col.colorize(frames))
    assert len(out) == len(frames)
    return col, [r.getMessage() for r in caplog.records if "no longer show" in r.getMessage()]


def test_the_engine_warns_of_frames_that_leave_the_keyframes_view(two_views, caplog) -> None:
    col, said = _colour(*two_views, caplog)
    assert col.stats.unseen == [(12, 20)]
    assert len(said) == 1 and "frames 12 to 20" in said[0] and "--ref 16:key.png" in said[0]


def test_the_engine_is_quiet_while_the_view_holds(two_views, caplog) -> None:
    ref, frames = two_views
    col, said = _colour(ref, frames[:12], caplog)
    assert col.stats.unseen == [] and said == []


def test_a_pinned_reference_for_the_new_view_silences_it(two_views) -> None:
    ref, frames = two_views
    second_ref = np.full((192, 320, 3), 200, np.uint8)
    second_ref[view_drawing(1) > 128] = 0
    col = Colorizer(
        [],
        ColorizeOptions(temporal="classical", keyframe_mode="copy"),
        pinned={0: ref, 12: second_ref},
    )
    list(col.colorize(frames))
    assert col.stats.unseen == []


def test_held_frames_between_two_keys_are_judged_against_the_second() -> None:
    """A new view drawn on twos (12 to 23), keyed at its end: its drawings' first frames
    (16, 20: sampled), which the way back holds from their copies, are vouched for by
    that key, as the other frames are."""
    first = [sketch_of(moved_view(view_drawing(0), i, 0, 0)) for i in range(12)]
    second = [sketch_of(moved_view(view_drawing(1), i, 0, 0)) for i in range(6)]
    frames = first + [s for s in second for _ in range(2)]
    ref = np.full((192, 320, 3), 200, np.uint8)
    ref[view_drawing(0) > 128] = 0
    ref[:96, :160] = (200, 60, 60)
    last_ref = np.full((192, 320, 3), 200, np.uint8)
    last_ref[moved_view(view_drawing(1), 5, 0, 0) > 128] = 0
    last_ref[96:, 160:] = (60, 60, 200)
    options = ColorizeOptions(temporal="classical", keyframe_mode="copy")
    col = Colorizer([], options, pinned={0: ref, 23: last_ref})
    assert len(list(col.colorize(frames))) == 24
    assert {17, 21} <= set(col.stats.held)
    assert col.stats.unseen == []


def test_a_sample_whose_carried_keyframe_misses_its_lines_has_strayed() -> None:
    """The set still matches (the camera held), but the drawing changed beyond the carry."""
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    for i in (4, 8, 12, 16, 20):
        _check(check, i, moved_view(view_drawing(0), i // 4, 0, 0))  # the view holds
    below, above = views.REDRAWN_SHARE - 0.05, views.REDRAWN_SHARE + 0.05
    for i, missed in [(4, below), (8, above), (9, 0.0), (12, above), (16, above), (20, below)]:
        check.note_fit(i, missed)
    # Frame 9 is not the frame sample 8 is judged by: 8 was coloured itself.
    assert check.strayed() == [8, 12, 16]
    assert check.stretches() == [(8, 16)]
    assert check.kind((8, 16)) == views.REDRAWN
    # A second pass colours 12 with its own keyframe fitting well: the better fit counts.
    check.note_fit(12, 0.0)
    assert check.strayed() == [8, 16] and check.stretches() == []


def test_only_samples_are_judged_by_their_fit_and_the_cameras_verdict_stands() -> None:
    check = views.ViewCheck()
    check.add_key(0, views.features(view_drawing(0)))
    check.note_fit(5, 1.0)  # not a sampled frame: read by nothing
    check.note_fit(4, views.REDRAWN_SHARE)
    check.note_fit(8, views.REDRAWN_SHARE + 0.1)
    check.note_fit(0, 1.0)  # a keyframe is never a stray, whatever is noted of it
    assert check.strayed() == [4, 8] and check.stretches() == [(4, 8)]
    # Where the camera's matches already said another view, that verdict stands.
    _check(check, 8, view_drawing(3))
    assert check.kind((4, 8)) == views.UNMATCHED


def test_the_carried_keyframes_lines_tell_a_changed_drawing(two_views) -> None:
    """The engine's measure: the keyframe's own lines carried to a frame that shows
    them miss none of them; carried to another drawing, most."""
    from celcolor.engine import detail
    from celcolor.lineart import extract_ink
    from celcolor.metrics.flowcheck import pixel_grid

    reference, frames = two_views
    col = Colorizer(reference, ColorizeOptions())
    same, other = (col.analyse(f) for f in (frames[0], frames[-1]))
    h, w = same.art.ink_u8.shape
    key_ink = extract_ink(frames[0]).ink_u8
    for frame, seq in ((same, 8), (other, 12)):
        frame.seq = seq
        carry = detail.Carry(
            detail=np.zeros((h, w), np.uint8),
            key=np.zeros((h, w), np.uint8),
            origin=pixel_grid(h, w),
            key_ink=key_ink,
        )
        col._note_fit(frame, carry)
    fit = col._views._fit
    assert fit[8] < 0.05 and fit[12] >= views.REDRAWN_SHARE, fit
