"""Keyframe colours by matching the drawing's regions to the reference's parts.

With a reference of another drawing, the exemplar network and the fitted copy
vote per pixel, and both fail the same way: a part that moved far (or turned, or
swapped depth with another) is painted whole in a neighbour's colour. A region is
more than the pixels under it, though: it has a size, a shape and neighbours, and
so do the reference's parts (its connected areas of one palette colour). This
module turns each (region, reference colour) pair into a row of numbers a small
learned scorer (:mod:`celcolor.models.matcher`) rates:

- votes: the network's, the fitted copy's (seen and all) and the global
  placement's share of the colour in the region;
- shape: how close the best reference part of that colour comes in position, log
  area, spread (second moments) and asymmetry (Hu invariants 3 and 4), all scale
  free;
- context: how the colours around the region match the colours the reference
  puts around that colour (histogram intersection over shared boundary);
- colour-trace lines: the same context over the region's trace-line neighbours
  only (a trace line parts a base from its own shadow or highlight, where a black
  line may part anything), the share of the region's border that is trace line,
  its size against its trace partners (the band is the smaller side) and how much
  lighter or darker the colour is than what surrounds it in the reference;
- constellation: how well the region's neighbours (their shapes and where they lie
  relative to it) match the neighbours of the best reference part of that colour;
  in later passes also whether the neighbours are believed to be those parts' colours.

Context needs the neighbours' colours, which are what is being decided, so the
scorer runs in passes (relaxation labelling): the first reads the neighbours'
colours from the network's votes, each later one from the previous pass's beliefs.
Later passes also read how much of the frame each colour is already claimed by the
other regions (a colour the reference shows that no region takes is likely the one
a look-alike region took by mistake).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse

from ..lineart import Regions
from .palette import NO_COLOUR, VOTE_INK_MAX, Palette, region_histogram

# Reference parts smaller than this share of the frame are anti-aliasing and specks.
_MIN_PART_SHARE = 2e-4
_MIN_PART_PIXELS = 12
# Target regions are scored against reference parts in blocks of this many rows, so
# a frame of thousands of regions against thousands of parts stays in bounded memory.
_BLOCK = 256

FEATURES = (
    "vote_network",
    "vote_copy_seen",
    "vote_copy_all",
    "vote_placed",
    "seen_share",
    "nearest_position",
    "nearest_log_area",
    "nearest_spread",
    "best_total",
    "best_position",
    "best_log_area",
    "best_spread",
    "nearest_asymmetry",
    "best_asymmetry",
    "context_network",
    "context_copy",
    "colour_share",
    "log_area",
    "spread_major",
    "spread_minor",
    "top_network",
    "top_copy",
    "context_trace_network",
    "trace_share",
    "trace_log_area_ratio",
    "relative_lightness",
    "constellation",
    "constellation_total",
)
BELIEF_FEATURES = (
    "context_belief",
    "belief",
    "top_belief",
    "context_trace_belief",
    "claim_others",
    "claim_others_won",
    "claim_deficit",
    "rival_belief",
    "constellation_belief",
)


def region_shapes(labels: np.ndarray, count: int) -> np.ndarray:
    """Per id: ``count,7`` area, centroid x, y, spread (major, minor) and asymmetry.

    Spread is the square root of the second-moment eigenvalues over the area (scale
    free: a disc has the same at any size); asymmetry is log Hu invariants 3 and 4.
    Computed with one bincount per moment, not one pass per region.
    """
    h, w = labels.shape
    flat = labels.ravel()
    ys, xs = np.divmod(np.arange(h * w, dtype=np.float64), w)
    area = np.bincount(flat, minlength=count).astype(np.float64)
    a = np.maximum(area, 1.0)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(flat, values, count) / a

    cx, cy = mean(xs), mean(ys)
    # Central moments about each region's centroid (shifted per pixel: no cancellation).
    dx, dy = xs - cx[flat], ys - cy[flat]
    vxx, vyy, vxy = mean(dx * dx), mean(dy * dy), mean(dx * dy)
    m30, m03 = mean(dx**3), mean(dy**3)
    m21, m12 = mean(dx * dx * dy), mean(dx * dy * dy)
    half_trace = (vxx + vyy) / 2
    disc = np.sqrt(np.maximum(half_trace**2 - (vxx * vyy - vxy**2), 0.0))
    major = np.sqrt((half_trace + disc) / a)
    minor = np.sqrt(np.maximum(half_trace - disc, 0.0) / a)
    # eta_pq = mu_pq / area^(1 + (p+q)/2), and mu_pq = area * mean: third order / a^1.5.
    norm = a**1.5
    hu3 = ((m30 - 3 * m12) ** 2 + (3 * m21 - m03) ** 2) / norm**2
    hu4 = ((m30 + m12) ** 2 + (m21 + m03) ** 2) / norm**2
    return np.stack([area, cx, cy, major, minor, np.log(hu3 + 1e-9), np.log(hu4 + 1e-9)], axis=1)


def adjacency(filled: np.ndarray, count: int) -> sparse.csr_matrix:
    """``count,count`` shared boundary length between ids of a filled label map.

    Id 0 (lines, specks, nothing) has no neighbours.
    """
    pairs = []
    for a, b in ((filled[:, :-1], filled[:, 1:]), (filled[:-1], filled[1:])):
        differ = (a != b) & (a > 0) & (b > 0)
        pairs.append((a[differ], b[differ]))
    rows = np.concatenate([p[0] for p in pairs] + [p[1] for p in pairs])
    cols = np.concatenate([p[1] for p in pairs] + [p[0] for p in pairs])
    data = np.ones(len(rows), np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(count, count))


def _row_normalised(m: sparse.csr_matrix) -> sparse.csr_matrix:
    totals = np.asarray(m.sum(1)).ravel()
    return sparse.diags(1.0 / np.maximum(totals, 1e-9)) @ m


@dataclass
class ReferenceParts:
    """The reference's parts on the frame's grid, and what surrounds each colour.

    Attributes:
        shapes: ``n,7`` :func:`region_shapes` rows of the parts kept.
        colour: ``n`` palette index per part.
        context: ``K,K``; row c: the share of colour c's boundary shared with each colour.
        share: ``K``; each colour's share of the parts' area.
        lightness: ``K``; each colour's lightness (0..1) minus the mean lightness of
            what borders it in the reference (a shadow is below 0, a highlight
            above); zeros when the palette's colours were not given.
        adjacency: ``n,n`` shared boundary length between the parts kept (their
            layout, for :func:`constellation_costs`); None: no part touches another.
    """

    shapes: np.ndarray
    colour: np.ndarray
    context: np.ndarray
    share: np.ndarray
    lightness: np.ndarray
    adjacency: sparse.csr_matrix | None = None


def reference_parts(
    placed_index: np.ndarray, ink: np.ndarray, colours: int, rgb: np.ndarray | None = None
) -> ReferenceParts:
    """Split a placed reference into parts: connected areas of one palette colour.

    Args:
        placed_index: ``H,W`` uint8 palette indices of the reference on the frame's
            grid (NO_COLOUR outside it).
        ink: ``H,W`` bool, the reference's own lines (not parts).
        colours: palette size K.
        rgb: ``K,3`` uint8 palette colours (for :attr:`ReferenceParts.lightness`).
    """
    h, w = placed_index.shape
    usable = ~ink & (placed_index != NO_COLOUR)
    labels = np.zeros((h, w), np.int32)
    part_colour = [NO_COLOUR]
    for c in np.unique(placed_index[usable]):
        n, comp = cv2.connectedComponents(
            ((placed_index == c) & usable).astype(np.uint8), connectivity=4
        )
        inside = comp > 0
        labels[inside] = comp[inside] + len(part_colour) - 1
        part_colour += [int(c)] * (n - 1)
    count = len(part_colour)
    areas = np.bincount(labels.ravel(), minlength=count)
    small = areas < max(_MIN_PART_PIXELS, _MIN_PART_SHARE * h * w)
    small[0] = True
    labels[small[labels]] = 0
    regions = Regions(labels, count)
    shapes = region_shapes(labels, count)
    colour = np.asarray(part_colour)
    keep = np.flatnonzero(~small)
    # What borders each colour in the reference, weighted by boundary length.
    border = adjacency(regions.filled, count)
    adj = border.tocoo()
    context = np.zeros((colours, colours))
    np.add.at(context, (colour[adj.row], colour[adj.col]), adj.data)
    context /= np.maximum(context.sum(1, keepdims=True), 1e-9)
    share = np.bincount(colour[keep], weights=areas[keep], minlength=colours)[:colours]
    share = share / max(share.sum(), 1.0)
    lightness = np.zeros(colours)
    if rgb is not None:
        lab = cv2.cvtColor(np.asarray(rgb, np.uint8)[:colours].reshape(-1, 1, 3), cv2.COLOR_RGB2LAB)
        value = lab[:, 0, 0] / 255.0
        bordered = context.sum(1) > 0
        lightness = np.where(bordered, value - context @ value, 0.0)
    layout = border[keep][:, keep].tocsr()
    return ReferenceParts(shapes[keep], colour[keep], context, share, lightness, layout)


def _shape_distances(
    a: np.ndarray, b: np.ndarray, log_area_a: np.ndarray, log_area_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m,n`` distances between :func:`region_shapes` rows ``a`` and ``b`` (their log
    areas over the frame's given apart): log area, spread and asymmetry."""
    dar = np.abs(log_area_a[:, None] - log_area_b[None])
    dsh = np.abs(a[:, 3:4] - b[:, 3]) + np.abs(a[:, 4:5] - b[:, 4])
    dhu = np.abs(a[:, 5:6] - b[:, 5]) + np.abs(a[:, 6:7] - b[:, 6])
    return dar, dsh, dhu


