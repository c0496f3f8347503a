"""Colour-trace lines as evidence: the two sides of a trace line differ in tone.

In production line art a colour-trace line (red, blue, green pencil) separates a
base colour from its shadow or highlight. The keyframe shows which colour lies
across which kind of trace line from which fill (base X, red line -> shadow Y).
When a region appears later (a shadow band that was hidden at the keyframe) it
inherits its neighbour's colour by propagation; if the two sides of a trace line
then carry the same colour, the smaller side (bands are smaller than the base
they sit on) takes the partner colour the keyframe taught.

When the keyframe never showed that base colour's shadow (the band was hidden),
the partner is derived: the keyframe's other base/band pairs across the same kind
of line show how this production shades (darker by a ratio, more saturated, hue
turned), and the base colour is shaded the same way (:func:`derive_tone`). Which
side is the band is only a guess from size, so a partner is derived only where the
guess is safe: for a colour the keyframe showed as the base of some band (a part
seen only as its band could be that band, with its base emerging beside it), for
a line kind the keyframe never showed with one colour on both sides, and for
regions that do not run off the frame (their visible size says nothing).
"""

from __future__ import annotations

import colorsys
from collections import Counter, defaultdict
from collections.abc import Callable

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


# Derives a partner for ``(colour, hue)`` from the keyframe's (base, band) pairs across
# that hue, weighted by trace pixels; returns a palette index or None.
Derive = Callable[[int, int, Counter], "int | None"]


class TracePartners:
    """Which palette colour lies across which trace-line hue from which colour."""

    def __init__(self) -> None:
        self._votes: dict[tuple[int, int], Counter] = defaultdict(Counter)
        # Per line hue: (base colour, band colour) -> trace pixels; the band is the
        # smaller side. What a derived partner is modelled on (see :meth:`tones`).
        self._tones: dict[int, Counter] = defaultdict(Counter)
        # Brightness (HSV value, 0-255) of the colours the keyframes showed.
        self._value: dict[int, int] = {}
        # (colour, hue) seen with the same colour on both sides: such a line is no
        # boundary of a band in this drawing, so no partner is derived for it.
        self._alike: set[tuple[int, int]] = set()

    def learn(
        self,
        pairs: np.ndarray,
        colours: np.ndarray,
        areas: np.ndarray | None = None,
        value: np.ndarray | None = None,
    ) -> None:
        """Record the colours facing each other across trace lines in a coloured frame.

        ``areas`` (pixels per region) tells the band (smaller side) from the base;
        ``value`` (brightness per palette colour) lets :meth:`tones` correct that
        guess where one band is larger than its base.
        """
        for a, b, hue, n in pairs:
            ca, cb = int(colours[a]), int(colours[b])
            if ca == cb:
                self._alike.add((ca, int(hue)))
                continue
            self._votes[(ca, int(hue))][cb] += int(n)
            self._votes[(cb, int(hue))][ca] += int(n)
            if areas is not None:
                base, band = (ca, cb) if areas[a] > areas[b] else (cb, ca)
                self._tones[int(hue)][(base, band)] += int(n)
            if value is not None:
                self._value[ca], self._value[cb] = int(value[ca]), int(value[cb])

    def tones(self, hue: int) -> Counter:
        """(base, band) -> trace pixels across ``hue`` lines, each pair oriented.

        The smaller side of a pair is a guess at the band: a shadow may well cover
        more of a part than its base does at the keyframe. A production shades one
        way across one kind of line (shadows darker across red, highlights lighter
        across blue), so the way most trace pixels go (by the size guess) decides,
        and pairs going the other way are turned round. Without brightness, or on a
        tie, the size guess stands.
        """
        raw = self._tones.get(hue, Counter())
        ways = {pair: self._way(*pair) for pair in raw}
        darker = sum(n for pair, n in raw.items() if ways[pair] < 0)
        lighter = sum(n for pair, n in raw.items() if ways[pair] > 0)
        if darker == lighter:
            return raw
        majority = -1 if darker > lighter else 1
        out: Counter = Counter()
        for (base, band), n in raw.items():
            if ways[(base, band)] == -majority:
                base, band = band, base
            out[(base, band)] += n
        return out

    def _way(self, base: int, band: int) -> int:
        """-1 when ``band`` is darker than ``base``, 1 when lighter, 0 when unknown or equal."""
        value = self._value
        if base not in value or band not in value:
            return 0
        return int(np.sign(value[band] - value[base]))

    def is_base(self, colour: int) -> bool:
        """Whether the keyframe showed ``colour`` as the base of a band of any kind."""
        return any(base == colour for hue in self._tones for base, _ in self.tones(hue))

    def partner(self, colour: int, hue: int) -> int | None:
        """The colour most often across a ``hue`` trace line from ``colour``, if any."""
        votes = self._votes.get((colour, hue))
        return votes.most_common(1)[0][0] if votes else None

    def repair(
        self,
        pairs: np.ndarray,
        colours: np.ndarray,
        areas: np.ndarray,
        derive: Derive | None = None,
        cut_off: np.ndarray | None = None,
        guessed: np.ndarray | None = None,
    ) -> int:
        """Recolour the smaller side of trace-line pairs that carry one colour.

        ``derive`` makes a partner the keyframe did not show (see the module
        docstring); it is remembered, so the band keeps that colour from then on.
        It is not asked where either side is ``cut_off`` (per region: touches the
        frame's edge), since a region half out of the picture may look the smaller
        while it is the base.

        ``guessed`` (per region, optional) marks regions whose colour no vote
        supported: propagation gave them what lay there before, which for a region
        just uncovered is the colour of the part that covered it. Across a trace
        line from a region that was voted for, such a region takes that region's
        partner whatever the sizes: a band emerging beside its base (or a base
        beside its band) is told by the line, not by the occluder. This runs first,
        so the one-colour rule sees the corrected colours.

        Modifies ``colours`` in place; returns how many regions changed.
        """
        changed = 0
        if guessed is not None:
            changed += self._colour_uncovered(pairs, colours, derive, cut_off, guessed)
        for a, b, hue, _ in pairs:
            if colours[a] != colours[b]:
                continue
            other = self._partner_or_derived(int(colours[a]), int(hue), derive, cut_off, a, b)
            if other is None:
                continue
            small = a if areas[a] <= areas[b] else b
            colours[small] = other
            changed += 1
        return changed

    def _partner_or_derived(
        self,
        colour: int,
        hue: int,
        derive: Derive | None,
        cut_off: np.ndarray | None,
        a: int,
        b: int,
    ) -> int | None:
        """The keyframe's partner of ``colour`` across ``hue``, else a derived one.

        A derived partner is remembered, so the band keeps that colour from then on.
        """
        other = self.partner(colour, hue)
        if other is not None or derive is None or not self._tones.get(hue):
            return other
        if (colour, hue) in self._alike:
            return None
        if cut_off is not None and (cut_off[a] or cut_off[b]):
            return None
        if not self.is_base(colour):
            return None
        other = derive(colour, hue, self.tones(hue))
        if other is not None:
            self._votes[(colour, hue)][other] += 1
            self._votes[(other, hue)][colour] += 1
        return other

    def _colour_uncovered(
        self,
        pairs: np.ndarray,
        colours: np.ndarray,
        derive: Derive | None,
        cut_off: np.ndarray | None,
        guessed: np.ndarray,
    ) -> int:
        """Guessed regions take the partner of the voted region across a trace line.

        Where a guessed region faces several voted ones, the pairing with the most
        trace pixels decides. Returns how many regions changed.
        """
        best: dict[int, tuple[int, int, int]] = {}  # guessed region -> (pixels, voted, hue)
        for a, b, hue, n in pairs:
            if guessed[a] == guessed[b]:
                continue
            new, known = (int(a), int(b)) if guessed[a] else (int(b), int(a))
            if int(n) > best.get(new, (0, 0, 0))[0]:
                best[new] = (int(n), known, int(hue))
        changed = 0
        for new, (_, known, hue) in best.items():
            other = self._partner_or_derived(int(colours[known]), hue, derive, cut_off, new, known)
            if other is not None and other != colours[new]:
                colours[new] = other
                changed += 1
        return changed


