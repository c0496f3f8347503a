"""Temporal fine-tuning (``colorize-video train temporal --init exemplar ...``).

The temporal network is the exemplar network with a second colour guide: the
previous frame's output warped into the current frame by the flow between the two
drawings, with the occlusion mask as its confidence. It starts from the exemplar
weights; the new guide's weights start at zero, so step 0 is the exemplar network.

Training unrolls each sequence recurrently: the keyframe is coloured with the fitted
reference as its guide, and each next frame from the network's *own* previous
output, warped (gradients flow through the chain), so the network learns to correct
its own drift. Losses per frame: L1 and total variation as for the exemplar
network; plus the temporal consistency of Lai et al. 2018:

    short-term  || M_t * (O_t - W(O_t-1)) ||_1     M_t: non-occluded mask, t-1 -> t
    long-term   || M_t0 * (O_t - W(O_0)) ||_1      to the keyframe's output

The adversarial term is off by default (``--gan lsgan`` turns it on): on this 2-core
CPU the recipe spends its minutes on sequences instead.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.sequences import Sequence, real_sequences, synthetic_sequences
from ..errors import InputError
from ..io import make_folder
from ..models.exemplar import GUIDE_CHANNELS, ExemplarNet, PatchDiscriminator
from ..models.registry import create_model, load_checkpoint, save_checkpoint
from .exemplar import (
    data_root,
    log_evaluation,
    mean_psnr,
    mixed_precision,
    note_missing_real,
    on_device,
    total_variation,
    training_device,
)

log = logging.getLogger(__name__)

_KEYS = (
    "ink",
    "target",
    "ref_rgb",
    "ref_ink",
    "palette",
    "guide",
    "flow_prev",
    "mask_prev",
    "flow_key",
    "mask_key",
)


@dataclass
class TemporalTrainConfig:
    """A fine-tuning recipe; every field is a flag of `colorize-video train temporal`."""

    out: Path = Path("runs/temporal")
    init: str = "exemplar"  # shipped weights of this name, or a checkpoint path
    minutes: float = 30.0
    steps: int = 100_000
    batch: int = 4
    length: int = 4  # frames per sequence (the first is the keyframe)
    size: tuple[int, int] = (192, 112)
    lr: float = 2e-4
    new_guide_lr_scale: float = 50.0  # the new guide's weights: lr x this
    synthetic: int = 400  # generated sequences
    real: int = 100  # real sequences (when the data folder exists)
    heldout: int = 16  # generated sequences from a disjoint seed
    exact_flow: float = 0.5  # share of generated sequences with the exact flow
    data: Path | None = None
    seed: int = 0
    gan: str = "none"  # none or lsgan
    w_l1: float = 1.0
    w_tv: float = 0.02
    w_short: float = 1.0
    w_long: float = 0.5
    w_adv: float = 0.01
    eval_every: int = 25
    threads: int = 0
    precision: str = "fp32"  # or bf16: see celcolor.train.exemplar.mixed_precision
    device: str = "auto"  # auto (CUDA when there is one), cpu or cuda
    extra: dict = field(default_factory=dict)


def _stack(seqs: list[Sequence]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.stack([getattr(s, k) for s in seqs])) for k in _KEYS}


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` (``B,C,H,W``) sampled at ``x + flow(x)`` (``B,2,H,W``, pixels, x first).

    Bilinear, edge-replicated: the torch twin of the engine's ``cv2.remap`` warp.
    """
    h, w = flow.shape[2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=flow.dtype, device=flow.device),
        torch.arange(w, dtype=flow.dtype, device=flow.device),
        indexing="ij",
    )
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def consistency_loss(out: torch.Tensor, warped: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mean(M * |O - W|)``: the short- or long-term temporal term of Lai et al. 2018."""
    return (mask * (out - warped).abs()).mean()


def init_temporal(init: str) -> ExemplarNet:
    """The temporal network with the exemplar weights of ``init`` (name or path).

    Only the new guide's weights are missing from the exemplar checkpoint; they are
    zero, so the result colours exactly as the exemplar network at first.
    """
    path = Path(init)
    if path.is_dir():
        raise InputError(f"--init {init}: a folder; give exemplar weights (.safetensors) or a name")
    is_path = path.suffix == ".safetensors" or path.exists() or "/" in init
    base = load_checkpoint(path) if is_path else create_model(init, pretrained=True)
    # Temporal weights are exemplar networks with a second guide: refused by that.
    if not isinstance(base, ExemplarNet) or base.config.guides > 1:
        raise InputError(f"--init {init}: not exemplar network weights")
    config = {**base.config.as_dict(), "guides": base.config.guides + 1}
    model = create_model("temporal", **config)
    missing = model.load_state_dict(base.state_dict(), strict=False).missing_keys
    new = f"guides.{base.config.guides}."
    unexpected = [k for k in missing if not k.startswith(new)]
    if unexpected:
        raise RuntimeError(f"exemplar weights do not fit the temporal network: {unexpected}")
    return model


def unroll(
    model: ExemplarNet, batch: dict[str, torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Colour a batch of sequences recurrently; returns outputs and warped previous outputs."""
    ref = model.encode_reference(batch["ref_rgb"], batch["ref_ink"], batch["palette"])
    ink = batch["ink"]
    b, length, _, h, w = ink.shape
    none = ink.new_zeros(b, GUIDE_CHANNELS, h, w)
    outs = [model(ink[:, 0], ref, torch.cat([batch["guide"], none], 1))]
    warped = []
    for t in range(1, length):
        prev = backward_warp(outs[-1], batch["flow_prev"][:, t - 1])
        guide = torch.cat([none, prev, batch["mask_prev"][:, t - 1]], 1)
        warped.append(prev)
        outs.append(model(ink[:, t], ref, guide))
    return outs, warped


def sequence_losses(
    outs: list[torch.Tensor], warped: list[torch.Tensor], batch: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Per-frame L1 and TV, short-term and long-term consistency (means over frames)."""
    target = batch["target"]
    l1 = torch.stack([F.l1_loss(o, target[:, t]) for t, o in enumerate(outs)]).mean()
    tv = torch.stack([total_variation(o) for o in outs]).mean()
    short = torch.stack(
        [
            consistency_loss(o, w, batch["mask_prev"][:, t])
            for t, (o, w) in enumerate(zip(outs[1:], warped, strict=True))
        ]
    ).mean()
    long = torch.stack(
        [
            consistency_loss(
                o, backward_warp(outs[0], batch["flow_key"][:, t]), batch["mask_key"][:, t]
            )
            for t, o in enumerate(outs[1:])
        ]
    ).mean()
    return {"l1": l1, "tv": tv, "short": short, "long": long}


def build_data(cfg: TemporalTrainConfig) -> tuple[dict, dict, dict]:
    """Training and held-out tensors, and a description of the data used."""
    t0 = time.perf_counter()
    train = list(synthetic_sequences(cfg.synthetic, cfg.size, cfg.length, cfg.seed, cfg.exact_flow))
    root = data_root(cfg.data)
    real = (
        list(real_sequences(root, cfg.real, cfg.size, cfg.length, cfg.seed + 1))
        if cfg.real > 0 and root.is_dir()
        else []
    )
    note_missing_real(cfg.data, cfg.real, len(real), "sequences")
    # Held out: a disjoint seed range, estimated flow only (as at inference).
    heldout = list(synthetic_sequences(cfg.heldout, cfg.size, cfg.length, 20_000 + cfg.seed, 0.0))
    info = {
        "synthetic_sequences": cfg.synthetic,
        "real_sequences": len(real),
        "real_root": str(root) if real else None,
        "heldout_sequences": cfg.heldout,
        "length": cfg.length,
        "exact_flow_share": cfg.exact_flow,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    return _stack(train + real), _stack(heldout), info


def evaluate(model: ExemplarNet, data: dict[str, torch.Tensor]) -> dict[str, float]:
    """Held-out L1, PSNR and short-term warp error of the unrolled outputs."""
    model.eval()
    l1, mse, short = [], [], []
    with torch.inference_mode():
        for i in range(0, len(data["ink"]), 8):
            batch = {k: v[i : i + 8] for k, v in data.items()}
            outs, warped = unroll(model, batch)
            for t, o in enumerate(outs):
                l1.append(F.l1_loss(o, batch["target"][:, t]))
                mse.append(F.mse_loss(o, batch["target"][:, t], reduction="none").mean((1, 2, 3)))
            for t, (o, w) in enumerate(zip(outs[1:], warped, strict=True)):
                short.append(consistency_loss(o, w, batch["mask_prev"][:, t]))
    model.train()
    mse_all = torch.cat(mse)
    return {
        "l1": float(torch.stack(l1).mean()),
        "psnr": mean_psnr(mse_all),
        "short": float(torch.stack(short).mean()),
    }


def train_temporal(cfg: TemporalTrainConfig) -> dict:
    """Fine-tune by the recipe; returns a summary (paths, steps, seconds, held-out metrics)."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = training_device(cfg.device)
    t_start = time.perf_counter()
    model = init_temporal(cfg.init).train().to(device)  # bad weights: refused before --out
    out = Path(cfg.out)
    make_folder(out, "--out")
    train, heldout, data_info = build_data(cfg)
    train, heldout = on_device(train, device), on_device(heldout, device)
    data_info["device"] = str(device)
    log.info("data: %s", data_info)
    disc = PatchDiscriminator(16).train().to(device) if cfg.gan == "lsgan" else None
    # The new guide starts at zero and must grow to matter: a scalar gain moves about
    # one learning rate per Adam step, so its weights learn faster than the rest.
    new = f"guides.{model.config.guides - 1}."
    fresh = [p for k, p in model.named_parameters() if k.startswith(new)]
    rest = [p for k, p in model.named_parameters() if not k.startswith(new)]
    opt = torch.optim.Adam(
        [{"params": rest}, {"params": fresh, "lr": cfg.lr * cfg.new_guide_lr_scale}],
        lr=cfg.lr,
        betas=(0.5, 0.999),
    )
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) if disc else None
    start = evaluate(model, heldout)  # step 0: the exemplar network itself
    log.info("step 0 (the exemplar weights): %s", start)
    meta = {"init": cfg.init, "perceptual": "none", "train_size": json.dumps(list(cfg.size))}
    best, best_metrics = _score(start), {**start, "step": 0}
    save_checkpoint(model, out / "best.safetensors", "temporal", {**meta, "step": 0})
    budget = cfg.minutes * 60 - (time.perf_counter() - t_start)
    t_train = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    step, n = 0, len(train["ink"])
    with open(out / "log.jsonl", "w") as logf:
        logf.write(json.dumps({"step": 0, **{f"heldout_{k}": v for k, v in start.items()}}) + "\n")
        while step < cfg.steps and time.perf_counter() - t_train < budget:
            idx = torch.randint(0, n, (cfg.batch,), generator=gen).to(device)
            batch = {k: v[idx] for k, v in train.items()}
            with mixed_precision(cfg.precision, device.type):
                outs, warped = unroll(model, batch)
            outs, warped = [o.float() for o in outs], [w.float() for w in warped]
            losses = sequence_losses(outs, warped, batch)
            total = (
                cfg.w_l1 * losses["l1"]
                + cfg.w_tv * losses["tv"]
                + cfg.w_short * losses["short"]
                + cfg.w_long * losses["long"]
            )
            if disc is not None:
                fake = torch.cat(outs)
                ink = batch["ink"].transpose(0, 1).flatten(0, 1)
                with mixed_precision(cfg.precision, device.type):
                    d_fake = disc(ink, fake)[0].float()
                losses["adv"] = ((d_fake - 1) ** 2).mean()
                total = total + cfg.w_adv * losses["adv"]
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if disc is not None:
                real = batch["target"].transpose(0, 1).flatten(0, 1)
                with mixed_precision(cfg.precision, device.type):
                    d_real, d_fake = disc(ink, real)[0].float(), disc(ink, fake.detach())[0].float()
                d_loss = ((d_real - 1) ** 2).mean() + (d_fake**2).mean()
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            step += 1
            if step % cfg.eval_every == 0:
                metrics = evaluate(model, heldout)
                log_evaluation(logf, step, time.perf_counter() - t_train, losses, metrics, 5)
                if _score(metrics) < best:
                    best, best_metrics = _score(metrics), {**metrics, "step": step}
                    save_checkpoint(
                        model, out / "best.safetensors", "temporal", {**meta, "step": step}
                    )
    summary = {
        "checkpoint": str(out / "best.safetensors"),
        "steps": step,
        "seconds": round(time.perf_counter() - t_start, 1),
        "start_heldout": start,
        "best_heldout": best_metrics,
        "perceptual": "none",
        "data": data_info,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _score(metrics: dict[str, float]) -> float:
    """Checkpoint selection: colour error plus flicker, as the training loss weighs them."""
    return metrics["l1"] + metrics["short"]
