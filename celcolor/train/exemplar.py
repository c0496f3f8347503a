"""Training the exemplar network (``colorize-video train exemplar``).

Losses: L1 (in RGB or Lab), an adversarial term (LSGAN, or WGAN-GP) from a
sketch-conditioned PatchGAN with spectral norm, total variation, and a
perceptual term: VGG features when ImageNet VGG weights are in torch's cache,
otherwise feature matching on the discriminator (the checkpoint records which).

The data is built once into memory (generated pairs, plus real frames when
``../shared/data`` is there), a held-out split is generated from a disjoint seed,
seeds are fixed, losses go to ``log.jsonl``, and the checkpoint with the best
held-out L1 is kept. Training stops at ``steps`` or ``minutes``, whichever comes
first, so a recipe fits a time budget on any machine.
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

from ..data.pairs import Sample, real_pairs, synthetic_pairs
from ..io import make_folder
from ..models.exemplar import ExemplarNet, PatchDiscriminator
from ..models.registry import resolve_device, save_checkpoint

log = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_root(data: Path | None) -> Path:
    """The folder real training data is read from: ``data``, else ``../shared/data``."""
    return Path(data) if data is not None else DEFAULT_DATA


def note_missing_real(data: Path | None, asked: int, found: int, what: str) -> None:
    """Warn when a --data folder the user gave held none of the real ``what`` asked for
    (without --data, a machine without the shared data simply trains on generated data)."""
    if data is not None and asked > 0 and found == 0:
        log.warning("--data %s: no real colour clips there; no real %s in the training", data, what)


@dataclass
class ExemplarTrainConfig:
    """A training recipe; every field is a flag of `colorize-video train exemplar`."""

    out: Path = Path("runs/exemplar")
    minutes: float = 30.0  # wall-clock budget
    steps: int = 100_000
    batch: int = 8
    size: tuple[int, int] = (192, 112)  # training frames, (w, h), multiples of 8
    lr: float = 1e-3
    synthetic: int = 1200  # generated pairs
    real: int = 400  # real pairs (when the data folder exists)
    heldout: int = 48  # generated pairs from a disjoint seed, for validation
    data: Path | None = None  # ../shared/data by default when present
    seed: int = 0
    gan: str = "lsgan"  # lsgan, wgan-gp or none
    loss_space: str = "rgb"  # rgb or lab
    w_l1: float = 1.0
    w_adv: float = 0.01
    w_tv: float = 0.02
    w_perceptual: float = 0.1
    guide_dropout: float = 0.2  # share of samples trained without their guide
    eval_every: int = 50
    threads: int = 0  # torch threads; 0 = all cores
    precision: str = "fp32"  # or bf16 (autocast): faster steps, but see mixed_precision
    device: str = "auto"  # auto (CUDA when there is one), cpu or cuda
    model: dict = field(default_factory=lambda: {"width": 16, "key_dim": 32, "guides": 1})


PRECISIONS = ("fp32", "bf16")


def mixed_precision(precision: str, device_type: str = "cpu") -> torch.autocast:
    """The autocast context of a training step: bfloat16 for "bf16", off for "fp32".

    Weights, gradients and losses stay float32; only the forward activations are bf16.
    On this machine's CPU (native bf16) a step of the exemplar recipe takes 0.36 s
    against 0.46 s, but the one 50-minute bf16 run learned less per step (held-out L1
    0.044 against 0.038 at step 6000) and scored 87.8% on the held-out keyframes
    against the fp32 weights' 90.4%, so fp32 is the default.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _stack(samples: list[Sample]) -> dict[str, torch.Tensor]:
    return {
        k: torch.from_numpy(np.stack([getattr(s, k) for s in samples]))
        for k in ("ink", "ref_rgb", "ref_ink", "palette", "target", "guide")
    }


def _batch(data: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, torch.Tensor]:
    idx = idx.to(data["ink"].device)
    return {k: v[idx] for k, v in data.items()}


def training_device(device: str) -> torch.device:
    """The device a recipe trains on: "auto" is CUDA when torch sees one, else the CPU
    (cuda without one is a usage error, raised before anything is written)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return resolve_device(device)


def on_device(data: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of a built data set moved to ``device`` (it is small enough to live there)."""
    return {k: v.to(device) for k, v in data.items()}


def _to_space(rgb: torch.Tensor, space: str) -> torch.Tensor:
    if space == "lab":
        import kornia

        lab = kornia.color.rgb_to_lab(rgb)
        return torch.cat([lab[:, :1] / 100.0, lab[:, 1:] / 110.0], 1)
    return rgb