def derive_tone(base: np.ndarray, examples: list[tuple[np.ndarray, np.ndarray, int]]) -> np.ndarray:
    """``base`` RGB shaded as the examples' bands are shaded from their bases.

    The shading is measured in HSV, as colour designers set shadow and highlight
    tones: value by a ratio, saturation by a difference, hue by a turn (only from
    and onto coloured bases: a grey has no hue to turn). Each is the weighted median
    over the examples, so one odd pair does not decide it.

    Args:
        base: ``3`` uint8 RGB colour to shade.
        examples: ``(base_rgb, band_rgb, weight)`` triples, all across one line hue.

    Returns:
        ``3`` uint8 RGB.
    """

    def hsv(rgb: np.ndarray) -> tuple[float, float, float]:
        return colorsys.rgb_to_hsv(*(float(c) / 255.0 for c in rgb))

    ratios, shifts, turns = [], [], []
    for b_rgb, t_rgb, weight in examples:
        (bh, bs, bv), (th, ts, tv) = hsv(b_rgb), hsv(t_rgb)
        if bv > 0.05:
            ratios.append((tv / bv, weight))
        shifts.append((ts - bs, weight))
        if bs > 0.15 and ts > 0.15:
            turns.append(((th - bh + 0.5) % 1.0 - 0.5, weight))
    h, s, v = hsv(base)
    v = v * _weighted_median(ratios, 1.0)
    s = s + _weighted_median(shifts, 0.0)
    if s > 0.15:
        h = h + _weighted_median(turns, 0.0)
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return np.array([round(r * 255), round(g * 255), round(b * 255)], np.uint8)


def _weighted_median(values: list[tuple[float, int]], default: float) -> float:
    if not values:
        return default
    order = sorted(values)
    half = sum(w for _, w in order) / 2.0
    seen = 0.0
    for value, weight in order:
        seen += weight
        if seen >= half:
            return value
    return order[-1][0]
