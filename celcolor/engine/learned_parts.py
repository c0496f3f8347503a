"""The learned parts a colouring run may use, which of them it uses, loaded on first use.

Three networks can take part in a run: the exemplar network (keyframes of another
drawing, the fills of ``--keyframe-mode network``), the region matcher (matched
keyframes) and the temporal network (in-betweens). Each is loaded once per cut, when
first asked for, since loading imports torch and a classical run needs none of them.
Where the user left the choice to ``auto``, the shipped weights' own records decide:
a network is used only where its record shows it beat the classical path on held-out
data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import region_match
from .options import ColorizeOptions

log = logging.getLogger(__name__)


def _no_weights(name: str, checkpoint: str | None, required: bool, flag: str) -> bool:
    """Whether model ``name`` has neither a checkpoint given nor shipped weights.

    Raises when they are ``required``, saying how to get them.
    """
    from ..models.records import shipped_record

    if checkpoint is not None or shipped_record(name) is not None:
        return False
    if required:
        what = "exemplar network" if name == "exemplar" else "region matcher"
        raise InputError(
            f"no {what} weights: train them with `colorize-video train {name} --ship` "
            f"or pass {flag} PATH"
        )
    return True


def _long_side(name: str, checkpoint: str | None, chosen: int | None) -> int:
    """The working size a network runs at: the user's, else its training scale's."""
    from .network import trained_size, working_long_side

    return chosen if chosen is not None else working_long_side(trained_size(name, checkpoint))


class LearnedParts:
    """The networks of one colouring run, and the choices ``auto`` leaves to their records.

    Args:
        options: the run's options (checkpoints, working sizes, device, modes).
        references: every reference of the run, ``H,W,3`` uint8 RGB: a network encodes
            them once, when it is loaded.
    """

    def __init__(self, options: ColorizeOptions, references: list[np.ndarray]) -> None:
        self.options = options
        self.references = references
        self._network = None  # the exemplar network, loaded on first use (imports torch)
        self._temporal = None  # the temporal network, likewise
        self._matcher = None  # the region matcher's scorer, likewise
        self._warned_no_network = False
        self._preferred: bool | None = None  # see network_preferred
        self._method: str | None = None  # auto mode's choice for another drawing

    @property
    def loaded(self) -> bool:
        """Whether a network that runs on ``options.device`` has been loaded (the region
        matcher runs on the CPU whatever the device)."""
        return self._network is not None or self._temporal is not None

    # -- which parts auto mode uses --------------------------------------------------------

    def temporal_mode(self) -> str:
        """The in-between mode this run uses ("auto" resolved; reads no weights)."""
        mode = self.options.temporal
        if mode != "auto":
            return mode
        if self.options.temporal_checkpoint:
            return "network"
        from ..models.records import shipped_record

        record = shipped_record("temporal")
        if record is None:
            return "classical"
        scores = record.metrics.get("sequence_eval", {})
        network, classical = scores.get("network", {}), scores.get("classical", {})
        if network.get("psnr", 0.0) > classical.get("psnr", float("inf")):
            return "network"
        log.info(
            "the shipped temporal network did not beat classical propagation on held-out "
            "cuts (PSNR %.2f vs %.2f dB): in-betweens use the classical path; "
            "--temporal network forces the network",
            network.get("psnr", 0.0),
            classical.get("psnr", 0.0),
        )
        return "classical"

    def keyframe_method(self, same_drawing: bool) -> str:
        """How a keyframe gets colour: "copy", "network" or "match"."""
        mode = self.options.keyframe_mode
        if mode != "auto":
            return mode
        if same_drawing:
            # Even where the matcher wins on generated cuts (flat paint, a nearby frame),
            # real references of the same drawing (finished frames) copy better: on the 11
            # real same-drawing pairs of bench_exemplar the copy is 6.6 dB ahead of
            # matching (it keeps textured regions; matching makes every region flat).
            return "copy"
        if self._method is None:
            if self._matcher_preferred():
                self._method = "match"
            else:
                self._method = "network" if self.network_preferred() else "copy"
        return self._method

    def _matcher_preferred(self) -> bool:
        """Whether auto mode matches regions: the matcher's weights are there and their
        record shows the matching beat both the network and the copy on held-out
        keyframes (or the user passed their own matcher). The shipped matcher learned
        the shipped network's votes: with the user's own network it is not used."""
        if self.options.matcher_checkpoint:
            return True
        if self.options.checkpoint:
            return False
        from ..models.records import shipped_record

        record = shipped_record("matcher")
        if record is None or shipped_record("exemplar") is None:
            return False
        scores = record.metrics.get("keyframe_accuracy", {})
        return scores.get("match", 0.0) > max(scores.get("network", 1.0), scores.get("copy", 1.0))

    def network_preferred(self) -> bool:
        """Whether auto mode should use the network for another drawing's keyframe.

        A checkpoint the user passed is trusted; shipped weights only when their record
        shows they beat the fitted copy on held-out keyframes (measured when shipped).
        Decided once per cut: propagation may ask on every frame.
        """
        if self._preferred is None:
            self._preferred = self._read_network_preference()
        return self._preferred

    def _read_network_preference(self) -> bool:
        if self.options.checkpoint:
            return True
        from ..models.records import shipped_record

        record = shipped_record("exemplar")
        if record is None:
            return True  # network() then warns once and falls back to the copy
        scores = record.metrics.get("keyframe_accuracy", {})
        preferred = scores.get("network", 0.0) > scores.get("copy", 1.0)
        if not preferred and not self._warned_no_network:
            self._warned_no_network = True
            log.info(
                "the shipped exemplar network scored below the fitted copy on held-out "
                "keyframes (%.0f%% vs %.0f%%): keyframes are copied; "
                "--keyframe-mode network forces the network",
                100 * scores.get("network", 0.0),
                100 * scores.get("copy", 0.0),
            )
        return preferred

    # -- the parts themselves --------------------------------------------------------------

    def network(self, required: bool = False):
        """The exemplar network with every reference encoded (loaded once per cut).

        Returns None when no weights are available and ``required`` is False (the
        keyframe is then placed and copied, with a warning).
        """
        if self._network is None:
            from ..models.registry import load_checkpoint

            ckpt = self.options.checkpoint
            if _no_weights("exemplar", ckpt, required, "--checkpoint"):
                if not self._warned_no_network:
                    self._warned_no_network = True
                    log.warning("no exemplar network weights: keyframes are placed and copied")
                return None
            model = load_checkpoint(Path(ckpt)) if ckpt else None
            if model is not None:
                from ..models.exemplar import ExemplarNet

                if not isinstance(model, ExemplarNet):
                    raise InputError(f"{ckpt}: not exemplar network weights")
                if model.config.guides > 1:  # it would run without the frame it was tuned on
                    raise InputError(
                        f"{ckpt}: temporal network weights, not the exemplar network's; "
                        "pass them as --temporal-checkpoint"
                    )
            # fp32 on every machine: the region matcher reads this network's votes, and
            # learned them from fp32 runs (its training builds them through this same
            # method). bf16 votes differ a little, and cost matching a third of a point
            # (README, "Keyframes from another drawing"); keyframes are few, so the
            # speed bf16 buys matters less here than for the temporal network.
            self._network = self._colourer(
                model, _long_side("exemplar", ckpt, self.options.network_long_side), bf16=False
            )
        return self._network

    def temporal_network(self):
        """The temporal network with every reference encoded (loaded once per cut)."""
        if self._temporal is None:
            from ..models.records import shipped_record
            from ..models.registry import create_model, load_checkpoint

            ckpt = self.options.temporal_checkpoint
            if ckpt is None and shipped_record("temporal") is None:
                raise InputError(
                    "no temporal network weights: train them with `colorize-video train "
                    "temporal --ship`, pass --temporal-checkpoint PATH, or use --temporal "
                    "classical"
                )
            from ..models.exemplar import ExemplarNet

            model = (
                load_checkpoint(Path(ckpt)) if ckpt else create_model("temporal", pretrained=True)
            )
            if not isinstance(model, ExemplarNet) or model.config.guides < 2:
                raise InputError(
                    f"{ckpt or 'the shipped temporal weights'}: not a temporal network "
                    "(it takes no warped previous frame)"
                )
            self._temporal = self._colourer(
                model, _long_side("temporal", ckpt, self.options.temporal_long_side)
            )
        return self._temporal

    def matcher(self, required: bool = False) -> Callable[[np.ndarray, int], np.ndarray] | None:
        """The region matcher as ``scorer(rows, stage) -> probabilities``, or None when
        no weights are there and ``required`` is False."""
        if self._matcher is None:
            ckpt = self.options.matcher_checkpoint
            if _no_weights("matcher", ckpt, required, "--matcher-checkpoint"):
                return None
            import torch

            from ..models.matcher import RegionMatcher
            from ..models.registry import create_model, load_checkpoint

            model = (
                load_checkpoint(Path(ckpt)) if ckpt else create_model("matcher", pretrained=True)
            )
            if not isinstance(model, RegionMatcher):
                raise InputError(f"{ckpt}: not region matcher weights")
            columns = (model.config.features, model.config.belief_features)
            if columns != (len(region_match.FEATURES), len(region_match.BELIEF_FEATURES)):
                raise InputError(
                    f"{ckpt or 'shipped matcher'}: weights read {columns[0]}+{columns[1]} "
                    f"columns, this celcolor gives {len(region_match.FEATURES)}+"
                    f"{len(region_match.BELIEF_FEATURES)}; retrain: colorize-video train matcher"
                )

            @torch.inference_mode()
            def score(rows: np.ndarray, stage: int) -> np.ndarray:
                return model.probabilities(torch.from_numpy(rows), stage).double().numpy()

            self._matcher = score
        return self._matcher

    def _colourer(self, model, long_side: int, bf16: bool | None = None):
        """A network (None: the shipped exemplar) with every reference encoded once.

        ``bf16``: as :class:`~celcolor.engine.network.NetworkColourer` (None: where the
        CPU has native bf16).
        """
        from .network import NetworkColourer

        return NetworkColourer(
            self.references,
            model,
            device=self.options.resolved_device(),
            long_side=long_side,
            bf16=bf16,
        )
