"""The temporal network inside the engine: modes, the auto gate, re-keying.

A small untrained checkpoint tests the plumbing; the shipped weights' quality is
tested in test_shipped_weights.py.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import celcolor.models.records as records
from celcolor.data.synthetic import CutSpec, generate_cut
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.errors import InputError, UsageError
from celcolor.models import create_model, save_checkpoint

SPEC = CutSpec(width=160, height=96, num_frames=8, seed=21, motion=2.0)


@pytest.fixture(scope="module")
def cut():
    return generate_cut(SPEC, flow=False)


@pytest.fixture(scope="module")
def temporal_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "temporal.safetensors"
    save_checkpoint(create_model("temporal", width=8, key_dim=8), path, "temporal")
    return str(path)


def _record(network_psnr: float, classical_psnr: float):
    return records.WeightsRecord(
        name="temporal",
        file="temporal.safetensors",
        sha256="0" * 64,
        command="c",
        data="d",
        seconds=0.0,
        metrics={
            "sequence_eval": {
                "network": {"psnr": network_psnr},
                "classical": {"psnr": classical_psnr},
            }
        },
    )


def test_network_only_colours_every_in_between_with_the_network(cut, temporal_checkpoint):
    options = ColorizeOptions(
        temporal="network-only", temporal_checkpoint=temporal_checkpoint, rekey_threshold=1.0
    )
    col = Colorizer(cut.colour[0], options)
    out = list(col.colorize(list(cut.sketch)))
    assert len(out) == len(cut.sketch)
    assert all(o.shape == (96, 160, 3) and o.dtype == np.uint8 for o in out)
    assert col.stats.network_frames == len(cut.sketch) - 1 and col.stats.rekeyed == []
    # Snapped: pixels away from ink carry reference palette colours.
    away = (cut.sketch[5] == 255).all(axis=2)
    palette = {tuple(c) for c in col.palette.colours}
    assert {tuple(c) for c in out[5][away][::40]} <= palette


def test_the_previous_output_is_moved_once_a_frame(cut, temporal_checkpoint, monkeypatch):
    """The network's guide and the texture's persistence share one remap a frame."""
    options = ColorizeOptions(
        temporal="network-only", temporal_checkpoint=temporal_checkpoint, rekey_threshold=1.0
    )
    col = Colorizer(cut.colour[0], options)
    calls: list[int] = []
    moved_previous = Colorizer._moved_previous

    def counted(self, prev_out, sample):
        calls.append(id(prev_out))
        return moved_previous(self, prev_out, sample)

    monkeypatch.setattr(Colorizer, "_moved_previous", counted)
    list(col.colorize(list(cut.sketch)))
    assert len(set(calls)) == len(cut.sketch) - 1  # one previous output a frame
    prev = cut.colour[0].copy()
    ys, xs = np.mgrid[0:96, 0:160].astype(np.float32)
    sample = np.dstack([xs + 1.5, ys - 0.5])
    first = col._moved_previous(prev, sample)
    assert col._moved_previous(prev, sample) is first  # the same frame: not again
    again = col._moved_previous(prev.copy(), sample)  # another output: computed anew
    assert again is not first and np.array_equal(again, first)


def test_network_only_trusts_the_warp_where_the_regions_votes_vouch_for_it(
    temporal_checkpoint, monkeypatch
):
    # The occlusion test fails inside flat regions of line drawings (loosely pinned
    # flow); pixels whose warped colour is their region's confident vote count as
    # held in the network's guide as well, and nothing the test passes is dropped.
    rough = generate_cut(CutSpec(width=320, height=192, num_frames=4, seed=5, faults=True))
    seen = []
    predict = Colorizer._temporal_predict

    def spy(self, frame, prev_out, sample, visible, held=None):
        seen.append((visible.copy(), None if held is None else held.copy()))
        return predict(self, frame, prev_out, sample, visible, held)

    monkeypatch.setattr(Colorizer, "_temporal_predict", spy)
    options = ColorizeOptions(
        temporal="network-only", temporal_checkpoint=temporal_checkpoint, rekey_threshold=1.0
    )
    assert len(list(Colorizer(rough.colour[0], options).colorize(list(rough.sketch)))) == 4
    assert len(seen) == 3
    for visible, held in seen:
        assert held is not None and set(np.unique(held)) <= {0, 1}
        trusted = np.maximum(visible, held)
        assert trusted.mean() > visible.mean() + 0.3  # 0.41-0.45 to 0.95-0.97 when written


def test_held_by_votes_marks_pixels_showing_their_regions_confident_colour():
    labels = np.array([[1, 1, 2, 2], [1, 0, 2, 3]], np.int32)
    frame = type("F", (), {"regions": type("R", (), {"labels": labels})()})()
    warped = np.array([[5, 6, 7, 7], [5, 255, 9, 4]], np.uint8)
    winner = np.array([0, 5, 7, 4], np.uint8)
    confident = np.array([True, True, True, False])
    held = Colorizer._held_by_votes(frame, warped, confident, winner)
    # region 1 votes 5 (one pixel shows 6); region 2 votes 7 (one shows 9); region 3
    # is unsure; label 0 (lines) never holds.
    assert held.tolist() == [[1, 0, 1, 1], [1, 0, 0, 0]]


@pytest.mark.parametrize(("side", "work"), [(None, (320, 192)), (0, (160, 96)), (80, (80, 48))])
def test_the_temporal_working_size_is_chosen(cut, temporal_checkpoint, side, work):
    # None: the training scale (this bare checkpoint records none: 320); 0: the
    # frame's own size; a number: that long side. The cut is 160x96.
    options = ColorizeOptions(
        temporal="network-only",
        temporal_checkpoint=temporal_checkpoint,
        temporal_long_side=side,
        rekey_threshold=1.0,
    )
    col = Colorizer(cut.colour[0], options)
    out = list(col.colorize(list(cut.sketch[:3])))
    assert col.temporal_network().work_size(cut.sketch[0].shape) == work
    assert len(out) == 3 and col.stats.network_frames == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_network_path_on_cuda_colours_as_on_the_cpu(cut, temporal_checkpoint):
    outs = {}
    for device in ("cpu", "cuda"):
        options = ColorizeOptions(
            temporal="network-only",
            temporal_checkpoint=temporal_checkpoint,
            rekey_threshold=1.0,
            device=device,
        )
        outs[device] = np.stack(list(Colorizer(cut.colour[0], options).colorize(list(cut.sketch))))
    diff = np.abs(outs["cpu"].astype(int) - outs["cuda"].astype(int)).max(axis=-1)
    # Fused attention and other kernels round differently; region snap absorbs most of it.
    assert (diff > 10).mean() < 0.01


@pytest.mark.parametrize("side", [-1, 32, 5000])
def test_a_temporal_working_size_out_of_range_is_refused(side):
    from celcolor.errors import UsageError

    with pytest.raises(UsageError, match="temporal-long-side"):
        ColorizeOptions(temporal_long_side=side)


def test_network_mode_calls_the_network_only_for_unconfident_regions(cut, temporal_checkpoint):
    def run(fill_share: float) -> Colorizer:
        options = ColorizeOptions(
            temporal="network",
            temporal_checkpoint=temporal_checkpoint,
            rekey_threshold=1.0,
            network_fill_share=fill_share,
        )
        col = Colorizer(cut.colour[0], options)
        assert len(list(col.colorize(list(cut.sketch)))) == len(cut.sketch)
        return col

    eager = run(0.0)  # any unconfident region calls the network
    frames_with_doubt = sum(u > 0 for u in eager.stats.unconfident[1:])
    assert 0 < eager.stats.network_frames == frames_with_doubt
    assert run(1.0).stats.network_frames == 0  # never: classical propagation alone


@pytest.mark.parametrize("rekey", ["on", "unsure"])
def test_a_frame_of_another_drawing_is_rekeyed(cut, temporal_checkpoint, caplog, rekey):
    # The cut switches to another drawing at frame 4: most of its lines are new there.
    sketches = _switching_cut(cut)
    options = ColorizeOptions(
        temporal="network", temporal_checkpoint=temporal_checkpoint, rekey=rekey
    )
    col = Colorizer(cut.colour[0], options)
    with caplog.at_level(logging.INFO, logger="celcolor"):
        out = list(col.colorize(sketches))
    assert len(out) == 8
    assert col.stats.rekeyed == [4]
    assert "re-keyed from the reference" in caplog.text


@pytest.mark.parametrize("temporal", ["network", "network-only"])
def test_the_network_carries_on_across_a_new_drawing_by_default(
    cut, temporal_checkpoint, caplog, temporal
):
    # As classical propagation: re-keys measured worse on the dev shots (README).
    options = ColorizeOptions(temporal=temporal, temporal_checkpoint=temporal_checkpoint)
    col = Colorizer(cut.colour[0], options)
    with caplog.at_level(logging.INFO, logger="celcolor"):
        assert len(list(col.colorize(_switching_cut(cut)))) == 8
    assert col.stats.new_drawings == [4] and col.stats.rekeyed == []
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert any("mostly new lines" in m and "--ref 4:key.png" in m for m in warnings)


def _switching_cut(cut):
    """The module's cut for 4 frames, then another drawing for 4."""
    other = generate_cut(CutSpec(width=160, height=96, num_frames=4, seed=22, num_shapes=5))
    return list(cut.sketch[:4]) + list(other.sketch)


