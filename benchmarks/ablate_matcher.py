"""What each part of the region matcher buys: the shipped recipe's samples, refitted with
feature groups masked (held constant, so they carry no information).

    python benchmarks/ablate_matcher.py          # about 9 minutes on the 2-core CPU

Scores are the area share of regions given their true colour on the training run's
held-out split (64 keyframes from a disjoint seed), after stage 1 and stage 2, beside
the exemplar network's own vote. Writes ``benchmarks/results/matcher_ablation.json``
and ``.md``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from celcolor.engine import region_match as rm
from celcolor.models.matcher import MatcherConfig, RegionMatcher
from celcolor.train import matcher as tm

RESULTS = Path(__file__).parent / "results"
ALL = list(rm.FEATURES) + list(rm.BELIEF_FEATURES)
GROUPS = {
    "votes": [f for f in ALL if f.startswith(("vote_", "seen", "top_"))],
    "shape": [f for f in ALL if f.startswith(("nearest_", "best_"))],
    "context": ["context_network", "context_copy", "context_belief"],
}
VARIANTS = {
    "full": [],
    "without shape": ["shape"],
    "without context": ["context"],
    "without vote columns": ["votes"],
    "vote columns only": ["shape", "context"],
}


def _masked(rows: np.ndarray, names: set[str]) -> np.ndarray:
    cols = [i for i, f in enumerate(ALL[: rows.shape[1]]) if f in names]
    out = rows.copy()
    out[:, cols] = 0.0
    return out


def _stack(samples, rows):
    return (
        np.concatenate(rows),
        np.concatenate([s.label for s in samples]),
        np.concatenate([s.weight for s in samples]),
    )


def fit_variant(train, held, names: set[str], cfg: tm.MatcherTrainConfig) -> dict:
    """Both stages as the training command fits them, on masked rows; held-out scores."""
    model = RegionMatcher(
        MatcherConfig(features=len(rm.FEATURES), belief_features=len(rm.BELIEF_FEATURES))
    )
    log = io.StringIO()
    tm._fit_stage(
        model.stage1, *_stack(train, [_masked(s.rows, names) for s in train]), cfg, log, "1"
    )
    first = [tm._scores(model.stage1, _masked(s.rows, names)) for s in held]
    beliefs = [None] * len(train)
    for half in (0, 1):
        fold = RegionMatcher(model.config).stage1
        others = [s for i, s in enumerate(train) if i % 2 != half]
        tm._fit_stage(
            fold, *_stack(others, [_masked(s.rows, names) for s in others]), cfg, log, "f"
        )
        for i in range(half, len(train), 2):
            beliefs[i] = tm._belief(train[i], tm._scores(fold, _masked(train[i].rows, names)))

    def rows2(sample, belief):
        return _masked(tm._stage2_rows(sample, belief), names)

    rows = [rows2(s, b) for s, b in zip(train, beliefs, strict=True)]
    tm._fit_stage(model.stage2, *_stack(train, rows), cfg, log, "2")
    second = [
        tm._scores(model.stage2, rows2(s, tm._belief(s, x)))
        for s, x in zip(held, first, strict=True)
    ]
    return {
        "stage1": tm.region_choice_accuracy(held, first),
        "stage2": tm.region_choice_accuracy(held, second),
    }


def main() -> None:
    cfg = tm.MatcherTrainConfig()
    train = tm.make_samples(cfg.keyframes, cfg.seed, None, "training keyframes", quiet=False)
    held = tm.make_samples(cfg.heldout, 10_000 + cfg.seed, None, "held-out keyframes", quiet=False)
    network = [s.inputs.votes.network[s.region, s.colour] for s in held]
    res: dict = {"network vote": tm.region_choice_accuracy(held, network)}
    for name, drop in VARIANTS.items():
        names = {f for g in drop for f in GROUPS[g]}
        res[name] = fit_variant(train, held, names, cfg)
        print(name, res[name], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "matcher_ablation.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        f"Region matcher ablation ({cfg.keyframes} training keyframes, {cfg.heldout} held out): "
        "area share of regions given their true colour",
        "",
        "| variant | stage 1 | stage 2 |",
        "|---|---|---|",
        f"| the network's vote alone | {100 * res['network vote']:.1f}% | |",
    ]
    for name in VARIANTS:
        r = res[name]
        lines.append(f"| {name} | {100 * r['stage1']:.1f}% | {100 * r['stage2']:.1f}% |")
    (RESULTS / "matcher_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
