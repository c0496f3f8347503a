"""Held-out cuts coloured by the temporal network against classical propagation.

Shipping temporal weights records these figures; the engine's ``--temporal auto``
uses the network only when its record shows a PSNR at least that of the classical
path, so weights that lose never become the default. To measure the shipped weights
again and update their record (after an engine change):

    python -m celcolor.train.temporal_eval --update-record
"""

from __future__ import annotations

import numpy as np

from ..data.synthetic import CutSpec, generate_cut
from ..engine import ColorizeOptions, Colorizer
from ..metrics import psnr, warp_error

# Fixed seeds far from anything training draws; long enough for drift to show.
HELD_OUT_SPECS = tuple(
    CutSpec(width=320, height=192, num_frames=24, seed=s, num_shapes=5, motion=1.5)
    for s in (90_001, 90_002)
)
MODES = ("classical", "network", "network-only")


def sequence_scores(checkpoint: str | None = None) -> dict:
    """Mean in-between PSNR and E_warp (x1e3) per temporal mode over the held-out cuts."""
    scores: dict[str, dict[str, list[float]]] = {m: {"psnr": [], "ewarp": []} for m in MODES}
    for spec in HELD_OUT_SPECS:
        cut = generate_cut(spec)
        for mode in MODES:
            options = ColorizeOptions(
                temporal=mode, temporal_checkpoint=checkpoint, keyframe_mode="copy"
            )
            out = list(Colorizer(cut.colour[0], options).colorize(list(cut.sketch)))
            # In-betweens only: the keyframe is the same copy in both modes.
            scores[mode]["psnr"].append(psnr(out[1:], cut.colour[1:]).mean)
            scores[mode]["ewarp"].append(1e3 * warp_error(out, cut.flow_fwd, cut.flow_bwd).mean)
    return {
        **{m: {k: float(np.mean(v)) for k, v in s.items()} for m, s in scores.items()},
        "cuts": len(HELD_OUT_SPECS),
        "frames": HELD_OUT_SPECS[0].num_frames,
    }


def main() -> None:
    """Print the scores of the shipped (or given) weights; optionally update the record."""
    from .cli import heldout_main

    heldout_main(
        "temporal",
        "sequence_eval",
        sequence_scores,
        "Held-out cuts: temporal network vs classical.",
    )


if __name__ == "__main__":
    main()