def test_classical_carries_on_across_a_new_drawing_and_says_where(cut, caplog):
    col = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical"))
    with caplog.at_level(logging.INFO, logger="celcolor"):
        out = list(col.colorize(_switching_cut(cut)))
    assert len(out) == 8
    assert col.stats.new_drawings == [4] and col.stats.rekeyed == []
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert any("mostly new lines" in m and "--ref 4:key.png" in m for m in warnings)


def test_a_drawing_after_an_empty_frame_is_new(cut):
    # An empty frame, then a drawing: no chance level to correct by, yet every line is new.
    blank = np.full_like(cut.sketch[0], 255)
    col = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical"))
    assert len(list(col.colorize([blank, *cut.sketch[:3]]))) == 4
    assert col.stats.new_drawings == [1]


def test_a_new_drawing_is_found_colouring_backwards_too(cut):
    # The keyframe is frame 6 (the second drawing): frames 5 to 0 are coloured
    # backwards from it, and frame 3 is the first of the other drawing met that way.
    other = generate_cut(CutSpec(width=160, height=96, num_frames=4, seed=22, num_shapes=5))
    col = Colorizer(other.colour[2], ColorizeOptions(temporal="classical", ref_frame=6))
    assert len(list(col.colorize(_switching_cut(cut)))) == 8
    assert col.stats.new_drawings == [3] and col.stats.rekeyed == []


