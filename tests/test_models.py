"""Registered networks: forward passes, checkpoints, and that training lowers the loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from celcolor.errors import CelcolorError
from celcolor.models import create_model, list_models, load_checkpoint, save_checkpoint
from celcolor.models import exemplar as exemplar_module
from celcolor.models.exemplar import ExemplarConfig, ExemplarNet, correspond, pad_to, unpad
from celcolor.models.registry import read_metadata, sha256_of

torch.manual_seed(0)


def _inputs(b: int = 2, h: int = 32, w: int = 48, extra: int = 0):
    ink = torch.rand(b, 1, h, w)
    ref_rgb, ref_ink, palette = torch.rand(b, 3, h, w), torch.rand(b, 1, h, w), torch.rand(b, 9, 3)
    return ink, ref_rgb, ref_ink, palette, (torch.rand(b, extra, h, w) if extra else None)


IMAGE_MODELS = [n for n in list_models() if n != "matcher"]  # the matcher reads rows


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_registered_model_runs_forward(name):
    model = create_model(name, width=8, key_dim=8)
    ink, ref_rgb, ref_ink, palette, extra = _inputs(extra=4 * model.config.guides)
    with torch.inference_mode():
        out = model(ink, model.encode_reference(ref_rgb, ref_ink, palette), extra)
    assert out.shape == (2, 3, 32, 48)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("ablation", [{"use_attention": False}, {"use_palette": False}])
def test_ablations_run(ablation):
    model = ExemplarNet(ExemplarConfig(width=8, key_dim=8, **ablation)).eval()
    ink, ref_rgb, ref_ink, palette, _ = _inputs()
    with torch.inference_mode():
        out = model(ink, model.encode_reference(ref_rgb, ref_ink, palette))
    assert out.shape == (2, 3, 32, 48) and torch.isfinite(out).all()


def test_a_new_guide_starts_exactly_as_the_model_without_it():
    base = create_model("exemplar", width=8, key_dim=8).eval()
    with torch.no_grad():  # a trained first guide: non-zero weights and gain
        for p in base.guides[0].parameters():
            p.uniform_(0.1, 0.5)
    grown = create_model("temporal", width=8, key_dim=8).eval()
    missing = grown.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("guides.1.") for k in missing)
    ink, ref_rgb, ref_ink, palette, guide = _inputs(extra=8)
    with torch.inference_mode():
        a = base(ink, base.encode_reference(ref_rgb, ref_ink, palette), guide[:, :4])
        b = grown(ink, grown.encode_reference(ref_rgb, ref_ink, palette), guide)
        no_guide = base(ink, base.encode_reference(ref_rgb, ref_ink, palette))
    assert torch.equal(a, b)
    assert not torch.equal(a, no_guide)  # the first guide does act


def test_a_confident_guide_with_an_open_gate_is_copied():
    model = create_model("exemplar", width=8, key_dim=8).eval()
    with torch.no_grad():
        model.guides[0].gain.fill_(1.0)
        model.guides[0].gate.bias.fill_(30.0)  # sigmoid -> 1
    ink, ref_rgb, ref_ink, palette, _ = _inputs()
    guide = torch.cat([torch.rand(2, 3, 32, 48), torch.ones(2, 1, 32, 48)], 1)
    with torch.inference_mode():
        out = model(ink, model.encode_reference(ref_rgb, ref_ink, palette), guide)
    assert torch.allclose(out, guide[:, :3], atol=1e-5)


def test_correspondence_copies_the_matching_value():
    # Keys equal to the queries (one-hot, sharp): each position gets its own value back.
    q = torch.eye(6).reshape(1, 6, 2, 3) * 20
    v = torch.arange(6, dtype=torch.float32).reshape(1, 1, 2, 3)
    out = correspond(q, q.clone(), v, chunk=4)
    assert torch.allclose(out, v, atol=1e-3)


def test_correspondence_blocks_do_not_change_the_result(monkeypatch):
    # Queries go through in blocks (by the chunk, and smaller where keys are many);
    # every block size gives the one-block softmax attention.
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 16, 6, 10), torch.randn(1, 16, 5, 7), torch.randn(1, 3, 5, 7)
    whole = torch.softmax(q.flatten(2).transpose(1, 2) @ k.flatten(2) / 4.0, dim=-1) @ v.flatten(
        2
    ).transpose(1, 2)
    whole = whole.transpose(1, 2).reshape(1, 3, 6, 10)
    for chunk in (1, 7, 60, 4096):
        assert torch.allclose(correspond(q, k, v, chunk), whole, atol=1e-6)
    monkeypatch.setattr(exemplar_module, "SCORES_PER_BLOCK", 35 * 9)  # 9 queries a block
    assert torch.allclose(correspond(q, k, v, 4096), whole, atol=1e-6)
    # The GPU's fused attention computes the same function (checked here on the CPU).
    assert torch.allclose(exemplar_module.fused_correspond(q, k, v), whole, atol=1e-5)


def test_fused_correspondence_has_the_blocked_gradients():
    # Training on a GPU backpropagates through the fused attention.
    torch.manual_seed(2)
    inputs = [torch.randn(2, 8, 5, 6), torch.randn(2, 8, 4, 7), torch.randn(2, 3, 4, 7)]
    grads = []
    for attend in (lambda q, k, v: correspond(q, k, v, 7), exemplar_module.fused_correspond):
        leaves = [x.clone().requires_grad_(True) for x in inputs]
        (attend(*leaves) ** 2).sum().backward()
        grads.append([x.grad for x in leaves])
    for blocked, fused in zip(*grads, strict=True):
        assert torch.allclose(blocked, fused, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_correspondence_on_the_gpu_matches_the_cpu():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 32, 20, 30), torch.randn(2, 32, 18, 24), torch.randn(2, 48, 18, 24)
    cpu = correspond(q, k, v, 4096)
    gpu = correspond(q.cuda(), k.cuda(), v.cuda(), 4096).cpu()
    assert (gpu - cpu).norm() / cpu.norm() < 3e-3  # tf32 or fp32 kernels


def test_pad_round_trip():
    x = torch.rand(1, 3, 37, 50)
    padded, pad = pad_to(x, 8)
    assert padded.shape[2] % 8 == 0 and padded.shape[3] % 8 == 0
    assert torch.equal(unpad(padded, pad), x)


def test_checkpoint_round_trip_is_strict_and_hash_checked(tmp_path):
    model = create_model("exemplar", width=8, key_dim=8)
    path = tmp_path / "m.safetensors"
    digest = save_checkpoint(model, path, "exemplar", {"step": 3})
    meta = read_metadata(path)
    assert meta["name"] == "exemplar" and json.loads(meta["config"])["width"] == 8
    loaded = load_checkpoint(path, sha256=digest)
    for (k, a), (k2, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(a, b)
    with pytest.raises(CelcolorError, match="sha256"):
        load_checkpoint(path, sha256="0" * 64)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # damage a weight byte
    path.write_bytes(bytes(data))
    assert sha256_of(path) != digest
    with pytest.raises(CelcolorError, match="sha256"):
        load_checkpoint(path, sha256=digest)


def test_unknown_model_and_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(CelcolorError, match="unknown model"):
        create_model("nope")
    with pytest.raises(CelcolorError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_few_training_steps_lower_the_loss(tmp_path, precision):
    from celcolor.data.pairs import synthetic_pairs
    from celcolor.train.exemplar import _stack, mixed_precision, predict

    torch.manual_seed(0)
    data = _stack(list(synthetic_pairs(4, (64, 48), seed=3)))
    model = ExemplarNet(ExemplarConfig(width=8, key_dim=8)).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        with mixed_precision(precision):
            out = predict(model, data)
        assert out.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
        loss = torch.nn.functional.l1_loss(out.float(), data["target"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3])


def test_a_training_run_records_its_frame_size_in_the_checkpoint(tmp_path):
    from celcolor.train.exemplar import ExemplarTrainConfig, train_exemplar

    # bf16 with the discriminator and its feature-matching term: every autocast path.
    cfg = ExemplarTrainConfig(
        out=tmp_path, steps=2, minutes=5, batch=2, size=(64, 48), synthetic=4, real=0,
        heldout=2, gan="lsgan", eval_every=1, model={"width": 8, "key_dim": 8, "guides": 1},
        precision="bf16",
    )  # fmt: skip
    summary = train_exemplar(cfg)
    assert summary["steps"] == 2 and summary["config"]["precision"] == "bf16"
    assert np.isfinite(summary["final_heldout"]["l1"])
    meta = read_metadata(Path(summary["checkpoint"]))
    assert json.loads(meta["train_size"]) == [64, 48]
