"""`colorize-video train exemplar|temporal ...`: train a network and, with --ship, package it.

colorize-video train exemplar --out runs/exemplar --minutes 30 --ship
colorize-video train exemplar --out runs/no-attn --no-attention --minutes 10   # ablation
colorize-video train temporal --init exemplar --out runs/temporal --minutes 40 --ship
colorize-video train matcher --out runs/matcher --ship
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import shutil
import sys
from pathlib import Path

from ..engine.arguments import OneLineParser
from ..errors import UsageError
from ..models.records import WEIGHTS_DIR, WeightsRecord, shipped_record
from .exemplar import PRECISIONS, ExemplarTrainConfig
from .matcher import MatcherTrainConfig
from .temporal import TemporalTrainConfig

MODELS = ("exemplar", "temporal", "matcher")

log = logging.getLogger(__name__)


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Parser of `colorize-video train` (flags left unset take the model's recipe default)."""
    ex, te = ExemplarTrainConfig(), TemporalTrainConfig()

    def both(field: str) -> str:
        return f"(default: exemplar {getattr(ex, field)}, temporal {getattr(te, field)})"

    p = OneLineParser(prog=prog, description="Train a celcolor network.")
    p.add_argument("model", choices=MODELS)
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/MODEL)")
    p.add_argument(
        "--minutes", type=float, default=None, help="wall-clock budget " + both("minutes")
    )
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None, help=both("batch"))
    p.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"))
    p.add_argument("--lr", type=float, default=None, help=both("lr"))
    p.add_argument(
        "--synthetic",
        type=int,
        default=None,
        help="generated pairs, sequences (temporal) or keyframes (matcher)",
    )
    p.add_argument(
        "--real", type=int, default=None, help="real pairs, sequences or keyframes (from --data)"
    )
    p.add_argument("--heldout", type=int, default=None)
    p.add_argument("--data", type=Path, default=None, help="../shared/data by default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gan", choices=("lsgan", "wgan-gp", "none"), default=None, help=both("gan"))
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="exemplar and temporal: auto trains on CUDA when torch sees a GPU",
    )
    p.add_argument(
        "--precision", choices=PRECISIONS, default="fp32",
        help="bf16: autocast the forward passes (faster steps; learned less per step in "
        "our one CPU run)",
    )  # fmt: skip
    e = p.add_argument_group("exemplar")
    e.add_argument("--loss-space", choices=("rgb", "lab"), default=ex.loss_space)
    e.add_argument("--width", type=int, default=ex.model["width"])
    e.add_argument("--key-dim", type=int, default=ex.model["key_dim"])
    e.add_argument("--no-attention", action="store_true", help="ablation: palette only")
    e.add_argument("--no-palette", action="store_true", help="ablation: no palette conditioning")
    e.add_argument(
        "--no-guide", action="store_true", help="ablation: without the fitted reference as a guide"
    )
    e.add_argument(
        "--guide-dropout",
        type=float,
        default=ex.guide_dropout,
        help="share of samples trained without their guide",
    )
    t = p.add_argument_group("temporal")
    t.add_argument(
        "--init", default=te.init, help="exemplar weights to start from: a name or a path"
    )
    t.add_argument("--length", type=int, default=te.length, help="frames per sequence (3-8)")
    t.add_argument(
        "--exact-flow",
        type=float,
        default=te.exact_flow,
        help="share of generated sequences trained with the exact flow (the rest: DIS)",
    )
    t.add_argument("--w-short", type=float, default=te.w_short, help="short-term consistency")
    t.add_argument("--w-long", type=float, default=te.w_long, help="long-term consistency")
    m = p.add_argument_group("matcher")
    m.add_argument(
        "--epochs", type=int, default=MatcherTrainConfig.epochs, help="passes over the rows"
    )
    m.add_argument(
        "--exemplar",
        default=None,
        metavar="PATH",
        help="exemplar weights whose votes the matcher reads (default: the shipped ones)",
    )
    m.add_argument(
        "--members",
        type=int,
        default=MatcherTrainConfig.members,
        help="fits from consecutive seeds whose probabilities are averaged",
    )
    m.add_argument(
        "--tree-members",
        type=int,
        default=MatcherTrainConfig.tree_members,
        help="boosted-tree fits averaged with the MLP members (0: MLPs only)",
    )
    m.add_argument(
        "--tree-keyframes",
        type=int,
        default=None,
        metavar="N",
        help="generated keyframes the trees learn from: the MLPs' --synthetic and more "
        "of the same stream (default: 2.5 times --synthetic)",
    )
    m.add_argument(
        "--varied",
        type=float,
        nargs="+",
        default=None,
        metavar="SHARE",
        help="share of generated cuts drawn from a wider range of scenes (crowds, fast "
        "motion, pans, rough drawings); several shares train one set of members each, "
        f"pooled (default: {' '.join(map(str, MatcherTrainConfig.varied))})",
    )
    m.add_argument(
        "--workers",
        type=int,
        default=MatcherTrainConfig.workers,
        help="processes fitting stages side by side (default 0: one per core, at most 8)",
    )
    p.add_argument(
        "--ship",
        action="store_true",
        help="copy the best checkpoint into celcolor/models/weights with its record",
    )
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _finite_above(low: float):
    return lambda v: math.isfinite(v) and v > low


