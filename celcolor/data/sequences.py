"""Training sequences for the temporal network: a keyframe and the in-betweens after it.

A sequence is ``length`` consecutive frames (3 to 5) of one cut. Frame 0 is the
keyframe, coloured with the reference fitted over it as its guide (as the engine
does); every later frame is coloured from the previous output warped by the flow
between the two drawings. Per frame pair the flow is either the generator's exact
flow or the engine's own estimate (DIS on the flow-friendly line art), so the
network meets bad flow in training and learns to distrust it; the mask of each is
the forward-backward occlusion test the engine uses. The long-term term of the
loss needs the flow from every frame back to the keyframe: always estimated.

Sources: generated cuts (:mod:`celcolor.data.synthetic`) and, when present, the
real colour clips of ``../shared/data`` (decord), with sketches by our extractor
and estimated flow only. The reference is the keyframe's own colour (the common
case: the colour key of the first drawing) or, for generated cuts, the colour of a
frame 8 to 20 away.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..lineart import extract_ink
from ..lineart.xdog import sketch_from_colour
from ..metrics.flowcheck import occlusion_mask
from ..temporal.flow import DISFlow, flow_friendly
from .pairs import (
    _NOT_COLOUR,
    REAL_CLIPS,
    crop,
    crop_box,
    keyframe_guide,
    kmeans_palette,
    random_cut_spec,
    reference_ink,
)
from .synthetic import render_frame

log = logging.getLogger(__name__)


@dataclass
class Sequence:
    """One training sequence, arrays ready for tensors (float32, channels first).

    ``flow_prev[t]``/``mask_prev[t]``: frame t+1 -> t backward flow (on frame t+1's
    grid) and its non-occluded mask; ``flow_key[t]``/``mask_key[t]``: frame t+1 ->
    frame 0 (the keyframe).
    """

    ink: np.ndarray  # L,1,H,W
    target: np.ndarray  # L,3,H,W
    ref_rgb: np.ndarray  # 3,H,W
    ref_ink: np.ndarray  # 1,H,W
    palette: np.ndarray  # K,3
    guide: np.ndarray  # 4,H,W: the reference fitted over the keyframe
    flow_prev: np.ndarray  # L-1,2,H,W
    mask_prev: np.ndarray  # L-1,1,H,W
    flow_key: np.ndarray  # L-1,2,H,W
    mask_key: np.ndarray  # L-1,1,H,W
    exact_flow: bool
    source: str


def _estimate(flow: DISFlow, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward flow a -> b on a's grid, and its mask, from flow-friendly images."""
    back, fwd = flow(a, b), flow(b, a)
    return back, occlusion_mask(fwd, back)


def _chw(image: np.ndarray) -> np.ndarray:
    return image.transpose(2, 0, 1).astype(np.float32)


def make_sequence(
    sketches: list[np.ndarray],
    colours: list[np.ndarray],
    reference: np.ndarray,
    source: str,
    exact: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> Sequence:
    """Build a :class:`Sequence` from ``H,W,3`` uint8 RGB sketches, colours and reference.

    Args:
        exact: per frame pair ``(backward flow t+1 -> t, forward flow t -> t+1)`` of
            the generator, or None to estimate every flow.
    """
    arts = [extract_ink(s) for s in sketches]
    friendly = [flow_friendly(a.ink_u8) for a in arts]
    dis = DISFlow()
    flow_prev, mask_prev, flow_key, mask_key = [], [], [], []
    for t in range(1, len(sketches)):
        if exact is not None:
            back, fwd = exact[t - 1]
            flow_prev.append(back)
            mask_prev.append(occlusion_mask(fwd, back))
        else:
            back, mask = _estimate(dis, friendly[t], friendly[t - 1])
            flow_prev.append(back)
            mask_prev.append(mask)
        back, mask = _estimate(dis, friendly[t], friendly[0])
        flow_key.append(back)
        mask_key.append(mask)
    guide = keyframe_guide(sketches[0], arts[0].ink_u8, reference)
    return Sequence(
        ink=np.stack([a.ink[None] for a in arts]),
        target=np.stack([_chw(c) / 255.0 for c in colours]),
        ref_rgb=_chw(reference) / 255.0,
        ref_ink=reference_ink(reference)[None],
        palette=kmeans_palette(reference),
        guide=_chw(guide),
        flow_prev=np.stack([_chw(f) for f in flow_prev]),
        mask_prev=np.stack([m[None].astype(np.float32) for m in mask_prev]),
        flow_key=np.stack([_chw(f) for f in flow_key]),
        mask_key=np.stack([m[None].astype(np.float32) for m in mask_key]),
        exact_flow=exact is not None,
        source=source,
    )


def synthetic_sequences(
    count: int, size: tuple[int, int], length: int, seed: int, exact_share: float = 0.5
) -> Iterator[Sequence]:
    """Sequences from generated cuts; ``exact_share`` of them use the exact flow."""
    rng = np.random.default_rng(seed)
    for n in range(count):
        spec = random_cut_spec(rng, size)
        start = int(rng.integers(0, spec.num_frames - length))
        frames = [render_frame(spec, start + t, flow=True) for t in range(length)]
        if rng.random() < 0.5:
            reference = frames[0].colour  # the keyframe's own colour key
        else:
            j = int(np.clip(start + rng.integers(8, 21) * rng.choice([-1, 1]), 0, 47))
            reference = render_frame(spec, j, flow=False).colour
        exact = None
        if rng.random() < exact_share:
            exact = [(frames[t].flow_bwd, frames[t - 1].flow_fwd) for t in range(1, length)]
        yield make_sequence(
            [f.sketch for f in frames],
            [f.colour for f in frames],
            reference,
            f"synthetic:{n}",
            exact,
        )


def _read_consecutive(path: Path, max_frames: int) -> list[np.ndarray]:
    """The first ``max_frames`` frames of a clip, in order (decord for mp4)."""
    if path.suffix.lower() == ".mp4":
        try:
            import decord
        except ImportError:
            decord = None
        if decord is not None:
            vr = decord.VideoReader(str(path))
            return list(vr.get_batch(list(range(min(len(vr), max_frames)))).asnumpy())
    from ..io import open_frames

    with open_frames(path) as source:
        return [f.image for _, f in zip(range(max_frames), source, strict=False)]


def real_sequences(
    root: Path, count: int, size: tuple[int, int], length: int, seed: int
) -> Iterator[Sequence]:
    """Sequences of consecutive frames of the real colour clips under ``root``."""
    rng = np.random.default_rng(seed)
    clips = []
    for pattern in REAL_CLIPS:
        for path in sorted(root.glob(pattern)):
            if any(tag in path.name for tag in _NOT_COLOUR):
                continue
            try:
                frames = _read_consecutive(path, max_frames=240)
            except Exception as e:  # a damaged file is skipped, with its name in the log
                log.warning("skipping %s: %s", path, e)
                continue
            if len(frames) > length:
                clips.append(frames)
    if not clips:
        return
    for n in range(count):
        clip = clips[int(rng.integers(0, len(clips)))]
        start = int(rng.integers(0, len(clip) - length))
        # One crop for the whole sequence (a random scale and offset), so motion is kept.
        box = crop_box(clip[start].shape, size, rng, max_zoom=1.4)
        colours = [crop(clip[start + t], size, box) for t in range(length)]
        sigma, p = float(rng.uniform(0.6, 1.2)), float(rng.uniform(12, 30))
        sketches = [sketch_from_colour(c, sigma=sigma, p=p) for c in colours]
        yield make_sequence(sketches, colours, colours[0], f"real:{n}")
