"""The network's calls flush denormal floats on the CPU, and only its calls."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading

import numpy as np
import pytest
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


_WORKER_PROBE = """
import sys, torch
torch.set_num_threads(2)
if sys.argv[1] == "started flushed":
    from celcolor.engine.network import start_workers_flushed
    start_workers_flushed()
else:
    torch.zeros(1 << 17).add_(1.0)  # torch's workers started as any first torch work does
# Outside any flushed block: the caller's half keeps its denormals, a flushing worker's
# half comes out zero.
y = torch.full((1 << 20,), 1e-30) * 1e-9
print((y == 0).float().mean().item(), torch.get_num_threads())
"""


@pytest.mark.parametrize("how", ["started flushed", "started unflushed"])
def test_torch_workers_started_flushing_flush_for_good(how: str) -> None:
    """A worker thread starts with its creator's flags: started from a flushing thread,
    torch's workers flush denormals in every later parallel region (fresh process: a
    process has one pool)."""
    if not torch.set_flush_denormal(False):  # True where the CPU has the flags
        pytest.skip("no FTZ/DAZ flags on this CPU")
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER_PROBE, how], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    share, threads = proc.stdout.split()
    assert threads == "2"
    if how == "started flushed":
        assert 0.3 < float(share) < 0.7  # the worker's part of the product, and only it
    else:
        assert float(share) == 0.0


def test_a_network_run_starts_torchs_workers_flushing(monkeypatch) -> None:
    """The run's torch-threads scope starts the workers before the run's torch work."""
    import celcolor.engine.pipeline as pipeline

    started = []
    monkeypatch.setattr(
        network, "start_workers_flushed", lambda: started.append(torch.get_num_threads())
    )
    before = torch.get_num_threads()
    with pipeline._torch_threads(2):
        assert started == [2]
    assert torch.get_num_threads() == before
