"""celcolor.io.queues: bounded prefetch and background work, errors surface in the caller."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterator

import pytest

from celcolor.io import BackgroundWorker, prefetch


def test_prefetch_yields_everything_in_order() -> None:
    assert list(prefetch(range(100), maxsize=3)) == list(range(100))


def test_prefetch_reraises_the_worker_exception_with_its_traceback() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise KeyError("decoder broke")

    got = []
    with pytest.raises(KeyError, match="decoder broke") as err:
        for x in prefetch(source()):
            got.append(x)
    assert got == [1, 2]
    frames = [f.name for f in traceback.extract_tb(err.value.__traceback__)]
    assert "source" in frames  # the worker's frame is still in the traceback


def test_prefetch_stays_bounded() -> None:
    produced = 0

    def source() -> Iterator[int]:
        nonlocal produced
        for i in range(1000):
            produced += 1
            yield i

    it = prefetch(source(), maxsize=4)
    assert next(it) == 0
    time.sleep(0.3)  # give the worker every chance to run ahead
    assert produced <= 4 + 2  # queue + the item taken + the one waiting to go in
    it.close()


def test_prefetch_early_stop_does_not_hang_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    t0 = time.monotonic()
    for x in prefetch(endless(), maxsize=2):
        if x == 3:
            break  # drops the iterator: the worker must stop and close its source
    assert closed.wait(5.0)
    assert time.monotonic() - t0 < 5.0


def test_prefetch_close_is_idempotent_and_ends_iteration() -> None:
    it = prefetch(iter(range(10)), maxsize=2)
    assert next(it) == 0
    it.close()
    it.close()
    with pytest.raises(StopIteration):
        next(it)


def test_background_worker_runs_calls_in_order() -> None:
    seen: list[int] = []
    w = BackgroundWorker(seen.append, maxsize=2)
    for i in range(50):
        w.put(i)
    w.close()
    assert seen == list(range(50))


def test_background_worker_reraises_on_next_put_or_close() -> None:
    def fail_on_3(i: int) -> None:
        if i == 3:
            raise OSError("disk full")

    w = BackgroundWorker(fail_on_3, maxsize=1)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):
            w.put(i)
    with pytest.raises(OSError, match="disk full"):
        w.close()


def test_background_worker_abort_drops_the_queue() -> None:
    gate = threading.Event()
    seen: list[int] = []

    def slow(i: int) -> None:
        gate.wait(5.0)
        seen.append(i)

    w = BackgroundWorker(slow, maxsize=8)
    for i in range(5):
        w.put(i)
    gate.set()
    w.abort()
    assert len(seen) <= 1


def test_background_worker_abort_returns_when_the_wake_up_was_lost() -> None:
    """A signal's exception raised in the middle of a put() can lose the queue's wake-up
    (a stopped run once hung here): abort() must not rely on it."""
    w = BackgroundWorker(lambda: None, maxsize=2)
    time.sleep(0.1)  # the worker is asleep on the empty queue
    w._q.put = lambda *a, **k: None  # the end marker's wake-up never comes
    done = threading.Event()
    threading.Thread(target=lambda: (w.abort(), done.set()), daemon=True).start()
    assert done.wait(5.0), "abort() waited for a worker that was never woken"
