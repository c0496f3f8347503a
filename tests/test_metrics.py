"""Tests for celcolor.metrics on small synthetic clips with known answers."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from celcolor.metrics import (
    ALEXNET_CHECKPOINT,
    PSNR_CAP_DB,
    LPIPSMetric,
    LPIPSWeightsError,
    backward_warp,
    cdc,
    load_lpips,
    occlusion_mask,
    psnr,
    region_accuracy,
    ssim,
    temporal_consistency_ratio,
    warp_error,
)

# ----------------------------------------------------------------------------- helpers


def texture(h: int, w: int, seed: int = 0, sigma: float = 1.0) -> np.ndarray:
    """A smooth random RGB texture, uint8."""
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).round().astype(np.uint8)


def const_flow(h: int, w: int, dx: float, dy: float) -> np.ndarray:
    flow = np.empty((h, w, 2), np.float32)
    flow[..., 0] = dx
    flow[..., 1] = dy
    return flow


def panning_cut(n: int = 4, h: int = 32, w: int = 96, step: int = 3):
    """Frames of a wide texture seen through a window sliding right by `step` px per frame.

    Content moves left: frame_{t+1}(x) = frame_t(x + step), so the backward flow
    (t+1 -> t) is (+step, 0) and the forward flow (t -> t+1) is (-step, 0).
    """
    big = texture(h, w + step * n, seed=1)
    frames = [big[:, step * k : step * k + w].copy() for k in range(n)]
    fwd = [const_flow(h, w, -step, 0) for _ in range(n - 1)]
    bwd = [const_flow(h, w, step, 0) for _ in range(n - 1)]
    return frames, fwd, bwd


# ------------------------------------------------------------ straightforward references


def ref_bilinear_clamp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """FlowNet2 Resample2d as Lai et al. use it: bilinear, coordinates clamped."""
    h, w = flow.shape[:2]
    out = np.zeros(flow.shape[:2] + img.shape[2:], np.float64)
    for y in range(h):
        for x in range(w):
            xf = x + float(flow[y, x, 0])
            yf = y + float(flow[y, x, 1])
            a, b = xf - math.floor(xf), yf - math.floor(yf)
            xl = min(max(math.floor(xf), 0), w - 1)
            xr = min(max(math.floor(xf) + 1, 0), w - 1)
            yt = min(max(math.floor(yf), 0), h - 1)
            yb = min(max(math.floor(yf) + 1, 0), h - 1)
            out[y, x] = (
                (1 - a) * (1 - b) * img[yt, xl]
                + a * (1 - b) * img[yt, xr]
                + (1 - a) * b * img[yb, xl]
                + a * b * img[yb, xr]
            )
    return out


def ref_valid(fw: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Lai et al.'s detect_occlusion(fw, bw), pixel by pixel; True = not occluded."""
    h, w = bw.shape[:2]
    fw_w = ref_bilinear_clamp(fw.astype(np.float64), bw)
    valid = np.ones((h, w), bool)
    for y in range(h):
        for x in range(w):
            f = fw_w[y, x]
            b = bw[y, x].astype(np.float64)
            s = f + b
            mask1 = s @ s > 0.01 * (f @ f + b @ b) + 0.5
            grad = 0.0
            if x < w - 1:
                d = bw[y, x].astype(np.float64) - bw[y, x + 1]
                grad += d @ d
            if y < h - 1:
                d = bw[y, x].astype(np.float64) - bw[y + 1, x]
                grad += d @ d
            mask2 = grad > 0.01 * (b @ b) + 0.002
            valid[y, x] = not (mask1 or mask2)
    return valid


def ref_warp_error(frames, fwd, bwd) -> list[float]:
    errs = []
    for t in range(len(frames) - 1):
        valid = ref_valid(fwd[t], bwd[t])
        warped = ref_bilinear_clamp(frames[t].astype(np.float64) / 255, bwd[t])
        cur = frames[t + 1].astype(np.float64) / 255
        num, den = 0.0, 0
        for y in range(valid.shape[0]):
            for x in range(valid.shape[1]):
                if valid[y, x]:
                    for c in range(3):
                        num += (cur[y, x, c] - warped[y, x, c]) ** 2
                        den += 1
        errs.append(num / den if den else 0.0)
    return errs


