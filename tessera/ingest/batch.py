"""Many devices at once: a seizure manifest, checked whole, then ingested several devices at a time.

Each device is an ordinary :func:`tessera.ingest.pipeline.ingest` run (so it is resumable on its own:
rerunning the batch skips what every device already stored) in its own thread; all of them share one
hashing executor (a local process pool sized to the machine, or one Dask client) so the machine or the
cluster is used once, not once per device.
"""

from __future__ import annotations

import csv
import io
import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from tessera.evidence import EvidenceError
from tessera.evidence.walk import pick_source
from tessera.ingest.executors import HashingExecutor, open_executor
from tessera.ingest.pipeline import IngestOptions, IngestProgress, IngestResult, ingest
from tessera.store.case import CaseHandle

DEVICE_KINDS = ("phone", "computer", "tablet", "storage", "capture")
COLUMNS = ("device", "kind", "suspect", "source")
REQUIRED = ("device", "source")


class ManifestError(ValueError):
    """The manifest cannot be used; nothing of it has been run."""


@dataclass(frozen=True, slots=True)
class ManifestRow:
    line: int
    device: str
    kind: str
    suspect: str | None
    source: Path  # absolute; relative paths in the manifest are taken from the manifest's folder


def read_manifest(path: Path) -> list[ManifestRow]:
    """Parse and check a whole manifest: columns, kinds, duplicate devices and that every source
    exists and is readable evidence. Raises :class:`ManifestError` naming the first bad line (and
    how many more there are), so a list is either run entirely or not at all."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets save CSV with a BOM
    except UnicodeDecodeError:
        raise ManifestError(f"manifest {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    # Spreadsheets set to a European locale save CSV with semicolons.
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    base = Path(os.path.abspath(path.parent))
    problems: list[str] = []
    rows: list[ManifestRow] = []
    header: list[str] | None = None
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _header(cells, reader.line_num)
                continue
            if len(cells) != len(header):
                problems.append(f"line {reader.line_num}: {len(cells)} fields, the header has {len(header)}")
                continue
            try:
                row = _row(dict(zip(header, cells, strict=True)), reader.line_num, base)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if row.device in seen:
                first_line = seen[row.device]
                problems.append(
                    f"line {row.line}: device {row.device} is listed twice (first on line {first_line})"
                )
                continue
            seen[row.device] = row.line
            rows.append(row)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    except ManifestError as exc:
        problems.append(str(exc))
    if header is None and not problems:
        problems.append(f"no header: the first line must name the columns {','.join(COLUMNS)}")
    elif not rows and not problems:
        problems.append("no devices listed")
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ManifestError(f"manifest {path}: {problems[0]}{more}; nothing was ingested")
    return rows


def _header(cells: list[str], line: int) -> list[str]:
    names = [c.strip().lower() for c in cells]
    for name in names:
        if name not in COLUMNS:
            raise ManifestError(
                f"line {line}: unknown column {name!r} (the first line names the columns, of "
                f"{', '.join(COLUMNS)})"
            )
        if names.count(name) > 1:
            raise ManifestError(f"line {line}: column {name!r} appears twice")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ManifestError(f"line {line}: missing column(s) {', '.join(missing)}")
    return names


def _row(values: dict[str, str], line: int, base: Path) -> ManifestRow:
    device = values["device"].strip()
    kind = (values.get("kind") or "").strip().lower() or "storage"
    suspect = (values.get("suspect") or "").strip() or None
    raw = values["source"].strip()
    if not device:
        raise ValueError(f"line {line}: empty device id")
    if kind not in DEVICE_KINDS:
        raise ValueError(f"line {line}: kind {kind!r} is not one of {', '.join(DEVICE_KINDS)}")
    if not raw:
        raise ValueError(f"line {line}: empty source")
    # abspath, not resolve: the examiner's path is recorded as written, symlinks and all.
    source = Path(os.path.abspath(base / Path(raw).expanduser()))
    if not os.path.lexists(source):
        raise ValueError(f"line {line}: no such evidence source: {source}")
    try:
        pick_source(source)
    except EvidenceError as exc:
        raise ValueError(f"line {line}: {exc}") from None
    return ManifestRow(line, device, kind, suspect, source)


@dataclass
class DeviceOutcome:
    row: ManifestRow
    result: IngestResult | None = None
    #: The device could not be ingested at all (unusable source, executor lost, ...).
    error: str | None = None
    elapsed: float = 0.0

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        if self.result is None:
            return "not run"
        # Errors stored by an earlier, interrupted run of the device count as much as this run's.
        return "errors" if self.result.errors or self.result.stored_file_errors else "complete"


class BatchProgress(Protocol):
    def started(self, row: ManifestRow) -> IngestProgress | None: ...
    def finished(self, outcome: DeviceOutcome) -> None: ...


@dataclass
class _SerialCase(CaseHandle):
    """The case with its sessions taken one at a time across the device threads.

    SQLite has one writer anyway, but a long transaction (a large chat database stored in one go)
    would outlast the busy timeout of another device's commit ("database is locked"), and a messaging
    source's account look-up followed by its inserts must not interleave with another device's (on
    PostgreSQL two devices would both create the same account). A lock around whole sessions removes
    both; the hashing, which is where the time goes, still runs for all devices at once.
    """

    lock: threading.RLock = field(default_factory=threading.RLock)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.lock, super().session() as s:
            yield s


def run_batch(
    case: CaseHandle,
    rows: list[ManifestRow],
    *,
    parallel: int = 2,
    workers: int = os.cpu_count() or 1,
    executor: str = "local",
    scheduler: str | None = None,
    pool: HashingExecutor | None = None,
    template: IngestOptions | None = None,
    progress: BatchProgress | None = None,
) -> list[DeviceOutcome]:
    """Ingest every device of ``rows``, ``parallel`` at a time, and return one outcome per row in
    manifest order. One device failing does not stop the others.

    Hashing goes to ``pool`` if given (left open), else to one executor opened here for all devices
    (``workers`` processes in total for ``local``; the cluster for ``dask``) and closed at the end.
    ``template`` carries the other ingest options (decode, region, time zone, walk order).
    """
    parallel = max(1, min(parallel, len(rows)))
    owned = pool is None
    # Opened before any device thread exists: the local pool forks its workers, which is only safe
    # while this process has no other threads.
    shared = open_executor(executor, workers=workers, scheduler=scheduler) if owned else pool
    serial = _SerialCase(case.directory, case.name, case.agency, case.url, case.engine)
    base = template or IngestOptions(device_id="")
    # Each device keeps its share of the executor's slots in flight, so all of them stay busy. Two at
    # least where the pool has several processes: ``workers`` > 1 is also how the pipeline knows that
    # processes already share the cores (a video is then hashed on one thread per process).
    per_device = (
        0 if shared is None else shared.slots if shared.slots < 2 else max(2, shared.slots // parallel)
    )
    outcomes = {row.device: DeviceOutcome(row) for row in rows}
    todo: queue.SimpleQueue[ManifestRow] = queue.SimpleQueue()
    for row in rows:
        todo.put(row)
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                row = todo.get_nowait()
            except queue.Empty:
                return
            opts = replace(
                base,
                device_id=row.device,
                kind=row.kind,
                suspect=row.suspect,
                workers=per_device,
                executor=executor if shared is not None else "inline",
                pool=shared,
            )
            outcome = _one(serial, row, opts, progress)
            if stop.is_set():
                return  # interrupted: the executor was closed under it, its error means nothing
            outcomes[row.device] = outcome
            if progress:
                progress.finished(outcome)

    # Daemon threads: an interrupted batch must be able to exit; every device resumes on the next run.
    threads = [threading.Thread(target=work, name=f"ingest-batch-{n}", daemon=True) for n in range(parallel)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # short joins keep Ctrl-C responsive
    finally:
        stop.set()
        if owned and shared is not None:
            shared.close()
    return [outcomes[row.device] for row in rows]


def _one(
    case: CaseHandle, row: ManifestRow, opts: IngestOptions, progress: BatchProgress | None
) -> DeviceOutcome:
    out = DeviceOutcome(row)
    t0 = time.monotonic()
    device_progress = progress.started(row) if progress else None
    try:
        out.result = ingest(case, row.source, opts, device_progress)
    except EvidenceError as exc:
        out.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one device's failure must not end the others' runs
        out.error = f"{type(exc).__name__}: {exc}"
    out.elapsed = time.monotonic() - t0
    return out
