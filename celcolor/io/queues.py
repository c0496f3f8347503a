"""Bounded queues between decode, compute and encode threads.

Both helpers keep at most ``maxsize`` items in flight, so memory stays flat for a
cut of any length; both re-raise a worker's exception in the caller (the same
exception object, so its type and the worker's traceback survive), and both have
an end marker, so nothing waits forever. A worker thread can run at a lower priority
than the caller (:func:`lower_priority`): where the caller's thread is a pipeline's
slowest stage, the helpers then fill the other cores instead of taking turns with it.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["BackgroundWorker", "Prefetcher", "lower_priority", "prefetch"]

T = TypeVar("T")
log = logging.getLogger(__name__)

_POLL_S = 0.05  # how often a blocked put looks at its stop flag
_JOIN_S = 10.0  # how long close() waits for a worker to finish its current item


class _End:
    """The end marker: the worker has no more items."""


class _Failure:
    """Carries the worker's exception across the queue."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = _End()


def lower_priority(niceness: int) -> None:
    """Let the calling thread yield to the process's other threads: its nice value
    rises by ``niceness`` (at most to 19).

    Threads it starts afterwards inherit the value (an encoder's own threads, for
    one). Linux only, where each thread has its own nice value; elsewhere, or where
    the system refuses, nothing changes.
    """
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + niceness))
    except OSError as e:  # e.g. a sandbox without the call: the run goes on as it was
        log.debug("could not lower the priority of %s: %s", threading.current_thread().name, e)


class Prefetcher(Iterator[T], Generic[T]):
    """Iterator over ``iterable`` that is run ahead in a daemon thread (see :func:`prefetch`)."""

    def __init__(self, iterable: Iterable[T], maxsize: int = 8, name: str = "prefetch") -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._q: queue.Queue[Any] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._done = False
        # The closure holds the queue and the flag, not self, so dropping the last
        # reference to this object runs __del__ and stops the worker.
        self._thread = threading.Thread(
            target=_produce,
            args=(iterable, self._q, self._stop),
            name=f"celcolor-{name}",
            daemon=True,
        )
        self._thread.start()

    def __iter__(self) -> Prefetcher[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._q.get()
        if isinstance(item, _End):
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            raise item.exc
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the worker early (it closes its iterable) and wait for it to finish."""
        if self._done:
            return
        self._stop.set()
        # Empty the queue so a worker blocked on put sees the stop flag at once.
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._finish()

    def _finish(self) -> None:
        self._done = True
        if self._thread is not threading.current_thread():
            self._thread.join(_JOIN_S)
            if self._thread.is_alive():
                log.warning("%s is still busy after %.0f s; leaving it", self._thread.name, _JOIN_S)

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A consumer that breaks out of its loop drops the iterator: stop the worker then.
        if not getattr(self, "_done", True):
            self._stop.set()


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; True when it went in."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _produce(iterable: Iterable[Any], q: queue.Queue[Any], stop: threading.Event) -> None:
    it: Iterator[Any] | None = None
    try:
        it = iter(iterable)
        for item in it:
            if not _put(q, item, stop):
                break
    except BaseException as e:  # handed to the consumer, which re-raises it
        _put(q, _Failure(e), stop)
        return
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            try:
                close()  # e.g. a generator that holds an open container
            except Exception:
                log.exception("closing the prefetched iterable failed")
    _put(q, _END, stop)


def prefetch(iterable: Iterable[T], maxsize: int = 8) -> Prefetcher[T]:
    """Run ``iterable`` ahead in a daemon thread, at most ``maxsize`` items ahead of the caller.

    The worker's exception is re-raised by ``next()``; closing the returned iterator (or
    dropping it, e.g. on ``break``) stops the worker and closes the iterable.
    """
    return Prefetcher(iterable, maxsize)


class BackgroundWorker:
    """Calls ``fn(*args)`` for every :meth:`put` in one thread, behind a bounded queue.

    An exception in ``fn`` stops the worker and is re-raised in the caller by the next
    :meth:`put` or by :meth:`close`. Use :meth:`abort` to stop without finishing the queue.
    The thread runs at ``niceness`` below the caller's priority (see :func:`lower_priority`).
    """

    def __init__(
        self, fn: Callable[..., object], maxsize: int = 8, name: str = "worker", niceness: int = 0
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._fn = fn
        self._q: queue.Queue[Any] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._niceness = niceness
        self._thread = threading.Thread(target=self._run, name=f"celcolor-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lower_priority(self._niceness)
        while True:
            # Polled, not a bare get(): a signal's exception raised in the caller in the
            # middle of a put() can lose the queue's wake-up, and abort() would then wait
            # forever for a worker asleep on an empty queue (seen once in 25 stopped runs).
            try:
                item = self._q.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if isinstance(item, _End) or self._stop.is_set():
                return
            try:
                self._fn(*item)
            except BaseException as e:  # re-raised in the caller by put() or close()
                self._error = e
                self._stop.set()
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, *args: Any) -> None:
        """Queue one call; blocks while the queue is full; re-raises an earlier failure."""
        if self._closed:
            raise RuntimeError("put() on a closed BackgroundWorker")
        self._raise_error()
        if not _put(self._q, args, self._stop):
            self._raise_error()
            raise RuntimeError("put() on an aborted BackgroundWorker")

    def close(self) -> None:
        """Finish every queued call, stop the thread, and re-raise the worker's failure if any."""
        if self._closed:
            self._raise_error()
            return
        self._closed = True
        _put(self._q, _END, self._stop)  # False when the worker already failed and left
        self._thread.join()
        self._raise_error()

    def abort(self) -> None:
        """Drop what is queued and stop the thread without raising."""
        self._closed = True
        self._stop.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._q.put(_END)  # wakes a worker blocked on an empty queue
        self._thread.join()

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the worker, if any."""
        return self._error
