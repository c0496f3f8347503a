"""What each part of the region matcher buys: the shipped recipe's generated samples,
refitted with feature groups masked (held constant, so they carry no information). The
real keyframes the shipped recipe adds (session 11) are left out here: the ablation
measures the columns on the generated keyframes, where the truth is exact.

    python benchmarks/ablate_matcher.py   # 15.6 min alone on session 19's machine

Scores are the share of regions given their true colour on the training run's
held-out split (64 keyframes from a disjoint seed), after pass 1 (stage 1), pass 2
(stage 2) and the engine's last pass (stage 2 again on its own beliefs), beside
the exemplar network's own vote: by area, and counting every region alike (as the
benchmark's region accuracy does; small regions are many and are where it fails).
Each variant is one MLP fit (seed 0; the shipped matcher averages five and a tree
member); refits with other seeds move the count share by about half a point. Writes
``benchmarks/results/matcher_ablation.json`` and ``.md``.
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
    "trace": [
        "context_trace_network",
        "trace_share",
        "trace_log_area_ratio",
        "relative_lightness",
        "context_trace_belief",
    ],
    "claims": ["claim_others", "claim_others_won", "claim_deficit", "rival_belief"],
    "constellation": [f for f in ALL if f.startswith("constellation")],
}
VARIANTS = {
    "full": [],
    "without shape": ["shape"],
    "without context": ["context"],
    "without the colour-trace columns": ["trace"],
    "without the claim columns": ["claims"],
    "without the constellation columns": ["constellation"],
    "without vote columns": ["votes"],
    "vote columns only": ["shape", "context", "constellation"],
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
    # One MLP fit per variant, no tree member: what the columns buy the MLP, comparable
    # with the runs before session 16 (trees split on whatever columns are left).
    cfg = tm.MatcherTrainConfig(members=1, tree_members=0)
    train = tm.make_samples(
        cfg.keyframes, cfg.seed, None, "training keyframes", False, cfg.area_power, cfg.untraced
    )
    held = tm.make_samples(
        cfg.heldout, 10_000 + cfg.seed, None, "held-out keyframes", False, untraced=cfg.untraced
    )
    res: dict = {"network vote": {by: tm.network_choice(held, by) for by in ("area", "count")}}
    for name, drop in VARIANTS.items():
        view = _masking({f for g in drop for f in GROUPS[g]})
        model = tm.fit_matcher(train, cfg, io.StringIO(), view)
        res[name] = {by: tm.heldout_choice(model, held, view, by) for by in ("area", "count")}
        print(name, res[name], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "matcher_ablation.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        f"Region matcher ablation ({cfg.keyframes} training keyframes, {cfg.heldout} held out): "
        "share of regions given their true colour, by area and by count",
        "",
        f"(pass 1 is stage 1, pass 2 stage 2, pass {rm.PASSES} the engine's last)",
        "",
        "| variant | area, pass 1 | area, pass 2 | area, pass "
        f"{rm.PASSES} | count, pass 1 | count, pass 2 | count, pass {rm.PASSES} |",
        "|---|---|---|---|---|---|---|",
        f"| the network's vote alone | {100 * res['network vote']['area']:.1f}% | | "
        f"| {100 * res['network vote']['count']:.1f}% | | |",
    ]
    for name in VARIANTS:
        cells = [
            f"{100 * res[name][by][k]:.1f}%"
            for by in ("area", "count")
            for k in ("stage1", "stage2", "final")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (RESULTS / "matcher_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
