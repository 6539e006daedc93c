"""The ingest's single writer in a process of its own, so storing runs beside the walk.

On a tree of small files the ingest's main process was the bottleneck: it walks, hands files to the
hashing workers, and stored every result itself (SQLite's inserts, the matching, the commits: about
half of its CPU), while the hashing workers waited for work (bench/bench_smallfiles.py; issue 16
part 1). Here the main process only buffers what the workers return and sends each flush to a
storing process, which runs the very same :class:`~tessera.ingest.writer._Writer` code on a database
connection of its own and answers with what it stored (counts, hits for the progress display).

What it keeps from the in-process writer: one writer per device, each flush one transaction (a file
row is stored together with its media row and matches), the flush sizes and times of
:mod:`tessera.ingest.writer`, the messaging stage only after everything is stored. At most
:data:`IN_FLIGHT` flushes are waiting, so memory stays bounded whatever the device's size.

It is used where forking is safe and pays (see :func:`wanted`): ``tessera ingest`` on the main
thread with a pool of hashing workers. ``ingest-batch`` (devices in threads), the inline executor and
callers waiting for the first hit store in their own process.

A store process that fails hands its exception back (a database fault stays a database fault); one
that dies is named with its exit code. It ignores Ctrl-C (the main process stops it after the flush
under way) and dies with the main process, even on ``kill -9`` (death signal), so an interrupted run
leaves only whole transactions and resumes like any other.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from tessera.ingest.executors import _die_with_parent
from tessera.ingest.writer import HitReport, IngestProgress, _Writer
from tessera.records import EvidenceItem, MediaRecord
from tessera.store.case import CaseHandle
from tessera.store.db import make_engine

if TYPE_CHECKING:
    from tessera.ingest.pipeline import IngestResult

#: Flushes sent and not yet answered: one being stored while the next one is sent.
IN_FLIGHT = 2
#: Seconds to wait for the store process to end after it was told to.
JOIN_SECONDS = 30.0


class StoredItem(NamedTuple):
    """What the writer reads of an :class:`EvidenceItem` (its opener stays behind: it is not data)."""

    locator: str
    raw_path: bytes
    size: int | None
    mtime: float | None
    atime: float | None
    ctime: float | None
    crtime: float | None
    deleted: bool
    orphan: bool
    stream: str | None
    is_symlink: bool
    link_target: str | None
    error: str | None
    depth: int
    link_kind: str | None


# Items and records cross as plain tuples, rebuilt on the other side: half the pickling cost of the
# objects themselves (3 against 6.6 us per file to send, 3.5 against 5.5 to receive).
_item_fields = attrgetter(*StoredItem._fields)
_record_fields = attrgetter(*(f.name for f in fields(MediaRecord)))

Flush = list[tuple[tuple[Any, ...], tuple[Any, ...] | None, str | None]]


@dataclass
class _Stored:
    """One flush's answer: what changed in the run's counters, and the hits to show."""

    files_new: int
    media_new: int
    hits: int
    errors: int
    problems: list[tuple[str, str]]
    reports: list[HitReport]
    advanced: list[tuple[int, int]]


class _Collect:
    """The store process's progress: gathers what the main process shows."""

    def __init__(self) -> None:
        self.reports: list[HitReport] = []
        self.advanced: list[tuple[int, int]] = []

    def start(self, total_files: int | None, total_bytes: int | None) -> None:  # pragma: no cover
        pass

    def advance(self, files: int, nbytes: int) -> None:
        self.advanced.append((files, nbytes))

    def hit(self, hit: HitReport) -> None:
        self.reports.append(hit)


def wanted(in_main_thread: bool, has_pool: bool, waits_for_hit: bool) -> bool:
    """Whether an ingest stores in a process of its own.

    Only with a pool of hashing workers (otherwise hashing and storing take turns on one process
    anyway); only from the main thread: ``ingest-batch`` runs each device on a thread of its own, and a
    fork while another device's thread holds the database library's locks could leave the child
    waiting on them for ever; and not for a caller that stops at the first hit (it reads the hits as
    each flush is stored).
    """
    return (
        in_main_thread
        and has_pool
        and not waits_for_hit
        and "fork" in multiprocessing.get_all_start_methods()
    )


