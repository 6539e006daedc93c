"""Where hashing runs: worker processes on this machine, the calling thread, or a Dask cluster.

The pipeline hands an executor small batches of ``(index, Opener)`` and a function to run on them
(:func:`tessera.ingest.hashwork.hash_files`); it never looks at how the work is done. Every executor
returns :class:`concurrent.futures.Future` objects, so the pipeline's bounded window, its single writer
and therefore its resumability are the same whichever one runs the hashing.

Executors are registered in :data:`EXECUTORS` under permanent names (the ``--executor`` values).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tessera.plugins import Registry

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

T = TypeVar("T")

#: Seconds to wait for a Dask scheduler to answer, and for it to have at least one worker.
CONNECT_TIMEOUT = 5.0


class ExecutorError(RuntimeError):
    """An executor cannot be opened (no scheduler address, scheduler unreachable, no workers)."""


class HashingExecutor(Protocol):
    #: How many tasks run at once: the pipeline keeps a few times this many batches in flight.
    slots: int

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]: ...

    def close(self) -> None:
        """Cancel what has not started and release what this executor opened."""


class ExecutorFactory(Protocol):
    def __call__(self, *, workers: int, scheduler: str | None, timeout: float) -> HashingExecutor | None: ...


#: ``None`` from a factory means "hash in the calling thread" (the pipeline does it without a pool).
EXECUTORS: Registry[ExecutorFactory] = Registry("hashing executor")


def open_executor(
    name: str,
    *,
    workers: int = os.cpu_count() or 1,
    scheduler: str | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> HashingExecutor | None:
    try:
        factory = EXECUTORS.get(name)
    except KeyError as exc:
        raise ExecutorError(str(exc.args[0])) from None
    return factory(workers=workers, scheduler=scheduler, timeout=timeout)


def _warm() -> None:
    """Runs once in each worker so all of them exist before the caller starts any threads."""


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap, not from a fresh ``mmap`` each time: glibc's own ceiling
#: for the threshold it adapts by itself (``DEFAULT_MMAP_THRESHOLD_MAX``, 32 MiB on 64-bit).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of a heap goes back to the OS only beyond this: twice the mmap threshold, as
#: glibc's adaptive rule sets it. A worker keeps at most this much freed memory per malloc arena.
TRIM_THRESHOLD = 64 << 20
_malloc_tuned: bool | None = None


def tune_malloc() -> bool:
    """Keep an image's temporary buffers in the heap between images, in this (worker) process.

    Hashing an image allocates several buffers of 1-8 MB (decoded pixels, PDQ's float planes) and
    frees them before the next image. With glibc's defaults each one is a fresh ``mmap`` unmapped at
    ``free``, or lands at the heap's top and is trimmed back to the OS, so the next image faults every
    page in again. Profiled on a Dask worker (``perf``, ``py-spy``): a third of its CPU in the kernel
    (``exc_page_fault``, ``clear_page``) under numpy's and PDQ's loops, 11.8 million minor faults for
    8,760 files against 7,000 on the local pool; about 3 ms more CPU per 640x480 JPEG, twice the cost
    (bench/bench_scaling.py). glibc raises its thresholds by itself after the first large ``free``, but
    not far enough (the trim threshold stays below what one image frees), and not at all once
    ``MALLOC_TRIM_THRESHOLD_`` is set, which Dask's nannies do for every worker. Forked local workers
    merely inherited whatever their parent's heap had adapted to. Pinning both thresholds makes the
    cost the same everywhere.

    Process-wide, so only for processes that hash. Returns whether glibc took the settings (never on
    other C libraries, where this does nothing); tried once per process.
    """
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = False
        if sys.platform.startswith("linux"):
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):  # no C library symbol to call: leave the defaults
                return False
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            mallopt.restype = ctypes.c_int
            # Setting the mmap threshold first: it also ends glibc's adapting of both thresholds.
            _malloc_tuned = (
                mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            )
    return _malloc_tuned


def _on_worker(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    """What a Dask worker runs for each task: the malloc settings on first use, then the task.

    Per task rather than once at connect, so workers that join or restart later get them too; after the
    first task it costs one check. ``kwargs`` travel as one argument, so they reach ``fn`` (Dask's own
    ``submit`` would take names such as ``key`` or ``workers`` for itself).
    """
    tune_malloc()
    return fn(*args, **kwargs)


#: Seconds between a worker's checks that its parent is still alive (where no death signal exists).
PARENT_POLL = 0.5
_PR_SET_PDEATHSIG = 1


def _worker_init(parent: int, by_signal: bool) -> None:
    """Local pool worker initializer."""
    tune_malloc()
    _die_with_parent(parent, by_signal)


def _die_with_parent(parent: int, by_signal: bool) -> None:
    """Worker initializer: end this worker when the process that started the pool dies, even by
    ``kill -9`` (which runs no clean-up: the pool's workers would otherwise wait on their task queue
    for ever, reading evidence for no one).

    Linux sends the death signal when the parent *thread* that forked the worker ends, so it is only
    asked for when that thread is the main thread (``by_signal``); the watchdog thread covers every
    other case, and platforms without ``prctl``.
    """
    if by_signal and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the death signal was asked for
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="tessera-parent-watch", daemon=True).start()


class LocalExecutor:
    """A pool of worker processes on this machine."""

    def __init__(self, workers: int) -> None:
        # fork: workers start in milliseconds with the hashing code already imported (a forkserver
        # costs about a second per run). It is safe because workers only hash bytes and the pool is
        # started, all of it, before the matcher's index (with its OpenMP threads) or any device thread
        # of a batch exists; elsewhere, spawn.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        main = threading.current_thread() is threading.main_thread()
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_worker_init,
            initargs=(os.getpid(), main),
        )
        self.slots = workers
        for _ in range(workers):
            self.pool.submit(_warm)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self.pool.submit(fn, *args, **kwargs)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask distributed cluster.

    Workers open the evidence paths themselves, so every worker must see the evidence (and the case's
    scratch directory, where oversized archive members are spooled) at the same paths as this machine:
    shared storage. Results come back to this process, whose single writer stores them.

    Each worker process gets :func:`tune_malloc` with its first task (``tune_malloc=False``: the
    workers' allocator is left as the cluster set it up).
    """

    def __init__(self, client: Client, *, owns_client: bool, tune_malloc: bool = True) -> None:
        self.client = client
        self._owns = owns_client
        self._tune = tune_malloc
        # pure=False: two batches with equal arguments (a rerun) must both run, never be deduplicated.
        self._cf = client.get_executor(pure=False)
        self.slots = max(1, sum(client.nthreads().values()))

    @classmethod
    def connect(
        cls,
        target: str | Client | LocalCluster,
        timeout: float = CONNECT_TIMEOUT,
        *,
        tune_malloc: bool = True,
    ) -> DaskExecutor:
        """``target``: a scheduler address (``tcp://host:8786``), a ``LocalCluster`` or an open
        ``Client``. A client opened here is closed by :meth:`close`; one passed in is left open."""
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("--executor dask needs Dask (pip install 'tessera[dask]')") from None

        if isinstance(target, Client):
            return cls(target, owns_client=False, tune_malloc=tune_malloc)
        where = target if isinstance(target, str) else target.scheduler_address
        try:
            client = Client(target, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {where}: {exc}") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            client.close()
            raise ExecutorError(f"the Dask scheduler at {where} has no workers ({exc})") from None
        return cls(client, owns_client=True, tune_malloc=tune_malloc)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        # The key names the task after fn, as Dask would (the dashboard shows hash_batch, not the wrapper).
        key = f"{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}"
        if self._tune:
            fut: Future[T] = self._cf.submit(_on_worker, fn, args, kwargs, key=key)
        else:
            fut = self._cf.submit(_call, fn, args, kwargs, key=key)
        return fut

    def close(self) -> None:
        self._cf.shutdown(wait=False)  # cancels the batches still queued on the cluster
        if self._owns:
            self.client.close()


def _call(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    return fn(*args, **kwargs)


@EXECUTORS.register("local")
def _local(*, workers: int, scheduler: str | None, timeout: float) -> HashingExecutor | None:
    return LocalExecutor(workers) if workers > 0 else None


@EXECUTORS.register("inline")
def _inline(*, workers: int, scheduler: str | None, timeout: float) -> HashingExecutor | None:
    return None


@EXECUTORS.register("dask")
def _dask(*, workers: int, scheduler: str | None, timeout: float) -> HashingExecutor | None:
    if not scheduler:
        raise ExecutorError("the dask executor needs a scheduler address (--scheduler tcp://HOST:8786)")
    return DaskExecutor.connect(scheduler, timeout)
