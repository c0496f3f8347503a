"""The shipped exemplar weights: they load (hash-checked, strict) and earn their place."""

from __future__ import annotations

import numpy as np
import pytest

from celcolor.data.synthetic import CutSpec, render_frame
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.metrics import region_accuracy
from celcolor.models import create_model, shipped_record

record = shipped_record("exemplar")
pytestmark = pytest.mark.skipif(record is None, reason="no shipped exemplar weights")

# Seeds outside anything training draws (it samples seeds at random in [0, 2**31)
# from its own generator; these fixed ones are a held-out set by construction of
# the benchmark, and the training log never lists them).
HELD_OUT = [
    CutSpec(width=320, height=192, num_frames=48, seed=s, num_shapes=5, motion=1.5)
    for s in (70_001, 70_002, 70_003)
]


def test_shipped_weights_load_with_their_record():
    model = create_model("exemplar", pretrained=True)
    assert record is not None and len(record.sha256) == 64
    assert "colorize-video train exemplar" in record.command
    assert sum(p.numel() for p in model.parameters()) > 0


def _accuracy(mode: str, spec: CutSpec, i: int, j: int) -> float:
    target, ref = render_frame(spec, i, flow=False), render_frame(spec, j, flow=False)
    out = next(
        iter(Colorizer(ref.colour, ColorizeOptions(keyframe_mode=mode)).colorize([target.sketch]))
    )
    return region_accuracy(out, target.colour, target.regions, lines=target.lines).pixel


@pytest.mark.xfail(
    strict=False,  # work in progress: settled with the next shipped weights
    reason="issue 4 open: the shipped weights (5343 CPU steps, 50 min) score below the "
    "classical fitted copy on held-out keyframes (89% vs 92% pixel accuracy, "
    "celcolor.train.keyframe_eval); --keyframe-mode auto therefore keeps the copy. "
    "Remove this marker when a checkpoint wins.",
)
def test_network_beats_the_fitted_copy_on_another_frame():
    pairs = [(spec, 30, 16) for spec in HELD_OUT]
    network = np.mean([_accuracy("network", *p) for p in pairs])
    copy = np.mean([_accuracy("copy", *p) for p in pairs])
    assert network > copy + 0.03, (network, copy)
