"""Training pairs for the exemplar network: (sketch, reference) -> colour.

Two sources, both made into the same tensors by :func:`make_sample`:

- generated cuts (:mod:`celcolor.data.synthetic`): the target is frame i, the
  reference the colour of frame j of the same cut, 8 to 20 frames away, so pose
  and occlusion differ; the sketch is the generated line art.
- real colour frames (``../shared/data`` when present; clips read with decord,
  stills with OpenCV): the sketch is our XDoG extractor's under varied settings;
  the reference is another frame of the same clip or the frame itself distorted
  (augmented-self reference: affine warp, crop, flip).

The reference's own ink always comes from our extractor run on the reference's
colours, as it must at inference, where only the colour reference exists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sklearn.cluster import KMeans

from ..lineart import extract_ink
from ..lineart.xdog import reference_ink, sketch_from_colour
from ..temporal.flow import DISFlow, flow_friendly
from .synthetic import CutSpec, render_frame

log = logging.getLogger(__name__)

PALETTE_SIZE = 9


def kmeans_palette(rgb: np.ndarray, k: int = PALETTE_SIZE, seed: int = 0) -> np.ndarray:
    """``k,3`` float32 palette in [0, 1] of an image (k-means on a pixel sample).

    Colours are sorted by cluster size (largest first), so the order means something.
    """
    pixels = rgb.reshape(-1, 3).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    sample = pixels[rng.choice(len(pixels), min(len(pixels), 4096), replace=False)]
    k_eff = min(k, len(np.unique(sample, axis=0)))
    km = KMeans(n_clusters=k_eff, n_init=1, random_state=seed, max_iter=50).fit(sample)
    counts = np.bincount(km.labels_, minlength=k_eff)
    centres = km.cluster_centers_[np.argsort(-counts)].astype(np.float32)
    if k_eff < k:  # few colours: repeat the commonest to keep a fixed size
        centres = np.concatenate([centres, np.repeat(centres[:1], k - k_eff, 0)])
    return np.clip(centres, 0, 1)


@dataclass
class Sample:
    """One training example, arrays ready for tensors (float32, channels first)."""

    ink: np.ndarray  # 1,H,W
    ref_rgb: np.ndarray  # 3,H,W
    ref_ink: np.ndarray  # 1,H,W
    palette: np.ndarray  # K,3
    target: np.ndarray  # 3,H,W
    guide: np.ndarray  # 4,H,W: the reference fitted over the sketch, and where it lands
    source: str


_FIT_FLOW = None  # the keyframe fit's flow backend, made on first use


def keyframe_guide(sketch: np.ndarray, ink_u8: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The network's colour guide for a keyframe, made as the engine makes it.

    The reference placed over the sketch
    (:func:`~celcolor.engine.reference.place_reference`, at the frame's own size) and
    refined by line flow (:func:`~celcolor.engine.reference.fit_locally`); ``H,W,4``.
    """
    from ..engine.reference import (
        FIT_DIS_PRESET,
        fit_locally,
        place_reference,
        reference_guide,
        warp_reference,
    )

    global _FIT_FLOW
    if _FIT_FLOW is None:
        _FIT_FLOW = DISFlow(FIT_DIS_PRESET)  # as the engine's keyframe fit
    h, w = sketch.shape[:2]
    placement = place_reference(sketch, reference, work_long_side=max(h, w))
    placed = warp_reference(reference, placement, (w, h), fill=255)
    sample, _ = fit_locally(flow_friendly(ink_u8), placed, _FIT_FLOW)
    return reference_guide(reference, placement, (w, h), sample)


def make_sample(
    sketch: np.ndarray, reference: np.ndarray, target: np.ndarray, source: str
) -> Sample:
    """Build a :class:`Sample` from ``H,W,3`` uint8 RGB sketch, reference and target."""
    art = extract_ink(sketch)
    guide = keyframe_guide(sketch, art.ink_u8, reference)
    return Sample(
        guide=guide.transpose(2, 0, 1).copy(),
        ink=art.ink[None],
        ref_rgb=reference.transpose(2, 0, 1).astype(np.float32) / 255.0,
        ref_ink=reference_ink(reference)[None],
        palette=kmeans_palette(reference),
        target=target.transpose(2, 0, 1).astype(np.float32) / 255.0,
        source=source,
    )


