"""Optical flow between line drawings, behind one interface.

Convention: ``flow(a, b)`` is defined on ``a``'s pixel grid and points into
``b``: the content at ``a[y, x]`` is found at ``b[y + fy, x + fx]``. Flow is
``H,W,2`` float32 in pixels, x first. To bring ``b``'s content onto ``a``'s
grid, backward-warp ``b`` with this flow.

Line art is nearly all white: a flow method sees no texture inside regions.
Both backends therefore look at a flow-friendly form of the drawing, the
distance to the nearest line (a ramp inside every region) plus the line itself.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import CelcolorError
from ..metrics.flowcheck import pixel_grid

log = logging.getLogger(__name__)


def flow_friendly(ink_u8: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """A textured grey image of line art for flow estimation.

    Args:
        ink_u8: ``H,W`` uint8 ink coverage.
        size: ``(width, height)`` to compute at, or None for the ink's own size.

    Returns:
        ``h,w`` uint8: dark lines, and inside regions a ramp that grows with the
        distance to the nearest line (saturating at 24 px), lightly blurred.
    """
    ink = ink_u8
    if size is not None and (size[0], size[1]) != (ink.shape[1], ink.shape[0]):
        ink = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    free = cv2.threshold(ink, 96, 255, cv2.THRESH_BINARY_INV)[1]
    dist = cv2.distanceTransform(free, cv2.DIST_L2, 3)
    ramp = cv2.convertScaleAbs(dist, alpha=255.0 / 24.0)  # saturates at 24 px
    image = cv2.subtract(ramp, ink)
    return cv2.GaussianBlur(image, (3, 3), 0)


class FlowBackend(Protocol):
    """Estimates flow between two frames' flow-friendly images (see :func:`flow_friendly`)."""

    name: str

    def __call__(self, a: np.ndarray, b: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
        """Flow on ``a``'s grid into ``b`` (``H,W,2`` float32, pixels, x first).

        ``init``: a first estimate of it, refined (a backend that cannot start from
        one may ignore it).
        """
        ...


# OpenCV's DIS fails on images fewer than 32 rows high, or crashes the process
# (segmentation fault), at any width tried (40 to 4000; narrow and tall ones pass):
# smaller images are padded to this on each side first (tested).
DIS_MIN_SIDE = 32


@dataclass
class DISFlow:
    """OpenCV's Dense Inverse Search flow, the CPU default.

    Attributes:
        preset: "ultrafast", "fast" or "medium" (OpenCV's presets).
    """

    # Mean PSNR on the generated suite: ultrafast 33.0 dB, fast 32.9, medium 33.9, at
    # about 1, 2.5 and 8 times the cost; ultrafast keeps 720p near real time on 2 cores.
    preset: str = "ultrafast"
    name: str = "dis"

    def __post_init__(self) -> None:
        presets = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        if self.preset not in presets:
            raise CelcolorError(f"unknown DIS preset {self.preset!r}; use one of {sorted(presets)}")
        self._preset_id = presets[self.preset]
        self._dis = cv2.DISOpticalFlow_create(self._preset_id)
        self._shape: tuple[int, ...] | None = None
        self.name = f"dis-{self.preset}"

    def __call__(self, a: np.ndarray, b: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
        h, w = a.shape[:2]
        if self._shape is not None and self._shape != a.shape:
            # One DIS object run on images of another size can crash the process.
            self._dis = cv2.DISOpticalFlow_create(self._preset_id)
        self._shape = a.shape
        grow_h, grow_w = max(0, DIS_MIN_SIDE - h), max(0, DIS_MIN_SIDE - w)
        if grow_h or grow_w:  # a strip of a frame: padded (edges repeated), then cut back

            def pad(x: np.ndarray) -> np.ndarray:
                return cv2.copyMakeBorder(x, 0, grow_h, 0, grow_w, cv2.BORDER_REPLICATE)

            flow = self._dis.calc(pad(a), pad(b), None if init is None else pad(init))
            return np.ascontiguousarray(flow[:h, :w])
        # DIS refines a given flow from its coarsest scale on (calc writes into it).
        return self._dis.calc(a, b, None if init is None else init.copy())


def _raft_weights_path(weights: Path | None) -> Path | None:
    if weights is not None:
        return Path(weights)
    import torch

    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(checkpoints.glob("raft_*.pth")) if checkpoints.is_dir() else []
    return found[0] if found else None


class RAFTFlow:
    """torchvision's RAFT, used when its weights are on disk (never downloaded here).

    Args:
        weights: a RAFT state dict (``raft_large_*.pth`` or ``raft_small_*.pth``);
            None looks in torch's hub cache.
        device: a torch device string.
    """

    def __init__(self, weights: Path | None = None, device: str = "cpu") -> None:
        import torch
        from torchvision.models.optical_flow import raft_large, raft_small

        if weights is not None and not Path(weights).is_file():
            what = "is a folder" if Path(weights).is_dir() else "no such file"
            raise CelcolorError(
                f"--flow-weights {weights}: {what}; give a RAFT state dict "
                "(raft_large_*.pth or raft_small_*.pth)"
            )
        path = _raft_weights_path(weights)
        if path is None or not path.is_file():
            raise CelcolorError(
                "RAFT weights not found: pass --flow-weights PATH or put raft_large_*.pth "
                "in torch's hub cache (checkpoints/); or use DIS (--flow dis; in the bench, "
                "--metric-flow dis)"
            )
        model = raft_small() if "small" in path.name else raft_large()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except Exception as e:  # torch raises many kinds for a file that is not a checkpoint
            raise CelcolorError(
                f"{path}: not a torchvision RAFT checkpoint ({type(e).__name__}); pass the "
                "raft_large or raft_small weights file, or use DIS (--flow dis; in the bench, "
                "--metric-flow dis)"
            ) from e
        self._model = model.eval().to(device)
        self._device = device
        self.name = f"raft-{'small' if 'small' in path.name else 'large'}"

    def __call__(self, a: np.ndarray, b: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
        # torchvision's RAFT takes no first estimate; it finds large motion by itself.
        import torch

        def prep(img: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(img).float().div(127.5).sub(1.0)
            return t[None, None].expand(1, 3, *img.shape).to(self._device)

        h, w = a.shape
        # RAFT needs sizes divisible by 8: pad, then crop the flow back.
        ph, pw = (-h) % 8, (-w) % 8
        ta = torch.nn.functional.pad(prep(a), (0, pw, 0, ph), mode="replicate")
        tb = torch.nn.functional.pad(prep(b), (0, pw, 0, ph), mode="replicate")
        with torch.inference_mode():
            flow = self._model(ta, tb, num_flow_updates=12)[-1]
        return flow[0, :, :h, :w].permute(1, 2, 0).cpu().numpy().astype(np.float32)


def make_flow_backend(name: str = "dis", *, device: str = "cpu", weights: Path | None = None):
    """Build a flow backend by name: "dis" (CPU default), "raft", or "auto".

    "auto" takes RAFT when its weights are present and a GPU is in use, else DIS.
    """
    if name == "dis":
        return DISFlow()
    if name == "raft":
        return RAFTFlow(weights, device=device)
    if name == "auto":
        if device.startswith("cuda") and _raft_weights_path(weights) is not None:
            return RAFTFlow(weights, device=device)
        return DISFlow()
    raise CelcolorError(f"unknown flow backend {name!r}; use dis, raft or auto")


def scale_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a flow field to ``(width, height)``, scaling its vectors to match."""
    h, w = flow.shape[:2]
    if (w, h) == size:
        return flow
    out = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out


@functools.lru_cache(maxsize=4)
def _pixel_scale(small: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Per-axis factor from work-size to full-size pixel coordinates (x, y)."""
    return np.array([size[0] / small[1], size[1] / small[0]], np.float32)


@functools.lru_cache(maxsize=4)
def _pixel_offset(small: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Correction for scaling pixel-centre coordinates rather than edges.

    A coordinate c at work size is the point (c + 0.5) * s - 0.5 at full size:
    after multiplying by s, add 0.5 * s - 0.5 per axis.
    """
    sx, sy = size[0] / small[1], size[1] / small[0]
    return np.array([0.5 * sx - 0.5, 0.5 * sy - 0.5], np.float32)


def sampling_map(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Full-size sampling positions ``x + flow(x)`` for ``cv2.remap`` from a work-size flow.

    Args:
        flow: ``h,w,2`` float32 flow at work size, on the grid being sampled for.
        size: ``(width, height)`` of the full-size frames on both ends.

    Returns:
        ``H,W,2`` float32 map into the other frame, in full-size pixels.
    """
    # (c + 0.5) * s - 0.5 for a work-size coordinate c: affine in c, and bilinear
    # resizing is linear, so it is applied at work size (fewer pixels), then resized.
    small = flow + pixel_grid(*flow.shape[:2])
    small *= _pixel_scale(flow.shape[:2], size)
    small += _pixel_offset(flow.shape[:2], size)
    return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)


def work_positions(sample: np.ndarray, small: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`sampling_map`: full-size positions as a work-size map.

    Args:
        sample: ``H,W,2`` float32 full-size sampling positions.
        small: ``(h, w)`` of the work size.

    Returns:
        ``h,w,2`` float32 positions in work-size pixels, on the work-size grid.
    """
    h, w = small
    full = (sample.shape[1], sample.shape[0])
    out = cv2.resize(sample, (w, h), interpolation=cv2.INTER_AREA)
    out -= _pixel_offset(small, full)
    out /= _pixel_scale(small, full)
    return out
