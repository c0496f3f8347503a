"""Where the cuts of a batch run: in the driver, in a pool of processes, or on Ray.

Every executor has the same small interface, driven by one loop in the batch driver::

    with make_executor(...) as ex:
        while work left:
            while ex.free() and jobs: ex.submit(job)
            result = ex.next_result()      # blocks; progress callbacks fire meanwhile

An executor never raises for a failing cut: a cut that raises, a worker process that
dies (a segfault in a decoder, the OOM killer) or a lost Ray task all come back as a
failed :class:`~celcolor.engine.batch_worker.CutResult` for that cut, and the others go on.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..cpus import cpu_count
from ..errors import CelcolorError, Stopped, UsageError
from .batch_worker import CutJob, CutResult, failed, prepare_process, run_cut

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorConfig",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "RayExecutor",
    "cpu_count",
    "make_executor",
]

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")

ProgressFn = Callable[[str, int, int | None], None]  # (cut name, frames done, total)


MAX_THREADS = 1024  # CPU threads per worker: more than any one machine has


@dataclass
class ExecutorConfig:
    """How and where cuts run.

    Attributes:
        executor: "local" (this machine) or "ray" (a Ray cluster or a local Ray).
        workers: local: worker processes (0 runs cuts in the driver process itself).
            ray: at most this many cuts in flight (None: as many as the cluster takes).
        threads: CPU threads per worker for torch/OpenCV/BLAS; None divides this
            machine's CPUs among the local workers, or uses ``cpus_per_cut`` on Ray.
        address: Ray cluster address ("auto", "ray://host:10001", ...); None starts a
            local Ray instance when none is running.
        cpus_per_cut: Ray CPU resource of each cut's task.
        gpus_per_cut: Ray GPU resource of each cut's task (a fraction shares a GPU).
    """

    executor: str = "local"
    workers: int | None = None
    threads: int | None = None
    address: str | None = None
    cpus_per_cut: float = 1.0
    gpus_per_cut: float = 0.0

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}")
        if self.workers is not None and self.workers < 0:
            raise UsageError(f"--workers must be 0 or more, got {self.workers}")
        if self.executor == "ray" and self.workers == 0:
            raise UsageError("--workers 0 (run in this process) does not go with --executor ray")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            # (Far past any machine's cores a pool only thrashes, or cannot start at all.)
            raise UsageError(f"--threads must be in 1..{MAX_THREADS}, got {self.threads}")
        if self.cpus_per_cut <= 0:
            raise UsageError(f"--cpus-per-cut must be above 0, got {self.cpus_per_cut}")
        if self.gpus_per_cut < 0:
            raise UsageError(f"--gpus-per-cut must be 0 or more, got {self.gpus_per_cut}")
        if self.executor != "ray" and (self.address is not None or self.gpus_per_cut):
            raise UsageError("--address and --gpus-per-cut need --executor ray")

    def local_workers(self) -> int:
        return 1 if self.workers is None else self.workers

    def threads_per_worker(self) -> int:
        if self.threads is not None:
            return self.threads
        if self.executor == "ray":
            return max(1, int(self.cpus_per_cut))
        return max(1, cpu_count() // max(1, self.local_workers()))

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"executor": self.executor}
        if self.executor == "local":
            d["workers"] = self.local_workers()
            d["threads_per_worker"] = self.threads_per_worker()
        else:
            d.update(
                address=self.address,
                max_in_flight=self.workers,
                cpus_per_cut=self.cpus_per_cut,
                gpus_per_cut=self.gpus_per_cut,
                threads_per_cut=self.threads_per_worker(),
            )
        return d


class Executor:
    """Runs :class:`CutJob` objects somewhere; see the module docstring."""

    name = "executor"
    #: seconds spent starting workers (process spawn, imports, models), for reports
    startup_seconds: float = 0.0

    def free(self) -> int:
        """How many more jobs may be submitted now."""
        raise NotImplementedError

    def submit(self, job: CutJob) -> None:
        raise NotImplementedError

    def next_result(self) -> CutResult:
        """Block until a submitted job finishes, and return its result."""
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        """Stop the workers; ``cancel`` abandons jobs still running."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(cancel=exc_type is not None)


