"""Benchmarks: temporal flicker, quality and speed of every colouring method, side by side.

    from celcolor.bench import BenchConfig, run_bench, write_report
    report = run_bench(BenchConfig())            # the synthetic suite, speed, memory
    write_report(report, Path("report"))

Protocols (see :mod:`celcolor.bench.cases`): ``synthetic`` (generated cuts with exact
ground truth), ``first-frame`` (LVCD's: colour clips, XDoG sketches, frame 0 the
reference) and ``lineart`` (line-art cuts with a reference, no ground truth). Methods
(see :mod:`celcolor.bench.methods`): reference copy, per-frame, classical, and every
model that :mod:`celcolor.models` lists.
"""

from .cases import Case, Clip, LineartCut
from .methods import Method, MethodSettings, get_methods, list_methods, register_method
from .report import write_report
from .runner import BenchConfig, run_bench

__all__ = [
    "BenchConfig",
    "Case",
    "Clip",
    "LineartCut",
    "Method",
    "MethodSettings",
    "get_methods",
    "list_methods",
    "register_method",
    "run_bench",
    "write_report",
]
