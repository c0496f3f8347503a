"""Cels on transparent: a reference's transparency carried as a paint of its own.

A production colour key is often a painted cel on a transparent layer, composited over
the background art later; the coloured frames are wanted the same way. So with
``alpha`` on (``--alpha``) the reference's transparent area is painted with a *key
colour* that none of its opaque paint comes near, and is coloured, propagated and
snapped like any other paint: the regions it lands in are the cel's empty area. At the
output those regions are transparent, and the lines drawn over them keep their ink as
coverage (:class:`Matte`), so the outline of a character stays on the cel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError

# Candidates for the key colour, in order: saturated colours that character paint
# rarely uses. The first whose neighbourhood no opaque reference pixel comes near wins.
_KEYS = (
    (255, 0, 255),
    (0, 255, 0),
    (0, 255, 255),
    (255, 255, 0),
    (0, 0, 255),
    (255, 0, 0),
    (128, 0, 255),
    (0, 255, 128),
    (255, 128, 0),
)
# The palette bins colours at 5 bits a channel: the key's bin and those next to it
# (8 to 16 levels away) must hold no opaque paint, or the two could merge.
_BITS = 5
# A pixel at least this opaque is paint; below, the cel is empty there.
OPAQUE = 128


def is_transparent_somewhere(rgba: np.ndarray) -> bool:
    """Whether an ``H,W,4`` reference leaves any of its pixels empty (alpha under OPAQUE)."""
    return rgba.ndim == 3 and rgba.shape[2] == 4 and bool((rgba[..., 3] < OPAQUE).any())


def check_transparent(references: list[np.ndarray]) -> None:
    """Refuse ``--alpha`` when no reference leaves anything transparent."""
    if not any(is_transparent_somewhere(r) for r in references):
        raise InputError(
            "--alpha: the reference has no transparent area; give the colour key as a cel "
            "on a transparent layer (a PNG with alpha)"
        )


def key_colour(references: list[np.ndarray]) -> tuple[int, int, int]:
    """A colour no opaque pixel of ``references`` (``H,W,3`` or ``H,W,4``) comes near.

    Raises :class:`InputError` in the unlikely case that every candidate is taken.
    """
    shift = 8 - _BITS
    used = np.zeros((1 << _BITS,) * 3, np.uint8)
    for ref in references:
        rgb = ref[..., :3].reshape(-1, 3)
        if ref.shape[-1] == 4:
            rgb = rgb[ref[..., 3].reshape(-1) >= OPAQUE]
        bins = rgb >> shift
        used[bins[:, 0], bins[:, 1], bins[:, 2]] = 1
    for key in _KEYS:
        lo = [max((c >> shift) - 1, 0) for c in key]
        if not used[lo[0] : lo[0] + 3, lo[1] : lo[1] + 3, lo[2] : lo[2] + 3].any():
            return key
    raise InputError(
        "--alpha: the reference's paint spans every key colour tried for its transparent "
        "area; give a reference with fewer saturated colours"
    )


def on_key(reference: np.ndarray, key: tuple[int, int, int]) -> np.ndarray:
    """An ``H,W,4`` reference as ``H,W,3`` RGB with its empty pixels painted ``key``
    (``H,W,3`` references come back as they are)."""
    if reference.ndim != 3 or reference.shape[2] != 4:
        return reference
    rgb = np.ascontiguousarray(reference[..., :3])
    rgb[reference[..., 3] < OPAQUE] = key
    return rgb


def background_made_empty(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A key painted over one flat background colour, as a cel: ``H,W,4`` RGBA with
    the commonest colour of its border transparent wherever it shows; and that colour."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    colours, counts = np.unique(border, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    alpha = np.where((rgb == background).all(-1), 0, 255).astype(np.uint8)
    return np.dstack([rgb, alpha]), background


@dataclass
class Matte:
    """What turns a coloured frame into a cel: its alpha, and the colour of the lines
    drawn over its empty area (shown there with their ink as alpha, not blended with
    the key colour as the frame shows them).

    Attributes:
        alpha: ``H,W`` uint8, 255 where painted.
        over: ``H,W`` bool, line pixels over the empty area.
        line: ``N,3`` uint8, the lines' own colour at ``over``'s pixels.
    """

    alpha: np.ndarray
    over: np.ndarray
    line: np.ndarray

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """``H,W,4`` RGBA of the frame ``rgb``."""
        rgba = np.dstack([rgb, self.alpha])
        rgba[self.over, :3] = self.line
        return rgba


def matte(
    empty: np.ndarray,
    ink: np.ndarray | None,
    sketch: np.ndarray,
    lightness: np.ndarray,
) -> Matte:
    """The :class:`Matte` of a frame.

    Args:
        empty: ``H,W`` uint8, 255 where the frame's paint is the key colour.
        ink: ``H,W`` uint8, 255 on the line pixels drawn over the paint (None: the
            lines are painted over, ``--lines fill``).
        sketch: ``H,W,3`` the line art on white.
        lightness: ``H,W`` uint8, 255 minus the ink's coverage.
    """
    alpha = cv2.bitwise_not(empty)
    if ink is None:
        return Matte(alpha, np.zeros(empty.shape, bool), np.zeros((0, 3), np.uint8))
    over = cv2.bitwise_and(empty, ink) > 0
    coverage = 255 - lightness[over].astype(np.float32)  # the ink's alpha, 0 to 255
    alpha[over] = coverage.astype(np.uint8)
    # The sketch is the line over white: s = L c + 255 (1 - c), so L = (s - 255 (1 - c)) / c.
    c = np.maximum(coverage, 1.0)[:, None] / 255.0
    line = (sketch[over].astype(np.float32) - 255.0 * (1.0 - c)) / c
    return Matte(alpha, over, np.clip(np.rint(line), 0, 255).astype(np.uint8))
