"""The ingest's single writer: hashed items in, media, file and match rows committed in batches.

It stores on the thread that hands it the records. A storing thread of its own was tried (one flush in
flight while the next batch fills): on the 30,000-file tree of bench/bench_smallfiles.py the wall time
stayed the same (2.81-3.01 s against 2.67-2.97 s) and the parent's CPU rose by ~5 %, since the
driver's binding and everything around the inserts hold the GIL; so it was left out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from tessera.evidence import discard_spool
from tessera.records import EvidenceItem, MediaRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_producer import MediaExif, exif_row
from tessera.store.models_video import VideoFrameRow
from tessera.store.writes import existing_sha256, file_row, frame_rows, insert_ignore, media_row

if TYPE_CHECKING:
    # The matcher (numpy, faiss) is loaded where flushes are stored: with a store process, only there.
    from tessera.ingest.matcher import CaseMatcher, Hit
    from tessera.ingest.pipeline import IngestResult
    from tessera.ingest.storeproc import StoreProcess

#: Files walked before tasks and commits grow to their full size: the first results (and a small
#: source's) come as quickly as before, and a kill part-way through a small source still finds part
#: of it stored.
RAMP_FILES = 2048
#: Commit at least every this many files ... Each commit rewrites every index page it touches, and the
#: digest indexes are touched at random, so a commit costs about as much for 1,000 files as for 10,000.
FLUSH_FILES = 10_000
FLUSH_SECONDS = 1.0  # ... or this often, so hits reach the examiner quickly
#: ... and every this many while the first RAMP_FILES are stored: a small source (or the start of a
#: big one) is committed in parts, so a run killed part-way resumes from what it stored.
RAMP_FLUSH_FILES = 256
#: SQLite page cache of the writer's connection (KiB): a flush's dirty index pages stay in memory
#: until the commit instead of spilling to the WAL part-way (the default is 2 MiB).
WRITER_CACHE_KIB = 64 * 1024


log = logging.getLogger(__name__)


class IngestProgress(Protocol):
    def start(self, total_files: int | None, total_bytes: int | None) -> None: ...
    def advance(self, files: int, nbytes: int) -> None: ...
    def hit(self, hit: HitReport) -> None: ...


@dataclass(frozen=True, slots=True)
class HitReport:
    device_id: str
    locator: str
    hashset: str
    algorithm: str  # every algorithm that matched this file against the set, e.g. "md5+pdq+sha1"
    distance: int
    category: int | None


class _Writer:
    """The single writer: buffers hashed items and commits them with their matches."""

    def __init__(
        self,
        case: CaseHandle,
        device_id: str,
        run_id: int,
        matcher: CaseMatcher | None,
        result: IngestResult,
        progress: IngestProgress | None,
    ) -> None:
        self.case, self.device_id, self.run_id = case, device_id, run_id
        self.matcher, self.result, self.progress = matcher, result, progress
        self.buf: list[tuple[EvidenceItem, MediaRecord | None, str | None]] = []
        self.last_flush = time.monotonic()
        self._set_names: dict[int, str] = {}
        self.keep: set[str] = set()  # locators whose spooled bytes a messaging parser still needs
        self.flush_files = FLUSH_FILES
        self.flushed = 0  # files handed to flush so far
        #: Where flushes go when storing runs in a process of its own (tessera.ingest.storeproc).
        self.remote: StoreProcess | None = None

    def add(self, item: EvidenceItem, rec: MediaRecord | None, error: str | None) -> None:
        # A huge archive member was spooled to the case's scratch space; once hashed it goes.
        if item.locator not in self.keep:
            discard_spool(item)
        self.buf.append((item, rec, error))
        if rec is not None:
            self.result.bytes_hashed += rec.size
        limit = self.flush_files if self.flushed >= RAMP_FILES else min(self.flush_files, RAMP_FLUSH_FILES)
        if len(self.buf) >= limit or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buf:
            return
        buf, self.buf = self.buf, []
        self.flushed += len(buf)
        if self.remote is not None:
            self.remote.send(buf)
        else:
            self._store(buf)

    def finish(self) -> None:
        """Store what is buffered and wait until everything handed over is stored."""
        self.flush()
        if self.remote is not None:
            self.remote.wait()

    def _store(self, buf: list[tuple[EvidenceItem, MediaRecord | None, str | None]]) -> None:
        from tessera.ingest.matcher import Hit

        assert self.matcher is not None, "a writer that stores has the case's hash sets loaded"
        with self.case.session() as s:
            if s.get_bind().dialect.name == "sqlite":
                s.execute(text(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}"))
            recs: dict[str, MediaRecord] = {r.sha256: r for _, r, _ in buf if r is not None}
            new_sha = set(recs) - existing_sha256(s, recs)
            now = m.utcnow()  # one clock reading per flush: all its media were first seen together
            insert_ignore(s, m.Media, [media_row(recs[h], now) for h in sorted(new_sha)], ["sha256"])
            frames = [row for h in sorted(new_sha) for row in frame_rows(recs[h])]
            for start in range(0, len(frames), 1000):
                insert_ignore(s, VideoFrameRow, frames[start : start + 1000], ["sha256", "frame"])
            exif = [row for h in sorted(new_sha) if (row := exif_row(recs[h])) is not None]
            insert_ignore(s, MediaExif, exif, ["sha256"])  # producer-lead EXIF (issue 14)
            rows = []
            for item, rec, error in buf:
                err = "; ".join(e for e in (item.error, error, rec.error if rec else None) if e) or None
                rows.append(file_row(self.device_id, item, rec, err, self.run_id))
                if err:
                    self.result.errors += 1
                    if len(self.result.problems) < 20:
                        self.result.problems.append((item.locator, err))
            insert_ignore(s, m.File, rows, ["device_id", "locator"])
            hits = self.matcher.match_records(s, [recs[h] for h in sorted(new_sha)])
            log.debug("stored %d files: %d new media, %d hits", len(buf), len(new_sha), len(hits))
            # Content already in the case was matched when first stored; its new locations are
            # reported as hits too so the examiner sees every occurrence on this device.
            old = [h for h in recs if h not in new_sha]
            if old:
                hits += [
                    Hit(r.sha256, r.entry_id, r.hashset_id, r.algorithm, r.distance)
                    for r in s.scalars(select(m.Match).where(m.Match.sha256.in_(old)))
                ]
            s.execute(
                update(m.IngestRun)
                .where(m.IngestRun.id == self.run_id)
                .values(files_new=m.IngestRun.files_new + len(buf), errors=self.result.errors)
            )
            s.commit()
            self.result.files_new += len(buf)
            self.result.media_new += len(new_sha)
            self.result.hits += len(hits)
            if self.progress:
                self._report(s, buf, hits)
                self.progress.advance(len(buf), sum((r.size if r else 0) for _, r, _ in buf))

    def _report(
        self, s: Session, buf: list[tuple[EvidenceItem, MediaRecord | None, str | None]], hits: list[Hit]
    ) -> None:
        """One line per file and hash set, naming every algorithm that matched (md5+sha1+pdq)."""
        assert self.progress is not None
        by_sha: dict[str, list[str]] = {}
        for item, rec, _ in buf:
            if rec is not None:
                by_sha.setdefault(rec.sha256, []).append(item.locator)
        grouped: dict[tuple[str, int], list[Hit]] = {}
        for h in hits:
            grouped.setdefault((h.sha256, h.hashset_id), []).append(h)
        for (sha, set_id), group in grouped.items():
            if set_id not in self._set_names:
                hs = s.get(m.HashSet, set_id)
                self._set_names[set_id] = hs.name if hs else str(set_id)
            closest = min(group, key=lambda h: h.distance)
            entry = s.get(m.HashEntry, closest.entry_id)
            algorithms = "+".join(sorted({h.algorithm for h in group}))
            for loc in by_sha.get(sha, []):
                self.progress.hit(
                    HitReport(
                        self.device_id,
                        loc,
                        self._set_names[set_id],
                        algorithms,
                        closest.distance,
                        entry.category if entry else None,
                    )
                )
