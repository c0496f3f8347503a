"""The shipped temporal weights: they load (hash-checked, strict) and flicker less."""

from __future__ import annotations

import pytest

from celcolor.data.synthetic import CutSpec, generate_cut
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.metrics import warp_error
from celcolor.models import create_model, shipped_record

record = shipped_record("temporal")
pytestmark = pytest.mark.skipif(
    record is None or shipped_record("exemplar") is None, reason="no shipped temporal weights"
)

# A seed outside anything training draws (it samples seeds at random in [0, 2**31)).
HELD_OUT = CutSpec(width=320, height=192, num_frames=12, seed=71_001, num_shapes=5, motion=1.5)


def test_shipped_temporal_weights_load_with_their_record():
    model = create_model("temporal", pretrained=True)
    assert record is not None and len(record.sha256) == 64
    assert "colorize-video train temporal" in record.command
    assert model.config.guides == 2


def test_temporal_network_flickers_less_than_the_per_frame_network():
    cut = generate_cut(HELD_OUT)
    runs = {
        "per-frame": ColorizeOptions(temporal="per-frame", keyframe_mode="network"),
        "temporal": ColorizeOptions(temporal="network-only", keyframe_mode="network"),
    }
    ewarp = {}
    for name, options in runs.items():
        out = list(Colorizer(cut.colour[0], options).colorize(list(cut.sketch)))
        ewarp[name] = warp_error(out, cut.flow_fwd, cut.flow_bwd).mean
    assert ewarp["temporal"] < 0.7 * ewarp["per-frame"], ewarp