def make_executor(
    config: ExecutorConfig, options: dict[str, Any], progress: ProgressFn | None = None
) -> Executor:
    """The executor ``config`` asks for. ``options`` are the batch's colour options."""
    if config.executor == "ray":
        return RayExecutor(config, options)
    if config.local_workers() == 0:
        return InProcessExecutor(options, progress)
    return ProcessPoolExecutor(
        config.local_workers(), config.threads_per_worker(), options, progress
    )


# --------------------------------------------------------------------------- in the driver


class InProcessExecutor(Executor):
    """Cuts run one at a time in the calling process (``--workers 0``; for debugging).

    No crash isolation: a segfault in a decoder ends the batch (finished cuts are kept).
    """

    name = "in-process"

    def __init__(self, options: dict[str, Any], progress: ProgressFn | None = None) -> None:
        self._queue: deque[CutJob] = deque()
        self._progress = progress
        self.startup_seconds = prepare_process(None, options)

    def free(self) -> int:
        return 0 if self._queue else 1

    def submit(self, job: CutJob) -> None:
        self._queue.append(job)

    def next_result(self) -> CutResult:
        job = self._queue.popleft()
        report = None
        if self._progress is not None:
            progress = self._progress

            def report(done: int, total: int | None) -> None:
                progress(job.name, done, total)

        return run_cut(job, report)


# --------------------------------------------------------------------------- process pool

_PROGRESS_EVERY = 0.25  # seconds between progress messages from a worker


def _worker_main(
    conn: Connection, lifeline: Connection, threads: int, options: dict[str, Any]
) -> None:  # pragma: no cover - runs in a child process (coverage does not follow)
    """A pool worker: prepare once, then colour the cuts the driver sends, one at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    # The driver cancels a cut with SIGTERM: taken as an exception, it unwinds the run
    # (its temporary folders of waiting frames and staged inputs go) before the exit.
    signal.signal(signal.SIGTERM, _raise_stopped)
    _watch_driver(lifeline)
    try:
        seconds = prepare_process(threads, options)
        # The cut's own error line says what failed, as the CLI has it without -v.
        from ..io.images import quiet_opencv

        quiet_opencv()
    except BaseException as e:
        conn.send(("fatal", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", os.getpid(), seconds))
    with contextlib.suppress(Stopped):
        _serve(conn)


def _raise_stopped(signum: int, frame: object) -> None:  # pragma: no cover - in a worker
    raise Stopped(signum)


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in a child process
    """Colour the cuts the driver sends until it sends None or goes away."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        result = run_cut(job, _Throttled(conn, job.name))
        try:
            conn.send(("result", result))
        except (BrokenPipeError, OSError):
            return


class _Throttled:
    """A progress callback that sends at most one message per ``_PROGRESS_EVERY`` seconds."""

    def __init__(self, conn: Connection, name: str) -> None:
        self.conn, self.name, self.last = conn, name, 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last >= _PROGRESS_EVERY or (total is not None and done >= total):
            self.last = now
            self.conn.send(("progress", self.name, done, total))


def _watch_driver(lifeline: Connection) -> None:  # pragma: no cover - child process
    """End this worker as soon as the driver is gone, even by ``kill -9``.

    The driver holds the only write end of ``lifeline`` and never writes to it; when
    the driver's process ends, the OS closes it and the read here sees end-of-file. (The
    parent pid cannot tell: under forkserver a worker's parent is the fork server.)
    """

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()
        os._exit(70)

    threading.Thread(target=watch, name="celcolor-driver-watch", daemon=True).start()


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: CutJob | None = None
    ready: bool = False


