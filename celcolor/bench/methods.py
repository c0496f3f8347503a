"""The methods a benchmark compares, and the hook through which learned models join.

Every method gets the same two things and nothing else: the coloured reference (the
colour of keyframe ``ref_frame``) and the sketch frames, in order. It never sees the
ground truth. It must return exactly one ``H,W,3`` uint8 RGB frame per sketch frame,
in order; the bench checks that and fails the method otherwise.

Built in, in the order of the table (each row adds one thing to the one above):

    reference-copy   every output frame is the reference, resized to the frame
    per-frame        each frame coloured from the reference alone (no temporal information)
    classical        flow propagation between frames (the engine's default path)

Both engine rows pin ``keyframe_mode="copy"`` (the reference placed over the drawing and
copied region by region), so they stay the same classical baselines when network
weights ship; the network has rows of its own.

Learned models appear by themselves: every name that ``celcolor.models.list_models()``
returns becomes a method ``model:<name>``. It runs when it has weights (shipped, or
``checkpoints={name: path}``) and something can run it: the engine, for the models in
:data:`ENGINE_MODELS` (the exemplar network colours every frame from the reference),
or ``celcolor.models.make_colorizer(name, reference, *, ref_frame, lines, device)``
when that module provides it, which must return an object with
``colorize(frames) -> Iterator[np.ndarray]`` (as :class:`celcolor.engine.Colorizer`)
and, optionally, ``stats``. A model that cannot run is reported as unavailable with
the reason, never skipped in silence.
Other methods (a plug-in, a test's oracle) can be added with :func:`register_method`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from ..engine import ColorizeOptions, Colorizer
from ..errors import UsageError

__all__ = [
    "BUILTIN_METHODS",
    "FrameColorizer",
    "Method",
    "MethodSettings",
    "ReferenceCopy",
    "get_methods",
    "list_methods",
    "register_method",
    "unregister_method",
]


class FrameColorizer(Protocol):
    """What a method builds for one cut: sketches in, coloured frames out, one each."""

    def colorize(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class MethodSettings:
    """What a method is told about the cut besides the frames.

    Attributes:
        ref_frame: the frame whose colour the reference is.
        lines: line mode, as :attr:`celcolor.engine.ColorizeOptions.lines`.
        device: "auto", "cpu" or "cuda", for learned methods.
    """

    ref_frame: int = 0
    lines: str = "auto"
    device: str = "auto"


@dataclass(frozen=True)
class Method:
    """A colouring method under test.

    Attributes:
        name: the row label (``reference-copy``, ``classical``, ``model:<name>``).
        description: one line for the report.
        build: ``build(reference, settings) -> FrameColorizer`` for one cut.
        uses_lines: False when the line mode does not change the output (the
            reference copy): the bench then runs it once, not once per line mode.
        engine_options: for methods that are a mode of the streaming engine, the
            :class:`ColorizeOptions` they run with; the speed runs then time the real
            file-to-file path (:func:`celcolor.engine.colorize_video`).
        available: False when the method cannot run here; ``reason`` says why.
        reason: why it is unavailable.
    """

    name: str
    description: str
    build: Callable[[np.ndarray, MethodSettings], FrameColorizer]
    uses_lines: bool = True
    engine_options: Callable[[MethodSettings], ColorizeOptions] | None = None
    available: bool = True
    reason: str = ""


class ReferenceCopy:
    """The do-nothing baseline: every output frame is the reference, resized to the frame."""

    def __init__(self, reference: np.ndarray) -> None:
        self.reference = reference
        self._resized: dict[tuple[int, int], np.ndarray] = {}

    def colorize(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            h, w = frame.shape[:2]
            if (h, w) not in self._resized:
                ref = self.reference
                if ref.shape[:2] != (h, w):
                    ref = cv2.resize(ref, (w, h), interpolation=cv2.INTER_AREA)
                self._resized[(h, w)] = np.ascontiguousarray(ref)
            yield self._resized[(h, w)].copy()


def engine_method(name: str, fields: dict[str, Any], description: str) -> Method:
    """A method that is a setting of the streaming engine (``fields`` of ColorizeOptions)."""

    def options(s: MethodSettings) -> ColorizeOptions:
        return ColorizeOptions(ref_frame=s.ref_frame, lines=s.lines, device=s.device, **fields)

    def build(reference: np.ndarray, s: MethodSettings) -> FrameColorizer:
        return Colorizer(reference, options(s))

    return Method(name=name, description=description, build=build, engine_options=options)


BUILTIN_METHODS: tuple[Method, ...] = (
    Method(
        name="reference-copy",
        description="every frame is the reference, resized (does nothing)",
        build=lambda reference, s: ReferenceCopy(reference),
        uses_lines=False,
    ),
    engine_method(
        "per-frame",
        {"temporal": "per-frame", "keyframe_mode": "copy"},
        "each frame coloured from the reference alone, no temporal information",
    ),
    engine_method(
        "classical",
        {"temporal": "classical", "keyframe_mode": "copy"},
        "flow propagation from the previous frame, region snap (the engine's default path)",
    ),
)

_REGISTERED: dict[str, Method] = {}


def register_method(method: Method) -> None:
    """Add a method to every later bench run (a plug-in, or a test's oracle)."""
    if any(m.name == method.name for m in BUILTIN_METHODS):
        raise ValueError(f"{method.name!r} is a built-in method name")
    _REGISTERED[method.name] = method


def unregister_method(name: str) -> None:
    """Remove a method added with :func:`register_method` (no error if absent)."""
    _REGISTERED.pop(name, None)


# Registered models the streaming engine itself runs, and the options that make it
# do so (every frame coloured by the network from the reference: no temporal
# information, so the row compares with per-frame; and the temporal network on every
# in-between after a copied keyframe, as classical has). A model not listed here runs
# only through ``celcolor.models.make_colorizer`` when that exists.
ENGINE_MODELS: dict[str, dict[str, Any]] = {
    "exemplar": {"keyframe_mode": "network", "temporal": "per-frame"},
    "temporal": {"keyframe_mode": "copy", "temporal": "network-only"},
}
# Further rows of a model run by the engine in another setting (same weights).
ENGINE_MODEL_VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "temporal": {"model:temporal+classical": {"keyframe_mode": "copy", "temporal": "network"}},
}
# Models the engine runs only for keyframes, never frame by frame: the bench's suites
# score in-betweens, so they have no row here (their own benchmark, and why).
KEYFRAME_MODELS: dict[str, str] = {
    "matcher": (
        "a keyframe model: the engine matches a keyframe's regions with it "
        "(--keyframe-mode match); benchmarks/bench_exemplar.py scores it"
    ),
}
# The ColorizeOptions field that takes a model's checkpoint.
_CHECKPOINT_FIELD = {"exemplar": "checkpoint", "temporal": "temporal_checkpoint"}


