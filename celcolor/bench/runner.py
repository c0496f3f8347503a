"""One benchmark run: every protocol asked for, every method, one report dict."""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data.synthetic import CUT_PRESETS
from ..errors import UsageError
from .cases import (
    MIN_CLIP_FRAMES,
    Case,
    Clip,
    LineartCut,
    Skipped,
    first_frame_cases,
    lineart_cases,
    synthetic_cases,
)
from .environment import environment, load_average
from .methods import Method, get_methods
from .scoring import (
    LVCD_SIZE,
    FlowSet,
    MethodRun,
    MetricFlow,
    default_metric_threads,
    exact_flows,
    flows_on_colour,
    flows_on_sketches,
    metric_threads,
    run_method,
    score_case,
)

log = logging.getLogger(__name__)

# Most frames a synthetic cut (generated whole, with its truth and flows) or a clip's cap
# may ask for: 10000 frames at 640x360 is already tens of gigabytes.
MAX_FRAMES = 10_000

__all__ = ["REPORT_FORMAT", "BenchConfig", "run_bench", "summarise"]

REPORT_FORMAT = 1

ProgressFactory = Callable[[str, str], tuple[Callable[[int, int | None], None], Callable[[], None]]]


def _clip_dict(clip: Clip) -> dict[str, Any]:
    """A clip as the report's settings show it."""
    d: dict[str, Any] = {"path": str(clip.path), "name": clip.label, "crop": clip.crop}
    if clip.given_sketches:
        d["sketch_path"] = str(clip.sketch_path or clip.path)
        d["sketch_crop"] = clip.sketch_crop
    return d