def _vgg_features():
    """VGG16 feature extractor from torch's cache, or None (never downloaded)."""
    from torchvision.models import vgg16

    path = Path(torch.hub.get_dir()) / "checkpoints" / "vgg16-397923af.pth"
    if not path.is_file():
        return None
    net = vgg16()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.features[:16].eval().requires_grad_(False)


def mean_psnr(mse: torch.Tensor) -> float:
    """Mean PSNR (dB, signals in [0, 1]) of per-sample mean squared errors."""
    return float((10 * torch.log10(1.0 / mse.clamp_min(1e-10))).mean())


def _scalar(value) -> float:
    """A loss as a float; a tensor still in the graph is read out detached."""
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def log_evaluation(
    logf, step: int, seconds: float, losses: dict, metrics: dict[str, float], digits: int
) -> None:
    """One evaluation row: to ``log.jsonl`` (flushed, so a run can be watched) and the log."""
    row = {
        "step": step,
        "seconds": round(seconds, 1),
        **{k: round(_scalar(v), 5) for k, v in losses.items()},
        **{f"heldout_{k}": round(v, digits) for k, v in metrics.items()},
    }
    logf.write(json.dumps(row) + "\n")
    logf.flush()
    log.info("%s", row)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., 1:] - x[..., :-1]).abs().mean()


