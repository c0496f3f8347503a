"""Per-frame quality against the truth: PSNR, SSIM, LPIPS, and region accuracy.

Convention:
    Frames are ``H,W,3`` RGB arrays, uint8 in 0-255 (converted to float in 0-1) or
    float already in 0-1. ``pred`` and ``truth`` are one frame or a sequence of
    frames (a ``T,H,W,3`` array or an iterable), compared frame by frame.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from celcolor.errors import CelcolorError
from celcolor.metrics._checks import (
    FramesLike,
    check_frame,
    check_same_shape,
    check_uint8_frame,
    iter_frames,
    to_float01,
)

__all__ = [
    "ALEXNET_CHECKPOINT",
    "PSNR_CAP_DB",
    "FrameScores",
    "LPIPSMetric",
    "LPIPSWeightsError",
    "RegionAccuracy",
    "default_alexnet_path",
    "load_lpips",
    "psnr",
    "region_accuracy",
    "ssim",
]

PSNR_CAP_DB = 100.0  # PSNR of identical frames (and the most any frame can score)
SSIM_WINDOW = 11  # Gaussian window, sigma 1.5 (Wang et al. 2004)
ALEXNET_CHECKPOINT = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet ImageNet weights


@dataclass(frozen=True, eq=False)
class FrameScores:
    """A per-frame metric and its mean over the frames.

    Attributes:
        mean: mean of ``per_frame``.
        per_frame: float64 ``(T,)``.
    """

    mean: float
    per_frame: np.ndarray

    def __float__(self) -> float:
        return self.mean

    @classmethod
    def from_values(cls, values: Iterable[float]) -> FrameScores:
        per_frame = np.asarray(list(values), dtype=np.float64)
        return cls(mean=float(per_frame.mean()), per_frame=per_frame)


def _frame_pairs(pred: FramesLike, truth: FramesLike) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields checked (pred, truth) frame pairs; raises on count or shape mismatch."""
    preds = iter_frames(pred, "pred")
    truths = iter_frames(truth, "truth")
    count = 0
    for count, p in enumerate(preds, start=1):
        t = next(truths, None)
        if t is None:
            raise ValueError(f"pred has more frames than truth ({count - 1})")
        p = check_frame(p, f"pred[{count - 1}]")
        t = check_frame(t, f"truth[{count - 1}]")
        check_same_shape(p, t, f"pred[{count - 1}] vs truth[{count - 1}]")
        yield p, t
    if next(truths, None) is not None:
        raise ValueError(f"truth has more frames than pred ({count})")
    if count == 0:
        raise ValueError("pred: no frames")


