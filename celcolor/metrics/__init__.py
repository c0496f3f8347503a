"""Metrics for coloured cuts: flicker (E_warp, TC, CDC) and quality (PSNR, SSIM,
LPIPS, region accuracy), plus the flow checks they share with the engine.

Convention:
    Frames are ``H,W,3`` uint8 RGB numpy arrays (or sequences of them). Flows are
    float32 ``H,W,2`` in pixels, x first; ``flows_fwd[t]`` maps frame t -> t+1 and
    lives on frame t's pixels, ``flows_bwd[t]`` maps frame t+1 -> t and lives on
    frame t+1's pixels.
"""

from celcolor.metrics.flicker import (
    TemporalConsistency,
    WarpErrorResult,
    cdc,
    temporal_consistency_ratio,
    warp_error,
)
from celcolor.metrics.flowcheck import backward_warp, occlusion_mask

# quality needs torch and kornia (a second to import); load it on first use so the
# streaming engine, which only needs the flow checks, starts fast.
_QUALITY = {
    "ALEXNET_CHECKPOINT",
    "PSNR_CAP_DB",
    "FrameScores",
    "LPIPSMetric",
    "LPIPSWeightsError",
    "RegionAccuracy",
    "default_alexnet_path",
    "load_lpips",
    "psnr",
    "region_accuracy",
    "ssim",
}


def __getattr__(name: str):
    if name in _QUALITY:
        from celcolor.metrics import quality

        return getattr(quality, name)
    raise AttributeError(f"module 'celcolor.metrics' has no attribute {name!r}")


__all__ = [
    "ALEXNET_CHECKPOINT",
    "PSNR_CAP_DB",
    "FrameScores",
    "LPIPSMetric",
    "LPIPSWeightsError",
    "RegionAccuracy",
    "TemporalConsistency",
    "WarpErrorResult",
    "backward_warp",
    "cdc",
    "default_alexnet_path",
    "load_lpips",
    "occlusion_mask",
    "psnr",
    "region_accuracy",
    "ssim",
    "temporal_consistency_ratio",
    "warp_error",
]
