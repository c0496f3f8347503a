"""Two keyframes: the frames between take, region by region, one of two passes, and
cross-fade from one to the other where a region switches."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
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


@pytest.mark.parametrize("backward_saw,fades", [(0.3, False), (0.6, True)])
def test_only_a_region_both_passes_saw_fades(monkeypatch, backward_saw, fades) -> None:
    """Where the backward warp saw less than half as much of a region as the forward one
    (it came through an occlusion, or across a shot change nobody caught), its colours
    are no drift of the same paint: the region switches on one frame, as with
    ``blend_fade`` 0."""
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=5))
    sketches = [cut.sketch[0]] * 10
    first = cut.colour[0]
    last = np.ascontiguousarray(first[..., ::-1])
    calls: dict[int, int] = {}  # per run

    def trust(self, frame):
        calls[id(self)] = calls.get(id(self), 0) + 1
        # The forward pass's 8 in-betweens come first, then the backward pass's 8.
        saw = 1.0 if calls[id(self)] <= 8 else backward_saw
        return np.full(frame.regions.count, saw, np.float32)

    monkeypatch.setattr(Colorizer, "_last_trust", trust)
    options = dict(temporal="classical", hold_drawings=False)
    pinned = {0: first, 9: last}
    runs = [  # both kept alive: their ids count their calls apart
        Colorizer(None, ColorizeOptions(blend_fade=fade, **options), pinned=pinned)
        for fade in (4, 0)
    ]
    faded, hard = (list(run.colorize(sketches)) for run in runs)
    assert sorted(calls.values()) == [16, 16]
    same = all(np.array_equal(a, b) for a, b in zip(faded, hard, strict=True))
    assert same != fades


def _two_shadings(frames: int = 10):
    """A still leaking square (its inside carried as texture) between two keys that shade
    it otherwise (the top and bottom halves' paints swapped), holds off."""
    first = _colour(0)
    last = first.copy()
    last[23:60, 43:137], last[60:97, 43:137] = first[60:97, 43:137], first[23:60, 43:137]
    return [_sketch(0)] * frames, first, last


def test_carried_texture_cross_fades_over_the_whole_segment() -> None:
    """Texture is two drifts of the keys' shading, not a choice of paint: each frame
    between the keys shows the passes mixed by its nearness to each key, so the change
    spreads evenly over the segment, not over ``blend_fade`` frames."""
    sketches, first, last = _two_shadings()
    n = len(sketches)
    blended, forward, backward = _passes(
        sketches, first, last, temporal="classical", hold_drawings=False
    )
    inside = np.s_[30:90, 50:130]
    differ = int(np.abs(forward[5][inside].astype(int) - backward[5][inside]).max())
    assert differ > 100
    for t in range(1, n - 1):
        w = (n - 1 - t) / (n - 1)
        mixed = w * forward[t][inside].astype(float) + (1 - w) * backward[t][inside]
        assert np.abs(blended[t][inside] - mixed).max() <= 1, t
    assert _biggest_change([b[inside] for b in blended]) <= differ / (n - 1) + 2


def test_no_fade_reaches_across_a_shot_change_between_the_keys() -> None:
    """A key per shot (two generated cuts joined at frame 5, as in
    ``bench_two_shots.py``): the second shot's frames take the backward pass whole (the
    forward one crossed the new drawing), and the first shot's frames start afresh
    from there: nothing fades from one shot's colours into the other's."""
    a, b = (
        generate_cut(CutSpec(width=320, height=192, num_frames=16, seed=s, motion=2.0))
        for s in (104, 204)
    )
    k = 5
    sketches = [*a.sketch[:k], *b.sketch[k:]]
    pinned = {0: a.colour[0], 15: b.colour[15]}
    runs = {}
    for fade in (0, 4):
        col = Colorizer(None, ColorizeOptions(temporal="classical", blend_fade=fade), pinned=pinned)
        runs[fade] = list(col.colorize(sketches))
    assert k in col.stats.new_drawings
    for t, (faded, hard) in enumerate(zip(runs[4], runs[0], strict=True)):
        assert np.array_equal(faded, hard), t


def test_a_frame_that_cannot_wait_on_disk_is_a_clear_error(monkeypatch) -> None:
    """The frames between two keys that do not fit ``wait_memory`` (here none does) wait
    on disk: a full or vanished temporary folder ends the run with one clear error, not
    a crash on a missing image later."""
    from celcolor.engine import colorizer
    from celcolor.errors import CelcolorError

    cut = generate_cut(CutSpec(width=160, height=96, num_frames=6, seed=5))
    pinned = {0: cut.colour[0], 5: cut.colour[5]}
    options = ColorizeOptions(temporal="classical", wait_memory=0)
    monkeypatch.setattr(colorizer.cv2, "imwrite", lambda *a, **k: False)
    with pytest.raises(CelcolorError, match="cannot hold a frame on disk"):
        list(Colorizer(None, options, pinned=pinned).colorize(cut.sketch))
    monkeypatch.undo()
    monkeypatch.setattr(colorizer.cv2, "imread", lambda *a, **k: None)
    with pytest.raises(CelcolorError, match="gone or unreadable"):
        list(Colorizer(None, options, pinned=pinned).colorize(cut.sketch))


@pytest.mark.parametrize("late_key", [False, True])
def test_waiting_frames_fill_the_memory_given_then_go_to_disk(late_key: bool) -> None:
    """Frames waiting for a later key (between two keys, or before a late one) stay in
    memory up to ``wait_memory`` and the rest wait on disk: the colours are the same
    whichever way, the memory held never passes the budget, and with none all wait on
    disk."""
    cut = generate_cut(CutSpec(width=320, height=192, num_frames=24, seed=7))
    if late_key:
        runs = {
            mb: Colorizer([cut.colour[20]], ColorizeOptions(ref_frame=20, wait_memory=mb))
            for mb in (0, 1, 256)
        }
    else:
        pinned = {0: cut.colour[0], 23: cut.colour[23]}
        runs = {
            mb: Colorizer(None, ColorizeOptions(wait_memory=mb), pinned=pinned)
            for mb in (0, 1, 256)
        }
    frames = {mb: list(col.colorize(cut.sketch)) for mb, col in runs.items()}
    for mb in (1, 256):
        assert all(np.array_equal(a, b) for a, b in zip(frames[0], frames[mb], strict=True))
    stats = {mb: col.stats for mb, col in runs.items()}
    assert stats[0].waiting_memory == 0 and stats[0].waited_on_disk > 20
    assert 0 < stats[1].waiting_memory <= 1 << 20
    assert 0 < stats[1].waited_on_disk < stats[0].waited_on_disk
    assert stats[256].waited_on_disk == 0


def test_a_waiting_frame_is_copied_in_and_let_go(tmp_path) -> None:
    """The store keeps its own copy (a caller may reuse its array), frees the memory of a
    frame let go for the next, and leaves no file behind."""
    from celcolor.engine.waiting import WaitingFrames

    frame = np.full((10, 10, 3), 7, np.uint8)
    store = WaitingFrames(tmp_path, budget=frame.nbytes)
    store.put("a", frame)
    store.put("b", frame)  # over the budget: on disk
    frame[:] = 0
    assert (store.get("a") == 7).all() and (store.take("b") == 7).all()
    assert store.on_disk == 1 and store.used == frame.nbytes
    store.drop("a")
    store.put("c", frame)  # the memory "a" held is free again
    assert store.used == frame.nbytes and store.on_disk == 1
    with pytest.raises(ValueError, match="already named"):
        store.put("c", frame)
    store.drop("c")
    assert store.used == 0 and not list(tmp_path.iterdir())


def _strokes(every: int) -> np.ndarray:
    """A page of horizontal and vertical strokes, one every ``every`` pixels."""
    s = np.full((96, 160, 3), 255, np.uint8)
    for y in range(8, 90, every):
        s[y : y + 2, 8:152] = 0
    for x in range(8, 152, every):
        s[8:88, x : x + 2] = 0
    return s


def test_a_drawing_new_only_going_back_is_found_on_the_way_forward() -> None:
    """A dense drawing followed by a sparse one whose strokes are some of its own: going
    forward, the later drawing's lines all lie on the earlier one's, so the new-drawing
    test passes it; going back, most of the earlier drawing's lines are new. That step
    is found on the way forward too, the other way round, so both passes treat it as
    crossing a new drawing before a frame past it is blended."""
    col = Colorizer(_colour(0), ColorizeOptions(temporal="classical"))
    dense, sparse = col.analyse(_strokes(8)), col.analyse(_strokes(40))
    shape = (96, 160)
    col._last_motion = col.motion(dense, sparse, shape)
    assert col._line_shares(dense, sparse, col._last_motion[0])[0] < 0.5  # not new forward
    assert col._new_going_back(dense, sparse)
    col._last_motion = col.motion(sparse, dense, shape)
    assert not col._new_going_back(sparse, dense)  # new going forward: the usual test's
    col._last_motion = col.motion(dense, dense, shape)
    assert not col._new_going_back(dense, dense)


@pytest.mark.parametrize("keys,asked", [((0, 3), True), ((0,), False)])
def test_the_test_going_back_is_asked_in_the_analysis_between_two_keys(keys, asked) -> None:
    """Streamed, the analysis asks the new-drawing test both ways from the same line
    images, the way back only between two keys that blend (elsewhere nothing reads it);
    the answer is the one the colouring thread would get."""
    col = Colorizer(
        None, ColorizeOptions(temporal="classical"), pinned=dict.fromkeys(keys, _colour(0))
    )
    frames = [f for _, f in col.analyse_stream([_strokes(8), _strokes(40), _strokes(40)])]
    dense, sparse, held = frames
    assert sparse.new_lines < 0.5 and held.held
    if not asked:
        assert sparse.old_lines is None
        return
    assert sparse.old_lines > 0.5 and held.old_lines == 0.0
    assert sparse.old_lines == col._line_shares(dense, sparse, sparse.motion[0], True)[1]


@pytest.mark.parametrize("found_by", ["forward", "going back"])
def test_a_shot_change_found_one_way_splits_the_segment_there(monkeypatch, found_by) -> None:
    """A shot change the new-drawing test finds one way round only (it asks how many
    of a frame's lines are new, which differs by direction): found on the way forward
    by the usual test, or by the test asked going back (``_new_going_back``), both
    passes treat it as crossed. The frames before it take the forward pass whole and
    the frames from it the backward pass, texture included: nothing of one shot's
    colours comes into the other's by nearness, and the second shot's frames, blended
    first, know it before the backward pass gets there."""
    sketches, first, last = _two_shadings()
    k = 5

    def rekeys(self, prev, frame, sample, index):
        visited = self.__dict__.setdefault("_visited", set())
        self._at = index
        # The forward pass (each run's first visit of a frame) finds it at k.
        if found_by == "forward" and index == k and index not in visited:
            self.stats.new_drawings.append(index)
            self._carried_across = True
        visited.add(index)
        return False

    def going_back(self, prev, frame):  # asked on the way forward only
        return found_by == "going back" and self._at == k

    monkeypatch.setattr(Colorizer, "_rekeys", rekeys)
    monkeypatch.setattr(Colorizer, "_new_going_back", going_back)
    blended, forward, backward = _passes(
        sketches, first, last, temporal="classical", hold_drawings=False
    )
    for t in range(1, k):
        assert np.array_equal(blended[t], forward[t]), t
    for t in range(k, len(sketches) - 1):
        assert np.array_equal(blended[t], backward[t]), t


@pytest.mark.parametrize("window,blended", [(None, 119), (96, 0)])
def test_keys_five_seconds_apart_blend_by_default(window, blended) -> None:
    """Keys at the ends of a 5-second shot (121 frames at 24 fps) blend by default: the
    window covers nearly any shot (its frames wait on disk past ``wait_memory``), so
    the second key does not pop in. A narrower ``blend_window`` leaves them apart."""
    sketches, first, last = _two_shadings(121)
    options = ColorizeOptions(temporal="classical", wait_memory=0)
    if window is not None:
        options = ColorizeOptions(temporal="classical", wait_memory=0, blend_window=window)
    col = Colorizer(None, options, pinned={0: first, 120: last})
    assert len(list(col.colorize(sketches))) == 121
    assert col.stats.blended == blended
