"""The ingest pipeline: walk -> hash (worker processes) -> store -> match, resumable.

The walker runs in the main process and streams items; hashing runs in a pool of worker processes fed
through a bounded window of small batches (so memory does not grow with the device); one writer (the
main process) stores results in short transactions. A file row is written only together with its
media row and matches, so after a kill the next run skips exactly the locators already stored and
hashes the rest: nothing is duplicated (natural keys + insert-or-ignore) and nothing is missing.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import tessera
from tessera.evidence import Limits, iter_evidence
from tessera.evidence.base import open_dir_fd
from tessera.hashing.video import DEFAULT_SECONDS_PER_HASH, VideoOptions
from tessera.ingest.executors import HashingExecutor, open_executor
from tessera.ingest.hashwork import Hashed, hash_files, record_of, work_of
from tessera.ingest.hashwork import hash_batch as hash_batch  # callers that import it from here
from tessera.ingest.messaging import SourceResult
from tessera.ingest.runs import (
    COMPLETE,
    INTERRUPTED,
    STOPPED,
    SourceClaim,
    absolute,
    claim_source,
    end_run,
    mark_interrupted,
    record_facts,
    record_verifications,
    stored_file_errors,
)
from tessera.ingest.sources import MessagingStage
from tessera.ingest.storeproc import StoreProcess, wanted
from tessera.ingest.writer import FLUSH_FILES as FLUSH_FILES  # bench and callers read these here
from tessera.ingest.writer import FLUSH_SECONDS as FLUSH_SECONDS
from tessera.ingest.writer import RAMP_FILES, IngestProgress, _Writer
from tessera.ingest.writer import HitReport as HitReport
from tessera.messaging.coverage import INCOMPLETE
from tessera.network.persons import link_persons
from tessera.records import EvidenceItem
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.writes import existing_locators

if TYPE_CHECKING:
    from tessera.ingest.matcher import CaseMatcher

BATCH = 32  # items per worker task while a caller waits for the first hit ...
#: ... and otherwise: every task costs the parent a wake-up of the pool's threads and a GIL hand-off
#: (about a millisecond on a busy machine), so small files go a few hundred at a time ...
BATCH_FILES = 256
#: ... once RAMP_FILES files are walked (tessera.ingest.writer).
BATCH_BYTES = 2 << 20  # ... while big files (photos, videos) go one or two at a time, to every worker

log = logging.getLogger(__name__)


@dataclass
class IngestOptions:
    device_id: str
    kind: str = "storage"
    suspect: str | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    fast_decode: bool = True
    limits: Limits | None = None
    #: Country whose national number forms messaging sources use (ISO code), for phone numbers.
    region: str | None = None
    #: Zone that chat exports' local times are read in.
    local_tz: tzinfo | None = None
    #: Walk media folders first so the first hit comes early (the order never changes the results).
    media_first: bool = True
    #: Where hashing runs: a name in :data:`tessera.ingest.executors.EXECUTORS` (local, inline, dask).
    executor: str = "local"
    #: Dask scheduler address (``tcp://host:8786``) for the ``dask`` executor.
    scheduler: str | None = None
    #: An executor the caller opened and shares between ingests (ingest-batch): used as it is and left
    #: open; ``executor`` and ``scheduler`` are then not used, and ``workers`` only sizes the window.
    pool: HashingExecutor | None = None
    #: Video frame hashing (vPDQ): one frame hash per this many seconds, 0 = every frame.
    video_seconds_per_hash: float = DEFAULT_SECONDS_PER_HASH
    #: False: videos get digests, size and duration only (no frame hashes, no video matching).
    video_frames: bool = True
    #: Options every messaging parser is given (``owner``: the device owner's number, for a msgstore.db
    #: whose shared preferences were not seized).
    parser_options: dict[str, str] = field(default_factory=dict)
    #: Passwords or recovery keys for encrypted volumes in disk images; never stored or logged.
    volume_keys: tuple[str, ...] = field(default=(), repr=False)
    #: ``source`` is one more source of an existing device (a phone's SD card): its files are stored
    #: under ``/<source name>`` (see :mod:`tessera.ingest.runs`). Without it, a different source under
    #: an existing device id is refused.
    add_source: bool = False
    #: Store in a process of its own where that is safe (:func:`tessera.ingest.storeproc.wanted`);
    #: False stores in this process.
    store_process: bool = True


@dataclass
class IngestResult:
    run_id: int
    files_new: int = 0
    files_skipped: int = 0
    media_new: int = 0
    errors: int = 0
    hits: int = 0
    bytes_hashed: int = 0
    messaging: list[SourceResult] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # first few (locator, error)
    elapsed: float = 0.0
    #: Files of the device stored with an error, by this run or an earlier one (a resumed run is
    #: judged on everything the device holds).
    stored_file_errors: int = 0
    #: The run was of the device's first source (not one added with ``add_source``).
    primary: bool = True


def count_tree(root: Path) -> tuple[int, int]:
    """Quick pre-count of a directory tree (files, bytes) for the progress bar's ETA.

    Listing a folder updates its atime like reading a file does; every folder is listed through an
    ``O_NOATIME`` descriptor, as the walk itself does. A root named through a link is followed once.
    """
    root = Path(os.path.realpath(root)) if os.path.islink(root) else root
    if root.is_file():
        return 1, root.stat().st_size
    files = nbytes = 0
    stack = [os.fsencode(root)]
    while stack:
        path = stack.pop()
        try:
            fd = open_dir_fd(path)
        except OSError:
            continue
        try:
            with os.scandir(fd) as it:
                for e in it:
                    try:
                        st = os.stat(e.name, dir_fd=fd, follow_symlinks=False)
                    except OSError:
                        files += 1
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(path + b"/" + os.fsencode(e.name))
                    else:
                        files += 1
                        if stat.S_ISREG(st.st_mode):
                            nbytes += st.st_size
        except OSError:
            continue
        finally:
            os.close(fd)
    return files, nbytes


def _claim(s: Session, opts: IngestOptions, source: Path) -> SourceClaim:
    claim = claim_source(s, opts.device_id, source, add_source=opts.add_source)
    if claim is None:
        path = absolute(source)
        s.add(m.Device(id=opts.device_id, kind=opts.kind, suspect=opts.suspect, source_path=path))
        return SourceClaim(path, "", True)
    dev = s.get(m.Device, opts.device_id)
    if dev is not None:
        dev.suspect = opts.suspect or dev.suspect
    return claim


def _prefixed(walker: Iterator[EvidenceItem], prefix: str) -> Iterator[EvidenceItem]:
    raw = prefix.encode()
    for item in walker:
        yield replace(item, locator=prefix + item.locator, raw_path=raw + item.raw_path)


def _load_matcher(s: Session) -> CaseMatcher:
    from tessera.ingest.matcher import CaseMatcher, case_default_threshold  # numpy: only where it matches

    return CaseMatcher(case_default_threshold(s)).load(s)


def _executor(opts: IngestOptions) -> HashingExecutor | None:
    return open_executor(opts.executor, workers=opts.workers, scheduler=opts.scheduler)


def ingest(
    case: CaseHandle,
    source: Path,
    opts: IngestOptions,
    progress: IngestProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> IngestResult:
    """Ingest one evidence source into the case as device ``opts.device_id``."""
    t0 = time.monotonic()
    checks: list[tuple[str, str, str, str]] = []  # forensic images' own hashes, checked by the walk
    facts: list[tuple[str, str, str]] = []  # what extractions say about the phone
    limits = replace(
        opts.limits or Limits(scratch_dir=case.scratch, media_first=opts.media_first),
        on_verify=lambda *checked: checks.append(checked),
        on_fact=lambda *fact: facts.append(fact),
    )
    if opts.volume_keys:
        limits = replace(limits, volume_keys=opts.volume_keys)
    # iter_evidence checks the source at once: an unusable one is refused before anything is written.
    walker = iter_evidence(source, limits)
    log.info("ingest of %s from %s started (%s executor)", opts.device_id, source, opts.executor)
    owned = opts.pool is None
    store: StoreProcess | None = None
    executor: HashingExecutor | None = None
    try:
        executor = _executor(opts) if owned else opts.pool
        if owned and executor is not None and executor.slots != opts.workers:
            opts = replace(opts, workers=executor.slots)  # the window follows the cluster's size
        if opts.store_process and wanted(
            threading.current_thread() is threading.main_thread(),
            has_pool=executor is not None,
            waits_for_hit=should_stop is not None,
        ):
            store = StoreProcess(case, opts.device_id)
        result = _run(case, source, opts, walker, progress, should_stop, executor, store)
    finally:
        if store is not None:
            store.close()
        if owned and executor is not None:
            executor.close()
    if checks:
        image_source = result.primary and not os.path.isdir(source)
        record_verifications(case, opts.device_id, result.run_id, checks, image_source)
    if facts:
        record_facts(case, opts.device_id, result.run_id, facts)
    result.stored_file_errors = stored_file_errors(case, opts.device_id)
    result.elapsed = time.monotonic() - t0
    counts = {k: getattr(result, k) for k in ("files_new", "files_skipped", "media_new", "hits", "errors")}
    log.info("ingest of %s done in %.1fs: %s", opts.device_id, result.elapsed, _said(counts), extra=counts)
    return result


def _said(counts: dict[str, int]) -> str:
    return ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())


def _run(
    case: CaseHandle,
    source: Path,
    opts: IngestOptions,
    walker: Iterator[EvidenceItem],
    progress: IngestProgress | None,
    should_stop: Callable[[], bool] | None,
    executor: HashingExecutor | None,
    store: StoreProcess | None,
) -> IngestResult:
    with case.session() as s:
        claim = _claim(s, opts, source)
        mark_interrupted(s, opts.device_id)
        run = m.IngestRun(device_id=opts.device_id, source_path=claim.path, tool_version=tessera.__version__)
        s.add(run)
        s.commit()
        run_id = run.id
        # Only a device that already has files can be a resumed run; a first run skips the look-ups.
        resuming = s.scalar(select(m.File.id).where(m.File.device_id == opts.device_id).limit(1)) is not None
        # A store process loads the hash sets itself: this process then never matches.
        matcher = None if store is not None else _load_matcher(s)
    result = IngestResult(run_id=run_id, primary=claim.primary)
    if claim.prefix:
        walker = _prefixed(walker, claim.prefix)
    try:
        _stream(case, source, opts, walker, progress, should_stop, executor, result, matcher, resuming, store)
    except BaseException:
        # Ctrl-C, a lost executor, a crash: the run ended early and the next one resumes it. (A kill
        # gets here never; the next run marks it.) The flush being stored ends first.
        if store is not None:
            store.close()
        end_run(case, run_id, INTERRUPTED)
        raise
    return result


def _stream(
    case: CaseHandle,
    source: Path,
    opts: IngestOptions,
    walker: Iterator[EvidenceItem],
    progress: IngestProgress | None,
    should_stop: Callable[[], bool] | None,
    executor: HashingExecutor | None,
    result: IngestResult,
    matcher: CaseMatcher | None,
    resuming: bool,
    store: StoreProcess | None = None,
) -> None:
    if progress:
        # The pre-count only feeds the ETA: it runs beside the walk so it never delays the first hit.
        counter = progress
        threading.Thread(target=lambda: counter.start(*count_tree(source)), daemon=True).start()
    run_id = result.run_id
    writer = _Writer(case, opts.device_id, run_id, matcher, result, progress)
    if store is not None:
        store.begin(run_id, result, progress)
        writer.remote = store
    if should_stop is not None:
        writer.flush_files = BATCH  # a caller waiting for the first hit must not wait for a full buffer
    window = max(2, opts.workers * 4)
    # Each worker process hashes one video on one thread: the processes already fill the cores.
    video = VideoOptions(
        enabled=opts.video_frames,
        seconds_per_hash=opts.video_seconds_per_hash,
        threads=0 if executor is None else 1,
        scratch=str(case.scratch),
    )
    inflight: deque[tuple[Future[list[Hashed]], list[EvidenceItem]]] = deque()

    def drain_one() -> None:
        fut, items = inflight.popleft()
        for item, res in zip(items, fut.result(), strict=True):
            writer.add(item, *record_of(res))

    def submit(batch: list[EvidenceItem]) -> None:
        done: set[str] = set()
        if resuming:
            with case.session() as s:
                done = existing_locators(s, opts.device_id, [i.locator for i in batch])
        todo = [i for i in batch if i.locator not in done]
        result.files_skipped += len(batch) - len(todo)
        for i in todo:
            if i.opener is None:
                writer.add(i, None, None)
        items = [i for i in todo if i.opener is not None]
        if not items:
            return
        work = [work_of(i.opener) for i in items if i.opener is not None]
        if executor is None:
            for item, res in zip(items, hash_files(work, opts.fast_decode, video), strict=True):
                writer.add(item, *record_of(res))
            return
        inflight.append((executor.submit(hash_files, work, opts.fast_decode, video), items))
        while len(inflight) >= window:
            drain_one()

    batch: list[EvidenceItem] = []
    batch_bytes = 0
    batch_files = BATCH
    stage = MessagingStage()
    for walked, item in enumerate(walker, 1):
        if walked == RAMP_FILES and should_stop is None:
            batch_files = BATCH_FILES
        if stage.see(item):
            writer.keep.add(item.locator)
        batch.append(item)
        batch_bytes += item.size or 0
        if len(batch) >= batch_files or batch_bytes >= BATCH_BYTES:
            submit(batch)
            batch, batch_bytes = [], 0
            if should_stop and should_stop():
                break
    if batch:
        submit(batch)
    while inflight:
        drain_one()
    writer.finish()
    if store is not None:
        store.close()  # its hash sets' index goes with it, before the messaging stage
    # Messaging sources are parsed once their device's files are stored, so attachments resolve.
    result.messaging = stage.run(
        case, opts.device_id, region=opts.region, local_tz=opts.local_tz, options=opts.parser_options
    )
    if stage.sources:
        # Persons (accounts of several platforms sharing a number) follow the accounts just stored.
        with case.session() as s:
            link_persons(s)
            s.commit()
    for res in result.messaging:
        if res.status in INCOMPLETE:
            result.errors += 1
            result.problems.append((res.locator, f"{res.status}: {res.error}"))
    with case.session() as s:
        s.execute(
            update(m.IngestRun)
            .where(m.IngestRun.id == run_id)
            .values(
                status=COMPLETE if not (should_stop and should_stop()) else STOPPED,
                finished_at=m.utcnow(),
                files_skipped=result.files_skipped,
                errors=result.errors,
            )
        )
        s.commit()
