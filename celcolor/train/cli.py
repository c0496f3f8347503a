"""`colorize-video train exemplar ...`: train a network and, with --ship, package it.

colorize-video train exemplar --out runs/exemplar --minutes 30 --ship
colorize-video train exemplar --out runs/no-attn --no-attention --minutes 10   # ablation
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

from ..errors import UsageError
from ..models.registry import WEIGHTS_DIR, WeightsRecord, sha256_of
from .exemplar import ExemplarTrainConfig, train_exemplar

MODELS = ("exemplar",)


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Parser of `colorize-video train`."""
    d = ExemplarTrainConfig()
    p = argparse.ArgumentParser(prog=prog, description="Train a celcolor network.")
    p.add_argument("model", choices=MODELS)
    p.add_argument("--out", type=Path, default=d.out, help="run folder (checkpoints, log)")
    p.add_argument("--minutes", type=float, default=d.minutes, help="wall-clock budget")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--size", type=int, nargs=2, default=list(d.size), metavar=("W", "H"))
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--synthetic", type=int, default=d.synthetic, help="generated pairs")
    p.add_argument("--real", type=int, default=d.real, help="real pairs (needs --data)")
    p.add_argument("--heldout", type=int, default=d.heldout)
    p.add_argument("--data", type=Path, default=None, help="../shared/data by default")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--gan", choices=("lsgan", "wgan-gp", "none"), default=d.gan)
    p.add_argument("--loss-space", choices=("rgb", "lab"), default=d.loss_space)
    p.add_argument("--width", type=int, default=d.model["width"])
    p.add_argument("--key-dim", type=int, default=d.model["key_dim"])
    p.add_argument("--no-attention", action="store_true", help="ablation: palette only")
    p.add_argument("--no-palette", action="store_true", help="ablation: no palette conditioning")
    p.add_argument(
        "--no-guide", action="store_true", help="ablation: without the fitted reference as a guide"
    )
    p.add_argument(
        "--guide-dropout",
        type=float,
        default=d.guide_dropout,
        help="share of samples trained without their guide",
    )
    p.add_argument("--threads", type=int, default=0)
    p.add_argument(
        "--ship",
        action="store_true",
        help="copy the best checkpoint into celcolor/models/weights with its record",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    """Train, write summary.json, and ship the weights when asked."""
    if any(s % 8 for s in args.size):
        raise UsageError(f"--size must be multiples of 8, got {args.size[0]} {args.size[1]}")
    cfg = ExemplarTrainConfig(
        out=args.out,
        minutes=args.minutes,
        steps=args.steps,
        batch=args.batch,
        size=tuple(args.size),
        lr=args.lr,
        synthetic=args.synthetic,
        real=args.real,
        heldout=args.heldout,
        data=args.data,
        seed=args.seed,
        gan=args.gan,
        loss_space=args.loss_space,
        threads=args.threads,
        guide_dropout=args.guide_dropout,
        model={
            "width": args.width,
            "key_dim": args.key_dim,
            "use_attention": not args.no_attention,
            "use_palette": not args.no_palette,
            "guides": 0 if args.no_guide else 1,
        },
    )
    summary = train_exemplar(cfg, name=args.model)
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ("checkpoint", "steps", "seconds", "final_heldout", "perceptual")
            },
            indent=2,
        )
    )
    if args.ship:
        ship(
            Path(summary["checkpoint"]),
            args.model,
            summary,
            command="colorize-video " + shlex.join(sys.argv[1:]),
        )
    return 0


def ship(checkpoint: Path, name: str, summary: dict, command: str) -> Path:
    """Copy a checkpoint into the package with its record (sha256, recipe, data)."""
    from .keyframe_eval import keyframe_accuracy

    # Measured here so that --keyframe-mode auto uses the network only if it beat the copy.
    keyframes = keyframe_accuracy(str(checkpoint))
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    dst = WEIGHTS_DIR / f"{name}.safetensors"
    shutil.copyfile(checkpoint, dst)
    record = WeightsRecord(
        name=name,
        file=dst.name,
        sha256=sha256_of(dst),
        command=command,
        data=json.dumps(summary["data"]),
        seconds=summary["seconds"],
        metrics={
            "heldout": summary["best_heldout"],
            "steps": summary["steps"],
            "perceptual": summary["perceptual"],
            "keyframe_accuracy": keyframes,
        },
    )
    record.write(WEIGHTS_DIR / f"{name}.json")
    return dst
