"""Closed regions of line art: the areas a cel painter fills with one colour.

Regions are the 4-connected components of the space between lines. Real line
art leaks: a gap of a pixel or two joins two areas meant to be painted apart.
Gaps are closed the way a trapped-ball fill closes them, but only where it
matters: the free space is eroded by a ball of ``gap_radius``; a component
whose eroded form falls apart into several large pieces is split between them
(each pixel goes to its nearest piece), and every other component is kept
exactly as drawn, so thin regions (a sliver of shadow between two lines) are
not lost to the ball.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError

_BASE_AREA = 640 * 360


@dataclass(frozen=True)
class RegionOptions:
    """Settings of :func:`label_regions`.

    Attributes:
        line_threshold: ink coverage (0..1) from which a pixel is a line, i.e. a wall.
        gap_radius: radius in pixels of the ball that closes gaps in lines (gaps up to
            about twice this close); None scales it with resolution (3 px at 360p,
            5 at 720p, 9 at 1080p). Odd values are exact; even ones round down.
        min_area: regions smaller than this (pixels at 640x360, scaled with frame
            area) are merged into a neighbour; they are specks, not paint areas.
    """

    line_threshold: float = 0.4
    gap_radius: int | None = None
    min_area: int = 8


@dataclass
class Regions:
    """The closed regions of one frame.

    Attributes:
        labels: ``H,W`` int32; 0 on lines (and merged specks), region ids elsewhere.
            Ids need not be consecutive: some ids in ``[1, count)`` may be unused.
        count: one more than the largest id.
        trace: ``H,W`` uint8 (0/255) colour-trace line pixels (:attr:`LineArt.trace`),
            or None: they are filled across their whole width with the band they bound.
    """

    labels: np.ndarray
    count: int
    trace: np.ndarray | None = None

    @functools.cached_property
    def areas(self) -> np.ndarray:
        """Pixels per id in ``labels`` (index 0: line pixels)."""
        return np.bincount(self.labels.ravel(), minlength=self.count)

    @functools.cached_property
    def cut_off(self) -> np.ndarray:
        """Per id: whether the region touches the frame's edge (it may go on outside)."""
        edge = np.concatenate(
            [self.labels[0], self.labels[-1], self.labels[:, 0], self.labels[:, -1]]
        )
        flags = np.zeros(self.count, bool)
        flags[edge] = True
        return flags

    @functools.cached_property
    def _ranked_fill(self) -> tuple[np.ndarray, np.ndarray]:
        """Line pixels filled with the area rank of their smallest neighbouring region.

        Returns ``(order, ranks)``: ``order[rank]`` is a label (smallest region
        first) and ``ranks`` the ``H,W`` filled rank map.
        """
        areas = self.areas.copy()
        areas[0] = np.iinfo(np.int64).max
        order = np.argsort(areas, kind="stable").astype(np.int32)
        if self.count == 1:  # all ink, no region (a frame the extractor reads as lines):
            # nothing to fill from; every pixel keeps label 0, the lines
            return order, np.zeros(self.labels.shape, np.int32)
        # uint16 filters are cheaper than float32 ones; float32 is exact below 2**24.
        dtype, hole = (np.uint16, 65535) if self.count < 65535 else (np.float32, 2.0**24)
        rank = np.empty(self.count, dtype)
        rank[order] = np.arange(self.count)
        rank[0] = hole  # lines and merged specks are the holes
        ranks = fill_holes(np.take(rank, self.labels), hole, grow="min")
        if self.trace is not None:
            _spread_across_trace(ranks, self.labels, self.trace, hole)
        if ranks.dtype == np.float32:
            ranks = ranks.astype(np.int32)  # np.take wants integer indices
        return order, ranks

    @functools.cached_property
    def filled(self) -> np.ndarray:
        """``H,W`` int32; every pixel's region, line pixels taking the smallest neighbour.

        Smallest, because a colour-trace line belongs to the shadow or highlight
        band it bounds, and bands are smaller than the base they sit on; under
        black ink the choice shows only in the anti-aliased edge. A trace line
        (``trace``) takes its band across its whole width, not only up to its middle.
        """
        return self.fill_with(np.arange(self.count, dtype=np.int32))

    def prepare_fill(self) -> None:
        """Build what :meth:`fill_with` reads now (it is cached), e.g. in a worker thread."""
        self._ranked_fill  # noqa: B018 (a cached property: reading it builds it)

    def fill_with(self, values: np.ndarray) -> np.ndarray:
        """``values[filled]`` for a per-label array, without building ``filled``."""
        order, ranks = self._ranked_fill
        return np.take(values[order], ranks)


