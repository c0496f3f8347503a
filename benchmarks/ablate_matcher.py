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


def _masking(names: set[str]):
    """A row view that holds the named columns at zero (no information left in them)."""

    def view(rows: np.ndarray) -> np.ndarray:
        cols = [i for i, f in enumerate(ALL[: rows.shape[1]]) if f in names]
        out = rows.copy()
        out[:, cols] = 0.0
        return out

    return view


def main() -> None:
    cfg = tm.MatcherTrainConfig()
    train = tm.make_samples(cfg.keyframes, cfg.seed, None, "training keyframes", quiet=False)
    held = tm.make_samples(cfg.heldout, 10_000 + cfg.seed, None, "held-out keyframes", quiet=False)
    res: dict = {"network vote": tm.network_choice(held)}
    for name, drop in VARIANTS.items():
        view = _masking({f for g in drop for f in GROUPS[g]})
        res[name] = tm.heldout_choice(tm.fit_matcher(train, cfg, io.StringIO(), view), held, view)
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
