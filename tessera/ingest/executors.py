"""Where hashing runs: worker processes on this machine, the calling thread, or a Dask cluster.

The pipeline hands an executor small batches of ``(index, Opener)`` and a function to run on them
(:func:`tessera.ingest.pipeline.hash_batch`); it never looks at how the work is done. Every executor
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


#: Seconds between a worker's checks that its parent is still alive (where no death signal exists).
PARENT_POLL = 0.5
_PR_SET_PDEATHSIG = 1


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
            initializer=_die_with_parent,
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
    """

    def __init__(self, client: Client, *, owns_client: bool) -> None:
        self.client = client
        self._owns = owns_client
        # pure=False: two batches with equal arguments (a rerun) must both run, never be deduplicated.
        self._cf = client.get_executor(pure=False)
        self.slots = max(1, sum(client.nthreads().values()))

    @classmethod
    def connect(cls, target: str | Client | LocalCluster, timeout: float = CONNECT_TIMEOUT) -> DaskExecutor:
        """``target``: a scheduler address (``tcp://host:8786``), a ``LocalCluster`` or an open
        ``Client``. A client opened here is closed by :meth:`close`; one passed in is left open."""
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("--executor dask needs Dask (pip install 'tessera[dask]')") from None

        if isinstance(target, Client):
            return cls(target, owns_client=False)
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
        return cls(client, owns_client=True)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        fut: Future[T] = self._cf.submit(fn, *args, **kwargs)
        return fut

    def close(self) -> None:
        self._cf.shutdown(wait=False)  # cancels the batches still queued on the cluster
        if self._owns:
            self.client.close()


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
