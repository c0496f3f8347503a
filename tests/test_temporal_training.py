"""The temporal network's training: warping, consistency losses, init from the exemplar."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import still_texture_frames, write_gif

from celcolor.data.sequences import make_sequence
from celcolor.data.synthetic import CutSpec, render_frame
from celcolor.models import create_model, save_checkpoint
from celcolor.train.exemplar import mixed_precision
from celcolor.train.temporal import (
    _stack,
    backward_warp,
    consistency_loss,
    init_temporal,
    sequence_losses,
    unroll,
)

SPEC = CutSpec(width=96, height=64, num_frames=12, seed=5, num_shapes=4, motion=2.5)


@pytest.fixture(scope="module")
def sequence():
    frames = [render_frame(SPEC, t) for t in range(3, 6)]
    exact = [(frames[t].flow_bwd, frames[t - 1].flow_fwd) for t in range(1, 3)]
    return make_sequence(
        [f.sketch for f in frames], [f.colour for f in frames], frames[0].colour, "test", exact
    )


def test_backward_warp_matches_a_pixel_shift():
    image = torch.arange(5 * 7, dtype=torch.float32).reshape(1, 1, 5, 7)
    flow = torch.zeros(1, 2, 5, 7)
    flow[:, 0] = 2.0  # every pixel takes the value two columns to its right
    out = backward_warp(image, flow)
    assert torch.equal(out[..., :5], image[..., 2:])


def test_exact_flow_makes_the_truth_consistent(sequence):
    target = torch.from_numpy(sequence.target)
    warped = backward_warp(target[:-1], torch.from_numpy(sequence.flow_prev))
    mask = torch.from_numpy(sequence.mask_prev)
    with_flow = consistency_loss(target[1:], warped, mask)
    without = consistency_loss(target[1:], target[:-1], mask)
    assert float(mask.mean()) > 0.8
    # Near zero (about 3 levels of 255, from bilinear sampling of anti-aliased edges),
    # and well under the same loss without the flow: the cut moves.
    assert with_flow < 0.015
    assert without > 2 * with_flow


def test_temporal_init_colours_exactly_as_the_exemplar(tmp_path, sequence):
    base = create_model("exemplar", width=8, key_dim=8)
    with torch.no_grad():
        for p in base.guides[0].parameters():
            p.uniform_(0.1, 0.5)
    path = tmp_path / "ex.safetensors"
    save_checkpoint(base, path, "exemplar")
    model = init_temporal(str(path))
    assert model.config.guides == 2
    batch = _stack([sequence])
    ref = model.encode_reference(batch["ref_rgb"], batch["ref_ink"], batch["palette"])
    prev = torch.rand(1, 4, 64, 96)
    with torch.inference_mode():
        a = base(batch["ink"][:, 1], ref, batch["guide"])
        b = model(batch["ink"][:, 1], ref, torch.cat([batch["guide"], prev], 1))
    assert torch.equal(a, b)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_few_steps_lower_the_temporal_loss(tmp_path, sequence, precision):
    torch.manual_seed(0)
    base = create_model("exemplar", width=8, key_dim=8)
    path = tmp_path / "ex.safetensors"
    save_checkpoint(base, path, "exemplar")
    model = init_temporal(str(path)).train()
    batch = _stack([sequence])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        with mixed_precision(precision):
            outs, warped = unroll(model, batch)
        parts = sequence_losses([o.float() for o in outs], [w.float() for w in warped], batch)
        return parts["l1"] + parts["short"] + 0.5 * parts["long"]

    first = float(loss().detach())
    for _ in range(12):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    assert float(loss().detach()) < 0.8 * first
    assert np.isfinite(first)


def test_real_sequences_keep_one_crop_across_their_frames(tmp_path):
    from celcolor.data.sequences import real_sequences

    # A crop drawn per frame of this nearly static clip would differ nearly everywhere.
    write_gif(tmp_path / "KytraScript+SakugaDataset/assets/gif/still.gif", still_texture_frames(10))
    sequences = list(real_sequences(tmp_path, 3, (64, 48), 4, seed=0))
    assert len(sequences) == 3
    for s in sequences:
        assert s.target.shape == (4, 3, 48, 64)
        assert np.abs(s.target[1:] - s.target[0]).mean() < 0.01
    assert list(real_sequences(tmp_path / "absent", 3, (64, 48), 4, seed=0)) == []
