"""Running a method on a cut, and scoring what it returns.

Rules that keep the numbers honest:

- A method gets the sketches and the reference only; the truth stays here.
- Its output is checked frame by frame (count, size, dtype); a method that returns
  anything else fails the cut, and a method that fails any cut gets no summary.
- The flows that E_warp and TC use are computed once per cut on the *reference frames*
  (the truth where there is one, else the input sketches), never on an output, and the
  same flows and occlusion masks score every method and the truth.
- Quality (PSNR, SSIM, LPIPS, region accuracy) leaves out the reference frame: it is
  given to every method, so copying it must earn nothing.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import CelcolorError
from ..lineart import extract_ink
from ..logs import captured_warnings
from ..metrics import cdc, warp_error
from ..temporal.flow import DISFlow, flow_friendly, make_flow_backend
from .cases import Case
from .methods import Method, MethodSettings
from .ssim import ssim_opencv

log = logging.getLogger(__name__)

__all__ = [
    "FlowSet",
    "MethodError",
    "MethodRun",
    "MetricFlow",
    "captured_logs",
    "exact_flows",
    "flows_on_colour",
    "flows_on_sketches",
    "run_method",
    "score_case",
]

LVCD_SIZE = (256, 256)  # LVCD scores at 256x256


class MethodError(CelcolorError):
    """A method raised, or returned frames that break the contract."""


@dataclass
class FlowSet:
    """Forward and backward flows of a cut, and what they were computed on.

    Attributes:
        name: the key in the report ("exact", "dis-medium/grey-truth", ...).
        description: one line for the report.
        fwd: T-1 flows, frame t -> t+1 on frame t's pixels.
        bwd: T-1 flows, frame t+1 -> t on frame t+1's pixels.
    """

    name: str
    description: str
    fwd: list[np.ndarray]
    bwd: list[np.ndarray]


class MetricFlow:
    """The flow estimator the metrics use (independent of the engine's own flow).

    DIS at OpenCV's "medium" preset by default (the engine runs "ultrafast"); RAFT
    when asked and its weights are given.
    """

    def __init__(self, backend: str = "dis", weights: Path | None = None, device: str = "cpu"):
        if backend == "dis":
            self._flow = DISFlow(preset="medium")
        elif backend == "raft":
            self._flow = make_flow_backend("raft", device=device, weights=weights)
        else:
            raise CelcolorError(f"unknown metric flow {backend!r}; use dis or raft")
        self.name: str = self._flow.name

    def pairs(self, images: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Forward and backward flows between consecutive grey images."""
        fwd, bwd = [], []
        for a, b in itertools.pairwise(images):
            fwd.append(self._flow(a, b))
            bwd.append(self._flow(b, a))
        return fwd, bwd


def flows_on_colour(frames: Sequence[np.ndarray], flow: MetricFlow) -> FlowSet:
    """Flows of colour frames, estimated on their grey images (BT.601 luma) directly."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    fwd, bwd = flow.pairs(grey)
    return FlowSet(
        name=f"{flow.name}/grey-truth",
        description=f"{flow.name} on the grey ground-truth frames",
        fwd=fwd,
        bwd=bwd,
    )


def flows_on_sketches(sketches: Sequence[np.ndarray], flow: MetricFlow) -> FlowSet:
    """Flows of line art, estimated on ``flow_friendly(extract_ink(sketch))`` at full size."""
    images = [flow_friendly(extract_ink(s).ink_u8) for s in sketches]
    fwd, bwd = flow.pairs(images)
    return FlowSet(
        name=f"{flow.name}/sketch",
        description=f"{flow.name} on flow_friendly(ink) of the input sketches",
        fwd=fwd,
        bwd=bwd,
    )


def exact_flows(case: Case) -> FlowSet:
    """The generator's exact flows (synthetic cuts)."""
    if case.exact_flow is None:
        raise ValueError(f"{case.name}: no exact flow")
    fwd, bwd = case.exact_flow
    return FlowSet(
        name="exact",
        description="the generator's exact flow (synthetic cuts)",
        fwd=list(fwd),
        bwd=list(bwd),
    )


# ------------------------------------------------------------------------------ running


@dataclass
class MethodRun:
    """One method's output on one cut.

    Attributes:
        row: the row label (method, plus the line mode when it matters).
        method: the method's name.
        lines: the line mode it ran with, or None when it does not use one.
        frames: the output frames.
        seconds: wall time of the colouring alone (frames already in memory).
        stage_seconds: per-stage seconds when the method reports them.
        rekeyed: frames the method re-coloured from the reference as new keyframes
            (the engine's temporal network), when it reports them.
        held: frames the method showed as the frame before them, their drawing held
            (the engine's :mod:`~celcolor.engine.holds`), when it reports them.
        warnings: warnings the method logged on this cut.
        error: why it failed, or None.
    """

    row: str
    method: str
    lines: str | None
    frames: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    rekeyed: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def captured_logs() -> AbstractContextManager[list[str]]:
    """What the engine logs during a bench run goes to the report, not the terminal.

    Warnings are collected (the per-frame baseline warns on every cut that the
    reference is another drawing: that is what it is); info messages are dropped.
    """
    return captured_warnings("celcolor.engine")


def run_method(method: Method, case: Case, lines: str | None, device: str = "auto") -> MethodRun:
    """Colour a cut with a method, timing it and checking what it returns."""
    row = method.name if lines is None else f"{method.name} (lines={lines})"
    run = MethodRun(row=row, method=method.name, lines=lines)
    settings = MethodSettings(ref_frame=case.ref_frame, lines=lines or "auto", device=device)
    h, w = case.sketches[0].shape[:2]
    with captured_logs() as warnings:
        try:
            t0 = time.perf_counter()
            colorizer = method.build(case.reference.copy(), settings)
            for i, out in enumerate(colorizer.colorize(iter(case.sketches))):
                if i >= case.num_frames:
                    raise MethodError(f"more frames out than the {case.num_frames} in")
                if not (
                    isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (h, w, 3)
                ):
                    raise MethodError(
                        f"frame {i}: expected a {h}x{w}x3 uint8 RGB array, got "
                        f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}"
                    )
                run.frames.append(np.array(out, copy=True))
            run.seconds = time.perf_counter() - t0
            if len(run.frames) != case.num_frames:
                raise MethodError(f"{len(run.frames)} frames out for {case.num_frames} in")
        except Exception as e:  # a failing method is reported, and loses its summary
            run.error = f"{type(e).__name__}: {e}"
            run.frames = []
            log.warning("%s failed on %s: %s", row, case.name, run.error)
        stats = getattr(colorizer, "stats", None) if run.error is None else None
    run.warnings = list(warnings)
    if stats is not None and isinstance(getattr(stats, "seconds", None), dict):
        run.stage_seconds = {k: float(v) for k, v in stats.seconds.items()}
    if stats is not None and isinstance(getattr(stats, "rekeyed", None), list):
        run.rekeyed = [int(i) for i in stats.rekeyed]
    if stats is not None and isinstance(getattr(stats, "held", None), list):
        run.held = [int(i) for i in stats.held]
    if run.warnings:
        log.debug("%s on %s: %d warning(s): %s", row, case.name, len(warnings), warnings[0])
    return run


