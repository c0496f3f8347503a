"""Placing a coloured reference over a keyframe's line art.

When the reference is the coloured version of the keyframe's drawing, its
lines sit on the sketch's lines up to a small offset and scale (a different
export size, a crop). Both images are reduced to thin dark structures (a
black-hat filter keeps lines and drops large dark fills such as hair), the
reference is fitted by ECC (affine), and the fit is accepted when the lines
overlap. Otherwise the reference is another drawing: it is fitted by the
bounding boxes of the lines and ECC, and then, since parts of another drawing move
on their own (an arm, a head turning), the fit is refined locally by optical flow
between the keyframe's lines and the placed reference's own lines
(:func:`fit_locally`): a classical correspondence, which both the copy and the
exemplar network's colour guide use.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_WORK_LONG_SIDE = 512
# A keyframe is "the same drawing" when its lines and the reference's (at equal
# density) coincide within 2 px at work scale this much better than chance.
SAME_DRAWING_OVERLAP = 0.35
# A reference of the frame's shape is most likely a frame of the cut (a keyframe, or
# the full picture of which the sketch is one layer), framed as the frame is. A fit
# that shrinks or enlarges it is then taken only when it is better by this much per
# unit of |log scale|: squeezing a whole picture onto a character layer packs its
# lines where the layer's are, which the chance-corrected overlap would reward. Not
# for a re-key at a new shot, which may be a close-up (place_reference's ``framed``;
# with the rule there, the Anime2Sketch clips whole fell from 11.67 to 11.47 dB).
SCALE_PRIOR = 0.15
# ... and one rescaled past this factor either way is not taken at all: a character
# entering an empty layer shows only its feet, and the whole picture squeezed eight
# times onto them passed the same-drawing test (LayerAnimate demo 2).
MAX_SAME_SHAPE_SCALE = 2.0
_SAME_SHAPE = 0.03  # aspect ratios within 3% count as the frame's shape
# DIS preset of the keyframe fit (fit_locally): one flow per keyframe, so the accurate
# "medium" rather than the per-frame "ultrafast"; training guides use the same.
FIT_DIS_PRESET = "medium"


@dataclass
class Placement:
    """How a reference lies over a frame.

    Attributes:
        matrix: ``2,3`` affine map from frame pixels to reference pixels (for
            ``cv2.warpAffine`` with ``WARP_INVERSE_MAP``).
        overlap: share of the frame's line pixels near a reference line (0..1),
            the smaller of the two directions.
        same_drawing: True when the overlap says the reference is this drawing.
    """

    matrix: np.ndarray
    overlap: float
    same_drawing: bool


def line_structure(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Thin dark structures of an image at ``size`` (w, h), as float32 in [0, 1].

    Measured on the max channel (HSV value): black outlines are dark there while
    colour-trace lines are bright, since a finished reference paints those over.
    """
    grey = cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    lines = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)
    return lines.astype(np.float32) / 255.0


