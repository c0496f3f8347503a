"""Colour-trace lines: regions across them are paired, and a new shadow takes its colour."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.engine.trace_pairs import TracePartners, derive_tone, trace_pairs
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


def test_an_uncovered_region_takes_the_partner_of_the_voted_side_not_the_occluder():
    partners = TracePartners()
    partners.learn(np.array([[1, 2, 0, 50]]), np.array([0, 3, 7]))  # colour 3 | red | colour 7
    # Region 2 was just uncovered: propagation gave it the occluder's colour 5.
    # Region 3 is larger than the voted base 1, so the size rule alone would not pick it.
    colours = np.array([0, 3, 5, 6])
    areas = np.array([0, 100, 900, 50])
    guessed = np.array([False, False, True, True])
    pairs = np.array([[1, 2, 0, 20], [1, 3, 0, 4], [2, 3, 4, 30]])
    changed = partners.repair(pairs, colours, areas, guessed=guessed)
    # 2 faces a voted region across red: it takes 3's partner. 3 faces a voted one
    # too (1, 4 trace pixels); the pair 2|3 of two guesses is no evidence.
    assert colours.tolist() == [0, 3, 7, 7] and changed == 2
    # Without the mark, different colours on the two sides are left as they are.
    colours = np.array([0, 3, 5, 6])
    assert partners.repair(pairs[:2], colours, areas) == 0 and colours.tolist() == [0, 3, 5, 6]


def test_a_band_larger_than_its_base_is_turned_round_by_brightness():
    partners = TracePartners()
    # Across red: two shadows smaller and darker than their bases, and one shadow
    # (colour 6) that covers more of its part than its base (colour 5) does.
    pairs = np.array([[1, 2, 0, 50], [3, 4, 0, 40], [5, 6, 0, 20]])
    colours = np.arange(7)
    areas = np.array([0, 900, 100, 800, 90, 50, 400])
    value = np.array([0, 200, 140, 220, 150, 210, 150])
    partners.learn(pairs, colours, areas)
    assert not partners.is_base(5)  # without brightness the size guess stands
    partners.learn(pairs, colours, areas, value=value)
    assert partners.is_base(5) and not partners.is_base(6)
    assert partners.tones(0) == {(1, 2): 100, (3, 4): 80, (5, 6): 40}


def test_a_shadow_hidden_at_the_keyframe_gets_its_colour_from_the_trace_line():
    sketches = [frame(right_shadow=i >= 2, colour=False) for i in range(4)]
    truth = frame(right_shadow=True, colour=True)
    colorizer = Colorizer(frame(right_shadow=False, colour=True), ColorizeOptions())
    out = list(colorizer.colorize(sketches))
    inside_new_band = out[3][60, 185].astype(int)
    assert np.abs(inside_new_band - SHADOW).max() <= 10, inside_new_band
    assert np.abs(out[3][60, 140].astype(int) - BASE).max() <= 10  # the base stays
    assert np.abs(out[3][60, 185].astype(int) - truth[60, 185].astype(int)).max() <= 10


GREY = (120, 120, 130)


def occluded(x0: int, colour: bool) -> np.ndarray:
    """Both discs with their shadow bands, and a grey card (left edge at ``x0``) on top."""
    img = frame(right_shadow=True, colour=colour)
    cv2.rectangle(img, (x0, 5), (x0 + 70, H - 6), GREY if colour else (255, 255, 255), -1)
    cv2.rectangle(img, (x0, 5), (x0 + 70, H - 6), (0, 0, 0), 2)
    return img


def test_a_band_uncovered_by_a_moving_card_takes_its_partner_not_the_cards_colour():
    # The right disc's shadow band lies under the card at the keyframe; the card
    # slides right and uncovers it. The left disc taught red: base -> shadow.
    xs = [166, 176, 186, 196, 206]
    sketches = [occluded(x, colour=False) for x in xs]
    colorizer = Colorizer(occluded(xs[0], colour=True), ColorizeOptions())
    out = list(colorizer.colorize(sketches))
    uncovered = out[-1][60, 185].astype(int)  # under the card at frame 0, bare at the end
    assert np.abs(uncovered - SHADOW).max() <= 10, uncovered
    assert np.abs(out[-1][60, 140].astype(int) - BASE).max() <= 10  # the base stays


def _shade(rgb, v_ratio=0.72, s_shift=0.08, turn=0.02):
    """A designer's shadow tone: darker by a ratio, more saturated, hue turned."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    r, g, b = colorsys.hsv_to_rgb((h + turn) % 1, min(s + s_shift, 1), v * v_ratio)
    return np.array([r, g, b]) * 255


