"""Synthetic cel-animation cuts with exact ground truth.

A cut is a few flat-coloured shapes (ellipses, rounded polygons, blobs, stars,
superellipses) moving over a background, each with black anti-aliased outlines and
optional cel shadows and highlights whose boundaries are drawn as red and blue trace
lines in the sketch. Every shape moves by one affine transform per frame (translation,
rotation, scale, squash and stretch, shear; the camera pans everything), so the flow
between frames is exact, and every region keeps its id for the whole cut.

    spec = CUT_PRESETS["medium"]
    for frame in iter_cut(spec):          # streaming, one frame at a time
        frame.sketch, frame.colour, frame.regions, frame.flow_fwd
    cut = generate_cut(spec)              # everything stacked in arrays
    write_cut(spec, Path("cuts/medium"))  # sketch.mp4, sketch/, reference.png, gt/

Convention: images are ``H,W,3`` uint8 RGB. Flow is ``H,W,2`` float32 in pixels, x
first, defined on the pixels of the frame it starts from: a pixel at ``(x, y)`` of
frame ``t`` is at ``(x, y) + flow_fwd[y, x]`` in frame ``t + 1``. A pixel's motion is
that of its owner, the topmost shape covering it (outline included), or the camera's
for the background. Pixel centres sit at integer coordinates.

Ground truth per frame: ``colour`` (flat fills, trace lines painted in their region's
colour, black outlines on top), ``sketch`` (lines on white paper), ``regions`` (int32
region id per pixel, stable over the cut, background 0; line pixels carry the id of the
fill beneath them), ``ink`` (uint8 coverage of every line of the sketch, dirt excluded),
``lines`` (``ink >= 128``), ``owners`` (0 for the background, ``k + 1`` for shape
``k``) and the two flows. Away from lines (``ink == 0``) every colour pixel equals
``region_colours[regions]`` exactly, unless the background is a gradient.

Drawing faults (``faults=True`` or one flag each): gaps, wobble (line boil, new every
frame) and doubled strokes change the ink, so they appear in the sketch, the colour
frame and ``ink`` alike; specks of dirt and paper tone are noise on the sheet and
appear in the sketch only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from celcolor.data import _cels
from celcolor.errors import OutputError

__all__ = [
    "CUT_PRESETS",
    "CutSpec",
    "SyntheticCut",
    "SyntheticFrame",
    "generate_cut",
    "iter_cut",
    "occlusion_mask",
    "region_colours",
    "region_names",
    "render_frame",
    "suite",
    "write_cut",
]

BACKGROUNDS = ("flat", "gradient")


@dataclass(frozen=True)
class CutSpec:
    """What to generate. Equal specs give identical cuts, bit for bit."""

    width: int = 640
    height: int = 360
    num_frames: int = 48
    seed: int = 0
    num_shapes: int = 5  # moving shapes (cels), drawn in z-order over the props
    motion: float = 1.0  # speed factor: 1 is about 2.5 px per frame at 360p; 0 is a still
    camera_pan: float = 0.0  # peak camera speed in px per frame at 360p (eases in and out)
    occlusion: bool = True  # shapes roam and cross; False keeps each in its own grid cell
    shadows: bool = True  # a darker shadow part in every shape, bounded by a red trace line
    highlights: bool = True  # a lighter highlight in most shapes, bounded by a blue trace line
    trace_colours: bool = True  # False: those boundaries are drawn in black (no colour trace)
    background: str = "flat"  # "flat" or "gradient" (world-anchored; one region still)
    faults: bool = False  # all drawing faults below that are left at None
    gaps: bool | None = None  # small breaks in the outlines (None: follow faults)
    wobble: bool | None = None  # outlines boil: jitter along the normal, new every frame
    doubled: bool | None = None  # rough doubled strokes beside parts of outlines
    specks: bool | None = None  # dirt, dust and hairs on the sheet (sketch only)
    paper: bool | None = None  # off-white, uneven paper tone and grain (sketch only)
    num_props: int = 0  # large static set pieces under the shapes; they move with the camera

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ValueError(f"CutSpec: frame size {self.width}x{self.height} is below 16x16")
        if self.num_frames < 1:
            raise ValueError(f"CutSpec: num_frames must be >= 1, got {self.num_frames}")
        if not 0 <= self.num_shapes + self.num_props <= 250:
            raise ValueError("CutSpec: num_shapes + num_props must be within 0..250")
        if self.num_shapes < 0 or self.num_props < 0:
            raise ValueError("CutSpec: num_shapes and num_props must be >= 0")
        if not (self.motion >= 0 and self.camera_pan >= 0):
            raise ValueError("CutSpec: motion and camera_pan must be >= 0")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"CutSpec: background must be one of {BACKGROUNDS}")

    def _fault(self, flag: bool | None) -> bool:
        return self.faults if flag is None else flag

    @property
    def gaps_enabled(self) -> bool:
        return self._fault(self.gaps)

    @property
    def wobble_enabled(self) -> bool:
        return self._fault(self.wobble)

    @property
    def doubled_enabled(self) -> bool:
        return self._fault(self.doubled)

    @property
    def specks_enabled(self) -> bool:
        return self._fault(self.specks)

    @property
    def paper_enabled(self) -> bool:
        return self._fault(self.paper)


@dataclass
class SyntheticFrame:
    """One frame of a synthetic cut and its ground truth (see the module docstring)."""

    index: int
    colour: np.ndarray  # H,W,3 uint8 RGB, the finished frame
    sketch: np.ndarray  # H,W,3 uint8 RGB, the line art
    regions: np.ndarray  # H,W int32 region ids, stable over the cut
    lines: np.ndarray  # H,W bool, line pixels (ink >= 128)
    flow_fwd: np.ndarray | None  # H,W,2 float32, this frame -> next; None for the last frame
    flow_bwd: np.ndarray | None  # H,W,2 float32, this frame -> previous; None for frame 0
    ink: np.ndarray  # H,W uint8 coverage of all lines (outlines and trace lines)
    owners: np.ndarray  # H,W uint8: 0 background, k + 1 the k-th cel (props, then shapes)


@dataclass
class SyntheticCut:
    """A whole cut stacked in arrays (``T`` frames)."""

    spec: CutSpec
    colour: np.ndarray  # T,H,W,3 uint8
    sketch: np.ndarray  # T,H,W,3 uint8
    regions: np.ndarray  # T,H,W int32
    lines: np.ndarray  # T,H,W bool
    ink: np.ndarray  # T,H,W uint8
    owners: np.ndarray  # T,H,W uint8
    flow_fwd: np.ndarray | None  # T-1,H,W,2: [i] is frame i -> i+1 on frame i's pixels
    flow_bwd: np.ndarray | None  # T-1,H,W,2: [i] is frame i+1 -> i on frame i+1's pixels
    region_colours: np.ndarray  # R,3 uint8: the colour of region id r is region_colours[r]
    region_names: tuple[str, ...]  # "background", "shape0", "shape0.shadow", ...

    def __len__(self) -> int:
        return int(self.colour.shape[0])

    def frame(self, i: int) -> SyntheticFrame:
        """Frame ``i`` as a :class:`SyntheticFrame` (views into the stacked arrays)."""
        n = len(self)
        if not 0 <= i < n:
            raise IndexError(f"frame {i} out of range for a cut of {n} frames")
        fwd = self.flow_fwd[i] if self.flow_fwd is not None and i + 1 < n else None
        bwd = self.flow_bwd[i - 1] if self.flow_bwd is not None and i > 0 else None
        return SyntheticFrame(
            i,
            self.colour[i],
            self.sketch[i],
            self.regions[i],
            self.lines[i],
            fwd,
            bwd,
            self.ink[i],
            self.owners[i],
        )


def region_colours(spec: CutSpec) -> np.ndarray:
    """``(R, 3)`` uint8 RGB colour of each region id (for a gradient background, its mean)."""
    return _cels.build_scene(spec).region_colours.copy()


def region_names(spec: CutSpec) -> tuple[str, ...]:
    """Name of each region id: ``background``, ``shape0``, ``shape0.shadow``, ..."""
    return _cels.build_scene(spec).region_names


def render_frame(spec: CutSpec, index: int, *, flow: bool = True) -> SyntheticFrame:
    """Frame ``index`` of the cut alone (identical to the one :func:`iter_cut` yields)."""
    if not 0 <= index < spec.num_frames:
        raise IndexError(f"frame {index} out of range for a cut of {spec.num_frames} frames")
    r = _cels.render(_cels.build_scene(spec), index, flow=flow)
    return SyntheticFrame(
        index=index,
        colour=r.colour,
        sketch=r.sketch,
        regions=r.regions,
        lines=r.ink >= 128,
        flow_fwd=r.flow_fwd,
        flow_bwd=r.flow_bwd,
        ink=r.ink,
        owners=r.owners,
    )


def iter_cut(spec: CutSpec, *, flow: bool = True) -> Iterator[SyntheticFrame]:
    """Yield the frames of a cut in order, in bounded memory.

    ``flow=False`` skips the two flow fields (they stay None), which roughly halves
    the time per frame when only images are needed.
    """
    for i in range(spec.num_frames):
        yield render_frame(spec, i, flow=flow)


def generate_cut(spec: CutSpec, *, flow: bool = True) -> SyntheticCut:
    """The whole cut in stacked arrays (mind the memory of long or large cuts)."""
    T, H, W = spec.num_frames, spec.height, spec.width
    colour = np.empty((T, H, W, 3), np.uint8)
    sketch = np.empty((T, H, W, 3), np.uint8)
    regions = np.empty((T, H, W), np.int32)
    ink = np.empty((T, H, W), np.uint8)
    owners = np.empty((T, H, W), np.uint8)
    fwd = np.empty((T - 1, H, W, 2), np.float32) if flow else None
    bwd = np.empty((T - 1, H, W, 2), np.float32) if flow else None
    for f in iter_cut(spec, flow=flow):
        i = f.index
        colour[i], sketch[i], regions[i], ink[i], owners[i] = (
            f.colour,
            f.sketch,
            f.regions,
            f.ink,
            f.owners,
        )
        if fwd is not None and f.flow_fwd is not None:
            fwd[i] = f.flow_fwd
        if bwd is not None and f.flow_bwd is not None:
            bwd[i - 1] = f.flow_bwd
    return SyntheticCut(
        spec=spec,
        colour=colour,
        sketch=sketch,
        regions=regions,
        lines=ink >= 128,
        ink=ink,
        owners=owners,
        flow_fwd=fwd,
        flow_bwd=bwd,
        region_colours=region_colours(spec),
        region_names=region_names(spec),
    )


def occlusion_mask(flow: np.ndarray, owners_src: np.ndarray, owners_dst: np.ndarray) -> np.ndarray:
    """Pixels of the source frame that are hidden in, or leave, the destination frame.

    ``flow`` goes from the source to the destination frame (``flow_fwd`` of frame t
    with the owners of t and t+1, or ``flow_bwd`` of frame t+1 with those of t+1 and
    t). A pixel is visible when the pixel nearest to where it lands has the same owner.
    """
    H, W = owners_src.shape
    x = np.rint(np.arange(W, dtype=np.float32)[None, :] + flow[..., 0]).astype(np.int64)
    y = np.rint(np.arange(H, dtype=np.float32)[:, None] + flow[..., 1]).astype(np.int64)
    inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
    landed = owners_dst[np.clip(y, 0, H - 1), np.clip(x, 0, W - 1)]
    return ~inside | (landed != owners_src)


# --------------------------------------------------------------------------- writing


def _write_png(path: Path, img: np.ndarray) -> None:
    """Write ``img`` (RGB, grey or 16-bit labels) as a PNG; the system's reason on failure.

    Encoded in memory and written by Python: ``cv2.imwrite`` only says False, with
    libpng's own line on stderr, where a full disk or a missing folder is the cause.
    """
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise OutputError(f"{path}: OpenCV could not encode the image")
    try:
        path.write_bytes(buf.tobytes())
    except OSError as e:
        raise OutputError(
            f"{path}: cannot write ({e.strerror or e}); check free space and permissions"
        ) from e


def write_cut(
    cut_or_spec: SyntheticCut | CutSpec,
    folder: Path,
    *,
    video: bool = True,
    ground_truth: bool = False,
    fps: float = 24.0,
    codec: str | None = None,
    crf: int = 18,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write a cut to ``folder`` as a colouriser sees it, plus its colour ground truth.

    Files: ``sketch.mp4`` (when ``video``), ``sketch/frame_0000.png``..., ``reference.png``
    (the colour of frame 0), ``gt/colour_0000.png``..., ``cut.json`` (the spec, region
    names and colours). With ``ground_truth``: ``gt/regions_0000.png`` (uint16 ids),
    ``gt/ink_0000.png`` (line coverage) and ``gt/flow_0000.npz`` (``fwd`` and ``bwd``
    float32 ``H,W,2``, each where it exists). A spec is rendered frame by frame, so any
    length fits in memory. Returns the paths by name.
    """
    folder = Path(folder)
    if isinstance(cut_or_spec, SyntheticCut):
        spec = cut_or_spec.spec
        cut = cut_or_spec
        if ground_truth and cut.flow_fwd is None and len(cut) > 1:
            raise ValueError("write_cut: ground_truth needs a cut generated with flow=True")
        frames: Iterator[SyntheticFrame] = (cut.frame(i) for i in range(len(cut)))
    else:
        spec = cut_or_spec
        frames = iter_cut(spec, flow=ground_truth)
    paths = {
        "sketch_dir": folder / "sketch",
        "reference": folder / "reference.png",
        "gt_dir": folder / "gt",
        "info": folder / "cut.json",
    }
    if video:
        paths["sketch_video"] = folder / "sketch.mp4"
    if not overwrite:
        taken = [p for p in paths.values() if p.is_file() or (p.is_dir() and any(p.iterdir()))]
        if taken:
            raise OutputError(
                f"{taken[0]} already exists: pass overwrite=True or choose another folder"
            )
    if spec.num_frames > 10000:
        raise ValueError("write_cut: file names hold 4 digits (at most 10000 frames)")
    if ground_truth and len(region_names(spec)) > 65535:
        raise ValueError("write_cut: too many regions for uint16 region maps")
    for key in ("sketch_dir", "gt_dir"):
        paths[key].mkdir(parents=True, exist_ok=True)
    if overwrite:  # frames of an earlier, longer cut must not linger
        for stale in paths["sketch_dir"].glob("frame_????.png"):
            stale.unlink()
        for pattern in ("colour_????.png", "regions_????.png", "ink_????.png", "flow_????.npz"):
            for stale in paths["gt_dir"].glob(pattern):
                stale.unlink()

    def sketches() -> Iterator[np.ndarray]:
        for f in frames:
            i = f.index
            _write_png(paths["sketch_dir"] / f"frame_{i:04d}.png", f.sketch)
            _write_png(paths["gt_dir"] / f"colour_{i:04d}.png", f.colour)
            if i == 0:
                _write_png(paths["reference"], f.colour)
            if ground_truth:
                _write_png(paths["gt_dir"] / f"regions_{i:04d}.png", f.regions.astype(np.uint16))
                _write_png(paths["gt_dir"] / f"ink_{i:04d}.png", f.ink)
                flows = {"fwd": f.flow_fwd, "bwd": f.flow_bwd}
                np.savez_compressed(
                    paths["gt_dir"] / f"flow_{i:04d}.npz",
                    **{k: v for k, v in flows.items() if v is not None},
                )
            yield f.sketch

    if video:
        from celcolor.io import write_video

        write_video(
            paths["sketch_video"], sketches(), fps=fps, codec=codec, crf=crf, overwrite=True
        )
    else:
        for _ in sketches():
            pass
    info = {
        "spec": dataclasses.asdict(spec),
        "num_frames": spec.num_frames,
        "fps": fps,
        "region_names": list(region_names(spec)),
        "region_colours": region_colours(spec).tolist(),
        "ground_truth": ground_truth,
    }
    paths["info"].write_text(json.dumps(info, indent=2) + "\n")
    return paths


