"""PSNR against classical propagation by stretch of a cut: does the gap grow with length?

    python benchmarks/drift_segments.py report/temporal_long/report.json

Reads a benchmark report (``report.json`` of bench_temporal or run_bench) and prints,
per suite, the mean PSNR of classical propagation and every other row's difference
from it over frames 1 to 47, 48 to 95, and so on (``--span``; frame 0, the reference,
left out), each stretch averaged over the cuts long enough to reach it (``--per-cut``:
one table per cut). Drift that builds up over a cut shows as a gap that moves from
stretch to stretch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

CLASSICAL = "classical"


def segments(
    report: dict, span: int, per_cut: bool = False
) -> dict[str, dict[str, list[tuple[float, int]]]]:
    """Per suite (or per cut), per row: (mean PSNR, cuts) of each stretch of ``span`` frames.

    The classical row's value is its PSNR; every other row's is its difference from
    classical on the same frames.
    """
    out: dict[str, dict[str, list[tuple[float, int]]]] = {}
    groups: list[tuple[str, list[dict]]] = []
    for suite, proto in report["protocols"].items():
        if per_cut:
            groups += [(f"{suite}: {case['name']}", [case]) for case in proto["cases"]]
        else:
            groups.append((suite, proto["cases"]))
    for group, cases in groups:
        per_row: dict[str, dict[int, list[float]]] = {}
        for case in cases:
            scores = next(iter(case["scores"].values()))  # the first scale: the frame's own
            rows = scores["rows"]
            if CLASSICAL not in rows:
                continue
            base = np.asarray(rows[CLASSICAL]["per_frame"]["psnr"], np.float64)
            for name, row in rows.items():
                psnr = np.asarray(row["per_frame"]["psnr"], np.float64)
                values = psnr if name == CLASSICAL else psnr - base
                for k, start in enumerate(range(0, len(values), span)):
                    part = values[max(start, 1) : start + span]
                    if len(part):
                        per_row.setdefault(name, {}).setdefault(k, []).append(float(part.mean()))
        out[group] = {
            name: [(float(np.mean(v)), len(v)) for _, v in sorted(stretches.items())]
            for name, stretches in per_row.items()
        }
    return out


def markdown(table: dict[str, dict[str, list[tuple[float, int]]]], span: int) -> str:
    """:func:`segments`' table as Markdown: a section per suite (or cut), a column per stretch."""
    lines = []
    for suite, rows in table.items():
        width = max((len(v) for v in rows.values()), default=0)
        heads = [f"{max(1, k * span)}-{(k + 1) * span - 1}" for k in range(width)]
        lines += [f"## {suite}", "", "| row | " + " | ".join(heads) + " |"]
        lines.append("|---|" + "---|" * width)
        for name, values in rows.items():
            cells = [
                (f"{m:.2f}" if name == CLASSICAL else f"{m:+.2f}") + f" ({n})" for m, n in values
            ]
            label = f"{name} (dB)" if name == CLASSICAL else f"{name} vs classical"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("Cuts that reach each stretch in brackets.")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path, help="a benchmark report.json")
    p.add_argument("--span", type=int, default=48, help="frames per stretch")
    p.add_argument("--per-cut", action="store_true", help="a table per cut, not per suite")
    args = p.parse_args()
    if args.span < 2:
        sys.exit("drift_segments: --span must be at least 2")
    try:
        report = json.loads(args.report.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"drift_segments: cannot read {args.report}: {e}")
    try:
        table = segments(report, args.span, args.per_cut)
    except (KeyError, TypeError, AttributeError, StopIteration):
        sys.exit(f"drift_segments: {args.report} is not a benchmark report (no per-frame PSNR)")
    command = shlex.join(["python", "benchmarks/drift_segments.py", *sys.argv[1:]])
    print(f"# PSNR against classical by stretch of the cut\n\nCommand: `{command}`\n")
    print(markdown(table, args.span), end="")


if __name__ == "__main__":
    main()