def ref_cdc(frames, distances=(1, 2, 4)) -> float:
    """TCVC's calculate_folders_multiple for one video, with plain loops."""

    def hist(frame, c):
        h = [0] * 256
        for v in frame[..., c].ravel():
            h[int(v)] += 1
        n = frame.shape[0] * frame.shape[1]
        return [v / n for v in h]

    def kl(p, q):
        return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0)

    def jsd(p, q):
        m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
        return 0.5 * kl(p, m) + 0.5 * kl(q, m)

    per_channel = []
    for c in range(3):
        hists = [hist(f, c) for f in frames]
        total = 0.0
        for d in distances:
            js = [jsd(hists[i], hists[i + d]) for i in range(len(hists) - d)]
            total += (1 / len(distances)) * (sum(js) / len(js))
        per_channel.append(total)
    return sum(per_channel) / 3


# ----------------------------------------------------------------------- backward_warp


def test_backward_warp_integer_shift_and_valid():
    img = texture(12, 16)
    flow = const_flow(12, 16, 2, -1)  # out[y, x] = img[y - 1, x + 2]
    out, valid = backward_warp(img, flow, return_valid=True)
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out[1:, :-2], img[:-1, 2:])
    expected_valid = np.zeros((12, 16), bool)
    expected_valid[1:, :-2] = True
    np.testing.assert_array_equal(valid, expected_valid)


def test_backward_warp_bilinear_half_pixel():
    img = np.array([[0.0, 1.0, 3.0]], np.float32)
    out = backward_warp(img, const_flow(1, 3, 0.5, 0))
    np.testing.assert_allclose(out, [[0.5, 2.0, 3.0]], atol=1e-6)  # last sample replicated


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint16])
def test_backward_warp_nearest_keeps_labels(dtype):
    labels = (np.arange(20).reshape(4, 5) * 100_003).astype(dtype)
    out = backward_warp(labels, const_flow(4, 5, 1, 0), interpolation="nearest", border="constant")
    assert out.dtype == labels.dtype
    np.testing.assert_array_equal(out[:, :-1], labels[:, 1:])
    assert not out[:, -1].any()


def test_backward_warp_keeps_single_channel_and_rejects_bad_input():
    img = np.zeros((4, 5, 1), np.float32)
    assert backward_warp(img, const_flow(4, 5, 0, 0)).shape == (4, 5, 1)
    with pytest.raises(TypeError, match="nearest"):
        backward_warp(np.zeros((4, 5), np.int64), const_flow(4, 5, 0, 0))
    with pytest.raises(ValueError, match="spatial size"):
        backward_warp(img, const_flow(4, 6, 0, 0))


# ----------------------------------------------------------------------- occlusion mask


def two_layer_motion(h: int = 40, w: int = 48, x0: int = 10, size: int = 10, step: int = 4):
    """Static background, a textured square moving right by `step` px."""
    background = texture(h, w, seed=2)
    square = texture(size, size, seed=3, sigma=0.7)
    y0 = 15
    frame0 = background.copy()
    frame0[y0 : y0 + size, x0 : x0 + size] = square
    frame1 = background.copy()
    frame1[y0 : y0 + size, x0 + step : x0 + step + size] = square
    fwd = np.zeros((h, w, 2), np.float32)
    fwd[y0 : y0 + size, x0 : x0 + size, 0] = step
    bwd = np.zeros((h, w, 2), np.float32)
    bwd[y0 : y0 + size, x0 + step : x0 + step + size, 0] = -step
    return [frame0, frame1], fwd, bwd, (y0, x0, size, step)