def _model_methods(checkpoints: dict[str, str] | None = None) -> list[Method]:
    """One method per model that :mod:`celcolor.models` lists (``list_models()``).

    A model runs when it has weights (shipped, or a checkpoint given for it) and
    something can run it: ``celcolor.models.make_colorizer`` or the engine (see
    :data:`ENGINE_MODELS`). Otherwise it is listed as unavailable, with the reason.
    """
    models = importlib.import_module("celcolor.models")
    list_models = getattr(models, "list_models", None)
    if list_models is None:
        return []
    checkpoints = checkpoints or {}
    shipped = getattr(models, "shipped_record", None)
    factory = getattr(models, "make_colorizer", None)
    names = list(list_models())
    unknown = sorted(set(checkpoints) - set(names))
    if unknown:
        raise UsageError(
            f"--checkpoint {unknown[0]}=...: no such model; registered: {', '.join(names)}"
        )
    methods = []
    for model_name in names:
        name = f"model:{model_name}"
        checkpoint = checkpoints.get(model_name)
        record = shipped(model_name) if shipped is not None else None
        has_weights = checkpoint is not None or record is not None
        # Which weights: a model's numbers mean nothing without it.
        if checkpoint is not None:
            description = f"learned model {model_name!r}, checkpoint {checkpoint}"
        elif record is not None and getattr(record, "sha256", None):
            description = f"learned model {model_name!r}, shipped weights {record.sha256[:12]}"
        else:
            description = f"learned model {model_name!r}"
        reason = ""
        if not has_weights:
            reason = (
                f"no weights: ship them (colorize-video train {model_name} --ship) or pass "
                f"--checkpoint {model_name}=PATH"
            )
        elif factory is None and model_name in KEYFRAME_MODELS:
            reason = KEYFRAME_MODELS[model_name]
        elif factory is None and model_name not in ENGINE_MODELS:
            reason = "nothing runs it yet (no celcolor.models.make_colorizer, not in the engine)"
        if reason:
            methods.append(
                Method(name, description, _unavailable(name), available=False, reason=reason)
            )
        elif factory is not None:

            def build(reference: np.ndarray, s: MethodSettings, _m: str = model_name):
                return factory(_m, reference, ref_frame=s.ref_frame, lines=s.lines, device=s.device)

            methods.append(Method(name, description, build))
        else:
            rows = {name: ENGINE_MODELS[model_name], **ENGINE_MODEL_VARIANTS.get(model_name, {})}
            for row, settings in rows.items():
                fields = dict(settings)
                fields[_CHECKPOINT_FIELD.get(model_name, "checkpoint")] = checkpoint
                methods.append(
                    engine_method(row, fields, f"{description}; run by the engine, {settings}")
                )
    return methods


def _unavailable(name: str) -> Callable[[np.ndarray, MethodSettings], FrameColorizer]:
    def build(reference: np.ndarray, s: MethodSettings) -> FrameColorizer:
        raise UsageError(f"method {name} is not available")

    return build


def list_methods(checkpoints: dict[str, str] | None = None) -> list[Method]:
    """Every method: built-ins, then registered ones, then models from celcolor.models.

    Args:
        checkpoints: model name -> weights file, for models without shipped weights.
    """
    return [*BUILTIN_METHODS, *_REGISTERED.values(), *_model_methods(checkpoints)]


def get_methods(
    names: Iterable[str] | None = None, checkpoints: dict[str, str] | None = None
) -> list[Method]:
    """The methods named (all of them when ``names`` is None), in the table's order."""
    methods = list_methods(checkpoints)
    if names is None:
        return methods
    wanted = [n.strip() for n in names if n.strip()]
    known = {m.name for m in methods}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UsageError(
            f"unknown method {unknown[0]!r}; choose from {', '.join(sorted(known))} "
            "(see colorize-video bench --list-methods)"
        )
    return [m for m in methods if m.name in wanted]
