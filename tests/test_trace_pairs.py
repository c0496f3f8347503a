"""Colour-trace lines: regions across them are paired, and a new shadow takes its colour."""

from __future__ import annotations

import cv2
import numpy as np

from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.engine.trace_pairs import TracePartners, trace_pairs
from celcolor.lineart import extract_ink, label_regions

H, W = 120, 220
BASE, SHADOW, PAPER = (230, 200, 120), (150, 110, 60), (235, 240, 250)
RED = (255, 0, 0)


def frame(right_shadow: bool, colour: bool) -> np.ndarray:
    """Two discs of one base colour; the left always shows a shadow band behind a red
    trace line, the right only when ``right_shadow``."""
    img = np.full((H, W, 3), PAPER if colour else (255, 255, 255), np.uint8)
    for cx, shadow in ((60, True), (160, right_shadow)):
        disc = np.zeros((H, W), np.uint8)
        cv2.circle(disc, (cx, 60), 40, 1, -1)
        if colour:
            img[disc > 0] = BASE
        if shadow:
            band = disc.copy()
            band[:, : cx + 10] = 0  # the part right of a vertical chord
            if colour:
                img[band > 0] = SHADOW
            else:
                chord = np.zeros_like(disc)
                cv2.line(chord, (cx + 10, 0), (cx + 10, H), 1, 2)
                img[(chord > 0) & (disc > 0)] = RED
        cv2.circle(img, (cx, 60), 40, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def test_trace_pairs_finds_the_regions_across_a_red_line():
    sketch = frame(right_shadow=False, colour=False)
    art = extract_ink(sketch)
    regions = label_regions(art.ink_u8)
    pairs = trace_pairs(art, regions)
    base, band = regions.labels[60, 40], regions.labels[60, 90]
    assert base != band and base > 0 and band > 0
    rows = {(int(a), int(b)): int(h) for a, b, h, _ in pairs}
    assert (min(base, band), max(base, band)) in rows
    assert rows[(min(base, band), max(base, band))] == 0  # red hue bin


def test_partners_repair_the_smaller_side():
    partners = TracePartners()
    partners.learn(np.array([[1, 2, 0, 50]]), np.array([0, 3, 7]))  # colour 3 | red | colour 7
    colours = np.array([0, 3, 3, 3])
    areas = np.array([0, 500, 100, 900])
    changed = partners.repair(np.array([[1, 2, 0, 20], [2, 3, 4, 20]]), colours, areas)
    assert changed == 1 and colours.tolist() == [0, 3, 7, 3]  # hue 4 was never taught


def test_a_shadow_hidden_at_the_keyframe_gets_its_colour_from_the_trace_line():
    sketches = [frame(right_shadow=i >= 2, colour=False) for i in range(4)]
    truth = frame(right_shadow=True, colour=True)
    colorizer = Colorizer(frame(right_shadow=False, colour=True), ColorizeOptions())
    out = list(colorizer.colorize(sketches))
    inside_new_band = out[3][60, 185].astype(int)
    assert np.abs(inside_new_band - SHADOW).max() <= 10, inside_new_band
    assert np.abs(out[3][60, 140].astype(int) - BASE).max() <= 10  # the base stays
    assert np.abs(out[3][60, 185].astype(int) - truth[60, 185].astype(int)).max() <= 10
