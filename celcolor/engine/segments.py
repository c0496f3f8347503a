"""The frames between two keyframes that blend: set aside for the backward pass.

A segment opened right after a keyframe whose next keyframe lies within the blend
window is coloured forward first; its frames wait (:mod:`.waiting`) with their forward
outputs, and on the way back from the closing keyframe each region takes the pass it
trusts more, fading between the two (see ``Colorizer._blend_back``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .waiting import WaitingFrames


@dataclass
class WaitingFrame:
    """A frame of a blended segment, waiting (:mod:`.waiting`) for the backward pass."""

    index: int
    sketch: str  # the name its sketch waits under (the sketch its analysis came from)
    forward: str  # the name its forward output (as delivered) waits under
    trust: np.ndarray | None  # per region: the share the forward warp saw (None: held)
    broken: bool  # the forward pass had met a new drawing by then
    held: bool  # it held the drawing before it (shown forward as that frame)
    # The forward step onto it met a new drawing (carried colour across), found by the
    # new-drawing test either way round (see Colorizer._new_going_back).
    crossed: bool


@dataclass
class Segment:
    """In-betweens waiting for the keyframe after them (see ``Colorizer._blend_back``)."""

    start: int  # the keyframe (or frame) the forward pass starts from
    end: int  # the keyframe that closes the segment
    store: WaitingFrames
    # The forward pass met a new drawing: from there on it carried colour across it.
    broken: bool = False
    frames: list[WaitingFrame] = field(default_factory=list)

    def wait(
        self,
        index: int,
        sketch: np.ndarray,
        forward: np.ndarray,
        trust: np.ndarray | None,
        held: bool,
        crossed: bool,
    ) -> None:
        """Keep a frame's sketch and forward output (delivered), its trust, and
        whether the forward step onto it crossed a new drawing."""
        name = f"seg{index:06d}"
        self.store.put(name, sketch)
        self.store.put(f"{name}.forward", forward)
        self.broken |= crossed
        waiting = WaitingFrame(index, name, f"{name}.forward", trust, self.broken, held, crossed)
        self.frames.append(waiting)

    def forward_outputs(self):
        """The waiting frames' forward outputs alone (no closing keyframe came)."""
        for waiting in self.frames:
            yield self.store.take(waiting.forward)
            self.store.drop(waiting.sketch)


def moved_on(
    image: np.ndarray | None, motion: tuple[np.ndarray, np.ndarray] | None, smooth: bool = False
) -> np.ndarray | None:
    """A frame's pass choice (0/1) or forward weight (0 to 1, ``smooth``: bilinear)
    moved onto the frame coloured after it on the way back (``motion``: that frame's
    sample map from it; None: it was keyed, which ends the chain)."""
    if image is None or motion is None:
        return None
    how = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    return cv2.remap(image, motion[0], None, how, borderMode=cv2.BORDER_REPLICATE)


def fade_towards(
    pick: np.ndarray, later: np.ndarray | None, fade: int, left: int, fading: np.ndarray
) -> np.ndarray:
    """The forward weight of a blended frame: its 0/1 ``pick``, reached from the frame
    after's moved weight ``later`` by at most ``1 / fade`` per frame coloured (faster
    where only ``left`` frames remain before the first keyframe, so a region reaches
    its pick by the frame beside that keyframe), where ``fading`` (0/1 per pixel) is
    set; elsewhere, with ``later`` None, or ``fade`` <= 1: the pick itself."""
    target = pick.astype(np.float32)
    if later is None or fade <= 1:
        return target
    gap = target - later
    step = np.maximum(1.0 / fade, np.abs(gap) / max(left, 1))
    return np.where(fading > 0, later + np.clip(gap, -step, step), target)


def mix_passes(backward: np.ndarray, forward: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """A blended frame: ``forward`` by ``weight`` (0 to 1 per pixel) over ``backward``;
    where the weight is 0 or 1 the frame is that pass's, exactly."""
    # In place, in the order b + w * (f - b): half the time of the plain expression,
    # the same values. A mix of two uint8 values stays within 0..255.
    b = backward.astype(np.float32)
    mixed = forward.astype(np.float32)
    mixed -= b
    mixed *= weight[..., None]
    mixed += b
    return np.rint(mixed, out=mixed).astype(np.uint8)
