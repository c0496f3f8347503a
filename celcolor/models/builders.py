"""The registered model variants (one keyword-only builder each)."""

from __future__ import annotations

from .exemplar import ExemplarConfig, ExemplarNet
from .matcher import MatcherConfig, RegionMatcher
from .registry import register


@register("exemplar")
def exemplar(**config) -> ExemplarNet:
    """The exemplar network: keyframes coloured from a reference of another drawing.

    Its one colour guide is the reference fitted over the drawing.
    """
    config.setdefault("guides", 1)
    return ExemplarNet(ExemplarConfig(**config))


@register("temporal")
def temporal(**config) -> ExemplarNet:
    """The exemplar network with a second guide: the previous output warped by the flow."""
    config.setdefault("guides", 2)
    return ExemplarNet(ExemplarConfig(**config))


@register("matcher")
def matcher(**config) -> RegionMatcher:
    """The region matcher: rates each keyframe region's candidate reference colours."""
    return RegionMatcher(MatcherConfig(**config))
