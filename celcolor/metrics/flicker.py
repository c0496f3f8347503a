"""Flicker metrics: flow warping error (E_warp), its ratio to the truth (TC), and CDC.

Convention:
    Frames are ``H,W,3`` RGB arrays, uint8 in 0-255 (float frames are taken as
    already in 0-1). ``flows_fwd[t]`` maps frame t -> t+1 and lives on frame t's
    pixels; ``flows_bwd[t]`` maps frame t+1 -> t and lives on frame t+1's pixels.
    A cut of T frames has T-1 flows in each direction. Every argument may be a
    stacked array or any iterable (a generator streams, in bounded memory).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from celcolor.metrics._checks import (
    FramesLike,
    check_flow,
    check_frame,
    check_same_shape,
    check_uint8_frame,
    iter_flows,
    iter_frames,
    to_float01,
)
from celcolor.metrics.flowcheck import backward_warp, occlusion_mask

__all__ = [
    "TemporalConsistency",
    "WarpErrorResult",
    "cdc",
    "temporal_consistency_ratio",
    "warp_error",
]

FlowsLike = np.ndarray | Iterable[np.ndarray]


@dataclass(frozen=True, eq=False)
class WarpErrorResult:
    """Flow warping error of a cut.

    Attributes:
        mean: E_warp, the mean of ``per_pair`` (0 is perfectly stable).
        per_pair: float64 ``(T-1,)``, E_warp of each pair (t, t+1).
        valid_fraction: float64 ``(T-1,)``, share of frame t+1's pixels the
            occlusion mask kept for each pair.
    """

    mean: float
    per_pair: np.ndarray
    valid_fraction: np.ndarray

    def __float__(self) -> float:
        return self.mean


@dataclass(frozen=True, eq=False)
class TemporalConsistency:
    """E_warp of an output relative to the truth's, with the same flows and masks.

    Attributes:
        ratio: ``output.mean / truth.mean``; 1.0 = as stable as the real animation,
            above 1 = more flicker. When the truth's E_warp is 0 (a still cut):
            ``inf`` if the output's is above 0, 1.0 if both are 0.
        output: the output's warp error.
        truth: the truth's warp error.
    """

    ratio: float
    output: WarpErrorResult
    truth: WarpErrorResult

    def __float__(self) -> float:
        return self.ratio


def _pair_error(
    prev: np.ndarray, cur: np.ndarray, flow_bwd: np.ndarray, valid: np.ndarray
) -> float:
    """sum(M * (O_{t+1} - W(O_t))^2) / sum(M), M broadcast over the 3 channels."""
    warped = backward_warp(to_float01(prev), flow_bwd, interpolation="linear", border="replicate")
    diff = to_float01(cur) - warped
    diff = diff[valid]  # (N, 3)
    n = diff.size  # = 3 * sum(M): Lai et al. count the mask once per channel
    if n == 0:
        return 0.0  # Lai et al.: nothing valid -> the masked sum is 0
    return float(np.einsum("ij,ij->", diff, diff, dtype=np.float64)) / n


def _pairs(
    frames: FramesLike, flows_fwd: FlowsLike, flows_bwd: FlowsLike, name: str
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yields (frame_t, frame_{t+1}, flow_fwd[t], flow_bwd[t]) with checks."""
    fwd = iter_flows(flows_fwd, "flows_fwd")
    bwd = iter_flows(flows_bwd, "flows_bwd")
    count = 0
    for count, (prev, cur) in enumerate(pairwise(iter_frames(frames, name)), start=1):
        prev = check_frame(prev, f"{name}[{count - 1}]")
        cur = check_frame(cur, f"{name}[{count}]")
        check_same_shape(prev, cur, name)
        try:
            f = next(fwd)
            b = next(bwd)
        except StopIteration:
            raise ValueError(
                f"expected one forward and one backward flow per pair of {name}, "
                f"ran out at pair {count - 1}"
            ) from None
        hw = prev.shape[:2]
        yield (
            prev,
            cur,
            check_flow(f, hw, f"flows_fwd[{count - 1}]"),
            check_flow(b, hw, f"flows_bwd[{count - 1}]"),
        )
    if count == 0:
        raise ValueError(f"{name}: need at least 2 frames for a warping error")
    for extra, label in ((fwd, "flows_fwd"), (bwd, "flows_bwd")):
        if next(extra, None) is not None:
            raise ValueError(f"{label}: more flows than the {count} pairs of {name}")