@dataclass
class BenchConfig:
    """What a benchmark run does.

    Attributes:
        synthetic: run the synthetic suite.
        clips: colour clips for the first-frame protocol (none: not run).
        lineart_cuts: line-art cuts for the lineart protocol (none: not run).
        synthetic_resolutions: ``(w, h)`` sizes of the synthetic suite.
        synthetic_frames: frames per synthetic cut.
        presets: synthetic presets (None: all of ``CUT_PRESETS``).
        max_frames: cap on frames per real clip (read from the start).
        min_clip_frames: real clips with fewer frames (after the cut at the first
            shot change) are skipped; a long-cut run raises it to score only cuts
            where drift can accumulate.
        first_frame_lines: line modes of the first-frame protocol, one row each
            ("fill" first: the truth's lines are painted, not our extracted ink).
        lvcd_size: also score the first-frame protocol at LVCD's 256x256.
        methods: method names (None: all, learned models included).
        checkpoints: model name -> weights file, for models without shipped weights.
        speed: run the speed suite (generated cuts, file to file).
        speed_sizes: its sizes.
        speed_frames: frames per speed cut.
        memory: run the memory-growth test.
        memory_frames: cut lengths of the memory test (fresh process each).
        memory_size: frame size of the memory test.
        metric_flow: flow estimator of the metrics ("dis" or "raft").
        ssim: "opencv" (equal to celcolor.metrics.ssim, 5x faster) or "kornia" (that one).
        flow_weights: RAFT weights for ``metric_flow="raft"``.
        lpips_weights: AlexNet weights for LPIPS (None: torch's cache, else n/a).
        device: device for learned methods and LPIPS.
        metric_threads: torch threads while scoring (not timed; None leaves torch's).
        contact_frames: frames per contact sheet.
        xdog: XDoG parameters for the first-frame sketches (None: the defaults).
        cut_at_shot_change: cut each first-frame clip at its first shot change (the
            protocol); False sends several shots through as one cut.
    """

    synthetic: bool = True
    clips: list[Clip] = field(default_factory=list)
    lineart_cuts: list[LineartCut] = field(default_factory=list)
    synthetic_resolutions: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720))
    synthetic_frames: int = 12
    presets: tuple[str, ...] | None = None
    max_frames: int = 48
    min_clip_frames: int = MIN_CLIP_FRAMES
    first_frame_lines: tuple[str, ...] = ("fill", "auto")
    lvcd_size: bool = True
    methods: tuple[str, ...] | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)
    speed: bool = True
    speed_sizes: tuple[tuple[int, int], ...] = ((640, 360), (1280, 720), (1920, 1080))
    speed_frames: int = 24
    memory: bool = True
    memory_frames: tuple[int, ...] = (100, 1000)
    memory_size: tuple[int, int] = (640, 360)
    metric_flow: str = "dis"
    ssim: str = "opencv"
    flow_weights: Path | None = None
    lpips_weights: Path | None = None
    device: str = "auto"
    metric_threads: int | None = field(default_factory=default_metric_threads)
    contact_frames: int = 4
    xdog: dict[str, float] | None = None
    cut_at_shot_change: bool = True

    def __post_init__(self) -> None:
        if self.min_clip_frames < 2:
            raise UsageError("a real clip needs at least 2 frames (--min-real-frames)")
        if self.synthetic_frames < 2 or self.max_frames < 2:
            raise UsageError("a cut needs at least 2 frames (--frames)")
        if self.synthetic_frames > MAX_FRAMES or self.max_frames > MAX_FRAMES:
            raise UsageError(f"--frames must be at most {MAX_FRAMES}")
        unknown = [n for n in self.presets or () if n not in CUT_PRESETS]
        if unknown:
            raise UsageError(
                f"unknown synthetic preset {unknown[0]!r}; choose from {', '.join(CUT_PRESETS)}"
            )
        if self.speed_frames < 2:
            raise UsageError("--speed-frames must be at least 2")
        if len(self.memory_frames) and min(self.memory_frames) < 2:
            raise UsageError("--memory-frames must be at least 2 each")
        for w, h in (*self.synthetic_resolutions, *self.speed_sizes, self.memory_size):
            if w < 32 or h < 32 or w % 2 or h % 2:
                raise UsageError(f"sizes must be even and at least 32x32, got {w}x{h}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UsageError(f"--device must be auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda":
            from ..models.registry import resolve_device

            resolve_device(self.device)  # no GPU here: one line now, not a failure per cut
        if self.ssim not in ("opencv", "kornia"):
            raise UsageError(f"--ssim must be opencv or kornia, got {self.ssim!r}")
        bad = [m for m in self.first_frame_lines if m not in ("auto", "keep", "fill")]
        if bad:
            raise UsageError(f"unknown line mode {bad[0]!r}")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["clips"] = [_clip_dict(c) for c in self.clips]
        d["lineart_cuts"] = [
            {"sketch": str(c.sketch), "reference": str(c.reference), "name": c.label}
            for c in self.lineart_cuts
        ]
        for key in ("flow_weights", "lpips_weights"):
            d[key] = str(d[key]) if d[key] is not None else None
        return d


# ------------------------------------------------------------------------------ summary

_MEAN_KEYS = ("psnr", "ssim", "lpips", "pixel_accuracy", "region_accuracy", "cdc", "fps")


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    if not vals or len(vals) != len(values):
        return None
    return float(sum(vals) / len(vals)) if all(math.isfinite(v) for v in vals) else math.inf


def summarise(cases: list[dict[str, Any]], scale: str) -> dict[str, Any]:
    """Mean over cuts of every figure, per row (a row that failed any cut gets none)."""
    rows: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for case in cases:
        for row in case["scores"][scale]["rows"]:
            if row not in order:
                order.append(row)
    n = len(cases)
    for row in order:
        entries = [c["scores"][scale]["rows"].get(row) for c in cases]
        failed = [
            c["name"] for c, e in zip(cases, entries, strict=True) if e is None or "error" in e
        ]
        if failed:
            rows[row] = {"error": f"failed on {len(failed)} of {n} cuts ({', '.join(failed[:3])})"}
            continue
        out: dict[str, Any] = {"method": entries[0]["method"], "lines": entries[0]["lines"]}
        for key in _MEAN_KEYS:
            if key in entries[0]:
                out[key] = _mean([e.get(key) for e in entries])
        for key in ("ewarp", "tc"):
            if key in entries[0]:
                out[key] = {f: _mean([e[key][f] for e in entries]) for f in entries[0][key]}
        rows[row] = out
    truth: dict[str, Any] = {}
    if cases and cases[0]["scores"][scale]["truth"]:
        t0 = cases[0]["scores"][scale]["truth"]
        truth = {
            "ewarp": {
                f: _mean([c["scores"][scale]["truth"]["ewarp"][f] for c in cases])
                for f in t0["ewarp"]
            },
            "cdc": _mean([c["scores"][scale]["truth"]["cdc"] for c in cases]),
        }
    return {"cuts": n, "rows": rows, "truth": truth}


# ------------------------------------------------------------------------------ running


def _runs(
    case: Case, methods: Sequence[Method], line_modes: Sequence[str], device: str
) -> list[MethodRun]:
    """Every available method on a cut, once per line mode (once only when it has none)."""
    runs = []
    for k, lines in enumerate(line_modes):
        for m in methods:
            if not m.available or (not m.uses_lines and k > 0):
                continue
            run = run_method(m, case, lines if m.uses_lines else None, device)
            if m.uses_lines and len(line_modes) == 1:
                run.row = m.name  # one line mode: no need to name it in every row
            runs.append(run)
    return runs


def _flows(case: Case, flow: MetricFlow) -> list[FlowSet]:
    if case.protocol == "synthetic":
        return [exact_flows(case), flows_on_colour(case.truth or [], flow)]
    if case.truth is not None:
        return [flows_on_colour(case.truth, flow)]
    return [flows_on_sketches(case.sketches, flow)]


def _contact_frames(n: int, count: int, ref_frame: int) -> list[int]:
    """About ``count`` frames spread over the cut, first and last included, and the
    reference frame."""
    if n <= count:
        return list(range(n))
    picks = {round(i * (n - 1) / (count - 1)) for i in range(count)} | {ref_frame}
    return sorted(picks)


def _run_protocol(
    name: str,
    cases,
    methods: Sequence[Method],
    line_modes: Sequence[str],
    config: BenchConfig,
    flow: MetricFlow,
    lpips: Any,
    output: Path | None,
    progress: Callable[[int, int | None], None],
    total: int | None,
) -> list[dict[str, Any]]:
    from .report import contact_sheet, safe_name

    results = []
    seen: set[str] = set()
    for k, case in enumerate(cases):
        if case.name in seen:  # two inputs of one name: keep their files apart
            case.name = f"{case.name}-{k + 1}"
        seen.add(case.name)
        t0 = time.perf_counter()
        runs = _runs(case, methods, line_modes, config.device)
        t_runs = time.perf_counter() - t0
        with metric_threads(config.metric_threads):
            flows = _flows(case, flow)
            scores = {"native": score_case(case, runs, flows, lpips=lpips, ssim=config.ssim)}
            if name == "first-frame" and config.lvcd_size:
                scores["256x256"] = score_case(
                    case, runs, flows, lpips=lpips, size=LVCD_SIZE, flow=flow, ssim=config.ssim
                )
        entry: dict[str, Any] = {
            "name": case.name,
            "frames": case.num_frames,
            "size": list(case.size),
            "ref_frame": case.ref_frame,
            "info": case.info,
            "scores": scores,
            "seconds": {"methods": t_runs, "scoring": time.perf_counter() - t0 - t_runs},
        }
        if output is not None:
            picks = _contact_frames(case.num_frames, config.contact_frames, case.ref_frame)
            path = output / "contact" / f"{name}_{safe_name(case.name)}.png"
            contact_sheet(case, runs, picks, path)
            entry["contact_sheet"] = str(path.relative_to(output))
        results.append(entry)
        progress(k + 1, total)
    return results


def _no_progress(desc: str, unit: str):
    return (lambda done, total: None), (lambda: None)


def run_bench(
    config: BenchConfig,
    *,
    output: Path | None = None,
    command: str | None = None,
    progress: ProgressFactory | None = None,
) -> dict[str, Any]:
    """Run a benchmark; returns the report (write it with :func:`report.write_report`).

    Args:
        config: what to run.
        output: folder for contact sheets (written as the run goes), or None.
        command: the command line that started the run, for the report.
        progress: ``progress(desc, unit) -> (update, close)`` for progress bars.
    """
    from ..metrics import load_lpips

    progress = progress or _no_progress
    t_start = time.perf_counter()
    env = environment()
    methods = get_methods(config.methods, config.checkpoints)
    for m in methods:
        if not m.available:
            log.info("method %s is not available: %s", m.name, m.reason)
    flow = MetricFlow(config.metric_flow, config.flow_weights)
    lpips = load_lpips(config.lpips_weights, device="cpu")
    lpips_note = (
        f"LPIPS v0.1 (AlexNet) from {lpips.backbone_path}"
        if lpips is not None
        else "n/a: no AlexNet ImageNet weights (pass --lpips-weights PATH)"
    )
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "command": command,
        "environment": env,
        "settings": config.as_dict(),
        "methods": [
            {
                "name": m.name,
                "description": m.description,
                "available": m.available,
                "reason": m.reason or None,
            }
            for m in methods
        ],
        "metric_flow": flow.name,
        "ssim": (
            "celcolor.metrics.ssim (kornia)"
            if config.ssim == "kornia"
            else "celcolor.bench.ssim.ssim_opencv (equal to celcolor.metrics.ssim to 1e-5)"
        ),
        "lpips": {"available": lpips is not None, "note": lpips_note},
        "protocols": {},
        "speed": None,
        "memory": None,
        "timings": {},
    }
    if output is not None:
        (output / "contact").mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, Any, Sequence[str], int | None]] = []
    skipped: list[Skipped] = []
    if config.synthetic:
        n = len(config.synthetic_resolutions) * len(config.presets or CUT_PRESETS)
        cases = synthetic_cases(
            config.synthetic_resolutions, config.synthetic_frames, config.presets
        )
        jobs.append(("synthetic", cases, ("auto",), n))
    if config.clips:
        cases = first_frame_cases(
            config.clips,
            max_frames=config.max_frames,
            min_frames=config.min_clip_frames,
            xdog=config.xdog,
            skipped=skipped,
            cut_at_shot_change=config.cut_at_shot_change,
        )
        jobs.append(("first-frame", cases, config.first_frame_lines, len(config.clips)))
    if config.lineart_cuts:
        cases = lineart_cases(config.lineart_cuts, max_frames=config.max_frames, skipped=skipped)
        jobs.append(("lineart", cases, ("auto",), len(config.lineart_cuts)))
    for name, cases, line_modes, total in jobs:
        t0 = time.perf_counter()
        update, close = progress(f"bench {name}", "cut")
        try:
            results = _run_protocol(
                name, cases, methods, line_modes, config, flow, lpips, output, update, total
            )
        finally:
            close()
        scales = list(results[0]["scores"]) if results else []
        report["protocols"][name] = {
            "line_modes": list(line_modes),
            "cases": results,
            "summary": {scale: summarise(results, scale) for scale in scales},
            "skipped": [asdict(s) for s in skipped if s.protocol == name],
        }
        report["timings"][name] = time.perf_counter() - t0
    if config.speed or config.memory:
        with tempfile.TemporaryDirectory(prefix="celcolor-bench-") as tmp:
            if config.speed:
                t0 = time.perf_counter()
                update, close = progress("bench speed", "size")
                try:
                    from .speed import speed_suite

                    report["speed"] = speed_suite(
                        methods,
                        config.speed_sizes,
                        config.speed_frames,
                        Path(tmp),
                        progress=update,
                    )
                finally:
                    close()
                report["timings"]["speed"] = time.perf_counter() - t0
            if config.memory and config.memory_frames:
                t0 = time.perf_counter()
                update, close = progress("bench memory", "run")
                try:
                    from .speed import memory_growth

                    report["memory"] = memory_growth(
                        config.memory_frames, config.memory_size, Path(tmp), progress=update
                    )
                finally:
                    close()
                report["timings"]["memory"] = time.perf_counter() - t0
    report["failures"] = _failures(report)
    report["timings"]["total"] = time.perf_counter() - t_start
    report["environment"]["load_average_end"] = load_average()
    return report


def _failures(report: dict[str, Any]) -> list[str]:
    out = []
    for name, proto in report["protocols"].items():
        for case in proto["cases"]:
            for row, scores in case["scores"]["native"]["rows"].items():
                if "error" in scores:
                    out.append(f"{name}/{case['name']}/{row}: {scores['error']}")
    return out
