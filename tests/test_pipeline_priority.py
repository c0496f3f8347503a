"""The streaming run's CPU scheduling and the work it moves off the colouring thread.

With the temporal network on the CPU the colouring thread is the slowest stage: the
analysis and encode threads run at a lower priority, torch leaves them a core, and
per-frame work that needs only the drawing is built in the analysis thread. None of
it may change a pixel.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from celcolor.cpus import cpu_count
from celcolor.data.synthetic import CutSpec, generate_cut
from celcolor.engine import ColorizeOptions, Colorizer, EncodeOptions, colorize_video, pipeline
from celcolor.engine.analysis import FrameAnalysis
from celcolor.engine.palette import _bin_keys
from celcolor.io import BackgroundWorker
from celcolor.io.queues import lower_priority
from celcolor.models import create_model, save_checkpoint

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's"
)


def _own_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.fixture(scope="module")
def temporal_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "temporal.safetensors"
    save_checkpoint(create_model("temporal", width=8, key_dim=8), path, "temporal")
    return str(path)


# -- thread priorities -------------------------------------------------------------------


@linux_only
def test_lower_priority_raises_only_the_calling_threads_nice_value() -> None:
    seen = {}

    def worker() -> None:
        before = _own_nice()
        lower_priority(3)
        seen["after"] = _own_nice() - before
        lower_priority(100)  # capped at the lowest priority there is
        seen["capped"] = _own_nice()

    caller = _own_nice()
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == {"after": 3, "capped": 19}
    assert _own_nice() == caller


def test_lower_priority_by_nothing_changes_nothing() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    lower_priority(0)
    lower_priority(-5)  # never raised: that needs privileges and is not ours to take
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


@linux_only
def test_background_worker_runs_at_the_niceness_asked() -> None:
    caller = _own_nice()
    seen = []
    for niceness in (2, 0):
        worker = BackgroundWorker(lambda: seen.append(_own_nice()), niceness=niceness)
        worker.put()
        worker.close()
    assert seen == [min(19, caller + 2), caller]


def test_cpu_network_runs_leave_a_core_to_the_other_stages(temporal_checkpoint) -> None:
    reference = generate_cut(CutSpec(width=64, height=48, num_frames=1, seed=1)).colour[0]
    classical = Colorizer(reference, ColorizeOptions(temporal="classical"))
    assert pipeline._cpu_network_run(classical) is None
    network = Colorizer(
        reference,
        ColorizeOptions(
            temporal="network-only", temporal_checkpoint=temporal_checkpoint, device="cpu"
        ),
    )
    before = torch.get_num_threads()
    scope = pipeline._cpu_network_run(network)
    assert scope is not None
    with scope:
        assert torch.get_num_threads() == min(before, max(1, cpu_count() - 1))
    assert torch.get_num_threads() == before


@linux_only
def test_network_run_lowers_its_helper_threads_and_puts_torch_back(
    small_cut, temporal_checkpoint
) -> None:
    """End to end: while the network colours, the decode/analysis and encode threads
    (and the encoder's own) sit below the colouring thread; after the run torch's
    thread count is what it was, and the caller's priority never moved."""
    caller, threads_before = _own_nice(), torch.get_num_threads()
    seen: dict[str, object] = {}

    def progress(done: int, total: int | None) -> None:
        if done == 4:
            seen["threads"] = torch.get_num_threads()
            seen["nice"] = sorted(
                int(Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])
                for tid in os.listdir("/proc/self/task")
            )

    colorize_video(
        small_cut["sketch_video"],
        small_cut["reference"],
        small_cut["sketch_video"].with_name("out.mp4"),
        options=ColorizeOptions(
            temporal="network-only", temporal_checkpoint=temporal_checkpoint, device="cpu"
        ),
        encode=EncodeOptions(overwrite=True),
        progress=progress,
    )
    lowered = [n for n in seen["nice"] if n > caller]
    assert len(lowered) >= 2  # the analysis thread and the encode thread at least
    assert set(lowered) == {min(19, caller + pipeline.HELPER_NICENESS)}
    assert seen["threads"] == min(threads_before, max(1, cpu_count() - 1))
    assert torch.get_num_threads() == threads_before
    assert _own_nice() == caller


@pytest.mark.parametrize("temporal", ["network-only", "network"])
def test_frames_are_prepared_ahead_only_once_the_network_colours(
    small_cut, temporal_checkpoint, temporal, monkeypatch
) -> None:
    """Where propagation is sure of every region the `network` mode never calls the
    network: the analysis thread is then the slowest stage and is left its work."""
    prepared = []
    original = FrameAnalysis.prepare

    def prepare(frame: FrameAnalysis) -> None:
        prepared.append(frame.seq)
        original(frame)

    monkeypatch.setattr(FrameAnalysis, "prepare", prepare)
    result = colorize_video(
        small_cut["sketch_video"],
        small_cut["reference"],
        small_cut["sketch_video"].with_name("out.mp4"),
        options=ColorizeOptions(
            temporal=temporal, temporal_checkpoint=temporal_checkpoint, device="cpu"
        ),
        encode=EncodeOptions(overwrite=True),
    )
    # The analysis runs up to a queue's length ahead, so on this 8-frame cut only
    # the last frames are analysed after the network first ran.
    if result.stats.network_frames == 0:
        assert prepared == []
    if temporal == "network-only":
        assert result.stats.network_frames == result.frames - 1
        assert prepared and max(prepared) == result.frames - 1


# -- the same pixels ----------------------------------------------------------------------


def test_prepared_frames_colour_exactly_as_unprepared_ones() -> None:
    """FrameAnalysis.prepare builds the fill ranks and trace pairs ahead; colouring reads
    them."""
    cut = generate_cut(CutSpec(width=160, height=96, num_frames=5, seed=3, motion=2.0))
    col = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical"))
    streamed = list(col.analyse_stream(iter(cut.sketch)))
    assert "_ranked_fill" not in vars(streamed[1][1].regions)  # built on use, by default
    for _, frame in streamed:
        frame.prepare()
        assert "_ranked_fill" in vars(frame.regions) and "trace" in vars(frame)
    ahead = list(col.colorize_analysed(iter(streamed)))
    fresh = Colorizer(cut.colour[0], ColorizeOptions(temporal="classical"))
    lazily = list(fresh.analyse_stream(iter(cut.sketch)))
    for a, b in zip(ahead, fresh.colorize_analysed(iter(lazily)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bin_keys_match_the_24_bit_formula_for_every_level() -> None:
    levels = np.arange(256, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(levels, levels[::7], levels[::5], indexing="ij"), -1)
    keys = _bin_keys(rgb)
    q = rgb.astype(np.int64) >> 3
    assert keys.dtype == np.uint16
    np.testing.assert_array_equal(keys, (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2])
