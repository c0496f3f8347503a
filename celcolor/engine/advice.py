"""The end-of-run warnings that ask for keys, and how they tell the user to pin one.

A run names the frames whose colours nothing vouches for: new drawings whose colour
was carried across (:attr:`ColorizeStats.new_drawings`) and stretches that no longer
show their keyframe's drawing (:mod:`.views`). Each warning says which frame to pin a
reference to, and how: the draft to paint where ``--keys-wanted`` writes them, the
file a batch cut finds, or the flag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from . import views
from .analysis import ColorizeStats
from .views import SAMPLE_EVERY
from .wanted import key_for_drawing

log = logging.getLogger(__name__)


@dataclass
class KeyAdvice:
    """How a run's warnings tell the user to pin a key.

    Attributes:
        keys_folder: where this run writes the frames to paint (``--keys-wanted``), or None.
        key_stem: where a batch cut's key of frame N goes, less ``NNNN.png``; None
            outside a batch.
    """

    keys_folder: str | None = None
    key_stem: str | None = None

    def say_carried_across(self, stats: ColorizeStats) -> None:
        """Warn once, at the end, of new drawings whose colour was carried, not re-keyed."""
        carried = sorted(set(stats.new_drawings) - set(stats.rekeyed) - set(stats.covered))
        if not carried:
            return
        shown = ", ".join(map(str, carried[:8])) + (", ..." if len(carried) > 8 else "")
        key = key_for_drawing(carried[0], stats.unseen)
        where = "such a frame" if key == carried[0] else f"frame {key}, in the new view below"
        log.warning(
            "%d frame(s) have mostly new lines (a new shot, a new character or large motion): "
            "%s; their colours were carried from other drawings. Pin a reference to %s "
            "(%s) or re-key them from the reference (--rekey on)",
            len(carried),
            shown,
            where,
            self.how_to_pin(key),
        )

    def say_unseen(self, stats: ColorizeStats) -> None:
        """Warn once per kind, at the end, of stretches no keyframe's drawing vouches
        for (:mod:`celcolor.engine.views`): another view, far more drawn, or a drawing
        changed beyond what the carry follows."""
        grown, redrawn = stats.grown, stats.redrawn
        other = [s for s in stats.unseen if s not in grown and s not in redrawn]
        self.say_stretches(
            other,
            "no longer show the drawing of the keyframe their colours come from: their "
            f"lines match it no better than unrelated drawings do (checked every "
            f"{SAMPLE_EVERY}th frame; a camera move onto a new view, or another shot). The "
            "reference may not show what they do, and then nothing in it vouches for their "
            "colours",
        )
        self.say_stretches(
            grown,
            "show far more than the drawing of the keyframe their colours come from: "
            f"{views.GROWTH:g} times its lines or more (checked every {SAMPLE_EVERY}th "
            "frame; characters or a set coming in, a pull-back). The reference does not "
            "show what was added, and nothing in it vouches for its colours",
        )
        self.say_stretches(
            redrawn,
            "are drawn too differently from the keyframe their colours come from: "
            f"{views.REDRAWN_SHARE:.0%} of their lines or more lie far from its lines "
            "carried along the flow (checked on the frames whose colours are carried per "
            "pixel; a turn, a new pose, parts coming into view or in past the frame's "
            "edge). The flow no longer follows the drawing there, so their colours are a "
            "guess",
        )

    def how_to_pin(self, frame: int) -> str:
        """How the warnings tell the user to pin a key of ``frame``: the draft to paint
        where keys are written this run, else the file or flag that pins it."""
        draft = f"{self.keys_folder}/frame_{frame:04d}_draft.png" if self.keys_folder else None
        if self.key_stem:  # a batch cut
            save = f"save it as {self.key_stem}{frame:04d}.png"
            if draft:
                return f"paint {draft} in place and run the batch again, or {save}"
            return f"{save}; --keys-wanted writes out such frames to paint"
        if draft:
            return f"paint {draft} in place and give --ref {self.keys_folder}"
        return (
            f"--ref {frame}:key.png; in a batch, ref_{frame:04d}.png in the cut's folder; "
            "--keys-wanted writes out such frames to paint"
        )

    def say_stretches(self, stretches: list[tuple[int, int]], what: str) -> None:
        """One warning for ``stretches`` (``(first, last)`` frames), ``what`` saying
        what they show, naming the middle of the first to pin a key to."""
        if not stretches:
            return
        spans = [f"{a} to {b}" if b > a else str(a) for a, b in stretches]
        shown = ", ".join(spans[:4]) + (", ..." if len(spans) > 4 else "")
        key = views.key_of(stretches[0])
        log.warning(
            "frames %s %s. If they look wrong, pin a reference to frame %d, in the middle, "
            "where it colours both ways (%s)",
            shown,
            what,
            key,
            self.how_to_pin(key),
        )
