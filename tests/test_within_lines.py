"""The blur that stays within lines (celcolor.engine.within_lines)."""

from __future__ import annotations

import numpy as np
import pytest

from celcolor.engine import detail
from celcolor.engine.within_lines import blur_within_lines, soften_within_lines


@pytest.mark.parametrize("sigma", [3.0, 8.0, 20.0])
def test_without_lines_it_spreads_a_point_as_a_gaussian_of_sigma(sigma: float) -> None:
    size = 201
    point = np.zeros((size, size), np.float32)
    point[size // 2, size // 2] = 1.0
    spread = blur_within_lines(point, np.zeros_like(point, bool), sigma)
    assert abs(spread.sum() - 1.0) < 1e-3  # nothing lost inside the frame
    offsets = np.arange(size) - size // 2
    along_x = spread.sum(axis=0)
    width = np.sqrt((along_x * offsets**2).sum() / along_x.sum())
    assert abs(width - sigma) < 0.1 * sigma + 0.5


def test_nothing_crosses_a_line_and_each_side_keeps_its_colour() -> None:
    image = np.zeros((60, 120, 3), np.uint8)
    image[:, 61:] = (250, 40, 10)
    lines = np.zeros((60, 120), bool)
    lines[:, 60] = True
    soft = blur_within_lines(image, lines, 15.0)
    assert np.abs(soft[:, :60]).max() < 1e-3
    assert np.abs(soft[:, 61:] - np.float32([250, 40, 10])).max() < 1e-3
    plain = blur_within_lines(image, np.zeros_like(lines), 15.0)
    assert plain[:, 55:60, 0].min() > 20  # without the line the colours mix


def test_a_closed_outline_keeps_its_inside_apart_even_from_the_diagonal() -> None:
    image = np.full((80, 80, 3), 200, np.uint8)
    image[30:50, 30:50] = 0
    lines = np.zeros((80, 80), bool)
    lines[29, 29:51] = lines[50, 29:51] = lines[29:51, 29] = lines[29:51, 50] = True
    soft = blur_within_lines(image, lines, 12.0)
    assert np.abs(soft[30:50, 30:50]).max() < 1e-3
    outside = np.ones((80, 80), bool)
    outside[29:51, 29:51] = False
    assert np.abs(soft[outside] - 200).max() < 1e-3


def test_worked_smaller_it_still_keeps_sides_apart_but_for_a_seam() -> None:
    h, w = 360, 1280
    image = np.zeros((h, w, 3), np.uint8)
    image[:, 641:] = 255
    lines = np.zeros((h, w), bool)
    lines[:, 639:641] = True  # a 2 px line, as drawn at this size
    soft = soften_within_lines(image, lines, 40.0, long_side=320)
    assert soft.dtype == np.uint8 and soft.shape == image.shape
    # Brought back to full size from a quarter, the blend is a few pixels wide at most.
    assert soft[:, : 639 - 6].max() == 0
    assert soft[:, 641 + 6 :].min() == 255


def test_distorted_texture_is_softened_within_the_frames_lines() -> None:
    """Red and blue stripes beside green, sheared: the frame's line runs where the
    keyframe's boundary lands. The stripes soften to their mean, and the green beside
    the line takes none of them (with the frame's edge alone as bound, labels None,
    they spread into it)."""
    h, w = 64, 640
    key = ((np.arange(w) // 4) % 2).astype(np.uint8)[None].repeat(h, 0)
    key[:, 320:] = 2
    render = np.array([[255, 0, 0], [0, 0, 255], [0, 200, 0]], np.uint8).__getitem__
    origin = np.mgrid[0:h, 0:w][::-1].astype(np.float32).transpose(1, 2, 0)
    origin[..., 0] += 1.5 * (np.arange(h, dtype=np.float32)[:, None] - h / 2)
    labels = np.ones((h, w), np.int32)
    labels[(origin[..., 0] >= 317) & (origin[..., 0] < 320)] = 0  # the drawn boundary
    green = (origin[..., 0] >= 326) & (origin[..., 0] < 344)  # past a seam of a few px
    green[:8] = green[-8:] = False

    def shown(labels):
        carry = detail.Carry(detail=key, key=key, origin=origin)
        return detail.smooth_colours(carry, render, labels=labels).astype(int)

    within, across = shown(labels), shown(None)
    assert within[8:-8, 80:200, 0].std() < 30  # the stripes softened
    assert np.abs(within[green] - [0, 200, 0]).max() <= 2
    assert np.abs(across[green] - [0, 200, 0]).max() > 20