def _result(errors: list[float], fractions: list[float]) -> WarpErrorResult:
    per_pair = np.asarray(errors, dtype=np.float64)
    return WarpErrorResult(
        mean=float(per_pair.mean()),
        per_pair=per_pair,
        valid_fraction=np.asarray(fractions, dtype=np.float64),
    )


def warp_error(frames: FramesLike, flows_fwd: FlowsLike, flows_bwd: FlowsLike) -> WarpErrorResult:
    """Flow warping error E_warp of Lai et al. 2018 ("Learning Blind Video Temporal
    Consistency"), on RGB in [0, 1].

    For each pair (t, t+1): ``W = backward_warp(O_t, flow_bwd[t])`` (bilinear,
    edge-replicated), ``M = occlusion_mask(flow_fwd[t], flow_bwd[t])`` and

        E_t = sum_x,c M(x) * (O_{t+1}(x, c) - W(x, c))^2 / (3 * sum_x M(x)),

    i.e. the mean squared error over the valid pixels and the 3 channels, which is
    what their ``evaluate_WarpError.py`` computes (its mask is read as 3 channels,
    so the denominator counts each valid pixel 3 times). E_warp is the mean of E_t
    over the T-1 pairs. A pair with no valid pixel counts 0, as in their code.

    Their script warps frame t+1 onto frame t's grid with the forward flow; this is
    the mirror image (frame t onto t+1 with the backward flow, mask on t+1's grid),
    which the streaming engine computes anyway. The two agree up to which frame's
    occluded pixels get masked.

    Convention:
        ``flows_fwd[t]``: frame t -> t+1 on frame t's pixels; ``flows_bwd[t]``:
        frame t+1 -> t on frame t+1's pixels; both ``H,W,2`` float, pixels, x first.

    Args:
        frames: T >= 2 frames, ``H,W,3`` uint8 (or float in 0-1).
        flows_fwd: T-1 forward flows.
        flows_bwd: T-1 backward flows.

    Returns:
        The mean and per-pair errors, and the share of valid pixels per pair.
    """
    errors: list[float] = []
    fractions: list[float] = []
    for prev, cur, f, b in _pairs(frames, flows_fwd, flows_bwd, "frames"):
        valid = occlusion_mask(f, b)
        errors.append(_pair_error(prev, cur, b, valid))
        fractions.append(float(valid.mean()))
    return _result(errors, fractions)


def temporal_consistency_ratio(
    output_frames: FramesLike,
    truth_frames: FramesLike,
    flows_fwd: FlowsLike,
    flows_bwd: FlowsLike,
) -> TemporalConsistency:
    """TC = E_warp(output) / E_warp(truth), both with the same flows and masks.

    This is the temporal-consistency ratio LVCD reports: 1.0 means the output is as
    stable as the real animation, above 1 means more flicker. The flows (and so the
    occlusion masks) are usually estimated on the truth or on the line art, and the
    same ones score both videos. ``float(result)`` gives the ratio.

    Edge case: a truth with E_warp = 0 (a still cut with exact flows) gives
    ``ratio = inf`` if the output's E_warp is above 0 and ``ratio = 1.0`` if it is 0
    too (both perfectly stable); never a division error.

    Convention:
        ``flows_fwd[t]``: frame t -> t+1 on frame t's pixels; ``flows_bwd[t]``:
        frame t+1 -> t on frame t+1's pixels.

    Args:
        output_frames: T frames to score, ``H,W,3``.
        truth_frames: the T frames of the real animation, same size.
        flows_fwd: T-1 forward flows.
        flows_bwd: T-1 backward flows.

    Returns:
        The ratio and both warp errors.
    """
    out_err: list[float] = []
    truth_err: list[float] = []
    fractions: list[float] = []
    outputs = pairwise(iter_frames(output_frames, "output_frames"))
    truth_pairs = _pairs(truth_frames, flows_fwd, flows_bwd, "truth_frames")
    for t, (prev, cur, f, b) in enumerate(truth_pairs):
        pair = next(outputs, None)
        if pair is None:
            raise ValueError(f"output_frames: fewer frames than truth_frames ({t + 1})")
        out_prev = check_frame(pair[0], f"output_frames[{t}]")
        out_cur = check_frame(pair[1], f"output_frames[{t + 1}]")
        check_same_shape(out_prev, prev, "output_frames vs truth_frames")
        check_same_shape(out_cur, cur, "output_frames vs truth_frames")
        valid = occlusion_mask(f, b)
        truth_err.append(_pair_error(prev, cur, b, valid))
        out_err.append(_pair_error(out_prev, out_cur, b, valid))
        fractions.append(float(valid.mean()))
    if next(outputs, None) is not None:
        raise ValueError("output_frames: more frames than truth_frames")

    output = _result(out_err, fractions)
    truth = _result(truth_err, fractions)
    return TemporalConsistency(ratio=_ratio(output.mean, truth.mean), output=output, truth=truth)