def test_occlusion_mask_flags_disoccluded_band():
    _, fwd, bwd, (y0, x0, size, step) = two_layer_motion()
    valid = occlusion_mask(fwd, bwd)
    assert valid.shape == bwd.shape[:2] and valid.dtype == np.bool_
    rows = slice(y0, y0 + size)
    # Background uncovered in frame 1 (hidden behind the square in frame 0).
    assert not valid[rows, x0 : x0 + step].any()
    # Motion boundaries of B: the column before and the last column of the square.
    assert not valid[rows, x0 + step - 1].any()
    assert not valid[rows, x0 + step + size - 1].any()
    # Far background and the square's interior are consistent.
    assert valid[: y0 - 2].all() and valid[y0 + size + 1 :].all()
    assert valid[y0 + 1 : y0 + size - 2, x0 + step + 1 : x0 + step + size - 2].all()
    np.testing.assert_array_equal(valid, ref_valid(fwd, bwd))


def test_occlusion_mask_outside_invalid():
    _, fwd, bwd = panning_cut(n=2, w=40)
    assert occlusion_mask(fwd[0], bwd[0]).all()  # Lai et al.: edge samples are replicated
    valid = occlusion_mask(fwd[0], bwd[0], outside_invalid=True)
    assert valid[:, :-3].all() and not valid[:, -3:].any()


def test_two_layer_warp_error_is_zero_only_with_the_mask():
    frames, fwd, bwd, _ = two_layer_motion()
    masked = warp_error(frames, [fwd], [bwd])
    assert masked.mean < 1e-12
    assert 0.5 < masked.valid_fraction[0] < 1.0
    # Same frames scored on every pixel (zero flows are consistent everywhere) flicker.
    unmasked = warp_error(frames, [np.zeros_like(fwd)], [np.zeros_like(bwd)])
    assert unmasked.mean > 1e-3


# -------------------------------------------------------------------------- warp error


def test_identical_video_scores_perfectly():
    frame = texture(24, 32)
    frames = [frame] * 4
    zeros = [const_flow(24, 32, 0, 0)] * 3
    result = warp_error(frames, zeros, zeros)
    assert result.mean == 0.0
    np.testing.assert_array_equal(result.per_pair, [0.0, 0.0, 0.0])
    scores = psnr(frames, frames)
    np.testing.assert_array_equal(scores.per_frame, [PSNR_CAP_DB] * 4)
    assert scores.mean == PSNR_CAP_DB
    assert ssim(frames, frames).mean == pytest.approx(1.0, abs=1e-6)
    assert cdc(frames) == 0.0


def test_hand_constructed_warp_error():
    black = np.zeros((8, 8, 3), np.uint8)
    grey = np.full((8, 8, 3), 51, np.uint8)  # 51 / 255 = 0.2
    zeros = [const_flow(8, 8, 0, 0)] * 2
    result = warp_error([black, grey, grey], zeros, zeros)
    np.testing.assert_allclose(result.per_pair, [0.04, 0.0], rtol=1e-6)
    assert result.mean == pytest.approx(0.02, rel=1e-6)
    np.testing.assert_array_equal(result.valid_fraction, [1.0, 1.0])


def test_global_shift_true_flow_beats_zero_flow():
    frames, fwd, bwd = panning_cut()
    true_flow = warp_error(frames, fwd, bwd)
    zeros = [np.zeros_like(f) for f in fwd]
    zero_flow = warp_error(frames, zeros, zeros)
    # Only the last 3 columns (content that entered the frame) differ with the true flow.
    assert true_flow.mean < 0.1 * zero_flow.mean
    assert zero_flow.mean > 0.01
    for t in range(len(frames) - 1):
        warped = backward_warp(frames[t], bwd[t])
        np.testing.assert_array_equal(warped[:, :-3], frames[t + 1][:, :-3])


