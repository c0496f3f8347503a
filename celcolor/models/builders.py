"""The registered model variants (one keyword-only builder each)."""

from __future__ import annotations

from .exemplar import ExemplarConfig, ExemplarNet
from .registry import register


@register("exemplar")
def exemplar(**config) -> ExemplarNet:
    """The exemplar network: keyframes coloured from a reference of another drawing."""
    return ExemplarNet(ExemplarConfig(**config))


@register("temporal")
def temporal(**config) -> ExemplarNet:
    """The exemplar network with the warped previous colour and its confidence as inputs."""
    config.setdefault("extra_channels", 4)
    return ExemplarNet(ExemplarConfig(**config))
