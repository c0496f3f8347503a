"""Ink extraction and region labelling on drawings with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from celcolor.errors import InputError
from celcolor.lineart import (
    InkOptions,
    RegionOptions,
    extract_ink,
    label_regions,
    line_colours,
    looks_like_line_art,
)

H, W = 120, 200


def drawing(line=(0, 0, 0), paper=(255, 255, 255), thickness=2) -> np.ndarray:
    """A box split by a vertical line, plus a circle: 4 closed areas."""
    img = np.full((H, W, 3), paper, np.uint8)
    cv2.rectangle(img, (20, 20), (180, 100), line, thickness, cv2.LINE_AA)
    cv2.line(img, (100, 20), (100, 100), line, thickness, cv2.LINE_AA)
    cv2.circle(img, (50, 60), 15, line, thickness, cv2.LINE_AA)
    return img


def line_mask() -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cv2.rectangle(m, (20, 20), (180, 100), 1, 2)
    cv2.line(m, (100, 20), (100, 100), 1, 2)
    cv2.circle(m, (50, 60), 15, 1, 2)
    return m.astype(bool)


def paper_far_from_lines() -> np.ndarray:
    near = cv2.dilate(line_mask().astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    return ~near


def test_black_on_white_ink_is_on_lines_only():
    art = extract_ink(drawing())
    assert art.ink.dtype == np.float32 and art.ink.shape == (H, W)
    assert art.ink[line_mask()].mean() > 0.8
    assert art.ink[paper_far_from_lines()].max() == 0.0
    assert not art.trace.any()


def test_white_on_black_is_detected_and_inverted():
    normal = extract_ink(drawing())
    inverted = extract_ink(255 - drawing())
    assert np.abs(normal.ink - inverted.ink).max() < 0.02
    forced = extract_ink(255 - drawing(), InkOptions(invert=False))
    assert forced.ink[paper_far_from_lines()].mean() > 0.9  # without detection: all "ink"


@pytest.mark.parametrize("colour", [(255, 0, 0), (0, 0, 255), (0, 160, 0)])
def test_colour_trace_lines_are_ink_and_marked_as_trace(colour):
    art = extract_ink(drawing(line=colour))
    lines = line_mask()
    assert art.ink[lines].mean() > 0.5
    assert (art.trace[lines & (art.ink > 0.5)] > 0).mean() > 0.95
    got = line_colours(art, lines & (art.ink > 0.9)).astype(int)
    assert np.abs(got - np.array(colour)).max(axis=1).mean() < 40  # un-composited colour


def test_jpeg_noise_stays_off_the_paper():
    ok, buf = cv2.imencode(".jpg", drawing(), [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok
    noisy = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    art = extract_ink(np.ascontiguousarray(noisy))
    assert (art.ink[paper_far_from_lines()] > 0).mean() < 0.002
    assert art.ink[line_mask()].mean() > 0.7


def test_uneven_paper_is_flattened():
    ramp = np.linspace(170, 250, W, dtype=np.float32)[None, :, None]
    tone = np.array([1.0, 0.95, 0.8], np.float32)  # yellowish paper, darker to the left
    paper = np.broadcast_to(ramp * tone, (H, W, 3))
    img = drawing().astype(np.float32) / 255.0 * paper
    art = extract_ink(img.astype(np.uint8))
    assert (art.ink[paper_far_from_lines()] > 0).mean() < 0.01
    assert art.ink[line_mask()].mean() > 0.6


def test_specks_are_removed_lines_kept():
    # Specks within 2 px of a line join it; these lie at least 5 px from any line.
    img = drawing()
    rng = np.random.default_rng(0)
    away = ~cv2.dilate(line_mask().astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)
    free = np.argwhere(away)
    for y, x in free[rng.choice(len(free), 40, replace=False)]:
        img[y, x] = 0
    # This image is tiny, so the default speck size (scaled by area) would be 2 px.
    art = extract_ink(img, InkOptions(speck_area=30))
    assert (art.ink[paper_far_from_lines()] > 0).sum() == 0
    assert art.ink[line_mask()].mean() > 0.8


def test_speck_removal_moves_with_the_drawing():
    # Blobs around the size limit, at every phase: moving the page by one pixel (an
    # odd pan) must move the extracted ink by one pixel and change nothing else.
    img = np.full((96, 160, 3), 255, np.uint8)
    cv2.line(img, (4, 90), (150, 8), (0, 0, 0), 2)
    rng = np.random.default_rng(1)
    for y, x in rng.integers(6, 60, size=(60, 2)) * (1, 2):
        h, w = rng.integers(1, 5, size=2)
        img[y : y + h, x : x + w] = 0
    # min_area 8 on this small frame (scaled by area): under 3 cells of a 2 px grid.
    options = InkOptions(speck_area=32)
    art = extract_ink(img, options).ink_u8
    assert 0 < (art > 0).sum() < (img.min(-1) < 128).sum()  # some blobs go, some stay
    for dy, dx in ((0, 1), (1, 0), (1, 1), (3, 5)):
        moved = np.full_like(img, 255)
        moved[dy:, dx:] = img[: img.shape[0] - dy, : img.shape[1] - dx]
        shifted = extract_ink(moved, options).ink_u8
        assert np.array_equal(shifted[dy:, dx:], art[: art.shape[0] - dy, : art.shape[1] - dx])


def test_bad_sketch_arrays_are_refused():
    with pytest.raises(InputError):
        extract_ink(np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError):
        extract_ink(np.zeros((10, 10, 3), np.float32))


def _region_at(regions, x, y):
    return int(regions.labels[y, x])


def test_regions_of_a_known_drawing():
    art = extract_ink(drawing())
    regions = label_regions(art.ink_u8)
    outside, left, right, circle = (
        _region_at(regions, *p) for p in [(5, 5), (85, 90), (150, 60), (50, 60)]
    )
    assert len({outside, left, right, circle}) == 4 and 0 not in {outside, left, right, circle}
    assert set(np.unique(regions.labels)) == {0, outside, left, right, circle}
    assert (regions.filled > 0).all()
    # Line pixels take one of the regions they bound.
    assert set(np.unique(regions.filled[line_mask()])) <= {outside, left, right, circle}


def test_small_gap_is_closed_thin_region_kept():
    img = np.full((H, W, 3), 255, np.uint8)
    cv2.rectangle(img, (20, 20), (180, 100), (0, 0, 0), 2)
    cv2.line(img, (100, 20), (100, 57), (0, 0, 0), 2)  # a 2 px gap at y 59..60
    cv2.line(img, (100, 62), (100, 100), (0, 0, 0), 2)
    cv2.line(img, (20, 30), (180, 30), (0, 0, 0), 1)  # a thin strip y 22..29 between lines
    cv2.line(img, (20, 34), (180, 34), (0, 0, 0), 1)  # and a 3 px one at y 31..33
    regions = label_regions(extract_ink(img).ink_u8, RegionOptions(gap_radius=2))
    left, right = _region_at(regions, 60, 80), _region_at(regions, 140, 80)
    assert left != right and left != 0 and right != 0
    strip = _region_at(regions, 60, 32)
    assert strip not in (0, left, right)
    # Without gap closing the two halves leak into one.
    leaky = label_regions(extract_ink(img).ink_u8, RegionOptions(gap_radius=0))
    assert _region_at(leaky, 60, 80) == _region_at(leaky, 140, 80)


def test_a_trace_line_is_filled_with_its_band_across_its_whole_width():
    # A box with a 5 px red trace line bounding a shadow band along its bottom.
    img = np.full((H, W, 3), 255, np.uint8)
    cv2.rectangle(img, (20, 20), (180, 100), (0, 0, 0), 2, cv2.LINE_AA)
    cv2.line(img, (21, 80), (179, 80), (235, 20, 20), 5, cv2.LINE_AA)
    art = extract_ink(img)
    base, band = (60, 50), (60, 92)
    trace_core = (art.trace > 0) & (art.ink_u8 >= 128)
    assert trace_core[:, 30:170].sum(axis=0).min() >= 4  # the line is several pixels wide

    split = label_regions(art.ink_u8)  # without the trace mask: nearest region, split
    spread = label_regions(art.ink_u8, trace=art.trace)
    band_id, base_id = _region_at(spread, *band), _region_at(spread, *base)
    assert band_id != base_id and 0 not in (band_id, base_id)
    assert (split.filled[trace_core] == base_id).mean() > 0.3
    assert (spread.filled[trace_core] == band_id).all()
    # The black outline keeps its nearest regions (the trace does not leak into it).
    outline = (art.ink_u8 >= 128) & (art.trace == 0)
    assert np.array_equal(spread.filled[outline], split.filled[outline])


def test_tiny_regions_merge_into_neighbours():
    img = np.full((H, W, 3), 255, np.uint8)
    cv2.rectangle(img, (20, 20), (180, 100), (0, 0, 0), 1)
    cv2.rectangle(img, (60, 60), (62, 62), (0, 0, 0), 1)  # encloses a single pixel
    regions = label_regions(extract_ink(img).ink_u8, RegionOptions(min_area=8))
    assert regions.labels[61, 61] == 0  # not a region of its own
    assert regions.filled[61, 61] == regions.labels[40, 40]


def test_reference_detection():
    assert looks_like_line_art(drawing())
    colour = drawing()
    colour[25:95, 25:95] = (200, 60, 60)
    colour[25:95, 105:175] = (60, 60, 200)
    assert not looks_like_line_art(colour)


@pytest.mark.parametrize("shape", [(2000, 16), (16, 2000), (12, 12)])
def test_a_narrow_or_tiny_coloured_image_is_not_line_art(shape):
    # Shrunk to 512 px on its long side a 16 px wide strip was 4 px wide, and the
    # opening that tells fills from strokes erased every fill.
    colour = np.full((*shape, 3), 255, np.uint8)
    h, w = shape
    colour[: h // 2] = (200, 60, 60)
    colour[h // 2 :, : w // 2] = (60, 60, 200)
    assert not looks_like_line_art(colour)


def test_filling_works_past_65535_regions():
    """A finished frame's reference parts (or a noisy sketch) can hold more regions
    than uint16 ranks can count; the float32 ranks used then must still index."""
    from celcolor.lineart.regions import Regions

    labels = np.arange(1, 300 * 300 + 1, dtype=np.int32).reshape(300, 300)
    labels[:, 150] = 0  # a line down the middle
    regions = Regions(labels, int(labels.max()) + 1)
    filled = regions.filled
    assert filled.dtype == np.int32 and (filled > 0).all()
    assert (filled[:, :150] == labels[:, :150]).all()
    values = np.arange(regions.count) % 7
    assert (regions.fill_with(values) == values[filled]).all()


def test_a_frame_that_is_all_ink_has_no_region_to_fill_from() -> None:
    """A frame the extractor reads as lines from edge to edge (a coloured card taken for
    pencil) has only label 0: filling keeps it, where it had indexed past the end."""
    regions = label_regions(np.full((48, 64), 255, np.uint8))
    assert regions.count == 1
    assert (regions.filled == 0).all()
    assert (regions.fill_with(np.array([7])) == 7).all()
