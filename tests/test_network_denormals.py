"""The network's calls flush denormal floats on the CPU, and only its calls."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import torch

import celcolor.engine.network as network
from celcolor.data.synthetic import CutSpec, generate_cut
from celcolor.engine.network import NetworkColourer, denormals_flushed
from celcolor.models import create_model

CPU = torch.device("cpu")


def test_denormals_are_flushed_inside_the_block_and_restored_after():
    assert not network._denormals_flushed_now()  # IEEE by default
    with denormals_flushed(CPU):
        assert network._denormals_flushed_now()
        assert torch.tensor(1e-39).mul(1.0).item() == 0.0
    assert not network._denormals_flushed_now()
    assert torch.tensor(1e-39).mul(1.0).item() > 0.0


def test_a_thread_that_flushes_already_keeps_flushing():
    seen = []

    def work():
        torch.set_flush_denormal(True)
        with denormals_flushed(CPU):
            pass
        seen.append(network._denormals_flushed_now())
        torch.set_flush_denormal(False)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [True]
    assert not network._denormals_flushed_now()  # another thread's flags are its own


def test_the_temporal_network_runs_flushed_with_the_same_colours(monkeypatch):
    cut = generate_cut(CutSpec(width=320, height=176, num_frames=2, seed=3), flow=False)
    net = NetworkColourer([cut.colour[0]], create_model("temporal", pretrained=True), "cpu")
    ink = np.ascontiguousarray(255 - cut.sketch[1].min(axis=2))
    guide = np.zeros((*ink.shape, 4 * net.guides), np.float32)  # at frame size: resized
    guide[..., -4:-1] = cut.colour[0] / 255.0  # the previous frame's colours, trusted
    guide[..., -1] = 1.0

    flushed_in_forward = []
    forward = net.model.forward

    def recording(*args, **kwargs):
        flushed_in_forward.append(network._denormals_flushed_now())
        return forward(*args, **kwargs)

    monkeypatch.setattr(net.model, "forward", recording)
    flushed = net.predict(ink, guide)
    monkeypatch.setattr(network, "denormals_flushed", lambda device: contextlib.nullcontext())
    ieee = net.predict(ink, guide)
    assert flushed_in_forward == [True, False]
    np.testing.assert_array_equal(flushed, ieee)
    assert not network._denormals_flushed_now()