def random_cut_spec(rng: np.random.Generator, size: tuple[int, int]) -> CutSpec:
    """A 48-frame generated cut of varied content, motion and faults (training data)."""
    return CutSpec(
        width=size[0],
        height=size[1],
        num_frames=48,
        seed=int(rng.integers(0, 2**31)),
        num_shapes=int(rng.integers(3, 9)),
        motion=float(rng.uniform(0.5, 3.0)),
        camera_pan=float(rng.choice([0.0, 0.0, 2.0])),
        faults=bool(rng.random() < 0.3),
        background=str(rng.choice(["flat", "flat", "gradient"])),
    )


def synthetic_pairs(count: int, size: tuple[int, int], seed: int) -> Iterator[Sample]:
    """Pairs from generated cuts: reference 8-40 frames before or after the target."""
    rng = np.random.default_rng(seed)
    for n in range(count):
        spec = random_cut_spec(rng, size)
        i = int(rng.integers(0, spec.num_frames))
        room = {1: spec.num_frames - 1 - i, -1: i}  # frames available after / before
        gap = min(int(rng.integers(8, 41)), max(room.values()))
        sides = [d for d, r in room.items() if r >= gap]
        j = i + gap * sides[int(rng.integers(0, len(sides)))]
        target, ref = render_frame(spec, i, flow=False), render_frame(spec, j, flow=False)
        yield make_sample(target.sketch, ref.colour, target.colour, f"synthetic:{n}")


# Colour clips and stills in ../shared/data usable for training (see its README).
# The ATD-12K test triplets (silenye, ToonCrafter Disney_v4_*/Japan_v2_*) are kept
# out: the benchmark scores on them.
REAL_CLIPS = (
    "KytraScript+SakugaDataset/assets/gif/*.gif",
    "KytraScript+SakugaDataset/assets/gif_taxonomy/*.gif",
    "xinntao+Real-ESRGAN/inputs/video/onepiece_demo.mp4",
    "KytraScript+SakugaDataset/download/download/140633.mp4",
)
REAL_STILLS = (
    "Kiteretsu77+APISR/__assets__/lr_inputs/*",
    "bloc97+Anime4K/results/Comparisons/Screenshots/*",
    "hepesu+LineDistiller/data/raw/0/*.png",
    "nihui+rife-ncnn-vulkan/images/*.png",
)
# Rough line-art clips among the gifs: no colour to learn from.
_NOT_COLOUR = ("rough", "undead_unluck", "ekubo", "44449", "198723", "33379")


def _read_clip(path: Path, max_frames: int = 64) -> list[np.ndarray]:
    try:
        import decord
    except ImportError:  # decord is an optional extra; PyAV reads the same files
        decord = None
    if decord is not None and path.suffix.lower() == ".mp4":
        vr = decord.VideoReader(str(path))
        idx = np.linspace(0, len(vr) - 1, min(len(vr), max_frames)).astype(int)
        return list(vr.get_batch(idx).asnumpy())
    from ..io import open_frames

    with open_frames(path) as source:
        return [f.image for _, f in zip(range(max_frames), source, strict=False)]


CropBox = tuple[tuple[int, int], int, int]  # the frame's scaled (w, h), then the crop's y, x


def crop_box(
    shape: tuple[int, ...], size: tuple[int, int], rng: np.random.Generator, max_zoom: float = 1.5
) -> CropBox:
    """A random crop of a frame of ``shape`` to the aspect of ``size`` (w, h): the frame's
    scaled size (zoomed in 1 to ``max_zoom`` times past the fit) and the crop's top-left
    corner. Drawn once for a clip, it cuts every frame alike, so their motion is kept."""
    w, h = size
    H, W = shape[:2]
    scale = max(w / W, h / H) * rng.uniform(1.0, max_zoom)
    scaled = (max(w, round(W * scale)), max(h, round(H * scale)))
    y = int(rng.integers(0, scaled[1] - h + 1))
    x = int(rng.integers(0, scaled[0] - w + 1))
    return scaled, y, x