def _spread_across_trace(
    ranks: np.ndarray, labels: np.ndarray, trace: np.ndarray, hole: float
) -> None:
    """Colour-trace line pixels take the smallest rank across the line's width (in place).

    :func:`fill_holes` gives each line pixel its nearest region, which splits a
    trace line down its middle between the band and the base. A painter paints the
    whole trace line in the band's colour (the line marks the band's edge), so the
    smallest rank is carried through the trace pixels, as many steps as the line is
    wide. Black ink is no source: a band on the far side of an outline stays there.
    """
    lines = labels == 0
    walls = trace.astype(bool) & lines
    if not walls.any():
        return
    inside = walls.view(np.uint8)
    # Steps to cross the widest trace line: twice its largest distance to an edge.
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    steps = min(_MAX_TRACE_STEPS, int(2 * float(depth.max())) + 1)
    work = ranks.copy()
    work[lines & ~walls] = hole
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        cv2.copyTo(cv2.erode(work, kernel), inside, work)
    np.copyto(ranks, work, where=walls)


# Trace lines are a few pixels wide; wider ones (a blot of colour) keep the nearest fill.
_MAX_TRACE_STEPS = 12


def _auto_radius(shape: tuple[int, int]) -> int:
    return max(3, round(3 * (shape[0] * shape[1] / _BASE_AREA) ** 0.5))