def test_warp_error_matches_reference_loops():
    rng = np.random.default_rng(5)
    h, w = 7, 9
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(3)]
    fwd, bwd = [], []
    for _ in range(2):
        # Quarter-pixel flows (exact in cv2's 1/32 px interpolation table), smooth
        # enough that the mask keeps some pixels and drops others.
        f = const_flow(h, w, 1.25, -0.5)
        b = const_flow(h, w, -1.25, 0.5)
        b[2:5, 3:6] = (0.75, 0.25)
        f[1:3, 1:3] = (-0.5, 0.75)
        fwd.append(f)
        bwd.append(b)
    valid = occlusion_mask(fwd[0], bwd[0])
    assert valid.any() and not valid.all()
    np.testing.assert_array_equal(valid, ref_valid(fwd[0], bwd[0]))
    result = warp_error(frames, fwd, bwd)
    np.testing.assert_allclose(result.per_pair, ref_warp_error(frames, fwd, bwd), rtol=1e-5)


def test_warp_error_rejects_wrong_flow_count():
    frames, fwd, bwd = panning_cut(n=3)
    with pytest.raises(ValueError, match="ran out"):
        warp_error(frames, fwd[:1], bwd)
    with pytest.raises(ValueError, match="more flows"):
        warp_error(frames[:2], fwd, bwd)


# ------------------------------------------------------------------ flicker, TC and CDC


def flicker_cuts(n: int = 6):
    base = texture(32, 40, sigma=2.0)
    steady = [base.copy() for _ in range(n)]
    flicker = [
        np.clip(base.astype(np.int16) + (25 if k % 2 else -25), 0, 255).astype(np.uint8)
        for k in range(n)
    ]
    zeros = [const_flow(32, 40, 0, 0)] * (n - 1)
    return steady, flicker, zeros


def test_flickering_cut_scores_worse_than_steady():
    steady, flicker, zeros = flicker_cuts()
    e_steady = warp_error(steady, zeros, zeros).mean
    e_flicker = warp_error(flicker, zeros, zeros).mean
    assert e_steady == 0.0
    assert e_flicker > 0.01  # about (50 / 255)^2 away from the clipped ends
    assert cdc(steady) == 0.0
    assert cdc(flicker) > 0.05


def test_temporal_consistency_ratio():
    frames, fwd, bwd = panning_cut()
    same = temporal_consistency_ratio(frames, frames, fwd, bwd)
    assert same.ratio == 1.0 and float(same) == 1.0
    rng = np.random.default_rng(0)
    noisy = [
        np.clip(f.astype(np.int16) + rng.integers(-20, 21, f.shape), 0, 255).astype(np.uint8)
        for f in frames
    ]
    worse = temporal_consistency_ratio(noisy, frames, fwd, bwd)
    assert worse.ratio > 1.5
    assert worse.ratio == pytest.approx(worse.output.mean / worse.truth.mean)
    assert worse.truth.mean == pytest.approx(warp_error(frames, fwd, bwd).mean)


def test_temporal_consistency_ratio_still_truth():
    steady, flicker, zeros = flicker_cuts()
    assert temporal_consistency_ratio(flicker, steady, zeros, zeros).ratio == math.inf
    assert temporal_consistency_ratio(steady, steady, zeros, zeros).ratio == 1.0


def test_cdc_matches_reference_loops():
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (5, 6, 3), dtype=np.uint8) for _ in range(6)]
    assert cdc(frames) == pytest.approx(ref_cdc(frames), rel=1e-9)
    assert cdc(frames, distances=(1,)) == pytest.approx(ref_cdc(frames, (1,)), rel=1e-9)
    # Generators stream.
    assert cdc(iter(frames)) == pytest.approx(ref_cdc(frames), rel=1e-9)


def test_cdc_short_cut_drops_unusable_distances():
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (5, 6, 3), dtype=np.uint8) for _ in range(3)]
    assert cdc(frames) == pytest.approx(ref_cdc(frames, (1, 2)), rel=1e-9)
    with pytest.raises(ValueError, match="at least 2 frames"):
        cdc(frames[:1])
    with pytest.raises(TypeError, match="uint8"):
        cdc([f.astype(np.float32) for f in frames])


