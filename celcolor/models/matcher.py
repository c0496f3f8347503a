"""The region matcher: rates (region, reference colour) pairs of a keyframe.

Two small MLPs over the rows of :func:`celcolor.engine.region_match.candidate_rows`:
stage 1 reads votes, shapes, the network's idea of the neighbours' colours and how
the neighbours' layout matches the reference's; stage 2 also reads the previous
pass's beliefs about the neighbours and the other regions' claims (relaxation).
Each stage standardises its inputs with the training rows' mean and spread, kept
as buffers so a checkpoint carries them.

A matcher may hold several members, the same two stages fitted from different
seeds, whose probabilities are averaged (:meth:`RegionMatcher.probabilities`):
refits of one recipe agree on generated keyframes to a point but disagree widely on
real frames, far from their training, and the average is steadier on both. Member 0
is ``stage1``/``stage2`` themselves, so a one-member checkpoint keeps the old keys.

A matcher may also hold boosted-tree members (:class:`~celcolor.models.trees.BoostedTrees`,
fitted by scikit-learn, kept as flat tensors): trees and MLPs err on different
regions, so the engine mixes the two families' mean probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .trees import BoostedTrees


@dataclass
class MatcherConfig:
    """Architecture of a region matcher (stored in every checkpoint)."""

    features: int = 28  # len(region_match.FEATURES)
    belief_features: int = 9  # len(region_match.BELIEF_FEATURES), stage 2 only
    hidden: int = 64
    members: int = 1  # fits from different seeds; their probabilities are averaged
    # Boosted-tree members, each [stage-1 nodes, stage-1 trees, stage-2 nodes, stage-2 trees]
    trees: list[list[int]] = field(default_factory=list)
    tree_weight: float = 0.5  # the tree family's share of the probability (when any)

    def as_dict(self) -> dict:
        """Plain dict (for checkpoint metadata)."""
        return asdict(self)


class _Stage(nn.Module):
    """Standardise, then a two-hidden-layer MLP to one logit per row."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.mlp = nn.Sequential(
            nn.Linear(features, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 1),
        )

    def set_standardisation(self, rows: torch.Tensor) -> None:
        """Take the mean and spread of the training rows."""
        self.mean.copy_(rows.mean(0))
        self.scale.copy_(rows.std(0).clamp_min(1e-6))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.mlp((rows - self.mean) / self.scale)[:, 0]


class _TwoStages(nn.Module):
    """One fit: a scorer for pass 1 (``stage1``) and one for the later passes (``stage2``)."""

    stage1: nn.Module
    stage2: nn.Module

    def stage(self, stage: int) -> nn.Module:
        """The scorer of pass 1 or 2."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        return self.stage1 if stage == 1 else self.stage2


class _Member(_TwoStages):
    """One MLP fit."""

    def __init__(self, config: MatcherConfig) -> None:
        super().__init__()
        self.stage1 = _Stage(config.features, config.hidden)
        self.stage2 = _Stage(config.features + config.belief_features, config.hidden)


class _TreeMember(_TwoStages):
    """One boosted-tree fit (raw log-odds out); ``shape`` is its two ensembles' sizes."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        if len(shape) != 4:
            raise ValueError(f"a tree member's shape is 4 numbers, got {shape}")
        self.stage1 = BoostedTrees(shape[0], shape[1])
        self.stage2 = BoostedTrees(shape[2], shape[3])


class RegionMatcher(_Member):
    """Stage 1 and stage 2 scorers (member 0), ``config.members - 1`` more fits and
    the boosted-tree members of ``config.trees``.

    ``forward(rows, stage)`` gives member 0's logits; :meth:`probabilities` the
    members' mean probability, which the engine uses.
    """

    def __init__(self, config: MatcherConfig) -> None:
        super().__init__(config)
        if config.members < 1:
            raise ValueError(f"members must be 1 or more, got {config.members}")
        self.config = config
        self.others = nn.ModuleList(_Member(config) for _ in range(config.members - 1))
        self.tree_members = nn.ModuleList(_TreeMember(shape) for shape in config.trees)

    def members(self) -> list[_Member]:
        """Every fit, member 0 (this module's own stages) first."""
        return [self, *self.others]

    def forward(self, rows: torch.Tensor, stage: int) -> torch.Tensor:
        return self.stage(stage)(rows)

    def probabilities(self, rows: torch.Tensor, stage: int) -> torch.Tensor:
        """The members' mean probability per row for pass ``stage``: the MLPs' mean,
        mixed with the tree members' mean when there are any (the trees weigh
        ``config.tree_weight``, however many fits each family holds)."""
        mlp = torch.stack([torch.sigmoid(m.stage(stage)(rows)) for m in self.members()]).mean(0)
        if not len(self.tree_members):
            return mlp
        trees = torch.stack([torch.sigmoid(m.stage(stage)(rows)) for m in self.tree_members])
        w = self.config.tree_weight
        return (1 - w) * mlp + w * trees.mean(0).to(mlp.dtype)


def pooled(matchers: list[RegionMatcher]) -> RegionMatcher:
    """One matcher holding every member of ``matchers`` (MLPs and trees alike).

    Its probabilities average all the MLP members and all the tree members, so when
    each matcher holds as many of each, they are exactly the mean of the matchers'
    own probabilities. The matchers must share their architecture and tree weight.
    """
    if not matchers:
        raise ValueError("pooled needs at least one matcher")
    first = matchers[0].config
    for m in matchers[1:]:
        c = m.config
        if (c.features, c.belief_features, c.hidden, c.tree_weight) != (
            first.features,
            first.belief_features,
            first.hidden,
            first.tree_weight,
        ):
            raise ValueError("pooled matchers must share features, hidden size and tree weight")
    config = MatcherConfig(
        features=first.features,
        belief_features=first.belief_features,
        hidden=first.hidden,
        members=sum(m.config.members for m in matchers),
        trees=[list(shape) for m in matchers for shape in m.config.trees],
        tree_weight=first.tree_weight,
    )
    out = RegionMatcher(config)
    sources = [member for m in matchers for member in m.members()]
    for dst, src in zip(out.members(), sources, strict=True):
        dst.stage1.load_state_dict(src.stage1.state_dict())
        dst.stage2.load_state_dict(src.stage2.state_dict())
    trees = [member for m in matchers for member in m.tree_members]
    for dst, src in zip(out.tree_members, trees, strict=True):
        dst.load_state_dict(src.state_dict())
    return out.eval()
