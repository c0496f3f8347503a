"""Two keyframes: the frames between take, region by region, one of two passes, and
cross-fade from one to the other where a region switches."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from test_detail import _colour, _sketch

from celcolor import ColorizeOptions, Colorizer
from celcolor.data.synthetic import CutSpec, generate_cut


def _passes(sketches, first: np.ndarray, last: np.ndarray, **options):
    """The blended frames, the forward pass alone and the backward pass alone, over
    one palette (both references in every run)."""
    n = len(sketches)
    pinned = {0: first, n - 1: last}

    def run(col: Colorizer) -> list[np.ndarray]:
        return list(col.colorize(sketches))

    blended = run(Colorizer(None, ColorizeOptions(**options), pinned=pinned))
    forward = run(Colorizer(None, ColorizeOptions(blend_window=0, **options), pinned=pinned))
    # The last key as --ref-frame: the frames before it are coloured on the way back.
    back = Colorizer([last], ColorizeOptions(ref_frame=n - 1, **options), pinned={0: first})
    return blended, forward, run(back)


def test_a_blended_frame_shows_each_region_as_one_pass_rendered_it() -> None:
    """A leaking square (its inside carried as texture: softened, persisting) moves
    between two keys: every pixel of a blended frame is the forward or the backward
    pass's, as that pass showed it, and the frames beside each key are that key's pass."""
    sketches = [_sketch(s) for s in range(0, 22, 2)]
    blended, forward, backward = _passes(
        sketches, _colour(0), _colour(20), temporal="classical", blend_fade=0
    )
    for t, (b, f, k) in enumerate(zip(blended, forward, backward, strict=True)):
        from_forward, from_backward = (b == f).all(-1), (b == k).all(-1)
        assert (from_forward | from_backward).all(), t
    assert np.array_equal(blended[1], forward[1])
    assert np.array_equal(blended[-2], backward[-2])
    assert not np.array_equal(forward[5], backward[5])  # the passes do differ


def test_each_region_switches_pass_once_whatever_the_trusts(monkeypatch) -> None:
    """The per-frame trust of each pass is noisy on real cuts (the share of a region its
    last warp saw); a region must still go from the forward pass to the backward one
    once, not back and forth. Random trusts, from a half to all of each region, on a
    still drawing (holds off, so every frame is coloured)."""
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=5))
    sketches = [cut.sketch[0]] * 10
    first = cut.colour[0]
    last = np.ascontiguousarray(first[..., ::-1])  # another paint job
    rng = np.random.default_rng(0)

    def noisy(self, frame):
        return rng.uniform(0.5, 1.0, frame.regions.count).astype(np.float32)

    monkeypatch.setattr(Colorizer, "_last_trust", noisy)
    blended, forward, backward = _passes(
        sketches, first, last, temporal="classical", hold_drawings=False, blend_fade=0
    )
    took_forward = np.stack([(b == f).all(-1) for b, f in zip(blended, forward, strict=True)])
    took_backward = np.stack([(b == k).all(-1) for b, k in zip(blended, backward, strict=True)])
    differ = ~(took_forward & took_backward)
    assert differ[1:-1].any()
    inner = took_forward[1:-1]
    # Along time a pixel never goes back to the forward pass once it left it.
    assert not (inner[1:] & ~inner[:-1] & differ[2:-1]).any()
    assert inner[0][differ[1]].mean() > 0.5 > inner[-1][differ[-2]].mean()


def _biggest_change(frames: list[np.ndarray]) -> int:
    """The largest change of any pixel (any channel) from one frame to the next."""
    return max(int(np.abs(a.astype(int) - b).max()) for a, b in pairwise(frames))


def test_a_region_cross_fades_from_one_pass_to_the_other() -> None:
    """Two keys paint a still drawing differently: the frames between go from the first
    paint to the second in steps of a quarter (``blend_fade`` 4), each pixel between
    the two passes, instead of the whole change on one frame; the frames beside each
    key are that key's pass, exactly."""
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=5))
    sketches = [cut.sketch[0]] * 10
    first = cut.colour[0]
    last = np.ascontiguousarray(first[..., ::-1])  # another paint job
    options = dict(temporal="classical", hold_drawings=False)
    blended, forward, backward = _passes(sketches, first, last, blend_fade=4, **options)
    hard = _passes(sketches, first, last, blend_fade=0, **options)[0]
    paints_differ = _biggest_change([forward[4], backward[4]])
    assert paints_differ > 60
    assert _biggest_change(hard[1:-1]) >= paints_differ - 1  # all on one frame
    assert _biggest_change(blended[1:-1]) <= paints_differ / 4 + 2
    for b, f, k in zip(blended, forward, backward, strict=True):
        low = np.minimum(f, k).astype(int) - 1
        high = np.maximum(f, k).astype(int) + 1
        assert ((b >= low) & (b <= high)).all()
    assert np.array_equal(blended[1], forward[1])
    assert np.array_equal(blended[-2], backward[-2])
