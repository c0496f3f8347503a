"""The exemplar network inside the engine: keyframe modes, several references, pinning.

These use a small untrained checkpoint: they test the plumbing, not colour quality
(the shipped weights' quality is tested in test_shipped_weights.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import celcolor.models.records as records
from celcolor.data.synthetic import CutSpec, generate_cut
from celcolor.engine import ColorizeOptions, Colorizer, colorize_video
from celcolor.errors import CelcolorError, InputError
from celcolor.metrics import region_accuracy
from celcolor.models import create_model, save_checkpoint

SPEC = CutSpec(width=160, height=96, num_frames=12, seed=21)


@pytest.fixture(scope="module")
def cut():
    return generate_cut(SPEC, flow=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(create_model("exemplar", width=8, key_dim=8), path, "exemplar")
    return str(path)


def test_network_mode_colours_keyframes_with_the_network(cut, checkpoint):
    col = Colorizer(cut.colour[8], ColorizeOptions(keyframe_mode="network", checkpoint=checkpoint))
    out = list(col.colorize(list(cut.sketch[:3])))
    assert len(out) == 3 and out[0].shape == (96, 160, 3) and out[0].dtype == np.uint8
    assert col.stats.network_keyframes == 1
    # Snapped: every pixel away from ink carries a reference palette colour.
    away = (cut.sketch[0] == 255).all(axis=2)
    palette = {tuple(c) for c in col.palette.colours}
    assert {tuple(c) for c in out[0][away][::50]} <= palette


def test_the_exemplar_network_runs_in_fp32_whatever_the_cpu(cut, checkpoint, monkeypatch):
    # The region matcher learned fp32 votes: keyframes get them on a bf16 CPU too,
    # while the temporal network, which runs on every in-between, keeps bf16 there.
    import celcolor.engine.network as network

    monkeypatch.setattr(network, "cpu_has_bf16", lambda: True)
    path = str(Path(checkpoint).with_name("temporal.safetensors"))
    save_checkpoint(create_model("temporal", width=8, key_dim=8), path, "temporal")
    options = ColorizeOptions(checkpoint=checkpoint, temporal_checkpoint=path, device="cpu")
    col = Colorizer(cut.colour[0], options)
    assert col.network().bf16 is False
    assert col.temporal_network().bf16 is True


def test_auto_copies_when_the_reference_is_the_keyframe_drawing(cut, checkpoint):
    col = Colorizer(cut.colour[0], ColorizeOptions(keyframe_mode="auto", checkpoint=checkpoint))
    out = list(col.colorize(list(cut.sketch[:2])))
    assert col.stats.network_keyframes == 0
    assert region_accuracy(out[0], cut.colour[0], cut.regions[0], lines=cut.lines[0]).pixel > 0.99


def test_network_mode_without_weights_says_how_to_get_them(cut, monkeypatch):
    monkeypatch.setattr(records, "shipped_record", lambda name: None)
    col = Colorizer(cut.colour[8], ColorizeOptions(keyframe_mode="network"))
    with pytest.raises(InputError, match="colorize-video train exemplar"):
        list(col.colorize(list(cut.sketch[:1])))


def test_auto_without_weights_falls_back_to_the_fitted_copy(cut, monkeypatch, caplog):
    monkeypatch.setattr(records, "shipped_record", lambda name: None)
    other_drawing = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=99)).colour[0]
    col = Colorizer(other_drawing, ColorizeOptions(keyframe_mode="auto"))
    out = list(col.colorize(list(cut.sketch[:2])))
    assert len(out) == 2 and col.stats.network_keyframes == 0
    assert "no exemplar network weights" in caplog.text


def test_a_pinned_reference_rekeys_its_frame(cut):
    # Frame 6 pinned to its own colour: it is re-keyed (copied), not propagated.
    col = Colorizer(cut.colour[0], ColorizeOptions(), pinned={6: cut.colour[6]})
    out = list(col.colorize(list(cut.sketch)))
    acc = region_accuracy(out[6], cut.colour[6], cut.regions[6], lines=cut.lines[6])
    assert len(out) == len(cut.sketch) and acc.pixel > 0.99


def test_only_pinned_references_key_the_earliest(cut, tmp_path):
    from celcolor.io import write_image, write_video

    src = tmp_path / "cut.mp4"
    write_video(src, list(cut.sketch), fps=24.0)
    write_image(tmp_path / "k4.png", cut.colour[4])
    write_image(tmp_path / "k9.png", cut.colour[9])
    result = colorize_video(
        src,
        [f"4:{tmp_path / 'k4.png'}", f"9:{tmp_path / 'k9.png'}"],
        tmp_path / "out",
        lines="fill",
    )
    assert result.frames == len(cut.sketch)
    assert result.stats.frames == len(cut.sketch)


def test_several_references_share_one_palette(cut):
    other = np.full_like(cut.colour[0], (10, 200, 30))
    col = Colorizer([cut.colour[0], other], ColorizeOptions())
    colours = {tuple(c) for c in col.palette.colours}
    assert (10, 200, 30) in colours
    assert len(list(col.colorize(list(cut.sketch[:2])))) == 2


def _record(network: float, copy: float):
    return records.WeightsRecord(
        name="exemplar",
        file="exemplar.safetensors",
        sha256="0" * 64,
        command="c",
        data="d",
        seconds=0.0,
        metrics={"keyframe_accuracy": {"network": network, "copy": copy}},
    )


def test_auto_keeps_the_copy_when_the_shipped_network_scored_lower(monkeypatch):
    monkeypatch.setattr(records, "shipped_record", lambda name: _record(0.7, 0.9))
    other = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=99)).colour[0]
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=21))
    col = Colorizer(other, ColorizeOptions(keyframe_mode="auto"))
    list(col.colorize(list(cut.sketch)))
    assert col.stats.placement is not None and not col.stats.placement.same_drawing
    assert col.stats.network_keyframes == 0


def test_auto_uses_a_checkpoint_the_user_passed(checkpoint, caplog):
    other = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=99)).colour[0]
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=21))
    col = Colorizer(other, ColorizeOptions(keyframe_mode="auto", checkpoint=checkpoint))
    with caplog.at_level(logging.INFO, logger="celcolor"):
        list(col.colorize(list(cut.sketch)))
    assert col.stats.network_keyframes == 1
    # The log says which path coloured it; the copy's warning does not apply.
    assert "coloured by the exemplar network" in caplog.text
    assert "transferred by position" not in caplog.text


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "matcher.safetensors"
    save_checkpoint(create_model("matcher", hidden=8), path, "matcher")
    return str(path)


def test_match_mode_matches_regions_and_snaps_them(cut, checkpoint, matcher):
    # Unsoftened, leaking regions show the network's palette colours per pixel too.
    options = ColorizeOptions(
        keyframe_mode="match",
        checkpoint=checkpoint,
        matcher_checkpoint=matcher,
        texture_soften=0.0,
    )
    col = Colorizer(cut.colour[8], options)
    out = list(col.colorize(list(cut.sketch[:3])))
    assert len(out) == 3 and col.stats.matched_keyframes == 1
    away = (cut.sketch[0] == 255).all(axis=2)
    palette = {tuple(c) for c in col.palette.colours}
    assert {tuple(c) for c in out[0][away][::50]} <= palette


def test_match_mode_without_matcher_weights_says_how_to_get_them(cut, checkpoint, monkeypatch):
    monkeypatch.setattr(records, "shipped_record", lambda name: None)
    col = Colorizer(cut.colour[8], ColorizeOptions(keyframe_mode="match", checkpoint=checkpoint))
    with pytest.raises(InputError, match="colorize-video train matcher"):
        list(col.colorize(list(cut.sketch[:1])))


def test_a_matcher_checkpoint_that_is_not_a_matcher_is_refused(cut, checkpoint):
    options = ColorizeOptions(keyframe_mode="match", matcher_checkpoint=checkpoint)
    with pytest.raises(InputError, match="not region matcher weights"):
        list(Colorizer(cut.colour[8], options).colorize(list(cut.sketch[:1])))


def test_matcher_weights_given_as_the_network_are_refused(cut, tmp_path):
    path = tmp_path / "m.safetensors"
    save_checkpoint(create_model("matcher", hidden=8), path, "matcher")
    options = ColorizeOptions(keyframe_mode="network", checkpoint=str(path))
    with pytest.raises(InputError, match="not exemplar network weights"):
        list(Colorizer(cut.colour[8], options).colorize(list(cut.sketch[:1])))


def test_temporal_weights_given_as_the_exemplar_network_are_refused(cut, tmp_path):
    path = tmp_path / "t.safetensors"
    save_checkpoint(create_model("temporal", width=8, key_dim=8), path, "temporal")
    options = ColorizeOptions(keyframe_mode="network", checkpoint=str(path))
    with pytest.raises(InputError, match="pass them as --temporal-checkpoint"):
        list(Colorizer(cut.colour[8], options).colorize(list(cut.sketch[:1])))


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b""])
def test_a_file_that_is_no_checkpoint_is_one_clear_error(cut, tmp_path, content):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(content)
    options = ColorizeOptions(keyframe_mode="network", checkpoint=str(path))
    with pytest.raises(CelcolorError, match="not a safetensors checkpoint"):
        list(Colorizer(cut.colour[8], options).colorize(list(cut.sketch[:1])))


def test_matcher_weights_of_other_columns_are_refused_with_a_retrain_hint(
    cut, checkpoint, tmp_path
):
    # Weights trained when the matcher read fewer stage-2 columns cannot score today's rows.
    path = tmp_path / "old.safetensors"
    save_checkpoint(create_model("matcher", hidden=8, belief_features=4), path, "matcher")
    options = ColorizeOptions(
        keyframe_mode="match", checkpoint=checkpoint, matcher_checkpoint=str(path)
    )
    with pytest.raises(InputError, match="retrain: colorize-video train matcher"):
        list(Colorizer(cut.colour[8], options).colorize(list(cut.sketch[:1])))


@pytest.mark.skipif(records.shipped_record("matcher") is None, reason="no shipped matcher")
def test_auto_matches_regions_with_the_shipped_weights(cut, caplog):
    other = generate_cut(CutSpec(width=160, height=96, num_frames=1, seed=99)).colour[0]
    col = Colorizer(other, ColorizeOptions(keyframe_mode="auto"))
    with caplog.at_level(logging.INFO, logger="celcolor"):
        list(col.colorize(list(cut.sketch[:2])))
    assert col.stats.matched_keyframes == 1
    assert "matched region by region" in caplog.text


def test_unconfident_regions_are_coloured_by_a_trusted_network(checkpoint):
    # Fast motion and occlusion: regions appear that propagation has no vote for.
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=8, seed=4, motion=3.0))
    for mode, expect_fills in (("network", True), ("copy", False)):
        options = ColorizeOptions(
            keyframe_mode=mode, checkpoint=checkpoint, temporal="classical", network_fill_share=0.0
        )
        col = Colorizer(cut.colour[0], options)
        out = list(col.colorize(list(cut.sketch)))
        assert len(out) == 8
        assert any(u > 0 for u in col.stats.unconfident)  # the cut has such regions
        assert (col.stats.network_fills > 0) == expect_fills


def test_auto_fills_no_regions_with_the_shipped_network(monkeypatch):
    # Auto trusts the shipped network for keyframes of another drawing (its record),
    # not for propagation's unconfident regions: those keep their neighbour's colour.
    monkeypatch.setattr(records, "shipped_record", lambda name: _record(0.95, 0.9))
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=8, seed=4, motion=3.0))
    options = ColorizeOptions(temporal="classical", network_fill_share=0.0)
    col = Colorizer(cut.colour[0], options)
    assert col.learned.network_preferred()
    assert len(list(col.colorize(list(cut.sketch)))) == 8
    assert any(u > 0 for u in col.stats.unconfident)  # the cut has such regions
    assert col.stats.network_fills == 0


def test_two_keyframes_blend_a_forward_and_a_backward_pass():
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=14, seed=4, motion=3.0))
    pinned = {0: cut.colour[0], 13: cut.colour[13]}

    def run(window: int) -> list[np.ndarray]:
        options = ColorizeOptions(temporal="classical", blend_window=window)
        out = list(Colorizer(None, options, pinned=pinned).colorize(list(cut.sketch)))
        assert len(out) == 14
        return out

    def accuracy(frames: list[np.ndarray], t: int) -> float:
        return region_accuracy(frames[t], cut.colour[t], cut.regions[t], lines=cut.lines[t]).pixel

    forward, blended = run(0), run(96)
    assert any(not np.array_equal(a, b) for a, b in zip(forward, blended, strict=True))
    # Near the second keyframe the backward pass is the one to trust.
    late = range(9, 13)
    assert np.mean([accuracy(blended, t) for t in late]) > np.mean(
        [accuracy(forward, t) for t in late]
    )
    assert accuracy(blended, 13) > 0.97 and accuracy(blended, 0) > 0.97  # the keyframes


def test_a_blend_trusts_neither_pass_across_a_new_drawing():
    # Two shots, a key pinned in each (0 and 11); the second shot starts at frame 3.
    # The forward pass carries shot 1's colours through shot 2, which the blend's
    # nearness weights would favour up to the middle; past a new drawing it is not
    # trusted, so shot 2's frames are the backward pass's.
    one = generate_cut(CutSpec(width=160, height=96, num_frames=12, seed=21, motion=2.0))
    two = generate_cut(CutSpec(width=160, height=96, num_frames=12, seed=22, num_shapes=5))
    sketches = [*one.sketch[:3], *two.sketch[3:]]
    pinned = {0: one.colour[0], 11: two.colour[11]}
    col = Colorizer(None, ColorizeOptions(temporal="classical"), pinned=pinned)
    out = list(col.colorize(sketches))
    assert col.stats.blended == 10 and 3 in col.stats.new_drawings
    # Each shot took the pass from its own key: no colour crossed the change.
    assert set(col.stats.new_drawings) == set(col.stats.covered)

    def accuracy(t: int) -> float:
        return region_accuracy(out[t], two.colour[t], two.regions[t], lines=two.lines[t]).region

    # Shot 2's frames nearest its start, where forward nearness weighs most.
    assert min(accuracy(t) for t in (3, 4, 5)) > 0.6


def test_a_re_key_takes_the_reference_that_fits_the_new_drawing():
    # Keys of two shots pinned far apart (no blend); shot 2 starts at frame 3 and is
    # re-keyed there from its own key, not from the first one given.
    one = generate_cut(CutSpec(width=160, height=96, num_frames=12, seed=21, motion=2.0))
    two = generate_cut(CutSpec(width=160, height=96, num_frames=12, seed=22, num_shapes=5))
    sketches = [*one.sketch[:3], *two.sketch[3:]]
    options = ColorizeOptions(temporal="classical", rekey="on", blend_window=0)
    col = Colorizer(None, options, pinned={0: one.colour[0], 11: two.colour[11]})
    out = list(col.colorize(sketches))
    assert 3 in col.stats.rekeyed
    # Shot 2's colours (the first key would give it none of them).
    acc = region_accuracy(out[3], two.colour[3], two.regions[3], lines=two.lines[3])
    assert acc.pixel > 0.9


def test_the_working_size_follows_the_size_the_weights_were_trained_at(cut, tmp_path):
    import json

    from celcolor.engine.network import DEFAULT_LONG_SIDE, working_long_side

    assert working_long_side([192, 112]) == 320 and working_long_side(None) == DEFAULT_LONG_SIDE
    trained = tmp_path / "trained.safetensors"
    model = create_model("exemplar", width=8, key_dim=8)
    save_checkpoint(model, trained, "exemplar", {"train_size": json.dumps([96, 64])})
    ref = cut.colour[8]
    assert Colorizer(ref, ColorizeOptions(checkpoint=str(trained))).network().long_side == 160
    chosen = ColorizeOptions(checkpoint=str(trained), network_long_side=128)
    assert Colorizer(ref, chosen).network().long_side == 128
    bare = tmp_path / "bare.safetensors"
    save_checkpoint(model, bare, "exemplar")
    assert Colorizer(ref, ColorizeOptions(checkpoint=str(bare))).network().long_side == 320