def test_rekey_on_colours_a_new_drawing_from_the_reference(cut):
    sketches = _switching_cut(cut)
    carried = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical"))
    rekeyed = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical", rekey="on"))
    a, b = list(carried.colorize(sketches)), list(rekeyed.colorize(sketches))
    assert rekeyed.stats.rekeyed == [4] == rekeyed.stats.new_drawings
    assert all(np.array_equal(x, y) for x, y in zip(a[:4], b[:4], strict=True))
    assert not np.array_equal(a[4], b[4])  # a keyframe, not the carried colours
    # Colouring that frame as the first of a cut gives the same picture.
    fresh = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical"))
    assert np.array_equal(next(iter(fresh.colorize(sketches[4:5]))), b[4])


def test_rekey_unsure_keeps_the_colours_propagation_is_sure_of(cut, temporal_checkpoint):
    # At the new drawing (frame 4) the network re-keys only where the carried colours
    # are unsure: each region shows either the whole re-key's colour (--rekey on) or
    # the carried one (--rekey off), and both kinds are there.
    sketches = _switching_cut(cut)

    def frame4(rekey: str) -> tuple[np.ndarray, Colorizer]:
        options = ColorizeOptions(
            temporal="network", temporal_checkpoint=temporal_checkpoint, rekey=rekey
        )
        col = Colorizer(cut.colour[0], options)
        return list(col.colorize(sketches))[4], col

    (mixed, col), (whole, _), (carried, _) = frame4("unsure"), frame4("on"), frame4("off")
    assert col.stats.rekeyed == [4]
    kept = np.all(mixed == carried, axis=-1)
    rekeyed = np.all(mixed == whole, axis=-1)
    assert (kept | rekeyed).all()
    assert (kept & ~rekeyed).mean() > 0.05 and (rekeyed & ~kept).mean() > 0.05