def _shape_cost(dar: np.ndarray, dsh: np.ndarray, dhu: np.ndarray) -> np.ndarray:
    """One shape cost from :func:`_shape_distances`: how the best part of a colour is
    picked, and what a constellation's neighbours pay for their shapes."""
    return dar + 4 * dsh + 0.1 * dhu


# The constellation cost: a region's neighbours against a reference part's neighbours.
_NEIGHBOURS = 6  # the longest-bordering neighbours kept per region and per part
_OFFSET_WEIGHT = 10.0  # a neighbour's offset (over the frame's diagonal) against its shape
_EDGE_CAP = 5.0  # a neighbour with no counterpart costs this much
_BELIEF_WEIGHT = 2.0  # a neighbour's disbelief in its counterpart's colour
_EDGE_BLOCK = 1 << 21  # (target edge, reference edge) pairs per block, for bounded memory


def _top_edges(m: sparse.csr_matrix, rows: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """``(source, neighbour, weight)`` of the ``k`` longest borders of each row in
    ``rows`` of a boundary-length matrix, grouped by source in ``rows`` order; the
    weights of each source sum to 1."""
    src, dst, wt = [], [], []
    for i in rows:
        lo, hi = m.indptr[i], m.indptr[i + 1]
        cols, data = m.indices[lo:hi], m.data[lo:hi]
        keep = np.argsort(-data, kind="stable")[:k]
        src.append(np.full(len(keep), i))
        dst.append(cols[keep])
        wt.append(data[keep] / max(float(data[keep].sum()), 1e-9))
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(src), np.concatenate(dst).astype(np.int64), np.concatenate(wt)


def constellation_costs(
    inputs: MatchInputs, ids: np.ndarray, belief: np.ndarray | None = None
) -> np.ndarray:
    """``len(ids),n`` cost of each keyframe region in ``ids`` being reference part p, from
    their neighbours alone: for each of the region's neighbours (weighted by shared
    border), the best of p's neighbours by shape (log area, spread, asymmetry) and by
    where it lies relative to p against where the neighbour lies relative to the region.

    A region's own shape is cut by whatever overlaps it, and two look-alike parts (two
    bases of one size, a shadow band and a highlight) differ in what sits around them:
    a base with its band below and a highlight inside is not the base beside it. Regions
    without neighbours cost 0 against every part (no evidence either way). With a
    previous pass's ``count,K`` ``belief``, a neighbour also pays for how little it
    believes in the colour of the part it is paired with.
    """
    parts = inputs.parts
    ts, rs = inputs.shapes, parts.shapes
    out = np.zeros((len(ids), len(rs)))
    if parts.adjacency is None or len(ids) == 0 or len(rs) == 0:
        return out
    h, w = inputs.regions.labels.shape
    diag = float(np.hypot(h, w))
    total = max(float(ts[1:, 0].sum()), 1.0)
    (t_src, t_dst, t_wt), (r_src, r_dst) = inputs.layout_edges
    mine = np.isin(t_src, ids)
    t_src, t_dst, t_wt = t_src[mine], t_dst[mine], t_wt[mine]
    if len(t_src) == 0:
        return out
    row_of_edge = np.searchsorted(ids, t_src)
    # Cost = edge_cap for a part without neighbours; otherwise the min over its edges.
    out[:] = _EDGE_CAP * np.bincount(row_of_edge, t_wt, len(ids))[:, None]
    if len(r_src) == 0:
        return out
    with_edges, starts = np.unique(r_src, return_index=True)
    log_area_t = np.log(np.maximum(ts[:, 0], 1.0) / total)
    log_area_r = np.log(np.maximum(rs[:, 0], 1.0) / total)
    r_off = (rs[r_dst, 1:3] - rs[r_src, 1:3]) / diag
    t_off = (ts[t_dst, 1:3] - ts[t_src, 1:3]) / diag
    block = max(1, _EDGE_BLOCK // max(len(r_src), 1))
    acc = np.zeros((len(ids), len(with_edges)))
    for lo in range(0, len(t_src), block):
        e = slice(lo, lo + block)
        n = t_dst[e]
        shape = _shape_distances(ts[n], rs[r_dst], log_area_t[n], log_area_r[r_dst])
        offset = np.hypot(t_off[e, 0:1] - r_off[:, 0], t_off[e, 1:2] - r_off[:, 1])
        cost = _shape_cost(*shape) + _OFFSET_WEIGHT * offset
        if belief is not None:
            cost += _BELIEF_WEIGHT * (1.0 - belief[n][:, parts.colour[r_dst]])
        best = np.minimum(np.minimum.reduceat(cost, starts, axis=1), _EDGE_CAP)
        np.add.at(acc, row_of_edge[e], t_wt[e, None] * best)
    out[:, with_edges] = acc
    return out


@dataclass
class RegionVotes:
    """Per region of the keyframe: each colour's share of the votes of each source.

    ``network``, ``copy_seen``, ``copy_all`` and ``placed`` are ``count,K``; ``seen``
    is the share of each region the fitted copy saw (passed the occlusion test).
    """

    network: np.ndarray
    copy_seen: np.ndarray
    copy_all: np.ndarray
    placed: np.ndarray
    seen: np.ndarray


def vote_shares(labels: np.ndarray, index: np.ndarray, count: int, colours: int) -> np.ndarray:
    """``count,K`` share of each palette colour among a region's voting pixels.

    Pixels with index NO_COLOUR do not vote.
    """
    hist = region_histogram(labels, index, count)[:, :colours].astype(np.float64)
    return hist / np.maximum(hist.sum(1, keepdims=True), 1.0)


def commonest_colours(
    palette: Palette, labels: np.ndarray, count: int, image: np.ndarray, ink: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per region: the palette colour most of its visible pixels of ``image`` are nearest
    to, and whether it has any visible pixel (pixels under ink darker than
    VOTE_INK_MAX do not count). Labels a truth's regions, or scores an output's."""
    index = palette.index(image)
    index[ink > VOTE_INK_MAX] = NO_COLOUR
    shares = vote_shares(labels, index, count, len(palette))
    return shares.argmax(1), shares.sum(1) > 0


@dataclass
class MatchInputs:
    """Everything the matcher reads about one keyframe (see :func:`candidate_rows`).

    ``trace``: the keyframe's regions facing each other across colour-trace lines
    (:func:`celcolor.engine.trace_pairs.trace_pairs` rows), or None for none.
    """

    regions: Regions
    votes: RegionVotes
    parts: ReferenceParts
    trace: np.ndarray | None = None
    # The exemplar network's prediction as palette indices (``H,W``), for the engine's
    # leaking regions (:func:`celcolor.engine.detail.leaking_regions`); the rows do not
    # read it (its votes are in ``votes``).
    predicted: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = self.regions.count
        self.shapes = region_shapes(self.regions.labels, count)
        border = adjacency(self.regions.filled, count)
        self.neighbours = _row_normalised(border)
        pairs = np.zeros((0, 4), np.int64) if self.trace is None else self.trace
        a, b, n = pairs[:, 0], pairs[:, 1], pairs[:, 3].astype(np.float64)
        traced = sparse.csr_matrix((np.r_[n, n], (np.r_[a, b], np.r_[b, a])), shape=(count, count))
        self.trace_neighbours = _row_normalised(traced)
        # Trace pixels are counted from both sides, border pixels once per side: the
        # share is a rough fraction of the border that is trace line, capped at 1.
        lengths = np.asarray(border.sum(1)).ravel()
        self.trace_share = np.minimum(
            np.asarray(traced.sum(1)).ravel() / np.maximum(lengths, 1.0), 1.0
        )
        # The region's log area against its trace partners' (weighted by trace length).
        log_area = np.log(np.maximum(self.shapes[:, 0], 1.0))
        partner = self.trace_neighbours @ log_area
        self.trace_log_area_ratio = np.where(self.trace_share > 0, log_area - partner, 0.0)

    @functools.cached_property
    def layout_edges(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """The :func:`constellation_costs` edges: ``(source, neighbour, weight)`` of every
        region's longest borders, and ``(source, neighbour)`` of every reference part's;
        the same for every pass, so found once."""
        count = self.regions.count
        regions = _top_edges(self.neighbours.tocsr(), np.arange(1, count), _NEIGHBOURS)
        adj = self.parts.adjacency
        rows = np.arange(0 if adj is None else adj.shape[0])
        return regions, _top_edges(adj, rows, _NEIGHBOURS)[:2]


def candidate_rows(
    inputs: MatchInputs, belief: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scorer's rows: one per (region, reference colour) pair.

    Args:
        inputs: the keyframe's regions, votes and the reference's parts.
        belief: ``count,K`` per-region colour beliefs of a first pass (adds the
            :data:`BELIEF_FEATURES` columns), or None.

    Returns:
        ``(rows, region, colour)``: float32 ``N,F`` rows (:data:`FEATURES` order) and
        the region id and palette index of each row.
    """
    regions, votes, parts = inputs.regions, inputs.votes, inputs.parts
    ts, rs = inputs.shapes, parts.shapes
    h, w = regions.labels.shape
    diag = float(np.hypot(h, w))
    total = max(float(ts[1:, 0].sum()), 1.0)
    ids = np.flatnonzero(ts[:, 0] > 0)
    ids = ids[ids > 0]
    colours, order, starts = _colour_groups(parts.colour)
    if len(ids) == 0 or len(colours) == 0:
        width = len(FEATURES) + (len(BELIEF_FEATURES) if belief is not None else 0)
        return np.zeros((0, width), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    rs = rs[order]
    log_area_t = np.log(np.maximum(ts[:, 0], 1.0) / total)
    log_area_r = np.log(np.maximum(rs[:, 0], 1.0) / total)
    context_net = inputs.neighbours @ votes.network
    context_copy = inputs.neighbours @ votes.copy_all
    trace_net = inputs.trace_neighbours @ votes.network
    layout = constellation_costs(inputs, ids)[:, order]
    blocks = []
    for lo in range(0, len(ids), _BLOCK):
        t = ids[lo : lo + _BLOCK]
        dpos = np.hypot(ts[t, 1:2] - rs[:, 1], ts[t, 2:3] - rs[:, 2]) / diag
        dar, dsh, dhu = _shape_distances(ts[t], rs, log_area_t[t], log_area_r)
        total_cost = _shape_cost(dar, dsh, dhu)
        # The best part of each colour by total cost, and its own distances.
        best = np.empty((len(t), len(colours)), np.int64)
        for k, (a, b) in enumerate(zip(starts, np.r_[starts[1:], len(rs)], strict=True)):
            best[:, k] = a + total_cost[:, a:b].argmin(1)

        tt = np.repeat(t, len(colours))
        cc = np.tile(colours, len(t))
        cols = [
            votes.network[tt, cc],
            votes.copy_seen[tt, cc],
            votes.copy_all[tt, cc],
            votes.placed[tt, cc],
            votes.seen[tt],
            _group_min(dpos, starts),
            _group_min(dar, starts),
            _group_min(dsh, starts),
            _group_min(total_cost, starts),
            np.take_along_axis(dpos, best, 1).ravel(),
            np.take_along_axis(dar, best, 1).ravel(),
            np.take_along_axis(dsh, best, 1).ravel(),
            _group_min(dhu, starts),
            np.take_along_axis(dhu, best, 1).ravel(),
            np.minimum(context_net[tt], parts.context[cc]).sum(1),
            np.minimum(context_copy[tt], parts.context[cc]).sum(1),
            parts.share[cc],
            log_area_t[tt],
            ts[tt, 3],
            ts[tt, 4],
            votes.network[tt].max(1),
            votes.copy_seen[tt].max(1),
            np.minimum(trace_net[tt], parts.context[cc]).sum(1),
            inputs.trace_share[tt],
            inputs.trace_log_area_ratio[tt],
            parts.lightness[cc],
            _group_min(layout[lo : lo + _BLOCK], starts),
            _group_min(total_cost + layout[lo : lo + _BLOCK], starts),
        ]
        blocks.append((np.stack(cols, 1).astype(np.float32), tt, cc))
    rows = np.concatenate([b[0] for b in blocks])
    region, colour = np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks])
    if belief is not None:
        rows = np.concatenate([rows, belief_columns(inputs, belief, region, colour)], 1)
    return rows, region, colour


def belief_columns(
    inputs: MatchInputs, belief: np.ndarray, region: np.ndarray, colour: np.ndarray
) -> np.ndarray:
    """The :data:`BELIEF_FEATURES` columns (float32 ``N,B``) of the rows ``(region,
    colour)`` from a previous pass's ``count,K`` beliefs. Stage 2 reads them after the
    :data:`FEATURES` columns, which do not change from pass to pass."""
    parts = inputs.parts
    area = inputs.shapes[:, 0]
    total = max(float(area[1:].sum()), 1.0)
    context_belief = inputs.neighbours @ belief
    trace_belief = inputs.trace_neighbours @ belief
    claims = _claims(belief, area, total)
    tt, cc = region, colour
    ids = np.unique(region)
    cols = [
        np.minimum(context_belief[tt], parts.context[cc]).sum(1),
        belief[tt, cc],
        belief[tt].max(1),
        np.minimum(trace_belief[tt], parts.context[cc]).sum(1),
        *claims.columns(belief, tt, cc, parts.share),
        _colour_min(inputs, constellation_costs(inputs, ids, belief), ids, tt, cc),
    ]
    return np.stack(cols, 1).astype(np.float32)


def _colour_groups(part_colour: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(colours, order, starts)``: the parts' colours (sorted, unique), an order of the
    parts that groups them by colour, and where each group begins in it, so a
    per-colour minimum over parts is one :func:`_group_min` (a reduceat)."""
    order = np.argsort(part_colour, kind="stable")
    grouped = part_colour[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    return grouped[starts], order, starts


def _colour_min(
    inputs: MatchInputs, costs: np.ndarray, ids: np.ndarray, tt: np.ndarray, cc: np.ndarray
) -> np.ndarray:
    """Per row ``(tt, cc)``: the least of ``costs`` (``len(ids),n``, one column per
    reference part) over the parts of colour ``cc``."""
    colours, order, starts = _colour_groups(inputs.parts.colour)
    table = np.minimum.reduceat(costs[:, order], starts, axis=1)
    return table[np.searchsorted(ids, tt), np.searchsorted(colours, cc)]


@dataclass
class _Claims:
    """How much of the frame the previous pass gives each colour, for stage 2's competition
    columns: a colour the reference shows but no region claims is likely the one a
    look-alike region took by mistake (two parts alike in size and shape both get one
    part's colour, and the other's goes unused)."""

    area: np.ndarray  # count, region areas over the frame's total
    soft: np.ndarray  # K: area-weighted belief per colour
    won: np.ndarray  # K: area of the regions whose first choice it is
    top: np.ndarray  # K: the highest belief any region has in the colour
    second: np.ndarray  # K: the second highest
    top_region: np.ndarray  # K: the region holding ``top``

    def columns(
        self, belief: np.ndarray, tt: np.ndarray, cc: np.ndarray, share: np.ndarray
    ) -> list[np.ndarray]:
        """claim_others, claim_others_won, claim_deficit, rival_belief for the rows of
        regions ``tt`` and colours ``cc`` (``share``: the reference's area per colour)."""
        own = self.area[tt] * belief[tt, cc]
        others = np.maximum(self.soft[cc] - own, 0.0)
        mine = belief[tt].argmax(1) == cc
        others_won = np.maximum(self.won[cc] - np.where(mine, self.area[tt], 0.0), 0.0)
        deficit = np.log((share[cc] + 1e-3) / (others + 1e-3))
        rival = np.where(self.top_region[cc] == tt, self.second[cc], self.top[cc])
        return [others, others_won, deficit, rival]


def _claims(belief: np.ndarray, area: np.ndarray, total: float) -> _Claims:
    share = area / total
    share[0] = 0.0  # the lines claim nothing
    won = np.zeros(belief.shape[1])
    np.add.at(won, belief.argmax(1), share)
    order = np.argsort(-belief, axis=0)
    cols = np.arange(belief.shape[1])
    top_region = order[0]
    second = belief[order[1], cols] if len(belief) > 1 else np.zeros(belief.shape[1])
    return _Claims(share, share @ belief, won, belief[top_region, cols], second, top_region)


def _group_min(d: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Row-wise minimum over each group of columns (groups begin at ``starts``), flat."""
    return np.minimum.reduceat(d, starts, axis=1).ravel()


def beliefs(
    scores: np.ndarray, region: np.ndarray, colour: np.ndarray, count: int, colours: int
) -> np.ndarray:
    """``count,K`` per-region distributions from row scores (probabilities, any scale)."""
    out = np.zeros((count, colours))
    out[region, colour] = scores
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


# Passes of the scorer: stage 1, then stage 2 again on each pass's own beliefs. With the
# claim columns, passes 3 and 4 gave the true colour to 2.9 and 1.5 more points of the
# regions of two held-out sets of generated keyframes (64 and 160) than pass 2; pass 5
# moved them -0.1 and +0.4 (session 13, one fit on cached rows).
PASSES = 4


def pass_beliefs(
    scorer, inputs: MatchInputs, colours: int, passes: int = PASSES
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(rows, region, colour, scores)`` of each pass (relaxation labelling):
    pass 1 by stage 1, every later one by stage 2 on the previous pass's beliefs."""
    count = inputs.regions.count
    first, region, colour = candidate_rows(inputs)
    if len(first) == 0:
        return
    scores = scorer(first, 1)
    yield first, region, colour, scores
    for _ in range(passes - 1):
        belief = beliefs(scores, region, colour, count, colours)
        # The stage-1 columns are the same every pass: only the belief columns are new.
        rows = np.concatenate([first, belief_columns(inputs, belief, region, colour)], 1)
        scores = scorer(rows, 2)
        yield rows, region, colour, scores


def choose(scorer, inputs: MatchInputs, colours: int, passes: int = PASSES) -> np.ndarray:
    """Region colours from the scorer's passes (:func:`pass_beliefs`);
    ``scorer(rows, stage) -> probabilities``.

    Returns ``count`` uint8 palette indices (region 0, the lines, gets index 0;
    regions without a candidate take the network's vote).
    """
    return choose_with_belief(scorer, inputs, colours, passes)[0]


def choose_with_belief(
    scorer, inputs: MatchInputs, colours: int, passes: int = PASSES
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`choose`, and per region the last pass's belief in the colour chosen (1 for
    regions without a candidate: nothing else was in question)."""
    count = inputs.regions.count
    winner = inputs.votes.network.argmax(1).astype(np.uint8)
    sure = np.ones(count)
    last = deque(pass_beliefs(scorer, inputs, colours, passes), maxlen=1)  # keep one pass
    if not last:
        return winner, sure
    _, region, colour, scores = last[0]
    final = beliefs(scores, region, colour, count, colours)
    scored = np.unique(region)
    winner[scored] = final[scored].argmax(1)
    sure[scored] = final[scored].max(1)
    winner[0] = 0
    return winner, sure