class ProcessPoolExecutor(Executor):
    """A pool of worker processes on this machine, each set up once by an initializer.

    Processes start with ``forkserver`` (``spawn`` where there is none), so no worker
    inherits the driver's threads or locks; the fork server preloads the engine, so a
    new worker is ready in a fraction of a second. Each worker gets ``threads`` CPU
    threads for torch and OpenCV, pays for the engine's imports (torch's too, when the
    options need it) once in :func:`prepare_process`, and then takes one cut at a time.
    Unlike :mod:`concurrent.futures`, a worker that dies fails exactly the cut it was
    colouring and is replaced; the pool goes on.
    """

    name = "process-pool"

    def __init__(
        self,
        workers: int,
        threads: int,
        options: dict[str, Any],
        progress: ProgressFn | None = None,
    ) -> None:
        self._threads = threads
        self._options = options
        self._progress = progress
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self._results: deque[CutResult] = deque()
        self._closed = False
        self._idle_deaths = 0
        # Workers read from this until EOF; only the driver holds (and never uses) the
        # write end, so they all end when the driver does.
        self._lifeline_r, self._lifeline_w = self._ctx.Pipe(duplex=False)
        t0 = time.perf_counter()
        for _ in range(workers):
            self._workers.append(self._start())
        self._wait_ready()
        self.startup_seconds = time.perf_counter() - t0

    def _start(self) -> _Worker:
        ours, theirs = self._ctx.Pipe(duplex=True)
        p = self._ctx.Process(
            target=_worker_main,
            args=(theirs, self._lifeline_r, self._threads, self._options),
            name="celcolor-batch-worker",
            daemon=True,
        )
        p.start()
        theirs.close()
        return _Worker(p, ours)

    def _wait_ready(self) -> None:
        """Wait until every worker has prepared (so start-up is not charged to a cut)."""
        while not all(w.ready for w in self._workers):
            self._poll(timeout=None)

    def free(self) -> int:
        return sum(1 for w in self._workers if w.job is None)

    def submit(self, job: CutJob) -> None:
        for w in self._workers:
            if w.job is None:
                w.job = job
                # If the worker died, _poll sees its sentinel and fails the job.
                with contextlib.suppress(BrokenPipeError, OSError):
                    w.conn.send(job)
                return
        raise RuntimeError("submit() with no free worker; check free() first")

    def next_result(self) -> CutResult:
        while not self._results:
            if not any(w.job is not None for w in self._workers):
                raise RuntimeError("next_result() with no job running")
            self._poll(timeout=None)
        return self._results.popleft()

    def _poll(self, timeout: float | None) -> None:
        by_conn = {w.conn: w for w in self._workers}
        by_sentinel = {w.process.sentinel: w for w in self._workers}
        ready = wait([*by_conn, *by_sentinel], timeout)
        for obj in ready:
            w = by_conn.get(obj)  # type: ignore[call-overload]
            if w is not None:
                self._receive(w)
        for obj in ready:
            w = by_sentinel.get(obj)  # type: ignore[call-overload]
            if w is not None and w in self._workers:
                self._drain(w)
                self._died(w)

    def _receive(self, w: _Worker) -> bool:
        """Handle one message from ``w``; False at end-of-file (it died)."""
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            return False  # its sentinel says so
        kind = msg[0]
        if kind == "progress":
            if self._progress is not None:
                self._progress(msg[1], msg[2], msg[3])
        elif kind == "result":
            w.job = None
            self._results.append(msg[1])
        elif kind == "ready":
            w.ready = True
        elif kind == "fatal":
            self.close(cancel=True)
            raise CelcolorError(f"a batch worker could not start: {msg[1]}")
        return True

    def _drain(self, w: _Worker) -> None:
        """Read what a dead worker sent before it died (its last result may be there)."""
        with contextlib.suppress(EOFError, OSError):
            while w.conn.poll() and self._receive(w):
                pass

    def _died(self, w: _Worker) -> None:
        w.process.join(timeout=1)
        code = w.process.exitcode
        w.conn.close()
        self._workers.remove(w)
        how = _exit_text(code)
        if not w.ready:
            self.close(cancel=True)
            raise CelcolorError(
                f"a batch worker died while starting ({how}); a script that starts a batch "
                "needs an `if __name__ == '__main__':` guard"
            )
        if w.job is not None:
            log.warning("worker %s %s while colouring %s", w.process.pid, how, w.job.name)
            self._results.append(
                failed(w.job.name, f"the worker process {how} while colouring this cut")
            )
        else:
            self._idle_deaths += 1
            if self._idle_deaths > 3:
                self.close(cancel=True)
                raise CelcolorError(f"batch workers keep dying with no cut to blame ({how})")
        if not self._closed:
            # Keep the pool at its size; the new worker takes jobs as soon as it is ready.
            self._workers.append(self._start())

    def close(self, cancel: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        for w in self._workers:
            if cancel and w.job is not None:
                w.process.terminate()
                continue
            with contextlib.suppress(BrokenPipeError, OSError):
                w.conn.send(None)
        for w in self._workers:
            w.process.join(timeout=10 if not cancel else 2)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=2)
            w.conn.close()
        self._workers.clear()
        self._lifeline_w.close()
        self._lifeline_r.close()


