"""Two runs of bench_unseen compared where both followed the warnings' advice.

    git show 8f7c879:benchmarks/results/unseen/unseen.json > /tmp/unseen_s46.json
    python benchmarks/compare_unseen.py /tmp/unseen_s46.json benchmarks/results/unseen/unseen.json

For each clip both runs keyed as their warnings asked (``advised`` in the JSON), the
PSNR of the keyed run over its whole first shot, leaving out the frames that are a key
in either run (a pinned key scores its own truth), and frame 0 (the reference). Prints
a row per clip, then the mean of the clips' means and the mean over all those frames
pooled. No colouring: it reads the two JSON files only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def advised(path: Path) -> dict[str, dict]:
    """The clips of a bench_unseen JSON that were keyed as advised, by name."""
    cuts = json.loads(path.read_text())["cuts"]
    return {c["name"]: c["advised"] for c in cuts if c.get("advised")}


def compare(old: dict[str, dict], new: dict[str, dict]) -> list[tuple[str, list, list]]:
    """Per clip keyed in both: its name and the two runs' PSNR over the frames that are
    a key in neither (``psnr`` lists start at frame 1)."""
    rows = []
    for name in sorted(old.keys() & new.keys()):
        keys = set(old[name]["keys"]) | set(new[name]["keys"])
        a, b = old[name]["psnr"], new[name]["psnr"]
        kept = [i for i in range(min(len(a), len(b))) if i + 1 not in keys]
        rows.append((name, [a[i] for i in kept], [b[i] for i in kept]))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", type=Path, help="the earlier run's unseen.json")
    p.add_argument("new", type=Path, help="the later run's unseen.json")
    args = p.parse_args(argv)
    rows = compare(advised(args.old), advised(args.new))
    if not rows:
        print("compare_unseen: no clip was keyed as advised in both runs", file=sys.stderr)
        return 1
    print("| clip | frames | old (dB) | new (dB) |\n|---|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {len(a)} | {np.mean(a):.2f} | {np.mean(b):.2f} |")
    old_means = [np.mean(a) for _, a, _ in rows]
    new_means = [np.mean(b) for _, _, b in rows]
    print(f"\nmean of the clips' means: {np.mean(old_means):.2f} -> {np.mean(new_means):.2f} dB")
    pooled_old = np.concatenate([a for _, a, _ in rows])
    pooled_new = np.concatenate([b for _, _, b in rows])
    print(
        f"over the {len(pooled_old)} frames pooled: "
        f"{pooled_old.mean():.2f} -> {pooled_new.mean():.2f} dB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
