"""Colour-trace lines as evidence: the two sides of a trace line differ in tone.

In production line art a colour-trace line (red, blue, green pencil) separates a
base colour from its shadow or highlight. The keyframe shows which colour lies
across which kind of trace line from which fill (base X, red line -> shadow Y).
When a region appears later (a shadow band that was hidden at the keyframe) it
inherits its neighbour's colour by propagation; if the two sides of a trace line
then carry the same colour, the smaller side (bands are smaller than the base
they sit on) takes the partner colour the keyframe taught.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import cv2
import numpy as np

from ..lineart import LineArt, Regions, line_colours

_HUE_BINS = 6  # red, yellow, green, cyan, blue, magenta
_MIN_PIXELS = 3  # a pairing seen on fewer trace pixels is noise


def _line_hue(art: LineArt, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Hue bin (0..5) of the un-composited colour of the given line pixels."""
    if len(ys) == 0:
        return np.zeros(0, np.int32)
    rgb = line_colours(art, (ys, xs)).reshape(-1, 1, 3)
    hue = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[:, 0, 0].astype(np.int32)  # 0..179
    return ((hue + 15) // 30) % _HUE_BINS


def trace_pairs(art: LineArt, regions: Regions) -> np.ndarray:
    """Regions facing each other across colour-trace lines.

    Each trace pixel looks a few pixels left/right and up/down (past the line's
    width); two different regions found on opposite sides form a pair.

    Returns:
        ``N,4`` int64 rows ``(region_a, region_b, hue_bin, pixels)`` with a < b.
    """
    points = cv2.findNonZero(art.trace)  # far cheaper than np.nonzero on a full frame
    if points is None:
        return np.zeros((0, 4), np.int64)
    points = points.reshape(-1, 2)  # N,1,2 in OpenCV 4, N,2 in OpenCV 5
    xs, ys = points[:, 0], points[:, 1]
    h, w = regions.labels.shape
    reach = max(3, round(3 * (h * w / (640 * 360)) ** 0.5))
    rows = []
    for dy, dx in ((0, reach), (reach, 0)):
        a = regions.labels[np.clip(ys - dy, 0, h - 1), np.clip(xs - dx, 0, w - 1)]
        b = regions.labels[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)]
        keep = (a != b) & (a > 0) & (b > 0)
        # The line's hue, only where it does separate two regions.
        hue = _line_hue(art, ys[keep], xs[keep])
        rows.append(np.stack([np.minimum(a, b)[keep], np.maximum(a, b)[keep], hue], 1))
    pairs = np.concatenate(rows).astype(np.int64)
    if len(pairs) == 0:
        return np.zeros((0, 4), np.int64)
    n = np.int64(regions.count)
    keys = (pairs[:, 0] * n + pairs[:, 1]) * _HUE_BINS + pairs[:, 2]  # 1-D unique is fast
    unique, counts = np.unique(keys, return_counts=True)
    keep = counts >= _MIN_PIXELS
    unique, counts = unique[keep], counts[keep]
    ab, hue = np.divmod(unique, _HUE_BINS)
    a, b = np.divmod(ab, n)
    return np.stack([a, b, hue, counts], 1)


class TracePartners:
    """Which palette colour lies across which trace-line hue from which colour."""

    def __init__(self) -> None:
        self._votes: dict[tuple[int, int], Counter] = defaultdict(Counter)

    def learn(self, pairs: np.ndarray, colours: np.ndarray) -> None:
        """Record the colours facing each other across trace lines in a coloured frame."""
        for a, b, hue, n in pairs:
            ca, cb = int(colours[a]), int(colours[b])
            if ca != cb:
                self._votes[(ca, int(hue))][cb] += int(n)
                self._votes[(cb, int(hue))][ca] += int(n)

    def partner(self, colour: int, hue: int) -> int | None:
        """The colour most often across a ``hue`` trace line from ``colour``, if any."""
        votes = self._votes.get((colour, hue))
        return votes.most_common(1)[0][0] if votes else None

    def repair(self, pairs: np.ndarray, colours: np.ndarray, areas: np.ndarray) -> int:
        """Recolour the smaller side of trace-line pairs that carry one colour.

        Modifies ``colours`` in place; returns how many regions changed.
        """
        changed = 0
        for a, b, hue, _ in pairs:
            if colours[a] != colours[b]:
                continue
            other = self.partner(int(colours[a]), int(hue))
            if other is None:
                continue
            small = a if areas[a] <= areas[b] else b
            colours[small] = other
            changed += 1
        return changed