def _between(low: float, high: float):
    return lambda v: math.isfinite(v) and low <= v <= high


# What each numeric flag must be, checked before anything is built or written:
# (flag, attribute, test, what the message says it must be).
_LIMITS = (
    ("--minutes", "minutes", _finite_above(0), "a number above 0"),
    ("--steps", "steps", _between(1, math.inf), "1 or more"),
    ("--batch", "batch", _between(1, 4096), "1 to 4096"),
    ("--lr", "lr", _finite_above(0), "a number above 0"),
    ("--synthetic", "synthetic", _between(1, 10**6), "1 to 1000000"),
    ("--real", "real", _between(0, 10**6), "0 to 1000000"),
    ("--heldout", "heldout", _between(1, 10**5), "1 to 100000"),
    ("--eval-every", "eval_every", _between(1, math.inf), "1 or more"),
    ("--seed", "seed", _between(0, 2**32 - 1), "0 to 2**32 - 1"),
    ("--threads", "threads", _between(0, 1024), "0 (all cores) to 1024"),
    ("--width", "width", _between(1, 1024), "1 to 1024"),
    ("--key-dim", "key_dim", _between(1, 1024), "1 to 1024"),
    ("--guide-dropout", "guide_dropout", _between(0, 1), "a share from 0 to 1"),
    ("--exact-flow", "exact_flow", _between(0, 1), "a share from 0 to 1"),
    ("--w-short", "w_short", _between(0, math.inf), "a number 0 or more"),
    ("--w-long", "w_long", _between(0, math.inf), "a number 0 or more"),
    ("--epochs", "epochs", _between(1, math.inf), "1 or more"),
    ("--members", "members", _between(1, math.inf), "1 or more"),
    ("--tree-members", "tree_members", _between(0, math.inf), "0 or more"),
    ("--tree-keyframes", "tree_keyframes", _between(0, math.inf), "0 or more"),
    ("--workers", "workers", _between(0, math.inf), "0 (one per core) or more"),
)
# Training frames beyond this side would not fit in memory (the data set is built whole).
_MAX_SIZE = 2048


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse out-of-range flags, a --size that cannot be trained and a --data that is
    not a folder, before anything is built or written (:class:`UsageError`)."""
    for flag, name, ok, must in _LIMITS:
        value = getattr(args, name, None)
        if value is not None and not ok(value):
            raise UsageError(f"{flag} must be {must}, got {value}")
    varied = getattr(args, "varied", None)
    if varied is not None and not all(_between(0, 1)(v) for v in varied):
        raise UsageError(f"--varied must be shares from 0 to 1, got {' '.join(map(str, varied))}")
    if varied is not None and len(set(varied)) < len(varied):
        raise UsageError(f"--varied lists a share twice: {' '.join(map(str, varied))}")
    if args.size is not None and not all(16 <= s <= _MAX_SIZE for s in args.size):
        raise UsageError(
            f"--size must be 16 to {_MAX_SIZE} pixels a side, got {args.size[0]} {args.size[1]}"
        )
    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"--data {args.data}: no such folder")


# Flags only some models read (destination -> those models); the rest apply to all.
_ONLY_FOR = {
    **dict.fromkeys(
        ("minutes", "steps", "size", "gan", "eval_every", "threads", "device", "precision"),
        ("exemplar", "temporal"),
    ),
    **dict.fromkeys(
        ("loss_space", "width", "key_dim", "no_attention", "no_palette", "no_guide"),
        ("exemplar",),
    ),
    "guide_dropout": ("exemplar",),
    **dict.fromkeys(("init", "length", "exact_flow", "w_short", "w_long"), ("temporal",)),
    **dict.fromkeys(
        ("epochs", "exemplar", "members", "tree_members", "tree_keyframes", "varied", "workers"),
        ("matcher",),
    ),
}


def unused_flags(args: argparse.Namespace) -> list[str]:
    """The flags given (away from their defaults) that ``args.model`` does not read."""
    defaults = vars(build_parser("colorize-video train").parse_args([args.model]))
    return [
        "--" + name.replace("_", "-")
        for name, models in _ONLY_FOR.items()
        if args.model not in models and getattr(args, name) != defaults[name]
    ]


def _common(args: argparse.Namespace, default) -> dict:
    """The shared flags, each either given or the recipe's default."""
    size = tuple(args.size) if args.size else default.size
    if any(s % 8 for s in size):
        raise UsageError(f"--size must be multiples of 8, got {size[0]} {size[1]}")
    picked = {
        name: getattr(args, name) if getattr(args, name) is not None else getattr(default, name)
        for name in (
            "minutes", "steps", "batch", "lr", "synthetic", "real", "heldout", "gan", "eval_every"
        )
    }  # fmt: skip
    out = args.out if args.out is not None else Path("runs") / args.model
    return {**picked, "out": out, "size": size, "data": args.data, "seed": args.seed,
            "threads": args.threads, "precision": args.precision,
            "device": args.device}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Train, write summary.json, and ship the weights when asked."""
    check_arguments(args)
    unused = unused_flags(args)
    if unused:
        verb = "does" if len(unused) == 1 else "do"
        log.warning("train %s: %s %s not apply to it; ignored", args.model, ", ".join(unused), verb)
    if args.model == "matcher":
        return _run_matcher(args)
    if args.model == "temporal":
        from .temporal import train_temporal

        if not 3 <= args.length <= 8:
            raise UsageError(f"--length must be 3 to 8 frames, got {args.length}")
        cfg = TemporalTrainConfig(
            **_common(args, TemporalTrainConfig()),
            init=args.init,
            length=args.length,
            exact_flow=args.exact_flow,
            w_short=args.w_short,
            w_long=args.w_long,
        )
        if cfg.gan not in ("none", "lsgan"):
            raise UsageError("train temporal: --gan must be none or lsgan")
        summary = train_temporal(cfg)
        shown = ("checkpoint", "steps", "seconds", "start_heldout", "best_heldout")
    else:
        from .exemplar import train_exemplar

        cfg = ExemplarTrainConfig(
            **_common(args, ExemplarTrainConfig()),
            loss_space=args.loss_space,
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
        shown = ("checkpoint", "steps", "seconds", "final_heldout", "perceptual")
    print(json.dumps({k: summary[k] for k in shown}, indent=2))
    if args.ship:
        ship(
            Path(summary["checkpoint"]),
            args.model,
            summary,
            command="colorize-video " + shlex.join(sys.argv[1:]),
        )
    return 0


def _run_matcher(args: argparse.Namespace) -> int:
    """`train matcher`: generated keyframes (--synthetic) and keyframes of the real colour
    clips (--real, --data), a generated held-out split (--heldout), --epochs."""
    from .matcher import train_matcher

    default = MatcherTrainConfig()  # its flags' ranges: check_arguments (_LIMITS)
    cfg = MatcherTrainConfig(
        out=args.out if args.out is not None else Path("runs/matcher"),
        keyframes=args.synthetic if args.synthetic is not None else default.keyframes,
        real=args.real if args.real is not None else default.real,
        data=args.data,
        heldout=args.heldout if args.heldout is not None else default.heldout,
        epochs=args.epochs,
        lr=args.lr if args.lr is not None else default.lr,
        batch=args.batch if args.batch is not None else default.batch,
        seed=args.seed,
        checkpoint=args.exemplar,
        members=args.members,
        tree_members=args.tree_members,
        tree_keyframes=args.tree_keyframes,
        varied=tuple(args.varied) if args.varied is not None else default.varied,
        workers=args.workers,
        quiet=args.quiet,
    )
    if cfg.keyframes < 2 or cfg.heldout < 1 or cfg.real < 0:
        raise UsageError(
            "train matcher: --synthetic must be 2 or more, --heldout 1 or more, --real 0 or more"
        )
    summary = train_matcher(cfg)
    print(json.dumps({k: summary[k] for k in ("checkpoint", "seconds", "heldout_region_choice")}))
    if args.ship:
        ship_matcher(summary, command="colorize-video " + shlex.join(sys.argv[1:]))
    return 0


def ship_matcher(summary: dict, command: str) -> Path:
    """Copy a matcher into the package with its record; its held-out keyframe scores
    (match against the network alone and the copy) decide whether auto mode uses it."""
    from ..models.registry import sha256_of
    from .keyframe_eval import keyframe_accuracy

    checkpoint = Path(summary["checkpoint"])
    scores = keyframe_accuracy(
        summary["config"]["checkpoint"],
        matcher_checkpoint=str(checkpoint),
        modes=("match", "network", "copy"),
    )
    dst = WEIGHTS_DIR / "matcher.safetensors"
    shutil.copyfile(checkpoint, dst)
    WeightsRecord(
        name="matcher",
        file=dst.name,
        sha256=sha256_of(dst),
        command=command,
        data=json.dumps(summary["data"]),
        seconds=summary["seconds"],
        metrics={
            "heldout_region_choice": summary["heldout_region_choice"],
            "keyframe_accuracy": scores,
        },
    ).write(WEIGHTS_DIR / "matcher.json")
    return dst


def ship(checkpoint: Path, name: str, summary: dict, command: str) -> Path:
    """Copy a checkpoint into the package with its record (sha256, recipe, data, figures).

    The figures the engine's ``auto`` modes consult are measured here: held-out
    keyframes (exemplar: network vs fitted copy) or held-out cuts (temporal: network
    vs classical propagation), so weights that lose never become a default.
    """
    from ..models.registry import sha256_of

    metrics = {
        "heldout": summary["best_heldout"],
        "steps": summary["steps"],
        "perceptual": summary["perceptual"],
    }
    if name == "temporal":
        from .temporal_eval import sequence_scores

        metrics["start_heldout"] = summary["start_heldout"]
        metrics["sequence_eval"] = sequence_scores(str(checkpoint))
    else:
        from .keyframe_eval import keyframe_accuracy

        metrics["keyframe_accuracy"] = keyframe_accuracy(str(checkpoint))
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
        metrics=metrics,
        train_size=list(summary["config"]["size"]),
    )
    record.write(WEIGHTS_DIR / f"{name}.json")
    return dst


def heldout_main(name: str, key: str, score, description: str) -> None:
    """CLI of a held-out evaluation: print ``score(checkpoint)``; ``--update-record``
    writes it into the shipped ``name`` record's ``metrics[key]``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--checkpoint", default=None, help="weights (default: the shipped ones)")
    p.add_argument("--update-record", action="store_true", help=f"write into {name}.json")
    args = p.parse_args()
    scores = score(args.checkpoint)
    print(json.dumps(scores, indent=2))
    record = shipped_record(name)
    if args.update_record and record is not None and args.checkpoint is None:
        record.metrics[key] = scores
        record.write(WEIGHTS_DIR / f"{name}.json")