def test_derive_tone_shades_as_the_examples_do():
    bases = [(230, 200, 120), (120, 170, 220), (200, 120, 150)]
    examples = [(np.array(b, np.uint8), _shade(b).round().astype(np.uint8), 40) for b in bases]
    examples.append((np.array((90, 90, 90), np.uint8), np.array((250, 0, 0), np.uint8), 5))
    new = (140, 210, 130)  # a base none of the examples had
    got = derive_tone(np.array(new, np.uint8), examples).astype(int)
    assert np.abs(got - _shade(new)).max() <= 3, got  # the odd pair is outvoted


def test_partners_derive_a_band_only_for_a_known_base():
    partners = TracePartners()
    # Keyframe: colour 3 has a band 7 across red; colour 5 a band 8 across blue (hue 4).
    pairs = np.array([[1, 2, 0, 50], [3, 4, 4, 50], [5, 6, 0, 10]])
    partners.learn(pairs, np.array([0, 3, 7, 5, 8, 9, 9]), np.array([0, 900, 100, 800, 90, 50, 40]))
    asked = []

    def derive(colour, hue, tones):
        asked.append((colour, hue, dict(tones)))
        return 20

    areas = np.array([0, 900, 100, 900, 100, 900, 100])
    cut_off = np.zeros(7, bool)
    # 5 | red | 5: a base whose red band the keyframe never showed -> derived.
    colours = np.array([0, 0, 0, 5, 5, 0, 0])
    assert partners.repair(np.array([[3, 4, 0, 20]]), colours, areas, derive, cut_off) == 1
    assert colours[4] == 20 and colours[3] == 5
    assert asked == [(5, 0, {(3, 7): 50})]
    assert partners.partner(5, 0) == 20  # remembered: not derived again
    # 9 was on both sides of a red line at the keyframe, 8 is a band (no known base),
    # and a region at the frame's edge may be a base cut short: all left alone.
    for colour in (9, 8):
        colours = np.array([0, 0, 0, colour, colour, 0, 0])
        assert partners.repair(np.array([[3, 4, 0, 20]]), colours, areas, derive, cut_off) == 0
    partners2 = TracePartners()
    partners2.learn(
        pairs, np.array([0, 3, 7, 5, 8, 9, 9]), np.array([0, 900, 100, 800, 90, 50, 40])
    )
    colours = np.array([0, 0, 0, 5, 5, 0, 0])
    edge = cut_off.copy()
    edge[3] = True
    assert partners2.repair(np.array([[3, 4, 0, 20]]), colours, areas, derive, edge) == 0
    assert len(asked) == 1


def test_a_band_the_keyframe_never_showed_for_its_base_is_shaded_like_the_others():
    # Left disc: base A with its shadow band. Right disc: base B with a highlight band
    # (blue line) at the keyframe, its shadow band (red line) only from frame 2 on.
    base_a, base_b = (230, 200, 120), (120, 170, 220)
    shadow_a, shadow_b = _shade(base_a).round(), _shade(base_b).round()
    light_b = (200, 225, 245)

    def draw(shadow_b_shown: bool, colour: bool) -> np.ndarray:
        img = np.full((H, W, 3), PAPER if colour else (255, 255, 255), np.uint8)
        for cx, base, bands in (
            (60, base_a, [(10, shadow_a, RED)]),
            (
                160,
                base_b,
                [(-25, light_b, (0, 60, 255))] + ([(10, shadow_b, RED)] if shadow_b_shown else []),
            ),
        ):
            disc = np.zeros((H, W), np.uint8)
            cv2.circle(disc, (cx, 60), 40, 1, -1)
            if colour:
                img[disc > 0] = base
            for off, tone, line in bands:
                band = disc.copy()
                if off > 0:
                    band[:, : cx + off] = 0  # right of a vertical chord
                else:
                    band[:, cx + off :] = 0  # left of one
                if colour:
                    img[band > 0] = tone
                else:
                    chord = np.zeros_like(disc)
                    cv2.line(chord, (cx + off, 0), (cx + off, H), 1, 2)
                    img[(chord > 0) & (disc > 0)] = line
            cv2.circle(img, (cx, 60), 40, (0, 0, 0), 2, cv2.LINE_AA)
        return img

    sketches = [draw(i >= 2, colour=False) for i in range(4)]
    colorizer = Colorizer(draw(False, colour=True), ColorizeOptions())
    out = list(colorizer.colorize(sketches))
    assert colorizer.stats.derived_tones == 1
    assert np.abs(out[3][60, 185].astype(int) - shadow_b).max() <= 6, out[3][60, 185]
    assert np.abs(out[3][60, 160].astype(int) - base_b).max() <= 10  # the base stays
    assert np.abs(out[1][60, 185].astype(int) - base_b).max() <= 10  # no band yet
