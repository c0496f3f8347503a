"""What a colour reference must be: a colour image, not line art, not one flat paint."""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from ..lineart import looks_like_line_art


def _flat_colour(reference: np.ndarray) -> tuple[int, int, int] | None:
    """The one colour of a reference that is a single flat paint (None when it is not).

    At 64x64, so a small lit figure in a dark frame still counts as colour."""
    small = cv2.resize(reference, (64, 64), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    if int((small.max(0).astype(int) - small.min(0)).max()) >= 8:
        return None
    r, g, b = (int(v) for v in small.mean(0))
    return r, g, b


def greys_only(reference: np.ndarray) -> bool:
    """Whether a reference holds no colour, only greys (every pixel's channels within a
    few levels of each other, at 64x64): the cut would come out in greys. Of an RGBA
    cel, only its painted pixels count (alpha 128 or more)."""
    rgb = reference[..., :3]
    if reference.shape[2] == 4:  # the empty area, whatever colour it stores, as grey
        rgb = np.where(reference[..., 3:] >= 128, rgb, np.uint8(128))
    small = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA).astype(int)
    return int((small.max(-1) - small.min(-1)).max()) < 8


#: A reference must be at least this many pixels on its short side.
MIN_REFERENCE_SIDE = 8


def check_reference_size(reference: np.ndarray, name: str = "the reference") -> None:
    """Refuse a reference too small to colour from; ``name`` says which one (its file)."""
    h, w = reference.shape[:2]
    if min(h, w) < MIN_REFERENCE_SIDE:
        raise InputError(
            f"{name} is too small ({w}x{h}; at least {MIN_REFERENCE_SIDE} pixels on each "
            "side); pass a larger colour key"
        )


def check_reference(reference: np.ndarray) -> None:
    """Refuse what cannot be a colour reference, with a line that says why."""
    check_references([reference])


def check_references(references: list[np.ndarray]) -> None:
    """:func:`check_reference` for a run's references together: each must be a colour
    image and not line art, and not all may be one flat colour (a swatch beside a real
    key only adds its colour to the palette; alone it would paint every region)."""
    for reference in references:
        if not (
            isinstance(reference, np.ndarray)
            and reference.ndim == 3
            and reference.shape[2] == 3
            and reference.dtype == np.uint8
        ):
            raise InputError("the reference must be an H,W,3 uint8 RGB image")
        check_reference_size(reference)
    flat = [_flat_colour(r) for r in references]
    if flat and all(c is not None for c in flat):
        r, g, b = flat[0]
        raise InputError(
            f"the reference is one flat colour (RGB {r},{g},{b}): pass a coloured version "
            "of a frame (a colour key) as --ref"
        )
    for reference, colour in zip(references, flat, strict=True):
        if colour is None and looks_like_line_art(reference):
            raise InputError(
                "the reference has no colour: it looks like line art; pass a coloured "
                "version of a frame (a colour key) as --ref"
            )
