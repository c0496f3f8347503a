"""The methods a benchmark compares, and the hook through which learned models join.

Every method gets the same two things and nothing else: the coloured reference (the
colour of keyframe ``ref_frame``) and the sketch frames, in order. It never sees the
ground truth. It must return exactly one ``H,W,3`` uint8 RGB frame per sketch frame,
in order; the bench checks that and fails the method otherwise.

Built in, in the order of the table (each row adds one thing to the one above):

    reference-copy   every output frame is the reference, resized to the frame
    per-frame        each frame coloured from the reference alone (no temporal information)
    classical        flow propagation between frames (the engine's default)

Learned models appear by themselves: when :mod:`celcolor.models` exposes
``list_models() -> Iterable[str]``, each name becomes a method ``model:<name>``. The
bench runs one through ``celcolor.models.make_colorizer(name, reference, *,
ref_frame, lines, device)``, which must return an object with
``colorize(frames) -> Iterator[np.ndarray]`` (as :class:`celcolor.engine.Colorizer`)
and, optionally, ``stats`` (a :class:`celcolor.engine.ColorizeStats`). A model listed
without that factory is reported as unavailable, never skipped in silence.
Other methods (a plug-in, a test's oracle) can be added with :func:`register_method`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

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


def _engine_method(name: str, temporal: str, description: str) -> Method:
    def options(s: MethodSettings) -> ColorizeOptions:
        return ColorizeOptions(
            ref_frame=s.ref_frame, lines=s.lines, temporal=temporal, device=s.device
        )

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
    _engine_method(
        "per-frame",
        "per-frame",
        "each frame coloured from the reference alone, no temporal information",
    ),
    _engine_method(
        "classical",
        "classical",
        "flow propagation from the previous frame, region snap (engine default)",
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


def _model_methods() -> list[Method]:
    """One method per model registered in :mod:`celcolor.models`, if it lists any."""
    models = importlib.import_module("celcolor.models")
    list_models = getattr(models, "list_models", None)
    if list_models is None:
        return []
    factory = getattr(models, "make_colorizer", None)
    methods = []
    for model_name in list_models():
        name = f"model:{model_name}"
        if factory is None:
            methods.append(
                Method(
                    name=name,
                    description=f"learned model {model_name}",
                    build=_unavailable(name),
                    available=False,
                    reason="celcolor.models lists it but has no make_colorizer(name, reference, "
                    "*, ref_frame, lines, device) to run it",
                )
            )
            continue

        def build(reference: np.ndarray, s: MethodSettings, _m: str = model_name):
            return factory(_m, reference, ref_frame=s.ref_frame, lines=s.lines, device=s.device)

        methods.append(Method(name=name, description=f"learned model {model_name}", build=build))
    return methods


def _unavailable(name: str) -> Callable[[np.ndarray, MethodSettings], FrameColorizer]:
    def build(reference: np.ndarray, s: MethodSettings) -> FrameColorizer:
        raise UsageError(f"method {name} is not available")

    return build


def list_methods() -> list[Method]:
    """Every method: built-ins, then registered ones, then models from celcolor.models."""
    return [*BUILTIN_METHODS, *_REGISTERED.values(), *_model_methods()]


def get_methods(names: Iterable[str] | None = None) -> list[Method]:
    """The methods named (all of them when ``names`` is None), in the table's order."""
    methods = list_methods()
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
