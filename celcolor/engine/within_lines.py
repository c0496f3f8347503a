"""A blur that stays within the drawing's lines.

Where the chained flow has misplaced carried texture, it is shown softened
(:func:`celcolor.engine.detail.smooth_colours`). A plain Gaussian blur of that width
(tens of pixels) mixes the colours on both sides of every line: a pale glow around a
dark-haired head, a band of the letterbox's black on the sky. Blurred only along runs
of pixels between the frame's own lines, each side keeps its own colours, and the
lines are the frame's drawing, which does not swim with the flow's errors.

The blur is iterated box means along rows and columns, each box cut short at the
nearest line pixel (a normalized convolution in the sense of Gastal and Oliveira's
domain transform, 2011, with lines as edges of infinite height). Three passes of a
box come close to a Gaussian of the same variance.
"""

from __future__ import annotations

import cv2
import numpy as np

PASSES = 3  # box passes per axis: their sum of variances is the Gaussian's


def _box_bounds(lines: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the first and last column of its box along each row: ``radius``
    either side, cut at the nearest line pixel. A line pixel's box is itself."""
    w = lines.shape[1]
    x = np.arange(w, dtype=np.int32)[None, :]
    last_line = np.where(lines, x, -1)
    np.maximum.accumulate(last_line, axis=1, out=last_line)
    next_line = np.where(lines, x, w)[:, ::-1]
    next_line = np.minimum.accumulate(next_line, axis=1)[:, ::-1]
    first = np.where(lines, x, np.maximum(x - radius, last_line + 1))
    last = np.where(lines, x, np.minimum(x + radius, next_line - 1))
    return first, last


def _along_rows(lines: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gather indices (into a row-wise cumulative sum with a leading zero column,
    flattened) of each pixel's box ends along its row, and 1 / the box's length."""
    h, w = lines.shape
    first, last = _box_bounds(lines, radius)
    rows = (np.arange(h, dtype=np.intp) * (w + 1))[:, None]
    return (
        (rows + first).ravel(),
        (rows + last + 1).ravel(),
        (1.0 / (last - first + 1)).astype(np.float32)[..., None],
    )


def blur_within_lines(image: np.ndarray, lines: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` blurred by about a Gaussian of ``sigma`` px, never across ``lines``.

    Args:
        image: ``H,W,C`` (or ``H,W``) image, any dtype.
        lines: ``H,W`` bool, the pixels no blur crosses (they keep their own values
            along the axis they block).
        sigma: the blur's width in pixels; 0 or less returns a float copy.

    Returns:
        ``H,W,C`` (or ``H,W``) float32.
    """
    flat = image.ndim == 2
    work = np.asarray(image, np.float32)  # (never changed in place below)
    if flat:
        work = work[..., None]
    if sigma <= 0:
        work = work.copy()
        return work[..., 0] if flat else work
    h, w, c = work.shape
    # A box of 2r + 1 pixels has variance ((2r + 1)^2 - 1) / 12; PASSES of them sum to sigma^2.
    radius = max(1, round((np.sqrt(12 * sigma * sigma / PASSES + 1) - 1) / 2))
    x_from, x_to, x_norm = _along_rows(lines, radius)
    y_from, y_to, y_norm = _along_rows(np.ascontiguousarray(lines.T), radius)
    y_norm = np.ascontiguousarray(y_norm.reshape(w, h).T)[..., None]
    along_x = np.zeros((h, w + 1, c), np.float32)
    along_y = np.zeros((w, h + 1, c), np.float32)
    for _ in range(PASSES):
        np.cumsum(work, axis=1, out=along_x[:, 1:])
        sums = along_x.reshape(-1, c)
        work = (np.take(sums, x_to, axis=0) - np.take(sums, x_from, axis=0)).reshape(h, w, c)
        work *= x_norm
        np.cumsum(work.transpose(1, 0, 2), axis=1, out=along_y[:, 1:])
        sums = along_y.reshape(-1, c)
        down = (np.take(sums, y_to, axis=0) - np.take(sums, y_from, axis=0)).reshape(w, h, c)
        work = np.ascontiguousarray(down.transpose(1, 0, 2))
        work *= y_norm
    return work[..., 0] if flat else work


def soften_within_lines(
    image: np.ndarray, lines: np.ndarray, sigma: float, long_side: int
) -> np.ndarray:
    """``image`` (``H,W,3`` uint8) softened by ``sigma`` px within ``lines``, worked at
    most ``long_side`` pixels on its long side (a wide blur needs no finer grid; lines
    are kept there wherever they cover any of a pixel) and brought back to full size.
    Returns ``H,W,3`` uint8."""
    h, w = lines.shape
    scale = min(1.0, long_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # (At 255, a line covering any share of a small pixel leaves it above 0.)
        ink = lines.astype(np.uint8) * np.uint8(255)
        small_lines = cv2.resize(ink, size, interpolation=cv2.INTER_AREA) > 0
    else:
        small, small_lines = image, lines
    soft = blur_within_lines(small, small_lines, sigma * scale)
    if scale < 1.0:
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(soft, out=soft), 0, 255).astype(np.uint8)