# ---------------------------------------------------------------------- PSNR and SSIM


def test_psnr_known_value():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 51, np.uint8)  # MSE = 0.04 -> 10 log10(25) dB
    scores = psnr([a, a], [b, a])
    np.testing.assert_allclose(scores.per_frame, [10 * math.log10(25), PSNR_CAP_DB])
    assert scores.mean == pytest.approx((10 * math.log10(25) + PSNR_CAP_DB) / 2)
    assert psnr(a, b).per_frame.shape == (1,)
    with pytest.raises(ValueError, match="more frames"):
        psnr([a, a], [a])


def test_ssim_drops_with_noise():
    clean = texture(32, 32, sigma=2.0)
    rng = np.random.default_rng(1)
    noisy = np.clip(clean.astype(np.int16) + rng.integers(-40, 41, clean.shape), 0, 255)
    value = ssim(noisy.astype(np.uint8), clean).mean
    assert 0.0 < value < 0.9


# ----------------------------------------------------------------------------- LPIPS


@functools.cache
def _random_alexnet_state() -> dict[str, torch.Tensor]:
    import torchvision

    torch.manual_seed(0)
    state = torchvision.models.alexnet(weights=None).state_dict()
    return {k: v for k, v in state.items() if k.startswith(("features.", "classifier.6."))}


def small_alexnet_state() -> dict[str, torch.Tensor]:
    """Random-initialised torchvision AlexNet tensors: features plus one classifier
    layer (to show the classifier is dropped). Only for testing the loader."""
    return dict(_random_alexnet_state())


def test_lpips_without_weights_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert load_lpips() is None


def test_lpips_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope" / ALEXNET_CHECKPOINT
    with pytest.raises(LPIPSWeightsError, match="not found") as info:
        load_lpips(missing)
    assert isinstance(info.value, FileNotFoundError)


def test_lpips_loader_maps_torchvision_keys_random_weights(tmp_path):
    """Tests the key mapping of the loader only: random weights, never a metric."""
    state = small_alexnet_state()
    path = tmp_path / "random_alexnet_for_loader_test.pth"
    torch.save(state, path)
    metric = load_lpips(path)
    assert isinstance(metric, LPIPSMetric)
    net = metric.model.net
    for slice_name, idx in [("slice1", "0"), ("slice2", "3"), ("slice3", "6")]:
        for param in ("weight", "bias"):
            loaded = getattr(getattr(net, slice_name), idx).state_dict()[param]
            assert torch.equal(loaded, state[f"features.{idx}.{param}"])
    assert torch.equal(getattr(net.slice5, "10").bias, state["features.10.bias"])
    # The heads came from the lpips package, not left at their random init.
    import lpips

    heads = torch.load(
        Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth",
        map_location="cpu",
        weights_only=True,
    )
    assert torch.equal(metric.model.lins[2].model[1].weight, heads["lin2.model.1.weight"])
    frame = texture(32, 32)
    scores = metric([frame, frame], [frame, 255 - frame])
    assert scores.per_frame.shape == (2,) and scores.per_frame[0] == pytest.approx(0.0, abs=1e-6)