def _box(labels: np.ndarray, label: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` bounding box of one label (exclusive ends)."""
    x, y, w, h = cv2.boundingRect(cv2.compare(labels, label, cv2.CMP_EQ))
    return x, y, x + w, y + h


def _split_leaking(
    free: np.ndarray, cc0: np.ndarray, n0: int, radius: int, min_piece: int
) -> tuple[np.ndarray, int] | None:
    """Split components whose eroded free space falls apart into large pieces.

    The erosion and its components are computed at half resolution (a pixel there
    is free only when all four under it are, which is itself a 1 px erosion), so
    a ball of radius ``(radius - 1) / 2`` there is one of ``radius`` at full size.
    Returns the new label map and id count, or None when nothing needed splitting.
    Work on the full-resolution map is confined to the boxes of the split components.
    """
    h, w = free.shape
    half = cv2.resize(free * 255, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    half = cv2.compare(half, 255, cv2.CMP_EQ)
    r = max(1, (radius - 1) // 2)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    eroded = cv2.threshold(cv2.erode(half, kernel), 0, 1, cv2.THRESH_BINARY)[1]
    nr, ccr, stats, _ = cv2.connectedComponentsWithStats(eroded, connectivity=4)
    big = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= max(1, min_piece // 4)) + 1
    if len(big) < 2:
        return None
    # A piece lies inside one component: read the parent off the piece's top row.
    parents = np.empty(len(big), np.int64)
    for i, k in enumerate(big):
        x, y, bw = (
            stats[k, cv2.CC_STAT_LEFT],
            stats[k, cv2.CC_STAT_TOP],
            stats[k, cv2.CC_STAT_WIDTH],
        )
        xk = x + int(np.argmax(ccr[y, x : x + bw] == k))
        parents[i] = cc0[2 * y, 2 * xk]  # all four full-res pixels under it are free
    pieces_per_parent = np.bincount(parents, minlength=n0)
    split_parents = np.flatnonzero(pieces_per_parent >= 2)
    split_parents = split_parents[split_parents != 0]
    if len(split_parents) == 0:
        return None
    labels = cc0.copy()
    next_id = n0
    for p in split_parents:
        # Boxes for the few split components only: statistics for every component
        # would cost more than the labelling itself.
        x0, y0, x1, y1 = _box(cc0, int(p))
        pieces = big[parents == p]
        ids = np.zeros(nr, np.int32)
        ids[pieces] = next_id + np.arange(len(pieces), dtype=np.int32)
        next_id += len(pieces)
        # Seeds at half resolution, brought up to the component's full-res box.
        hx0, hy0 = x0 // 2, y0 // 2
        seeds_half = np.take(ids, ccr[hy0 : (y1 + 1) // 2, hx0 : (x1 + 1) // 2])
        seeds_up = np.repeat(np.repeat(seeds_half, 2, axis=0), 2, axis=1)
        seed_map = seeds_up[y0 - 2 * hy0 : y1 - 2 * hy0, x0 - 2 * hx0 : x1 - 2 * hx0]
        box = (slice(y0, y1), slice(x0, x1))
        member = cc0[box] == p
        seed_map = np.where(member, seed_map, 0)  # a seed pixel must lie in its component
        # Every pixel of the component takes its nearest piece (pixels counted row-major).
        _, nearest = cv2.distanceTransformWithLabels(
            (seed_map == 0).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
        )
        seed_values = seed_map[seed_map != 0]
        labels[box][member] = seed_values[nearest[member] - 1]
    return labels, next_id


def fill_holes(image: np.ndarray, hole: float, *, grow: str = "max", max_steps: int = 8):
    """Give every ``hole`` pixel of a map a neighbour's value.

    Grows values into the holes with 3x3 max (or min) filters: lines are a few
    pixels wide, so a few steps cover them; what is left after that (a thick
    blot) takes its nearest value by distance transform.

    Args:
        image: ``H,W`` uint8, uint16, int32 (ids below 2**24) or float32 map.
        hole: the value that marks a pixel to fill. With ``grow="max"`` it must be
            below every real value, with ``grow="min"`` above.
        grow: "max" or "min": which neighbour wins where several meet.
    """
    work = image.astype(np.float32) if image.dtype == np.int32 else image.copy()
    flt = cv2.dilate if grow == "max" else cv2.erode
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(max_steps):
        holes = cv2.compare(work, hole, cv2.CMP_EQ)
        if cv2.countNonZero(holes) == 0:
            return work.astype(image.dtype)
        cv2.copyTo(flt(work, kernel), holes, work)
    missing = work == hole
    if not missing.any() or missing.all():
        return work.astype(image.dtype)
    _, nearest = cv2.distanceTransformWithLabels(
        missing.astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    values = work[~missing]
    work[missing] = values[nearest[missing] - 1]
    return work.astype(image.dtype)


def label_regions(
    ink_u8: np.ndarray, options: RegionOptions | None = None, trace: np.ndarray | None = None
) -> Regions:
    """Label the closed regions of a frame's ink.

    Args:
        ink_u8: ``H,W`` uint8 ink coverage 0..255 (:attr:`LineArt.ink_u8`).
        options: line threshold, gap closing and speck merging.
        trace: the frame's colour-trace line pixels (:attr:`LineArt.trace`), if any.

    Returns:
        The frame's :class:`Regions`.
    """
    if not (isinstance(ink_u8, np.ndarray) and ink_u8.ndim == 2 and ink_u8.dtype == np.uint8):
        raise InputError("label_regions expects an H,W uint8 ink map (LineArt.ink_u8)")
    opt = options or RegionOptions()
    area_scale = ink_u8.size / _BASE_AREA
    min_area = max(2, round(opt.min_area * area_scale))
    free = cv2.compare(ink_u8, round(opt.line_threshold * 255), cv2.CMP_LT)
    free = cv2.threshold(free, 0, 1, cv2.THRESH_BINARY)[1]
    n0, cc0 = cv2.connectedComponents(free, connectivity=4, ltype=cv2.CV_32S)
    radius = opt.gap_radius if opt.gap_radius is not None else _auto_radius(ink_u8.shape)
    labels, count = cc0, n0
    if radius > 0:
        min_piece = max(min_area * 4, (2 * radius + 1) ** 2)
        split = _split_leaking(free, cc0, n0, radius, min_piece)
        if split is not None:
            labels, count = split
    # Specks: too small to be a paint area; they join a neighbour through fill_holes.
    areas = np.bincount(labels.ravel(), minlength=count)
    tiny = areas < min_area
    tiny[0] = False
    if tiny.any():
        areas[0] += areas[tiny].sum()  # their pixels become holes (label 0)
        areas[tiny] = 0
        keep = np.arange(count, dtype=np.int32)
        keep[tiny] = 0
        labels = np.take(keep, labels)
    if trace is not None:
        # A trace pixel belongs to the line when the line covers most of it; the
        # anti-aliased rim beyond keeps the region it lies in.
        trace = cv2.bitwise_and(trace, cv2.compare(ink_u8, 128, cv2.CMP_GE))
    regions = Regions(labels=labels, count=count, trace=trace)
    regions.__dict__["areas"] = areas  # seed the cached property: already counted
    return regions