def _ratio(output: float, truth: float) -> float:
    """output / truth; a still truth (0) gives inf, or 1.0 if the output is still too."""
    if truth > 0:
        return output / truth
    return math.inf if output > 0 else 1.0


def _histograms(frame: np.ndarray) -> np.ndarray:
    """Per-channel 256-bin histograms normalised by H*W, float64 ``(3, 256)``."""
    count = frame.shape[0] * frame.shape[1]
    hists = [cv2.calcHist([frame], [c], None, [256], [0, 256]).ravel() for c in range(3)]
    return np.stack(hists).astype(np.float64) / count


def _js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) along the last axis."""
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_pm = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=-1)
        kl_qm = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=-1)
    return 0.5 * kl_pm + 0.5 * kl_qm


def cdc(frames: FramesLike, distances: Sequence[int] = (1, 2, 4)) -> float:
    """Color Distribution Consistency of Liu et al. 2021 (TCVC, "Temporally Consistent
    Video Colorization with Deep Feature Propagation and Self-regularization
    Learning"); lower is more stable, 0 for a cut whose histograms never change.

    As their ``codes/eval_results.py`` (``calculate_folders_multiple``) computes it:
    for each channel c, a 256-bin histogram of each frame normalised by H*W; for
    each distance d, JS_c(d) = mean over i of JSD(hist_c(i), hist_c(i + d)); then

        CDC = mean over c of ( sum over d of w_d * JS_c(d) ),  w_d = 1 / len(distances),

    with JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, in the
    **natural log** (their ``scipy.stats.entropy`` default), so 0 <= JSD <= ln 2.

    One difference: a distance with no pair (a cut shorter than d + 1 frames) is
    left out and the weights renormalised over the remaining distances; their code
    would return NaN for such a cut.

    Args:
        frames: T >= 2 frames, ``H,W,3`` uint8 RGB (channel order does not matter).
        distances: frame distances d, each >= 1; TCVC uses (1, 2, 4).

    Returns:
        The CDC of the cut.
    """
    dists = [int(d) for d in distances]
    if not dists or any(d < 1 for d in dists):
        raise ValueError(f"distances: expected positive frame distances, got {tuple(distances)}")
    hists = []
    shape = None
    for i, frame in enumerate(iter_frames(frames)):
        frame = check_uint8_frame(frame, f"frames[{i}]")
        if shape is not None and frame.shape != shape:
            raise ValueError(f"frames[{i}]: shape {frame.shape} differs from frames[0] {shape}")
        shape = frame.shape
        hists.append(_histograms(np.ascontiguousarray(frame)))
    if len(hists) < 2:
        raise ValueError(f"frames: CDC needs at least 2 frames, got {len(hists)}")
    h = np.stack(hists)  # (T, 3, 256)

    per_distance = []  # (3,) mean JS per channel for each usable distance
    for d in dists:
        if d >= len(h):
            continue
        per_distance.append(_js_divergence(h[:-d], h[d:]).mean(axis=0))
    if not per_distance:
        raise ValueError(f"frames: {len(h)} frames leave no pair at distances {tuple(dists)}")
    per_channel = np.mean(per_distance, axis=0)  # equal weights over the distances
    return float(per_channel.mean())