# ------------------------------------------------------------------------------ scoring


def tc_ratio(output: float, truth: float) -> float:
    """E_warp(output) / E_warp(truth); as celcolor.metrics: a still truth gives inf or 1."""
    if truth > 0:
        return output / truth
    return math.inf if output > 0 else 1.0


def _resize_all(frames: Sequence[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


@dataclass
class Scorer:
    """Scores the outputs of one cut (all methods) against its truth and flows.

    Attributes:
        flows: the flow sets E_warp is computed with (each gives its own column).
        lpips: an LPIPS metric, or None (reported as n/a).
        ssim: "opencv" (:func:`celcolor.bench.ssim.ssim_opencv`, equal and faster) or
            "kornia" (:func:`celcolor.metrics.ssim`).
    """

    flows: list[FlowSet]
    lpips: Any = None
    ssim: str = "opencv"

    def truth_scores(self, case: Case, truth: Sequence[np.ndarray] | None) -> dict[str, Any]:
        """E_warp and CDC of the truth (what 1.0 of TC means), or {} without a truth."""
        if truth is None:
            return {}
        ewarp = {fs.name: warp_error(truth, fs.fwd, fs.bwd) for fs in self.flows}
        return {
            "ewarp": {k: v.mean for k, v in ewarp.items()},
            "valid_fraction": {k: float(v.valid_fraction.mean()) for k, v in ewarp.items()},
            "cdc": cdc(truth),
            "per_pair": {"ewarp": {k: v.per_pair.tolist() for k, v in ewarp.items()}},
        }

    def score(
        self,
        case: Case,
        frames: Sequence[np.ndarray],
        truth: Sequence[np.ndarray] | None,
        truth_scores: dict[str, Any],
        *,
        regions: bool = True,
    ) -> dict[str, Any]:
        """Every metric of one output (``frames``) of a cut."""
        from ..metrics import psnr, region_accuracy, ssim

        out: dict[str, Any] = {}
        scored = [i for i in range(len(frames)) if i != case.ref_frame]
        per_frame: dict[str, Any] = {}
        if truth is not None:
            p = psnr(frames, truth).per_frame
            if self.ssim == "kornia":
                s = ssim(frames, truth).per_frame
            else:
                s = ssim_opencv(frames, truth).per_frame
            out["psnr"] = float(p[scored].mean())
            out["ssim"] = float(s[scored].mean())
            per_frame["psnr"] = p.tolist()
            per_frame["ssim"] = s.tolist()
            if self.lpips is not None:
                lp = self.lpips(frames, truth).per_frame
                out["lpips"] = float(lp[scored].mean())
                per_frame["lpips"] = lp.tolist()
            else:
                out["lpips"] = None
            if regions and case.regions is not None:
                acc = region_accuracy(
                    np.stack([frames[i] for i in scored]),
                    np.stack([truth[i] for i in scored]),
                    case.regions[scored],
                    lines=None if case.lines is None else case.lines[scored],
                )
                out["pixel_accuracy"] = acc.pixel
                out["region_accuracy"] = acc.region
        ewarp = {fs.name: warp_error(frames, fs.fwd, fs.bwd) for fs in self.flows}
        out["ewarp"] = {k: v.mean for k, v in ewarp.items()}
        if truth is not None:
            out["tc"] = {k: tc_ratio(v.mean, truth_scores["ewarp"][k]) for k, v in ewarp.items()}
        out["cdc"] = cdc(frames)
        per_frame["ewarp"] = {k: v.per_pair.tolist() for k, v in ewarp.items()}
        out["per_frame"] = per_frame
        return out


@contextmanager
def metric_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads while scoring (restored after; methods keep the default).

    kornia's SSIM on the CPU ran 3 to 10 times slower with 2 threads than with 1 on
    a 2-vCPU machine, and varied from run to run; scoring is not timed, so it runs
    with fewer threads (half the CPUs by default, see :func:`default_metric_threads`).
    """
    if threads is None:
        yield
        return
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def default_metric_threads() -> int:
    """Half the usable CPUs, at least 1."""
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 2) // 2)


def score_case(
    case: Case,
    runs: Sequence[MethodRun],
    flows: list[FlowSet],
    *,
    lpips: Any = None,
    size: tuple[int, int] | None = None,
    flow: MetricFlow | None = None,
    ssim: str = "opencv",
) -> dict[str, Any]:
    """Scores of every method's output on a cut (and of the truth), as a dict.

    Args:
        case: the cut.
        runs: the methods' outputs.
        flows: flow sets at the cut's own size.
        lpips: LPIPS metric or None.
        size: ``(w, h)`` to resize outputs and truth to before scoring (LVCD's
            256x256); flows are then re-estimated on the resized truth with ``flow``.
        flow: the metric flow, needed with ``size``.
        ssim: SSIM implementation, "opencv" or "kornia" (see :class:`Scorer`).
    """
    truth = case.truth
    if size is not None:
        if flow is None:
            raise ValueError("score_case: resizing needs the metric flow to re-estimate flows")
        truth = _resize_all(truth, size) if truth is not None else None
        if truth is not None:
            flows = [flows_on_colour(truth, flow)]
        else:
            flows = [flows_on_sketches(_resize_all(case.sketches, size), flow)]
    scorer = Scorer(flows=flows, lpips=lpips, ssim=ssim)
    truth_scores = scorer.truth_scores(case, truth)
    rows: dict[str, Any] = {}
    for run in runs:
        if run.error is not None:
            rows[run.row] = {"method": run.method, "lines": run.lines, "error": run.error}
            continue
        frames = run.frames if size is None else _resize_all(run.frames, size)
        scores = scorer.score(case, frames, truth, truth_scores, regions=size is None)
        scores.update(
            method=run.method,
            lines=run.lines,
            seconds=run.seconds,
            fps=len(run.frames) / run.seconds if run.seconds > 0 else None,
            stage_seconds=run.stage_seconds,
            rekeyed=run.rekeyed,
            held=run.held,
            warnings=run.warnings,
        )
        rows[run.row] = scores
    return {
        "size": list(size) if size is not None else list(case.size),
        "flows": {fs.name: fs.description for fs in flows},
        "truth": truth_scores,
        "rows": rows,
    }
