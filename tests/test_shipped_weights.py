"""The shipped exemplar weights: they load (hash-checked, strict) and earn their place."""

from __future__ import annotations

import pytest

from celcolor.models import create_model, shipped_record
from celcolor.train.keyframe_eval import HELD_OUT_SPECS, keyframe_accuracy

record = shipped_record("exemplar")
pytestmark = pytest.mark.skipif(record is None, reason="no shipped exemplar weights")


def test_shipped_weights_load_with_their_record():
    model = create_model("exemplar", pretrained=True)
    assert record is not None and len(record.sha256) == 64
    assert "colorize-video train exemplar" in record.command
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.xfail(
    strict=True,
    reason="on the 64 held-out keyframes of celcolor.train.keyframe_eval the shipped network "
    "alone scores 90.7% against the flow-fitted copy's 89.3% (its record; 91.0% and 89.2% "
    "on session 30's line art, the matcher's record), short of the 2-point margin "
    "asked here; keyframes are matched region by region instead (the test below), which "
    "reads the network's votes. Remove this marker when a network checkpoint wins by it.",
)
def test_network_beats_the_fitted_copy_on_another_frame():
    # The first quarter of the held-out keyframes the ship step scores (seeds training
    # never draws; references 8 to 45 frames away), to keep the suite short.
    scores = keyframe_accuracy(specs=HELD_OUT_SPECS[:4])
    assert scores["network"] > scores["copy"] + 0.02, scores


@pytest.mark.skipif(shipped_record("matcher") is None, reason="no shipped region matcher")
def test_matched_keyframes_beat_the_fitted_copy_and_the_network_alone():
    # The same held-out keyframes (seeds the matcher's training never draws either).
    scores = keyframe_accuracy(specs=HELD_OUT_SPECS[:4], modes=("match", "network", "copy"))
    assert scores["match"] > scores["copy"] + 0.02, scores
    assert scores["match"] > scores["network"] + 0.015, scores
    assert scores["match_region"] > scores["network_region"] + 0.1, scores


def test_shipped_matcher_loads_with_its_record():
    record = shipped_record("matcher")
    assert record is not None and "colorize-video train matcher" in record.command
    model = create_model("matcher", pretrained=True)
    assert model.stage1.scale.min() > 0  # standardisation was fitted, not the defaults
    assert not bool((model.stage1.scale == 1).all())
    # two sets (the usual range of cuts, and half from a wider one), one tree fit each
    assert len(model.tree_members) == 2
    assert all(int(t.stage1.depth) > 0 for t in model.tree_members)


def test_every_shipped_checkpoint_stays_under_20_mb():
    from celcolor.models import list_models
    from celcolor.models.registry import WEIGHTS_DIR

    for name in list_models(pretrained=True):
        size = (WEIGHTS_DIR / shipped_record(name).file).stat().st_size
        assert size <= 20 * 1024 * 1024, (name, size)