def test_rekey_off_carries_on_with_the_temporal_network(cut, temporal_checkpoint):
    options = ColorizeOptions(
        temporal="network", temporal_checkpoint=temporal_checkpoint, rekey="off"
    )
    col = Colorizer(cut.colour[0], options)
    assert len(list(col.colorize(_switching_cut(cut)))) == 8
    assert col.stats.new_drawings == [4] and col.stats.rekeyed == []


def test_an_unknown_rekey_mode_is_a_usage_error():
    with pytest.raises(UsageError, match="--rekey must be one of auto, on, unsure, off"):
        ColorizeOptions(rekey="always")


def test_a_rough_drawing_is_not_a_new_drawing_in_classical_propagation():
    rough = generate_cut(CutSpec(width=320, height=192, num_frames=6, seed=5, faults=True))
    col = Colorizer(rough.colour[0], ColorizeOptions(temporal="classical", rekey="on"))
    assert len(list(col.colorize(list(rough.sketch)))) == 6
    assert col.stats.new_drawings == [] and col.stats.rekeyed == []


def test_a_rough_drawing_is_not_rekeyed_for_its_flow_noise(temporal_checkpoint):
    # Boiling, doubled, gappy lines: most pixels fail the forward-backward occlusion
    # test, yet the lines are the same drawing moving on, so nothing is re-keyed.
    rough = generate_cut(CutSpec(width=320, height=192, num_frames=6, seed=5, faults=True))
    options = ColorizeOptions(temporal="network-only", temporal_checkpoint=temporal_checkpoint)
    col = Colorizer(rough.colour[0], options)
    assert len(list(col.colorize(list(rough.sketch)))) == 6
    assert col.stats.rekeyed == []
    lost = col.stats.unconfident[1:]  # network-only: the share failing the occlusion test
    assert max(lost) > options.rekey_threshold


def test_network_mode_without_weights_says_how_to_get_them(cut, monkeypatch):
    monkeypatch.setattr(records, "shipped_record", lambda name: None)
    col = Colorizer(cut.colour[0], ColorizeOptions(temporal="network", rekey_threshold=1.0))
    with pytest.raises(InputError, match="train temporal"):
        list(col.colorize(list(cut.sketch[:3])))


@pytest.mark.parametrize(
    ("name", "config"), [("exemplar", {"width": 8, "key_dim": 8}), ("matcher", {"hidden": 8})]
)
def test_weights_of_another_model_are_not_a_temporal_network(cut, tmp_path, name, config):
    path = tmp_path / f"{name}.safetensors"
    save_checkpoint(create_model(name, **config), path, name)
    options = ColorizeOptions(temporal="network", temporal_checkpoint=str(path))
    with pytest.raises(InputError, match="not a temporal network"):
        list(Colorizer(cut.colour[0], options).colorize(list(cut.sketch[:2])))


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "classical"),
        (_record(30.0, 31.0), "classical"),
        (_record(31.0, 31.0), "classical"),  # a tie is not a win: the fast path stays
        (_record(32.0, 31.0), "network"),
    ],
)
def test_auto_uses_the_network_only_when_its_record_beats_classical(
    cut, monkeypatch, record, expected
):
    monkeypatch.setattr(records, "shipped_record", lambda name: record)
    assert Colorizer(cut.colour[0], ColorizeOptions()).temporal_mode == expected


def test_auto_uses_a_temporal_checkpoint_the_user_passed(cut, temporal_checkpoint):
    options = ColorizeOptions(temporal_checkpoint=temporal_checkpoint)
    assert Colorizer(cut.colour[0], options).temporal_mode == "network"