def _masks(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Line masks of equal density: ``a``'s lines, and as many of ``b``'s strongest.

    A finished frame's lines are fainter than a sketch's (thin, brown, shaded), so
    a fixed threshold would find almost none; equal density compares like with like.
    """
    ma = a > 0.25
    share = float(ma.mean())
    if ma.sum() < 20 or share > 0.5:
        return None
    cut = float(np.quantile(b, 1.0 - share))
    mb = b > max(cut, 0.02)
    return (ma, mb) if mb.sum() >= 20 else None


def _near(a: np.ndarray, near_a: np.ndarray, b: np.ndarray, kernel: np.ndarray) -> float:
    """Mean of the shares of each uint8 0/1 mask's pixels within the kernel of the other's.

    ``near_a`` is ``a`` dilated by ``kernel`` (one dilation serves every shift of ``b``).
    """
    near_b = cv2.dilate(b, kernel)
    a_hits = cv2.countNonZero(cv2.bitwise_and(a, near_b)) / cv2.countNonZero(a)
    b_hits = cv2.countNonZero(cv2.bitwise_and(b, near_a)) / cv2.countNonZero(b)
    return 0.5 * (a_hits + b_hits)


def line_overlap(a: np.ndarray, b: np.ndarray) -> float | None:
    """How much better than chance two line images coincide (0 chance, 1 exactly).

    ``a`` and ``b`` are float line images in [0, 1] of one size. Chance is the
    coincidence with ``b`` moved far off (four large shifts): a dense drawing lies
    near many lines of any other drawing, a matching one far nearer. None when
    ``a`` has too few lines (or too many) to tell.
    """
    masks = _masks(a, b)
    if masks is None:
        return None
    ma, mb = (m.view(np.uint8) for m in masks)
    kernel = np.ones((5, 5), np.uint8)
    near_a = cv2.dilate(ma, kernel)
    hit = _near(ma, near_a, mb, kernel)
    h, w = ma.shape
    shifts = ((h // 8, w // 6), (-h // 8, w // 6), (h // 8, -w // 6), (-h // 8, -w // 6))
    chance = float(
        np.mean([_near(ma, near_a, np.roll(mb, s, axis=(0, 1)), kernel) for s in shifts])
    )
    return max(0.0, (hit - chance) / max(1.0 - chance, 1e-6))


def unmet_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of ``a``'s lines with no line of ``b`` near them, not chance-corrected.

    ``a`` and ``b`` are float line images in [0, 1] of one size, lines and nearness
    as :func:`line_overlap` takes them. For where that cannot tell: a drawing after an
    empty frame is all new. 0 when ``a`` has too few lines.
    """
    ma = (a > 0.25).view(np.uint8)
    count = cv2.countNonZero(ma)
    if count < 20:
        return 0.0
    near_b = cv2.dilate((b > 0.25).view(np.uint8), np.ones((5, 5), np.uint8))
    return 1.0 - cv2.countNonZero(cv2.bitwise_and(ma, near_b)) / count


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`line_overlap`, 0 where it cannot tell (a fit is then no better than none)."""
    overlap = line_overlap(a, b)
    return 0.0 if overlap is None else overlap


def _bbox(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) < 20:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def place_reference(
    sketch_rgb: np.ndarray,
    reference_rgb: np.ndarray,
    work_long_side: int = _WORK_LONG_SIDE,
    framed: bool = True,
) -> Placement:
    """Fit a reference over a keyframe's line art.

    Args:
        sketch_rgb: ``H,W,3`` uint8 keyframe line art.
        reference_rgb: ``h,w,3`` uint8 coloured reference, any size.
        work_long_side: the fit runs at this long side (training data, whose frames
            are small, fits at their own size: upsampling costs time and adds nothing).
        framed: a reference of the frame's shape is framed as the frame is (see
            SCALE_PRIOR). False for a new drawing met mid-cut (a re-key): a new shot
            may be a close-up of what the key shows wide.

    Returns:
        The :class:`Placement` of the reference.
    """
    fh, fw = sketch_rgb.shape[:2]
    rh, rw = reference_rgb.shape[:2]
    fs = work_long_side / max(fh, fw)  # frame full -> work
    frame_size = (max(8, round(fw * fs)), max(8, round(fh * fs)))
    # Work on the reference at the same work scale as its frame-sized version.
    rs_x, rs_y = frame_size[0] / rw, frame_size[1] / rh
    sketch_lines = line_structure(sketch_rgb, frame_size)
    ref_lines = line_structure(reference_rgb, frame_size)

    def warp(m: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            ref_lines, m, frame_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )

    candidates = [np.eye(2, 3, dtype=np.float32)]
    boxes = _bbox(sketch_lines > 0.25), _bbox(ref_lines > 0.25)
    if boxes[0] is not None and boxes[1] is not None:
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
        s = 0.5 * ((bx1 - bx0) / max(ax1 - ax0, 1) + (by1 - by0) / max(ay1 - ay0, 1))
        candidates.append(
            np.array(
                [
                    [s, 0, (bx0 + bx1) / 2 - s * (ax0 + ax1) / 2],
                    [0, s, (by0 + by1) / 2 - s * (ay0 + ay1) / 2],
                ],
                np.float32,
            )
        )
    same_shape = framed and abs(np.log((rw / rh) / (fw / fh))) < _SAME_SHAPE

    def prior(m: np.ndarray) -> float:
        """What a fit's scale costs against the identity (see SCALE_PRIOR); infinite
        past MAX_SAME_SHAPE_SCALE."""
        if not same_shape:
            return 0.0
        scale = np.sqrt(max(abs(float(np.linalg.det(m[:, :2]))), 1e-6))
        if abs(np.log(scale)) > np.log(MAX_SAME_SHAPE_SCALE):
            return float("inf")
        return SCALE_PRIOR * abs(float(np.log(scale)))

    template = cv2.GaussianBlur(sketch_lines, (0, 0), 1.5)
    moving = cv2.GaussianBlur(ref_lines, (0, 0), 1.5)
    best_m, best_raw = candidates[0], _overlap(sketch_lines, warp(candidates[0]))
    best_score = best_raw
    for init in candidates:
        m = init.copy()
        try:
            _, m = cv2.findTransformECC(
                template,
                moving,
                m,
                cv2.MOTION_AFFINE,
                (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5),
                None,
                5,
            )
        except cv2.error:
            m = init  # ECC did not converge: keep the starting fit
        for cand in (m, init):
            raw = _overlap(sketch_lines, warp(cand))
            score = raw - prior(cand)
            if score > best_score:
                best_m, best_raw, best_score = cand, raw, score
    # Work-scale matrix maps work-frame px -> work-ref px (ref resized to frame_size).
    full = np.zeros((2, 3), np.float32)
    full[0, :2] = best_m[0, :2] * fs / rs_x
    full[1, :2] = best_m[1, :2] * fs / rs_y
    full[0, 2] = best_m[0, 2] / rs_x
    full[1, 2] = best_m[1, 2] / rs_y
    return Placement(matrix=full, overlap=best_raw, same_drawing=best_raw >= SAME_DRAWING_OVERLAP)


def warp_reference(
    reference: np.ndarray, placement: Placement, size: tuple[int, int], *, fill: int = 255
) -> np.ndarray:
    """The reference (any ``H,W`` or ``H,W,C`` uint8 map of it) on the frame's grid.

    Nearest sampling keeps palette indices intact; pixels outside get ``fill``.
    """
    return cv2.warpAffine(
        reference,
        placement.matrix,
        size,
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )


def fit_locally(
    sketch_image: np.ndarray, placed_rgb: np.ndarray, flow
) -> tuple[np.ndarray, np.ndarray]:
    """Refine a placement: where each keyframe pixel lies in the placed reference.

    Args:
        sketch_image: the keyframe's flow-friendly image at work size
            (:func:`celcolor.temporal.flow.flow_friendly`).
        placed_rgb: ``H,W,3`` uint8 reference on the keyframe's grid
            (:func:`warp_reference`, white outside), full size.
        flow: a flow backend (``flow(a, b)`` on ``a``'s grid into ``b``).

    Returns:
        ``H,W,2`` float32 sampling map into ``placed_rgb`` (for ``cv2.remap``) and an
        ``H,W`` uint8 mask of pixels that pass the forward-backward occlusion test.
    """
    from ..lineart.xdog import reference_ink
    from ..metrics.flowcheck import occlusion_mask
    from ..temporal.flow import flow_friendly, sampling_map

    h, w = placed_rgb.shape[:2]
    small = (sketch_image.shape[1], sketch_image.shape[0])
    ink = cv2.convertScaleAbs(reference_ink(placed_rgb), alpha=255.0)
    ref_image = flow_friendly(ink, small)
    fwd = flow(sketch_image, ref_image)
    back = flow(ref_image, sketch_image)
    visible = occlusion_mask(fwd, back).astype(np.uint8)
    return sampling_map(fwd, (w, h)), cv2.resize(visible, (w, h), interpolation=cv2.INTER_NEAREST)


def reference_guide(
    reference: np.ndarray,
    placement: Placement,
    size: tuple[int, int],
    sample: np.ndarray | None = None,
) -> np.ndarray:
    """The network's colour guide from a placed reference: ``H,W,4`` float32 in [0, 1].

    Channels: the reference's colours on the frame's grid (what the classical path
    copies) and a confidence, 1 where the reference lands and 0 outside it.
    ``sample``: a local refinement of the placement (:func:`fit_locally`), or None.
    """
    rgb = warp_reference(reference, placement, size, fill=0)
    inside = warp_reference(np.full(reference.shape[:2], 255, np.uint8), placement, size, fill=0)
    guide = np.dstack([rgb, inside])
    if sample is not None:
        guide = cv2.remap(
            guide, sample, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
    return guide.astype(np.float32) * (1.0 / 255.0)