class StoreProcess:
    """The main process's end: sends flushes, applies answers to the run's result and progress."""

    def __init__(self, case: CaseHandle, device_id: str) -> None:
        # Forked with no database connection open: the child opens its own. The threads of this
        # process (the pool's, a progress display's) do not exist there; it never uses what they hold.
        case.engine.dispose()
        ctx = multiprocessing.get_context("fork")
        self._todo: Any = ctx.Queue()
        self._stop = ctx.Event()
        self._answers, child_end = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child,
            args=(self._todo, self._stop, child_end, case, device_id, os.getpid()),
            name="tessera-store",
            daemon=True,
        )
        self._proc.start()
        child_end.close()
        self._waiting = 0
        self._closed = False
        self._result: IngestResult | None = None
        self._progress: IngestProgress | None = None

    def begin(self, run_id: int, result: IngestResult, progress: IngestProgress | None) -> None:
        """The run the flushes belong to (known once the run row exists, after the fork)."""
        self._result, self._progress = result, progress
        self._todo.put(("run", run_id))

    def send(self, buf: Sequence[tuple[EvidenceItem, MediaRecord | None, str | None]]) -> None:
        """Hand one flush over; waits only while :data:`IN_FLIGHT` flushes are unanswered."""
        while self._waiting >= IN_FLIGHT:
            self._take(block=True)
        flush: Flush = [
            (_item_fields(item), None if rec is None else _record_fields(rec), err) for item, rec, err in buf
        ]
        self._todo.put(("store", flush))
        self._waiting += 1
        while self._take(block=False):
            pass

    def wait(self) -> None:
        """Every flush sent is stored (or its failure raised here)."""
        while self._waiting:
            self._take(block=True)

    def close(self) -> None:
        """Let the process end after the flush under way; flushes sent and not yet begun are dropped
        (after :meth:`wait` there are none; after an interruption their files are stored on resume)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._proc.is_alive():
            with contextlib.suppress(OSError, ValueError):
                self._todo.put(None)
            self._proc.join(JOIN_SECONDS)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._todo.cancel_join_thread()  # nothing left to deliver to a process that has ended
        self._todo.close()
        self._answers.close()

    def _take(self, *, block: bool) -> bool:
        if not block and not self._answers.poll():
            return False
        try:
            kind, payload = self._answers.recv()
        except (EOFError, OSError):
            self._proc.join(1.0)
            raise StoreProcessError(
                f"the storing process ended unexpectedly (exit code {self._proc.exitcode}); "
                "run the ingest again to resume"
            ) from None
        if kind == "error":
            self._waiting = 0
            raise _exception(payload)
        self._waiting -= 1
        self._apply(payload)
        return True

    def _apply(self, done: _Stored) -> None:
        res = self._result
        assert res is not None, "begin() names the run before anything is stored"
        res.files_new += done.files_new
        res.media_new += done.media_new
        res.hits += done.hits
        res.errors += done.errors
        res.problems.extend(done.problems[: max(0, 20 - len(res.problems))])
        if self._progress is not None:
            for report in done.reports:
                self._progress.hit(report)
            for files, nbytes in done.advanced:
                self._progress.advance(files, nbytes)


class StoreProcessError(RuntimeError):
    """The storing process ended without answering."""


def _exception(payload: bytes | str) -> BaseException:
    if isinstance(payload, bytes):
        try:
            exc = pickle.loads(payload)  # noqa: S301 - from our own child process, over a private pipe
        except Exception:  # noqa: BLE001 - an exception that does not rebuild is named instead
            exc = None
        if isinstance(exc, BaseException):
            return exc
        payload = "an error that could not be handed over"
    return StoreProcessError(f"storing failed: {payload}")


def _portable(exc: BaseException) -> bytes | str:
    """``exc`` pickled for the main process: a database error keeps its class (the CLI's exit code
    for a database fault depends on it) without the statement's parameters, which need not pickle."""
    from sqlalchemy.exc import DBAPIError

    try:
        return pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - rebuilt below, else named
        pass
    if isinstance(exc, DBAPIError):
        orig = exc.orig if isinstance(exc.orig, Exception) else Exception(str(exc.orig))
        try:
            pickle.dumps(orig)
        except Exception:  # noqa: BLE001
            orig = Exception(f"{type(exc.orig).__name__}: {exc.orig}")
        with contextlib.suppress(Exception):
            return pickle.dumps(type(exc)(exc.statement, None, orig, hide_parameters=True))
    return f"{type(exc).__name__}: {exc}"


def _child(
    todo: Any, stop: Any, answers: Connection, parent_case: CaseHandle, device_id: str, parent: int
) -> None:
    # Ctrl-C reaches the whole process group: the main process decides, this one finishes its flush.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent, threading.current_thread() is threading.main_thread())
    # An engine of its own: the main process's (no connection open at the fork) is never used here.
    case = replace(parent_case, engine=make_engine(parent_case.url))
    try:
        _serve(todo, stop, answers, case, device_id)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the main process
        payload = _portable(exc)
        with contextlib.suppress(OSError, ValueError):
            answers.send(("error", payload))
    finally:
        case.close()
        answers.close()


def _serve(todo: Any, stop: Any, answers: Connection, case: CaseHandle, device_id: str) -> None:
    from tessera.ingest.matcher import CaseMatcher, case_default_threshold
    from tessera.ingest.pipeline import IngestResult

    writer: _Writer | None = None
    result: IngestResult | None = None
    collect = _Collect()
    while True:
        try:
            msg = todo.get()
        except (EOFError, OSError):
            return
        if msg is None or stop.is_set():
            return
        kind, payload = msg
        if kind == "run":
            result = IngestResult(run_id=payload)
            writer = _Writer(case, device_id, payload, None, result, collect)
            continue
        assert writer is not None and result is not None
        if writer.matcher is None:
            # Loaded with the first flush, not at the fork: a run with nothing to store (an empty
            # folder, everything already stored) ends without importing numpy and reading the hash
            # sets, which the main process waited for at its end.
            with case.session() as s:
                writer.matcher = CaseMatcher(case_default_threshold(s)).load(s)
        before = (result.files_new, result.media_new, result.hits, result.errors, len(result.problems))
        writer._store(
            [
                (StoredItem._make(item), None if rec is None else MediaRecord(*rec), err)  # type: ignore[misc]
                for item, rec, err in payload
            ]
        )
        answers.send(
            (
                "stored",
                _Stored(
                    result.files_new - before[0],
                    result.media_new - before[1],
                    result.hits - before[2],
                    result.errors - before[3],
                    result.problems[before[4] :],
                    collect.reports,
                    collect.advanced,
                ),
            )
        )
        collect.reports, collect.advanced = [], []


__all__ = ["StoreProcess", "StoreProcessError", "StoredItem", "wanted"]