def crop(rgb: np.ndarray, size: tuple[int, int], box: CropBox) -> np.ndarray:
    """``rgb`` scaled and cut to ``size`` (w, h) as :func:`crop_box` drew."""
    scaled, y, x = box
    img = cv2.resize(rgb, scaled, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img[y : y + size[1], x : x + size[0]])


def _fit(rgb: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random crop of the frame's aspect to ``size`` (w, h), then resize."""
    return crop(rgb, size, crop_box(rgb.shape, size, rng))


def _distort(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augmented-self reference: a random affine warp and maybe a flip."""
    h, w = rgb.shape[:2]
    angle, scale = rng.uniform(-15, 15), rng.uniform(0.85, 1.15)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += rng.uniform(-0.1, 0.1, 2) * (w, h)
    out = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(out[:, ::-1]) if rng.random() < 0.5 else out


def real_colour_clips(root: Path, stills: bool = True) -> list[list[np.ndarray]]:
    """The frames of every real colour clip under ``root`` (``../shared/data``), then
    (``stills``) every still as a one-frame clip; RGB uint8. A damaged file is skipped
    and logged."""
    clips = [
        p
        for pattern in REAL_CLIPS
        for p in sorted(root.glob(pattern))
        if not any(tag in p.name for tag in _NOT_COLOUR)
    ]
    still_paths = [
        p
        for pattern in (REAL_STILLS if stills else ())
        for p in sorted(root.glob(pattern))
        if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    ]
    frames: list[list[np.ndarray]] = []
    for path in clips:
        try:
            frames.append(_read_clip(path))
        except Exception as e:  # a damaged file is skipped, with its name in the log
            log.warning("skipping %s: %s", path, e)
    for path in still_paths:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is not None:
            frames.append([np.ascontiguousarray(img[..., ::-1])])
    return frames


def _random_sketch(colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Our XDoG extractor's sketch of a colour frame, under varied settings."""
    return sketch_from_colour(
        colour, sigma=float(rng.uniform(0.6, 1.2)), p=float(rng.uniform(12, 30))
    )


def real_pairs(root: Path, count: int, size: tuple[int, int], seed: int) -> Iterator[Sample]:
    """Pairs from real colour clips and stills under ``root`` (``../shared/data``)."""
    rng = np.random.default_rng(seed)
    frames = real_colour_clips(root)
    if not frames:
        return
    for n in range(count):
        clip = frames[int(rng.integers(0, len(frames)))]
        i = int(rng.integers(0, len(clip)))
        target = _fit(clip[i], size, rng)
        if len(clip) > 8 and rng.random() < 0.5:
            j = int(np.clip(i + rng.integers(4, 12) * rng.choice([-1, 1]), 0, len(clip) - 1))
            reference = _fit(clip[j], size, rng)
        else:
            reference = _distort(target, rng)
        yield make_sample(_random_sketch(target, rng), reference, target, f"real:{n}")


def real_keyframe_triples(
    root: Path, count: int, size: tuple[int, int], seed: int, gaps: tuple[int, int] = (2, 10)
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(sketch, reference, target)`` keyframes from the real colour clips under ``root``.

    The target and the reference are two frames 2 to 9 samples apart of one clip (the
    clips are read as up to 64 frames spread over their length, so that is a small to
    large change of pose), under one crop, as a camera would frame both; the sketch is
    our extractor's of the target. Stills are left out: a reference of the same drawing
    teaches nothing about matching another. ``gaps``: the samples apart, ``[low,
    high)`` (the training's default is 2 to 9).
    """
    rng = np.random.default_rng(seed)
    clips = [c for c in real_colour_clips(root, stills=False) if len(c) > 8]
    made = 0
    while clips and made < count:
        clip = clips[int(rng.integers(0, len(clips)))]
        i = int(rng.integers(0, len(clip)))
        j = int(np.clip(i + rng.integers(*gaps) * rng.choice([-1, 1]), 0, len(clip) - 1))
        if i == j:
            continue
        box = crop_box(clip[i].shape, size, rng)
        target, reference = crop(clip[i], size, box), crop(clip[j], size, box)
        yield _random_sketch(target, rng), reference, target
        made += 1