def test_lpips_rejects_wrong_keys_and_bad_hash(tmp_path, monkeypatch):
    state = small_alexnet_state()
    del state["features.10.bias"]
    path = tmp_path / "incomplete.pth"
    torch.save(state, path)
    with pytest.raises(LPIPSWeightsError, match="not torchvision's AlexNet"):
        load_lpips(path)
    torch.save({"module.features.0.weight": torch.zeros(1)}, path)
    with pytest.raises(LPIPSWeightsError, match="unexpected key"):
        load_lpips(path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")  # unpickling it fails with a bare number: the message says more
    with pytest.raises(LPIPSWeightsError, match=r"not a PyTorch weights file\? \w+Error"):
        load_lpips(text)
    # A cached file under torchvision's name whose content does not match its hash.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / ALEXNET_CHECKPOINT
    cached.parent.mkdir(parents=True)
    torch.save(small_alexnet_state(), cached)
    with pytest.raises(LPIPSWeightsError, match="sha256"):
        load_lpips()


# ---------------------------------------------------------------------- region accuracy


def region_case():
    truth = np.zeros((10, 10, 3), np.uint8)
    regions = np.zeros((10, 10), np.int32)
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]
    for rid, (ys, xs) in enumerate(
        [(slice(0, 5), slice(0, 5)), (slice(0, 5), slice(5, 10)), (slice(5, 10), slice(0, 5)),
         (slice(5, 10), slice(5, 10))]
    ):  # fmt: skip
        regions[ys, xs] = rid
        truth[ys, xs] = colours[rid]
    lines = np.zeros((10, 10), bool)
    lines[9] = True  # 5 line pixels in region 2 and 5 in region 3
    pred = truth.copy()
    pred[0, 0] = (0, 0, 0)  # region 0: 24/25 correct -> region correct
    pred[0:5, 5] = (0, 0, 0)  # region 1: 20/25 -> wrong
    pred[9, 0:5] = (0, 0, 0)  # region 2: errors only on the line -> 20/20
    pred[5, 5, 0] += 10  # region 3: |diff| = 10, within tol=10
    pred[6, 6, 1] -= 11  # region 3: |diff| = 11, wrong -> 19/20 = 0.95 -> correct
    return pred, truth, regions, lines


def test_region_accuracy_known_fractions():
    pred, truth, regions, lines = region_case()
    acc = region_accuracy(pred, truth, regions, lines=lines)
    assert acc.n_pixels == 90 and acc.n_regions == 4
    assert acc.pixel == pytest.approx(83 / 90)
    assert acc.region == pytest.approx(3 / 4)
    exact = region_accuracy(pred, truth, regions, lines=lines, tol=0)
    assert exact.pixel == pytest.approx(82 / 90)
    assert exact.region == pytest.approx(2 / 4)  # region 3 drops to 18/20
    no_lines = region_accuracy(pred, truth, regions)
    assert no_lines.pixel == pytest.approx(88 / 100)
    assert no_lines.region == pytest.approx(2 / 4)  # region 2 now 20/25
    # A float ink map works as a line mask, and sequences average per frame.
    ink = lines.astype(np.float32) * 0.9
    seq = region_accuracy(
        np.stack([pred, truth]), np.stack([truth, truth]), np.stack([regions, regions]),
        lines=np.stack([ink, ink]),
    )  # fmt: skip
    assert seq.pixel == pytest.approx((83 / 90 + 1) / 2)
    assert seq.region == pytest.approx((3 / 4 + 1) / 2)
    assert seq.n_regions == 8


def test_region_accuracy_sparse_ids_and_min_size():
    pred, truth, regions, lines = region_case()
    sparse = regions.astype(np.int64) * 1_000_000_007
    acc = region_accuracy(pred, truth, sparse, lines=lines)
    assert acc.region == pytest.approx(3 / 4)
    big_only = region_accuracy(pred, truth, regions, lines=lines, min_region_pixels=21)
    assert big_only.n_regions == 2 and big_only.region == pytest.approx(1 / 2)


def test_correct_regions_names_the_regions_region_accuracy_counts():
    from celcolor.metrics.quality import correct_regions

    pred, truth, regions, lines = region_case()
    ids, right = correct_regions(pred, truth, regions, lines=lines)
    acc = region_accuracy(pred, truth, regions, lines=lines)
    assert len(ids) == acc.n_regions and right.mean() == pytest.approx(acc.region)
    _, exact = correct_regions(pred, truth, regions, lines=lines, tol=0)
    assert exact.sum() == right.sum() - 1  # region 3 (19/20 within 10, 18/20 exact)
    assert list(ids[right & ~exact]) == [3]