# --------------------------------------------------------------------------- presets

CUT_PRESETS: dict[str, CutSpec] = {
    # small motion, shapes in their own cells: nothing is ever occluded
    "slow": CutSpec(seed=1, motion=0.4, occlusion=False),
    # the default: shapes roam and cross each other
    "medium": CutSpec(seed=2, motion=1.0),
    # large motion (about 7.5 px per frame at 360p) and more shapes crossing
    "fast": CutSpec(seed=3, motion=3.0, num_shapes=6),
    # the camera pans over a set with two static props
    "pan": CutSpec(seed=4, motion=0.6, camera_pan=3.0, num_props=2),
    # a rough drawing: gaps, boiling lines, doubled strokes, dirt, paper tone
    "dirty": CutSpec(seed=5, motion=1.0, faults=True),
    # many small shapes, many occlusions
    "crowd": CutSpec(seed=6, motion=1.5, num_shapes=12),
}


def suite(
    resolution: tuple[int, int] = (640, 360), num_frames: int = 48
) -> list[tuple[str, CutSpec]]:
    """Every preset at a resolution ``(width, height)`` and length, for a benchmark."""
    w, h = resolution
    return [
        (name, dataclasses.replace(spec, width=w, height=h, num_frames=num_frames))
        for name, spec in CUT_PRESETS.items()
    ]
