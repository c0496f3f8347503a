"""XDoG line extraction (Winnemöller et al. 2012) on images with known edges."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from celcolor.data.synthetic import CUT_PRESETS, render_frame
from celcolor.errors import InputError
from celcolor.lineart.xdog import sketch_from_colour, xdog

H, W = 120, 200


def _mask(draw) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    draw(m)
    return m.astype(bool)


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    k = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), k).astype(bool)


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    k = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def known_image() -> np.ndarray:
    """White paper with a black circle outline, a grey filled box and a black filled box."""
    img = np.full((H, W, 3), 255, np.uint8)
    cv2.circle(img, (40, 60), 22, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.rectangle(img, (80, 20), (130, 100), (128, 128, 128), -1)
    cv2.rectangle(img, (150, 30), (185, 90), (0, 0, 0), -1)
    return img


CIRCLE = _mask(lambda m: cv2.circle(m, (40, 60), 22, 1, 2))
GREY_BOX = _mask(lambda m: cv2.rectangle(m, (80, 20), (130, 100), 1, -1))
BLACK_BOX = _mask(lambda m: cv2.rectangle(m, (150, 30), (185, 90), 1, -1))
SHAPES = CIRCLE | GREY_BOX | BLACK_BOX


def test_lines_where_the_edges_are_and_paper_elsewhere():
    sketch = sketch_from_colour(known_image())
    assert sketch.shape == (H, W, 3) and sketch.dtype == np.uint8
    assert (sketch[..., 0] == sketch[..., 1]).all() and (sketch[..., 1] == sketch[..., 2]).all()
    grey = sketch[..., 0]
    # Paper away from every edge stays pure white.
    assert (grey[~_dilate(SHAPES, 6)] == 255).all()
    # The drawn outline becomes a dark line.
    assert grey[CIRCLE].mean() < 80
    # A flat grey fill is paper inside, with a line along its border.
    assert (grey[_erode(GREY_BOX, 6)] == 255).all()
    border = _dilate(GREY_BOX, 2) & ~_erode(GREY_BOX, 2)
    assert (grey[border] < 64).mean() > 0.3
    # With epsilon below 0 a black fill is outlined, not filled...
    assert (grey[_erode(BLACK_BOX, 6)] == 255).all()
    assert grey[_dilate(BLACK_BOX, 2) & ~_erode(BLACK_BOX, 2)].min() < 32
    # ...and with epsilon above its luminance it becomes solid ink.
    filled = sketch_from_colour(known_image(), epsilon=0.1)[..., 0]
    assert filled[_erode(BLACK_BOX, 6)].max() < 32


def test_a_flat_image_has_no_lines():
    for value in (0, 90, 255):
        flat = np.full((40, 60, 3), value, np.uint8)
        assert (sketch_from_colour(flat) == 255).all()


def test_sharpening_p_adds_ink():
    img = known_image()
    weak = (xdog(img, p=2.0) < 0.5).sum()
    strong = (xdog(img, p=40.0) < 0.5).sum()
    assert strong >= weak > 0


def test_finds_the_outlines_of_a_generated_cel_frame():
    spec = dataclasses.replace(CUT_PRESETS["medium"], width=320, height=192, num_frames=1)
    frame = render_frame(spec, 0, flow=False)
    dark = sketch_from_colour(frame.colour)[..., 0] < 128
    # Black outlines are visible in the colour frame (trace lines are painted over).
    black = frame.lines & (frame.colour.max(axis=2) < 60)
    assert black.sum() > 200
    recall = _dilate(dark, 1)[black].mean()
    assert recall > 0.8
    # Ink appears only near colour edges.
    edges = _dilate(cv2.Canny(frame.colour, 20, 60) > 0, 2)
    assert (dark & ~edges).mean() < 0.002


def test_bad_inputs():
    with pytest.raises(InputError):
        sketch_from_colour(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError):
        sketch_from_colour(np.zeros((10, 10), np.uint8))
    img = known_image()
    with pytest.raises(ValueError, match="sigma"):
        sketch_from_colour(img, sigma=0)
    with pytest.raises(ValueError, match="k must"):
        sketch_from_colour(img, k=1.0)
    with pytest.raises(ValueError, match="phi"):
        sketch_from_colour(img, phi=0)
