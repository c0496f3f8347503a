"""The reference's colours as a palette of at most 255 entries.

Cel colours are few and flat, so the engine votes on palette indices rather
than on RGB values: a region's vote is a bincount over ``region * 256 + index``,
and index 255 means "no colour here" (a line, or outside the picture).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NO_COLOUR = 255
# Ink below this coverage (0..255) does not hide the paint under it: such pixels vote.
VOTE_INK_MAX = 24
_BITS = 5  # 32 levels per channel for binning; the palette colours are the bins' means


def _bin_keys(rgb: np.ndarray) -> np.ndarray:
    # 15 bits fit uint16: half the memory traffic of int32, twice as fast at 720p.
    q = rgb >> (8 - _BITS)
    keys = q[..., 0].astype(np.uint16) << (2 * _BITS)
    keys |= q[..., 1].astype(np.uint16) << _BITS
    keys |= q[..., 2]
    return keys


@dataclass
class Palette:
    """Up to 255 colours and a lookup from any RGB to the nearest of them.

    Attributes:
        colours: ``K,3`` uint8, K <= 255, most frequent first.
        counts: ``K`` pixel counts in the image the palette was built from.
    """

    colours: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        bins = np.arange(1 << (3 * _BITS))
        centres = np.stack(
            [(bins >> (2 * _BITS)) & 31, (bins >> _BITS) & 31, bins & 31], axis=1
        ).astype(np.float32) * (1 << (8 - _BITS)) + (1 << (7 - _BITS))
        d = ((centres[:, None, :] - self.colours[None].astype(np.float32)) ** 2).sum(-1)
        self._lut = d.argmin(1).astype(np.uint8)
        lut3 = np.zeros((256, 1, 3), np.uint8)
        lut3[: len(self.colours), 0] = self.colours
        self._lut3 = lut3

    def __len__(self) -> int:
        return len(self.colours)

    def index(self, rgb: np.ndarray) -> np.ndarray:
        """``H,W`` uint8 index of the nearest palette colour of every pixel."""
        return np.take(self._lut, _bin_keys(rgb))

    def add(self, rgb: np.ndarray) -> int | None:
        """Append a colour the reference does not show (a derived shadow tone).

        It is reached only by its index: :meth:`index` keeps mapping pixels to the
        reference's own colours. Returns the new index, the index of an equal
        colour already there, or None when the palette is full.
        """
        rgb = np.asarray(rgb, np.uint8).reshape(3)
        same = np.flatnonzero((self.colours == rgb).all(axis=1))
        if len(same):
            return int(same[0])
        if len(self.colours) >= NO_COLOUR - 1:
            return None
        self.colours = np.concatenate([self.colours, rgb[None]])
        self.counts = np.concatenate([self.counts, np.zeros(1, self.counts.dtype)])
        self._lut3[len(self.colours) - 1, 0] = rgb
        return len(self.colours) - 1

    def render(self, index: np.ndarray) -> np.ndarray:
        """``H,W,3`` uint8 RGB of an index map (index 255 renders black)."""
        return cv2.LUT(cv2.merge([index, index, index]), self._lut3)


def region_histogram(labels: np.ndarray, index: np.ndarray, count: int) -> np.ndarray:
    """``count,256`` counts of palette indices per region (column 255: no colour).

    One bincount over the whole frame; pixels that must not vote carry index 255.
    """
    # Built as int64 in place: bincount would otherwise cast an int32 key array itself.
    keys = labels.astype(np.int64)
    keys <<= 8
    keys |= index
    return np.bincount(keys.ravel(), minlength=count * 256).reshape(count, 256)


def warp_index(index: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """A palette index map sampled at ``sample`` (nearest); NO_COLOUR where it falls off."""
    return cv2.remap(
        index,
        sample,
        None,
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=NO_COLOUR,
    )


def build_palette(rgb: np.ndarray, max_colours: int = 254, min_share: float = 2e-4) -> Palette:
    """Quantise an image to its significant colours.

    Colours are binned at 5 bits per channel; bins holding at least ``min_share``
    of the pixels become palette entries (the mean colour of their pixels), and
    entries closer than 8 levels in every channel are merged (JPEG or gradient
    neighbours of one flat colour).

    Args:
        rgb: ``H,W,3`` uint8 reference image.
        max_colours: cap on the palette size (at most 254: index 255 is reserved).
        min_share: a colour covering less of the image is noise (anti-aliasing, JPEG).
    """
    keys = _bin_keys(rgb).ravel()
    counts = np.bincount(keys, minlength=1 << (3 * _BITS))
    flat = rgb.reshape(-1, 3)  # bincount sums the weights in float64 itself
    sums = np.stack(
        [np.bincount(keys, weights=flat[:, c], minlength=len(counts)) for c in range(3)], 1
    )
    order = np.argsort(-counts, kind="stable")
    threshold = max(1, int(min_share * keys.size))
    chosen: list[np.ndarray] = []
    chosen_counts: list[int] = []
    for b in order:
        if counts[b] < threshold or len(chosen) >= min(max_colours, 254):
            break
        colour = sums[b] / counts[b]
        merged = False
        for i, c in enumerate(chosen):
            if np.abs(c - colour).max() < 8:
                chosen_counts[i] += int(counts[b])
                merged = True
                break
        if not merged:
            chosen.append(colour)
            chosen_counts.append(int(counts[b]))
    if not chosen:  # a tiny image with all-distinct colours: take the commonest anyway
        b = order[0]
        chosen, chosen_counts = [sums[b] / counts[b]], [int(counts[b])]
    colours = np.clip(np.rint(np.array(chosen)), 0, 255).astype(np.uint8)
    return Palette(colours=colours, counts=np.array(chosen_counts, np.int64))
