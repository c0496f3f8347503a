"""Input checks shared by the metrics: frames, flows, masks.

Images at the edges are ``H,W,3`` uint8 RGB arrays; flows are ``H,W,2`` float32 in
pixels, x first. These helpers check that contract once, at the public functions,
and say what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

FrameLike = np.ndarray
FramesLike = np.ndarray | Iterable[np.ndarray]


def check_frame(frame: Any, name: str = "frame") -> np.ndarray:
    """Returns ``frame`` as an ``H,W,3`` array (uint8 or float) after checking it."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name}: expected an H,W,3 numpy array, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name}: expected shape H,W,3 (RGB), got {frame.shape}")
    if frame.dtype != np.uint8 and not np.issubdtype(frame.dtype, np.floating):
        raise TypeError(f"{name}: expected uint8 (0-255) or float (0-1) pixels, got {frame.dtype}")
    return frame


def check_uint8_frame(frame: Any, name: str = "frame") -> np.ndarray:
    """Returns ``frame`` after checking it is an ``H,W,3`` uint8 array."""
    frame = check_frame(frame, name)
    if frame.dtype != np.uint8:
        raise TypeError(
            f"{name}: expected uint8 pixels in 0-255, got {frame.dtype}; "
            "convert with (x * 255).round().astype(np.uint8)"
        )
    return frame


def to_float01(frame: np.ndarray) -> np.ndarray:
    """uint8 0-255 -> float32 0-1; float frames are returned as float32, unscaled."""
    if frame.dtype == np.uint8:
        return frame.astype(np.float32) * np.float32(1.0 / 255.0)
    return frame.astype(np.float32, copy=False)


def check_flow(flow: Any, shape: tuple[int, int] | None = None, name: str = "flow") -> np.ndarray:
    """Returns ``flow`` as a float32 ``H,W,2`` array after checking it.

    Args:
        flow: the flow field, in pixels, x first.
        shape: the ``(H, W)`` it must have, if known.
        name: what to call it in error messages.
    """
    if not isinstance(flow, np.ndarray):
        raise TypeError(f"{name}: expected an H,W,2 numpy array, got {type(flow).__name__}")
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{name}: expected shape H,W,2 (x, y displacement), got {flow.shape}")
    if not np.issubdtype(flow.dtype, np.floating):
        raise TypeError(f"{name}: expected float pixels displacements, got {flow.dtype}")
    if shape is not None and flow.shape[:2] != tuple(shape):
        raise ValueError(f"{name}: expected spatial size {tuple(shape)}, got {flow.shape[:2]}")
    return flow.astype(np.float32, copy=False)


def iter_frames(frames: FramesLike, name: str = "frames") -> Iterator[np.ndarray]:
    """Iterates over a ``T,H,W,3`` array, a single ``H,W,3`` frame or an iterable of frames."""
    if isinstance(frames, np.ndarray):
        if frames.ndim == 3:
            yield frames
            return
        if frames.ndim != 4:
            raise ValueError(f"{name}: expected T,H,W,3 or H,W,3, got shape {frames.shape}")
    yield from frames


def iter_flows(flows: np.ndarray | Iterable[np.ndarray], name: str) -> Iterator[np.ndarray]:
    """Iterates over a ``T,H,W,2`` array or an iterable of ``H,W,2`` flows."""
    if isinstance(flows, np.ndarray) and flows.ndim != 4:
        raise ValueError(f"{name}: expected T-1,H,W,2 or a sequence of H,W,2, got {flows.shape}")
    yield from flows


def check_same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Raises if two frames differ in shape."""
    if a.shape != b.shape:
        raise ValueError(f"{what}: frames differ in shape, {a.shape} vs {b.shape}")