def _context() -> Any:
    """forkserver (preloading the engine) where the OS has it, else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["celcolor.engine.batch_worker", "celcolor.engine.pipeline"])
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


def _exit_text(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


# --------------------------------------------------------------------------- Ray


def import_ray() -> Any:
    """Ray, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--executor ray needs Ray, which is not installed; install the cluster extra: "
            "pip install 'celcolor[cluster]'"
        ) from None
    return ray


def _ray_run_cut(job: CutJob, threads: int, options: dict[str, Any]) -> CutResult:
    """A Ray task: prepare the worker process (once per process), colour one cut."""
    prepare_process(threads, options)
    return run_cut(job)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once when a ``HOST:PORT`` Ray address does not answer: ``ray.init`` would
    retry for minutes, printing its own connection errors."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or "://" in address or not port.isdigit():
        return  # "auto", "ray://..." (Ray Client) and the like: Ray's own checks
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise CelcolorError(
            f"cannot reach Ray at {address} ({why}); is the cluster up (ray start --head)?"
        ) from e


class RayExecutor(Executor):
    """Each cut is a Ray task on an existing cluster (``address``) or on a local Ray.

    Ray reuses its worker processes, so :func:`prepare_process` (thread counts, imports)
    runs once per worker process, not per cut. Inputs and outputs must lie on storage that
    every node sees at the same path; the driver alone writes the manifest. A task whose
    worker or node is lost is retried by Ray (``max_retries``); a cut that raises is not.
    """

    name = "ray"

    def __init__(self, config: ExecutorConfig, options: dict[str, Any]) -> None:
        self._ray = ray = import_ray()
        t0 = time.perf_counter()
        self._owns_ray = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": True, "include_dashboard": False}
            if config.address is not None:
                kwargs = {"address": config.address, "log_to_driver": True}
                _check_reachable(config.address)
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                where = config.address or "a local Ray instance"
                raise CelcolorError(
                    f"cannot start or reach Ray at {where} ({' '.join(str(e).split())[:200]})"
                ) from e
            self._owns_ray = True
        self._max = config.workers
        self._task = ray.remote(_ray_run_cut).options(
            num_cpus=config.cpus_per_cut,
            num_gpus=config.gpus_per_cut,
            max_retries=2,
            retry_exceptions=False,
        )
        self._threads = config.threads_per_worker()
        self._options = options
        self._options_ref = ray.put(options)
        self._running: dict[Any, CutJob] = {}
        self.startup_seconds = time.perf_counter() - t0

    def free(self) -> int:
        if self._max is None:
            return 1 << 30
        return max(0, self._max - len(self._running))

    def submit(self, job: CutJob) -> None:
        ref = self._task.remote(job, self._threads, self._options_ref)
        self._running[ref] = job

    def next_result(self) -> CutResult:
        ray = self._ray
        if not self._running:
            raise RuntimeError("next_result() with no job running")
        done, _ = ray.wait(list(self._running), num_returns=1)
        ref = done[0]
        job = self._running.pop(ref)
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as e:
            why = " ".join(str(e).split())
            return failed(job.name, f"Ray task lost: {type(e).__name__}: {why[:300]}")

    def close(self, cancel: bool = False) -> None:
        ray = self._ray
        if cancel:
            for ref in list(self._running):
                try:
                    ray.cancel(ref, force=True)
                except Exception as e:  # best effort: the cluster may be gone already
                    log.debug("ray.cancel failed: %s", e)
        self._running.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