def predict(model: ExemplarNet, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's colours for a batch of samples (with their guides, if it takes one)."""
    ref = model.encode_reference(batch["ref_rgb"], batch["ref_ink"], batch["palette"])
    return model(batch["ink"], ref, batch["guide"] if model.config.guides else None)


def drop_guides(batch: dict[str, torch.Tensor], p: float, gen: torch.Generator) -> None:
    """Blank the guide of a share ``p`` of the samples, so the network also works without."""
    if p > 0:
        drop = torch.rand(len(batch["guide"]), generator=gen) < p
        keep = (~drop).float().to(batch["guide"].device)
        batch["guide"] = batch["guide"] * keep[:, None, None, None]


def build_data(cfg: ExemplarTrainConfig) -> tuple[dict, dict, dict]:
    """Training and held-out tensors, and a description of the data used."""
    t0 = time.perf_counter()
    train = list(synthetic_pairs(cfg.synthetic, cfg.size, seed=cfg.seed))
    root = data_root(cfg.data)
    real = (
        list(real_pairs(root, cfg.real, cfg.size, seed=cfg.seed + 1))
        if (cfg.real > 0 and root.is_dir())
        else []
    )
    note_missing_real(cfg.data, cfg.real, len(real), "pairs")
    train += real
    # Disjoint seed range: the held-out cuts are never seen in training.
    heldout = list(synthetic_pairs(cfg.heldout, cfg.size, seed=10_000 + cfg.seed))
    info = {
        "synthetic_pairs": cfg.synthetic,
        "real_pairs": len(real),
        "real_root": str(root) if real else None,
        "heldout_pairs": cfg.heldout,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    heldout_t = _stack(heldout)
    # The fitted copy on its own (the guide's colours where it lands): the bar to beat.
    copy = heldout_t["guide"][:, :3]
    mse = F.mse_loss(copy, heldout_t["target"], reduction="none").mean(dim=(1, 2, 3))
    info["heldout_copy"] = {
        "l1": round(float(F.l1_loss(copy, heldout_t["target"])), 5),
        "psnr": round(mean_psnr(mse), 3),
    }
    return _stack(train), heldout_t, info


def evaluate(model: ExemplarNet, data: dict[str, torch.Tensor]) -> dict[str, float]:
    """Held-out L1 and PSNR (RGB, [0, 1])."""
    model.eval()
    with torch.inference_mode():
        out = torch.cat(
            [
                predict(model, _batch(data, torch.arange(i, min(i + 16, len(data["ink"])))))
                for i in range(0, len(data["ink"]), 16)
            ]
        )
    model.train()
    mse = F.mse_loss(out, data["target"], reduction="none").mean(dim=(1, 2, 3))
    return {
        "l1": float(F.l1_loss(out, data["target"])),
        "psnr": mean_psnr(mse),
    }


def train_exemplar(cfg: ExemplarTrainConfig, name: str = "exemplar") -> dict:
    """Train by the recipe; returns a summary (paths, steps, seconds, held-out metrics)."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = training_device(cfg.device)
    out = Path(cfg.out)
    make_folder(out, "--out")
    t_start = time.perf_counter()
    train, heldout, data_info = build_data(cfg)
    train, heldout = on_device(train, device), on_device(heldout, device)
    data_info["device"] = str(device)
    log.info("data: %s", data_info)
    model = ExemplarNet(_model_config(cfg)).train().to(device)
    disc = PatchDiscriminator(16).train().to(device) if cfg.gan != "none" else None
    vgg = _vgg_features()
    vgg = vgg.to(device) if vgg is not None else None
    device_type = device.type
    perceptual = "vgg16" if vgg is not None else ("feature-matching" if disc else "none")
    meta = {"perceptual": perceptual, "train_size": json.dumps(list(cfg.size))}
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) if disc else None
    budget = cfg.minutes * 60 - (time.perf_counter() - t_start)
    t_train = time.perf_counter()
    best, best_metrics, step, n = float("inf"), {}, 0, len(train["ink"])
    gen = torch.Generator().manual_seed(cfg.seed)
    with open(out / "log.jsonl", "w") as logf:
        while step < cfg.steps and time.perf_counter() - t_train < budget:
            batch = _batch(train, torch.randint(0, n, (cfg.batch,), generator=gen))
            drop_guides(batch, cfg.guide_dropout, gen)
            with mixed_precision(cfg.precision, device_type):
                fake = predict(model, batch).float()
            losses = {
                "l1": F.l1_loss(
                    _to_space(fake, cfg.loss_space), _to_space(batch["target"], cfg.loss_space)
                ),
                "tv": total_variation(fake),
            }
            if disc is not None:
                with mixed_precision(cfg.precision, device_type):
                    d_fake, f_fake = disc(batch["ink"], fake)
                    with torch.no_grad():
                        _, f_real = disc(batch["ink"], batch["target"])
                d_fake = d_fake.float()
                f_fake, f_real = [f.float() for f in f_fake], [f.float() for f in f_real]
                losses["adv"] = ((d_fake - 1) ** 2).mean() if cfg.gan == "lsgan" else -d_fake.mean()
                if vgg is None:
                    losses["perceptual"] = sum(
                        F.l1_loss(a, b) for a, b in zip(f_fake, f_real, strict=True)
                    )
            if vgg is not None:
                losses["perceptual"] = F.l1_loss(vgg(fake), vgg(batch["target"]))
            total = (
                cfg.w_l1 * losses["l1"]
                + cfg.w_tv * losses["tv"]
                + cfg.w_adv * losses.get("adv", 0.0)
                + cfg.w_perceptual * losses.get("perceptual", 0.0)
            )
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if disc is not None:
                losses["d"] = _disc_step(disc, opt_d, batch, fake.detach(), cfg.gan, cfg.precision)
            step += 1
            if step % cfg.eval_every == 0 or step == 1:
                metrics = evaluate(model, heldout)
                log_evaluation(logf, step, time.perf_counter() - t_train, losses, metrics, 4)
                if metrics["l1"] < best:
                    best, best_metrics = metrics["l1"], {**metrics, "step": step}
                    save_checkpoint(model, out / "best.safetensors", name, {**meta, "step": step})
    final = evaluate(model, heldout)
    if final["l1"] < best:
        best, best_metrics = final["l1"], {**final, "step": step}
        save_checkpoint(model, out / "best.safetensors", name, {**meta, "step": step})
    summary = {
        "checkpoint": str(out / "best.safetensors"),
        "steps": step,
        "seconds": round(time.perf_counter() - t_start, 1),
        "best_heldout_l1": best,
        "best_heldout": best_metrics,
        "final_heldout": final,
        "perceptual": perceptual,
        "data": data_info,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _model_config(cfg: ExemplarTrainConfig):
    from ..models.exemplar import ExemplarConfig

    return ExemplarConfig(**cfg.model)


def _disc_step(disc, opt_d, batch, fake, gan: str, precision: str = "fp32") -> float:
    with mixed_precision(precision, fake.device.type):
        real_logits = disc(batch["ink"], batch["target"])[0].float()
        fake_logits = disc(batch["ink"], fake)[0].float()
    if gan == "lsgan":
        loss = ((real_logits - 1) ** 2).mean() + (fake_logits**2).mean()
    else:  # WGAN-GP (Gulrajani et al. 2017)
        alpha = torch.rand(fake.shape[0], 1, 1, 1, device=fake.device)
        mixed = (alpha * batch["target"] + (1 - alpha) * fake).requires_grad_(True)
        mixed_logits, _ = disc(batch["ink"], mixed)
        grad = torch.autograd.grad(mixed_logits.sum(), mixed, create_graph=True)[0]
        penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss = fake_logits.mean() - real_logits.mean() + 10.0 * penalty
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    return float(loss.detach())
