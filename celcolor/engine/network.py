"""The exemplar network inside the engine: references encoded once, frames at work size.

The network sees the sketch's ink and every reference (its colours, its own ink by
our XDoG extractor, its k-means palette) at a working size (long side 512 by
default); its RGB prediction is scaled to the frame and mapped to the
reference palette, and the engine's region vote snaps it at full resolution.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch

from ..data.pairs import kmeans_palette
from ..errors import CelcolorError
from ..lineart.xdog import reference_ink
from ..models.exemplar import ExemplarNet, pad_to, unpad
from ..models.registry import cpu_has_bf16, create_model, default_device

log = logging.getLogger(__name__)


# The network sees frames at this multiple of its training frames' long side. Its
# convolutions and attention learned line widths and region sizes at the training
# scale; measured on held-out keyframes (benchmarks/bench_exemplar.py, "working size"),
# 1x to ~1.7x keeps accuracy and larger loses it.
WORK_SCALE = 5 / 3
DEFAULT_LONG_SIDE = 320  # weights that do not say what size they were trained at


def working_long_side(train_size: tuple[int, int] | list[int] | None) -> int:
    """The working long side for weights trained on ``train_size`` (w, h) frames."""
    if not train_size:
        return DEFAULT_LONG_SIDE
    return max(64, round(max(train_size) * WORK_SCALE / 8) * 8)


def trained_size(name: str, checkpoint: str | None) -> list[int] | None:
    """The (w, h) a checkpoint (or the shipped ``name`` weights) was trained at, if known."""
    if checkpoint is None:
        from ..models.records import shipped_record

        record = shipped_record(name)
        return record.train_size if record is not None else None
    from ..models.registry import read_metadata

    size = read_metadata(Path(checkpoint)).get("train_size")
    return json.loads(size) if size else None


def _work_size(shape: tuple[int, ...], long_side: int) -> tuple[int, int]:
    """``(w, h)``, multiples of 8, with the long side ``long_side`` (0: the frame's own)."""
    h, w = shape[:2]
    s = long_side / max(h, w) if long_side else 1.0
    return max(8, round(w * s / 8) * 8), max(8, round(h * s / 8) * 8)


def _denormals_flushed_now() -> bool:
    """Whether the calling thread flushes denormal floats to zero (FTZ/DAZ set)."""
    return torch.tensor(1e-39, dtype=torch.float32).mul(1.0).item() == 0.0


# The most intra-op threads torch has been asked to run while the caller flushed
# denormals: every one of them was started flushing (see start_workers_flushed).
_workers_flushed = 0


def _forget_workers() -> None:
    global _workers_flushed
    _workers_flushed = 0  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_forget_workers)


def start_workers_flushed() -> None:
    """Have torch start its intra-op worker threads flushing denormals to zero.

    A thread starts with its creator's FTZ/DAZ flags and keeps them, and torch (OpenMP)
    starts its workers at the first parallel region that needs them. So one parallel
    region over every thread, run while the calling thread flushes, starts the workers
    flushing for good: at 2 threads the temporal network's frame took 33.9 ms instead
    of 39.6, with the same output (``benchmarks/bench_network_threads.py``). Workers
    started earlier (by torch work before celcolor's first network call) keep IEEE
    arithmetic. Outside torch's workers nothing changes: the calling thread's flags are
    put back.
    """
    global _workers_flushed
    threads = torch.get_num_threads()
    if threads <= max(_workers_flushed, 1):
        return
    before = _denormals_flushed_now()
    if not before and not torch.set_flush_denormal(True):
        return  # no such flags on this CPU
    try:
        torch.zeros(threads << 16).add_(1.0)  # 64K values a thread: each takes a part
    finally:
        if not before:
            torch.set_flush_denormal(False)
    _workers_flushed = threads


@contextmanager
def denormals_flushed(device: torch.device) -> Iterator[None]:
    """Inside the block, the calling thread flushes denormal floats to zero (on a CPU).

    The attention's softmax underflows to denormals wherever a key scores far below
    a query's best, and x86 CPUs work on denormals in microcode, many times slower.
    Flushed, the network's frame took 55 ms instead of 71 on the 2-core Xeon (one
    torch thread, 1280x720) with the same RGB out: a probability under 1e-38 is lost
    anyway beside the row's largest, which is 1. The flags belong to the thread (x86's
    MXCSR), so they are set around the network's own calls and put back after (other
    work on the thread keeps IEEE arithmetic); torch's worker threads, when there are
    several, flush from their start: :func:`start_workers_flushed`.
    """
    # set_flush_denormal is False where the CPU has no such flags (no SSE3): nothing set.
    ours = device.type == "cpu" and not _denormals_flushed_now() and torch.set_flush_denormal(True)
    if ours:
        start_workers_flushed()  # threads torch adds from here on flush too
    try:
        yield
    finally:
        if ours:
            torch.set_flush_denormal(False)