def _batches(
    pairs: Iterator[tuple[np.ndarray, np.ndarray]], size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Groups frame pairs into float32 ``B,3,H,W`` tensors in [0, 1]."""
    batch: list[tuple[np.ndarray, np.ndarray]] = []

    def stack(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
        p = np.stack([to_float01(a) for a, _ in items])
        t = np.stack([to_float01(b) for _, b in items])
        return (
            torch.from_numpy(p).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(t).permute(0, 3, 1, 2).contiguous(),
        )

    for pair in pairs:
        if batch and pair[0].shape != batch[0][0].shape:
            yield stack(batch)
            batch = []
        batch.append(pair)
        if len(batch) == size:
            yield stack(batch)
            batch = []
    if batch:
        yield stack(batch)


def psnr(pred: FramesLike, truth: FramesLike, max_val: float = 1.0) -> FrameScores:
    """Peak signal-to-noise ratio per frame, ``10 * log10(max_val^2 / MSE)``, in dB.

    The MSE runs over all pixels and the 3 channels of a frame, in float64 on the
    0-1 scale (uint8 input is divided by 255; float input is used as it is).
    Identical frames (MSE = 0) score ``PSNR_CAP_DB`` = 100 dB rather than inf, and
    no frame scores above it, so the mean over a cut stays finite.

    Args:
        pred: one frame or a sequence, ``H,W,3``.
        truth: the same number of frames, same size.
        max_val: peak value on that scale (1.0 for uint8 input or 0-1 floats).

    Returns:
        Per-frame PSNR and their mean (the mean of per-frame dB, as TCVC and LVCD
        average).
    """
    if max_val <= 0:
        raise ValueError(f"max_val: expected a positive peak value, got {max_val}")
    values = []
    for p, t in _frame_pairs(pred, truth):
        if p.dtype == np.uint8 and t.dtype == np.uint8:  # exact, and faster than float
            sq = cv2.absdiff(p, t).astype(np.float64)
            mse = float(np.mean(sq * sq)) / (255.0 * 255.0)
        else:
            diff = to_float01(p).astype(np.float64) - to_float01(t)
            mse = float(np.mean(diff * diff))
        if mse == 0.0:
            values.append(PSNR_CAP_DB)
        else:
            values.append(min(PSNR_CAP_DB, 10.0 * np.log10(max_val * max_val / mse)))
    return FrameScores.from_values(values)


def ssim(pred: FramesLike, truth: FramesLike, *, batch_size: int = 4) -> FrameScores:
    """Structural similarity per frame via ``kornia.metrics.ssim``.

    Gaussian window 11x11, sigma 1.5, C1 = (0.01)^2, C2 = (0.03)^2 on the 0-1
    scale (Wang et al. 2004), computed per RGB channel; ``padding="valid"`` (only
    windows fully inside the frame, as Wang et al.'s reference code), averaged over
    positions and channels. Identical frames score 1.

    Args:
        pred: one frame or a sequence, ``H,W,3``, at least 11x11.
        truth: the same number of frames, same size.
        batch_size: frames per kornia call (bounds memory).

    Returns:
        Per-frame SSIM and their mean.
    """
    import kornia

    values: list[float] = []
    with torch.inference_mode():
        for p, t in _batches(_frame_pairs(pred, truth), batch_size):
            if min(p.shape[-2:]) < SSIM_WINDOW:
                raise ValueError(f"ssim: frames must be at least {SSIM_WINDOW}x{SSIM_WINDOW}")
            ssim_map = kornia.metrics.ssim(p, t, SSIM_WINDOW, max_val=1.0, padding="valid")
            values.extend(ssim_map.mean(dim=(1, 2, 3)).double().tolist())
    return FrameScores.from_values(values)


# --------------------------------------------------------------------------- LPIPS


class LPIPSWeightsError(CelcolorError, FileNotFoundError):
    """The AlexNet backbone weights for LPIPS are missing, corrupt or of another model."""


def default_alexnet_path() -> Path:
    """Where torchvision caches its AlexNet ImageNet weights:
    ``torch.hub.get_dir()/checkpoints/alexnet-owt-7be5be79.pth``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_CHECKPOINT


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Reads a tensor state dict from a ``.pth`` (weights only) or ``.safetensors`` file."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle or zip errors: say which file and why
        # Some errors say only a number (an unpickler's bad opcode): name the type too.
        why = f"{type(exc).__name__}: {exc}" if len(str(exc)) < 12 else str(exc)
        raise LPIPSWeightsError(
            f"cannot read AlexNet weights from {path} (not a PyTorch weights file? {why})"
        ) from exc
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise LPIPSWeightsError(f"{path} is not a state dict of tensors (torchvision's AlexNet)")
    return dict(state)


def _check_hash(path: Path) -> None:
    """torchvision names cached weights ``<name>-<sha256 prefix>.pth``; check that prefix."""
    match = re.search(r"-([0-9a-f]{8,64})\.pth$", path.name)
    if match is None:
        return
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(match.group(1)):
        raise LPIPSWeightsError(
            f"{path}: sha256 does not start with {match.group(1)} as its name says; the file "
            "is corrupt or not torchvision's; delete it and download it again "
            "(torchvision.models.alexnet(weights='IMAGENET1K_V1') on a machine with internet)"
        )


def _load_backbone(net: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Loads torchvision ``alexnet().state_dict()`` keys into lpips' sliced AlexNet.

    lpips' ``pretrained_networks.alexnet`` re-homes ``features[i]`` as
    ``slice{k}.{i}`` (slice1: 0-1, slice2: 2-4, slice3: 5-7, slice4: 8-9,
    slice5: 10-11), so ``features.3.weight`` becomes ``slice2.3.weight``. The
    classifier is not part of LPIPS and is dropped; anything else is an error, and
    the load is strict.
    """
    home = {idx: name for name, part in net.named_children() for idx, _ in part.named_children()}
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("classifier."):
            continue
        parts = key.split(".", 2)
        if len(parts) != 3 or parts[0] != "features" or parts[1] not in home:
            raise LPIPSWeightsError(
                f"{path}: unexpected key {key!r}; expected torchvision AlexNet keys "
                "('features.0.weight', ..., 'classifier.6.bias')"
            )
        mapped[f"{home[parts[1]]}.{parts[1]}.{parts[2]}"] = value
    try:
        net.load_state_dict(mapped, strict=True)
    except RuntimeError as exc:
        raise LPIPSWeightsError(f"{path}: not torchvision's AlexNet: {exc}") from exc


def _load_linear_layers(model: torch.nn.Module) -> None:
    """Loads the LPIPS v0.1 linear heads that ship inside the lpips package, strictly."""
    import lpips

    path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    if not path.is_file():
        raise LPIPSWeightsError(f"{path} is missing: reinstall the lpips package")
    state = torch.load(path, map_location="cpu", weights_only=True)
    expected = {f"lin{k}.model.1.weight" for k in range(len(model.lins))}
    if set(state) != expected:
        raise LPIPSWeightsError(f"{path}: expected keys {sorted(expected)}, got {sorted(state)}")
    for k, lin in enumerate(model.lins):
        lin.load_state_dict({"model.1.weight": state[f"lin{k}.model.1.weight"]}, strict=True)


class LPIPSMetric:
    """LPIPS v0.1 with the AlexNet trunk (Zhang et al. 2018), lower is closer.

    Build it with :func:`load_lpips`. Calling it scores frames pairwise.

    Attributes:
        backbone_path: the AlexNet weights file it was loaded from.
        device: where it runs.
    """

    def __init__(self, model: torch.nn.Module, backbone_path: Path, device: torch.device) -> None:
        self.model = model.to(device).eval()
        self.backbone_path = backbone_path
        self.device = device

    def __repr__(self) -> str:
        return f"LPIPSMetric(net='alex', version='0.1', backbone={str(self.backbone_path)!r})"

    def __call__(self, pred: FramesLike, truth: FramesLike, *, batch_size: int = 4) -> FrameScores:
        """LPIPS per frame pair.

        Args:
            pred: one frame or a sequence, ``H,W,3`` uint8 (or float 0-1).
            truth: the same number of frames, same size.
            batch_size: frames per forward pass.

        Returns:
            Per-frame LPIPS (spatially averaged) and their mean.
        """
        values: list[float] = []
        with torch.inference_mode():
            for p, t in _batches(_frame_pairs(pred, truth), batch_size):
                d = self.model(p.to(self.device), t.to(self.device), normalize=True)
                values.extend(d.flatten().double().cpu().tolist())
        return FrameScores.from_values(values)


def load_lpips(
    weights: Path | str | None = None, *, device: str | torch.device = "cpu"
) -> LPIPSMetric | None:
    """Builds LPIPS (AlexNet) from ImageNet AlexNet weights found on this machine.

    The trunk weights are torchvision's ``alexnet-owt-7be5be79.pth``, read from
    ``weights`` or, when that is None, from torch's hub cache
    (:func:`default_alexnet_path`). They are never downloaded and never replaced by
    a random trunk: without them this returns None and callers report LPIPS as
    "n/a". The linear heads (LPIPS v0.1) ship inside the lpips package.

    The network is built as ``lpips.LPIPS(net="alex", pnet_rand=True,
    pretrained=False)`` (so nothing is fetched) and both parts are then loaded
    with ``strict=True``: the trunk by mapping torchvision's ``features.{i}`` keys
    onto lpips' ``slice{k}.{i}``, the heads from the package's
    ``weights/v0.1/alex.pth`` (lpips itself loads those non-strictly). A file
    whose name carries torchvision's sha256 prefix is checked against it.

    Args:
        weights: an AlexNet state dict file (``.pth`` or ``.safetensors``,
            torchvision keys); None looks in torch's hub cache.
        device: where the metric runs.

    Returns:
        The metric, or None when ``weights`` is None and the cache has no file.

    Raises:
        LPIPSWeightsError: ``weights`` names a file that does not exist, or a file
            that is not torchvision's AlexNet (bad keys, shapes or hash).
    """
    if weights is None:
        path = default_alexnet_path()
        if not path.is_file():
            return None
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise LPIPSWeightsError(
                f"AlexNet weights not found at {path}; give the path to torchvision's "
                f"{ALEXNET_CHECKPOINT}, or leave it out to use {default_alexnet_path()} "
                "(LPIPS is reported as n/a when neither exists)"
            )
    _check_hash(path)
    state = _read_state_dict(path)

    import lpips

    with warnings.catch_warnings():
        # lpips builds torchvision's alexnet with the deprecated `pretrained=False`.
        for message in (r".*'pretrained' is deprecated", r"Arguments other than a weight enum"):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        model = lpips.LPIPS(
            pretrained=False, net="alex", version="0.1", lpips=True, pnet_rand=True, verbose=False
        )
    _load_backbone(model.net, state, path)
    _load_linear_layers(model)
    for param in model.parameters():
        param.requires_grad_(False)
    return LPIPSMetric(model, path, torch.device(device))


# --------------------------------------------------------------------- region accuracy


@dataclass(frozen=True)
class RegionAccuracy:
    """Cel-colouring accuracy against the truth.

    Attributes:
        pixel: share of counted pixels (non-line) whose colour is within tolerance.
        region: share of counted regions with at least ``region_threshold`` of their
            counted pixels correct.
        n_pixels: pixels counted (over all frames).
        n_regions: regions counted (over all frames).
    """

    pixel: float
    region: float
    n_pixels: int
    n_regions: int


def _pixel_hits(
    pred: np.ndarray, truth: np.ndarray, regions: np.ndarray, lines: np.ndarray | None, tol: int
) -> tuple[np.ndarray, np.ndarray]:
    """The counted (non-line) pixels' region ids (int64) and whether each pixel's colour
    is within ``tol`` of the truth (max abs channel difference)."""
    correct = cv2.absdiff(pred, truth).max(axis=2) <= tol
    ids = regions.ravel()
    ok = correct.ravel()
    if lines is not None:
        keep = ~lines.ravel()
        ids = ids[keep]
        ok = ok[keep]
    if ids.size and ids.min() < 0:
        raise ValueError("regions: ids must be >= 0")
    return ids.astype(np.int64, copy=False), ok


def _frame_region_accuracy(
    pred: np.ndarray,
    truth: np.ndarray,
    regions: np.ndarray,
    lines: np.ndarray | None,
    tol: int,
    region_threshold: float,
    min_region_pixels: int,
) -> tuple[int, int, int, int]:
    """(correct pixels, counted pixels, correct regions, counted regions) of one frame."""
    ids, ok = _pixel_hits(pred, truth, regions, lines, tol)
    if ids.size == 0:
        return 0, 0, 0, 0
    if int(ids.max()) > 4 * ids.size + 1024:  # sparse ids: compact them first
        _, ids = np.unique(ids, return_inverse=True)
    size = np.bincount(ids)
    hits = np.bincount(ids, weights=ok)
    counted = size >= max(1, min_region_pixels)
    good = hits[counted] >= region_threshold * size[counted]
    return int(ok.sum()), int(ids.size), int(good.sum()), int(counted.sum())


def correct_regions(
    pred: np.ndarray,
    truth: np.ndarray,
    regions: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    tol: int = 10,
    region_threshold: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """One frame's regions and whether each is correct, by :func:`region_accuracy`'s
    rule: ``(ids, correct)``, the ids present outside ``lines`` (sorted) and a bool
    per id (``H,W,3`` uint8 ``pred`` and ``truth``, ``H,W`` integer ``regions``, an
    optional ``H,W`` bool line mask)."""
    ids, ok = _pixel_hits(pred, truth, regions, lines, tol)
    present, index = np.unique(ids, return_inverse=True)
    size = np.bincount(index, minlength=len(present))
    hits = np.bincount(index, weights=ok, minlength=len(present))
    return present, hits >= region_threshold * size


def region_accuracy(
    pred: np.ndarray,
    truth: np.ndarray,
    regions: np.ndarray,
    *,
    lines: np.ndarray | None = None,
    tol: int = 10,
    region_threshold: float = 0.95,
    min_region_pixels: int = 1,
) -> RegionAccuracy:
    """Pixel and region accuracy of a colouring, as BasicPBC reports for cel colouring.

    A pixel is correct when ``max_c |pred - truth| <= tol`` (on 0-255). Line pixels
    (``lines`` True) are left out of both scores, as BasicPBC leaves out its line
    label. A region (all pixels sharing an id in ``regions``, lines excluded) is
    correct when at least ``region_threshold`` of its pixels are correct.

    BasicPBC compares one colour per region exactly (its ``acc`` and ``pix_acc``);
    on rendered frames with compression and anti-aliasing a tolerance of 10 and a
    95 % vote are the image-space analogue. ``tol=0, region_threshold=1.0`` is the
    exact version. ``min_region_pixels=11`` gives BasicPBC's ``acc_thres`` (regions
    of more than 10 pixels).

    For a sequence (``T,H,W,3`` arrays with ``T,H,W`` regions and lines), the
    scores are the mean of the per-frame scores (BasicPBC averages per image);
    ``n_pixels`` and ``n_regions`` are totals.

    Args:
        pred: ``H,W,3`` uint8 RGB (or ``T,H,W,3``).
        truth: same shape, uint8.
        regions: ``H,W`` non-negative integer region ids (or ``T,H,W``).
        lines: optional ``H,W`` line mask; bool, or numeric with > 0.5 meaning line
            (an ink map in 0-1).
        tol: largest allowed absolute difference of any channel, 0-255.
        region_threshold: share of a region's pixels that must be correct.
        min_region_pixels: regions with fewer counted pixels are not scored.

    Returns:
        The pixel and region accuracies (nan when nothing was counted).
    """
    if not 0 <= tol <= 255:
        raise ValueError(f"tol: expected 0-255, got {tol}")
    if not 0.0 < region_threshold <= 1.0:
        raise ValueError(f"region_threshold: expected (0, 1], got {region_threshold}")
    pred = np.asarray(pred)
    seq = pred.ndim == 4
    preds = pred if seq else pred[None]
    truths = np.asarray(truth) if seq else np.asarray(truth)[None]
    regs = np.asarray(regions) if seq else np.asarray(regions)[None]
    lns = None if lines is None else (np.asarray(lines) if seq else np.asarray(lines)[None])
    if len(truths) != len(preds) or len(regs) != len(preds):
        raise ValueError("pred, truth and regions must have the same number of frames")
    if lns is not None and len(lns) != len(preds):
        raise ValueError("lines must have one mask per frame")
    if not np.issubdtype(regs.dtype, np.integer):
        raise TypeError(f"regions: expected integer ids, got {regs.dtype}")

    pixel_scores: list[float] = []
    region_scores: list[float] = []
    n_pixels = n_regions = 0
    for i in range(len(preds)):
        p = check_uint8_frame(preds[i], f"pred[{i}]")
        t = check_uint8_frame(truths[i], f"truth[{i}]")
        check_same_shape(p, t, "pred vs truth")
        if regs[i].shape != p.shape[:2]:
            raise ValueError(f"regions[{i}]: expected shape {p.shape[:2]}, got {regs[i].shape}")
        line = None
        if lns is not None:
            line = lns[i] if lns.dtype == np.bool_ else lns[i] > 0.5
            if line.shape != p.shape[:2]:
                raise ValueError(f"lines[{i}]: expected shape {p.shape[:2]}, got {line.shape}")
        ok_px, px, ok_reg, reg = _frame_region_accuracy(
            p, t, regs[i], line, tol, region_threshold, min_region_pixels
        )
        n_pixels += px
        n_regions += reg
        if px:
            pixel_scores.append(ok_px / px)
        if reg:
            region_scores.append(ok_reg / reg)
    pixel = float(np.mean(pixel_scores)) if pixel_scores else math.nan
    region = float(np.mean(region_scores)) if region_scores else math.nan
    return RegionAccuracy(pixel=pixel, region=region, n_pixels=n_pixels, n_regions=n_regions)