def _tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    if image.ndim == 2:
        return torch.from_numpy(image)[None, None].to(device)
    return torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255.0)[None].to(device)


class NetworkColourer:
    """Colours frames with the exemplar network from one or more references.

    Args:
        references: ``H,W,3`` uint8 RGB references (all are available to the attention).
        model: an :class:`ExemplarNet`; None loads the shipped weights (hash-checked).
        device: "auto", "cpu" or "cuda".
        long_side: the working size's long side in pixels; 0 works at each frame's own
            size (references at the first one's).
        bf16: run in bfloat16 autocast with channels-last tensors (None: on a CPU that
            has native bf16 instructions, where it is faster; never on a GPU here).
    """

    def __init__(
        self,
        references: list[np.ndarray],
        model: ExemplarNet | None = None,
        device: str = "auto",
        long_side: int = 512,
        bf16: bool | None = None,
    ) -> None:
        self.device = default_device(device)
        if self.device.type == "cpu":
            start_workers_flushed()  # before loading the model starts them unflushed
        if model is None:
            model = create_model("exemplar", pretrained=True)
        if bf16 is None:
            bf16 = self.device.type == "cpu" and cpu_has_bf16()
        self.bf16 = bool(bf16)
        self.model = model.to(self.device).eval()
        if self.bf16:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.long_side = long_side
        self._encoded = self._encode(references)

    @torch.inference_mode()
    def _encode(self, references: list[np.ndarray]) -> dict[str, torch.Tensor]:
        """Each reference at work size, keys/values of all joined along the width."""
        if not references:
            raise CelcolorError("the network needs at least one reference")
        size = _work_size(references[0].shape, self.long_side)
        parts, pixels = [], []
        for ref in references:
            r = cv2.resize(ref, size, interpolation=cv2.INTER_AREA)
            pixels.append(r.reshape(-1, 3))
            ink = reference_ink(r)
            parts.append((_tensor(r, self.device), _tensor(ink.astype(np.float32), self.device)))
        palette = torch.from_numpy(kmeans_palette(np.concatenate(pixels)[None]))[None]
        with (
            denormals_flushed(self.device),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            encoded = [
                self.model.encode_reference(rgb, ink, palette.to(self.device)) for rgb, ink in parts
            ]
        joined = {
            k: torch.cat([e[k] for e in encoded], dim=3)
            for k in ("k4", "k8", "v4", "v8")
            if k in encoded[0]
        }
        for k in ("mean4", "mean8"):
            joined[k] = torch.stack([e[k] for e in encoded]).mean(0)
        if "style" in encoded[0]:
            joined["style"] = encoded[0]["style"]  # the palette is of all references
        return joined

    def work_size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """``(w, h)`` at which the network sees a frame of ``shape``."""
        return _work_size(shape, self.long_side)

    @property
    def guides(self) -> int:
        """How many colour guides the model takes (see :mod:`celcolor.models.exemplar`)."""
        return self.model.config.guides

    @torch.inference_mode()
    def predict(self, ink_u8: np.ndarray, guide: np.ndarray | None = None) -> np.ndarray:
        """``H,W,3`` uint8 RGB prediction for a frame's ink (``H,W`` uint8).

        ``guide``: ``H,W,4*k`` float32 colour guides at frame size or at
        :meth:`work_size` (k up to the model's count; missing ones count as absent),
        or None.
        """
        h, w = ink_u8.shape
        size = _work_size(ink_u8.shape, self.long_side)
        ink = cv2.resize(ink_u8, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        x, pad = pad_to(_tensor(ink, self.device))
        guide_t = None
        if guide is not None and self.guides:
            g = np.zeros((size[1], size[0], 4 * self.guides), np.float32)
            k = min(guide.shape[2], g.shape[2])
            if guide.shape[:2] == g.shape[:2]:  # already at work size (as the engine builds it)
                g[..., :k] = guide[..., :k]
            else:
                for c in range(0, k, 4):  # cv2.resize takes at most 4 channels at a time
                    g[..., c : c + 4] = cv2.resize(
                        guide[..., c : c + 4], size, interpolation=cv2.INTER_AREA
                    )
            guide_t, _ = pad_to(torch.from_numpy(g.transpose(2, 0, 1))[None].to(self.device))
        if self.bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        with (
            denormals_flushed(self.device),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            out = unpad(self.model(x, self._encoded, guide_t), pad)[0].float()
        rgb = (out.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()
        return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
