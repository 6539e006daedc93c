"""The hub's in-memory PDQ index, kept up to date incrementally from the entries' sequence numbers.

Writers commit entries with increasing ``seq`` (the seq counter row is locked until commit, so commit
order is seq order); the index remembers the highest seq it has read and, on refresh, appends the PDQ
hashes of entries changed since. A push hands its own new entries over directly when the index was
current up to the moment the push took the lock, which saves reading them back. Because the state is
derived from the database, several server processes each keep a correct index.

Nothing is re-tabled on the request path: new rows are scanned brute force (a short tail) until a
background thread tables them as a segment of the PdqIndex (see ``tessera.matching.pdq``), working on
a copy of the rows while searches go on. Searches share the index; adding rows and installing tables
wait for running searches and hold new ones back only for the moment they take.

Memory (issue 16; ``bench/bench_hub_index.py``, bench/RESULTS.md): three profiles, chosen per hub
process (``tessera hub serve --index-profile``):

* ``compact`` (the default): multi-index tables without cached heads within about 112 bytes per entry
  all told (hash, id, seen flag, spare capacity, tables); measured at 10M entries 108.5 B/entry and
  0.29 ms per query in a batch, a fifteenth of a scan's time;
* ``fast``: tables with a 16-byte head per row, so candidates are screened with sequential reads:
  313 B/entry and 0.12 ms per query at 10M entries (about 500 B/entry at 1M);
* ``minimal``: 64 bytes per entry. Multi-index tables beat a scan at the PDQ radius only from some
  50-60 bytes of tables per row (11-12 chunks of 4-byte row numbers: 256 bits at radius 31 need that
  many for the pigeonhole bound to keep buckets small), which the hash, id and flag leave no room for;
  so no tables, and every search is one exact scan (4.3 ms per query in a batch at 10M entries).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.hub import models as hm
from tessera.matching.pdq import PdqIndex, hex_to_rows

_CHUNK = 50_000
#: The ``minimal`` budget per indexed entry (issue 16): 32-byte hash, 8-byte id, 1-byte seen flag and
#: up to an eighth of spare capacity leave about 18 bytes, which no table layout fits (see above).
BYTES_PER_ENTRY = 64
#: Bytes per entry of each memory profile (None: no budget, tables with heads).
PROFILES: dict[str, float | None] = {"compact": 112.0, "fast": None, "minimal": float(BYTES_PER_ENTRY)}
DEFAULT_PROFILE = "compact"
_FIXED_PER_ENTRY = (32 + 8 + 1) * 9 / 8


class _SharedLock:
    """Many readers or one writer; a waiting writer holds back new readers (so adds are not starved)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class HubIndex:
    def __init__(
        self,
        refresh_interval: float = 0.25,
        background: bool = True,
        bytes_per_entry: float | None = PROFILES[DEFAULT_PROFILE],
    ) -> None:
        """``bytes_per_entry``: memory budget per entry (see :data:`PROFILES`; None: no budget)."""
        #: With ``background``, tables are built by a thread of our own, never inside a search.
        budget = None if bytes_per_entry is None else max(0.0, bytes_per_entry - _FIXED_PER_ENTRY)
        self._index = PdqIndex(
            auto_build=not background, compact=budget is not None, table_bytes_per_row=budget
        )
        self._lock = _SharedLock()
        self._refreshing = threading.Lock()  # one reader of the database at a time
        self._seq = 0
        self._db_seq = 0
        self._have = np.zeros(0, dtype=bool)  # by entry id: already indexed (an entry is added once)
        self._last = 0.0
        self.refresh_interval = refresh_interval
        self._background = background
        self._wake = threading.Event()
        self._builder: threading.Thread | None = None
        self._closed = False
        self._hold_builder = False

    def __len__(self) -> int:
        return len(self._index)

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the index holds (hashes, ids, tables, seen flags), spare capacity included."""
        with self._lock.read():
            return self._index.nbytes + self._have.nbytes

    @property
    def segments(self) -> list[int]:
        """Rows per tabled segment (the rest is the brute-force tail); for diagnostics and tests."""
        with self._lock.read():
            return self._index.segments

    # ------------------------------------------------------------------ keeping up with the database

    @property
    def db_seq(self) -> int:
        """The newest sequence number the database held at the last refresh (``seq`` once caught up)."""
        return max(self._db_seq, self._seq)

    def refresh(self, s: Session, *, force: bool = True, limit: int | None = None) -> int:
        """Index entries changed since the last refresh; returns how many were added.

        ``limit`` bounds the rows read (sequence numbers ``(seq, seq + limit]``; an entry holds one
        sequence number, so at most ``limit`` rows): call again while ``seq < db_seq``. A request
        (``force=False``) reads at most one chunk and does not wait for a refresh already running in
        another thread (the background catch-up): it searches what is indexed.
        """
        if not force and time.monotonic() - self._last < self.refresh_interval:
            return 0
        if not force and limit is None:
            limit = _CHUNK
        if not self._refreshing.acquire(blocking=force):
            return 0
        try:
            self._last = time.monotonic()
            top = s.scalar(select(func.max(hm.Entry.seq))) or 0
            self._db_seq = top
            hi = top if limit is None else min(top, self._seq + limit)
            if hi <= self._seq:
                return 0
            q = (
                select(hm.Entry.id, hm.Entry.pdq)
                .where(hm.Entry.seq > self._seq, hm.Entry.seq <= hi, hm.Entry.pdq.is_not(None))
                .execution_options(yield_per=_CHUNK)
            )
            added = 0
            for part in s.execute(q).partitions(_CHUNK):
                ids = np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part))
                added += self._add(ids, [str(r[1]) for r in part])
            self._seq = hi
        finally:
            self._refreshing.release()
        self._kick()
        return added

    def advance(self, s: Session, before: int, after: int, ids: Sequence[int], hexes: Sequence[str]) -> int:
        """After a writer committed sequence numbers ``(before, after]``, creating entries ``ids`` with PDQ
        ``hexes``: add them directly if the index had read everything up to ``before``, else refresh."""
        with self._refreshing:
            if self._seq == before:
                added = self._add(np.asarray(ids, dtype=np.int64), list(hexes)) if len(ids) else 0
                self._seq = after
                self._last = time.monotonic()
                direct = True
            else:
                direct = False
        if not direct:
            return self.refresh(s)
        self._kick()
        return added

    def _add(self, ids: np.ndarray, hexes: list[str]) -> int:
        """Add the rows not indexed yet (an entry re-sequenced by a later change is indexed already)."""
        if not len(ids):
            return 0
        top = int(ids.max())
        if len(self._have) <= top:
            grown = np.zeros(max(top + 1, len(self._have) * 9 // 8), dtype=bool)
            grown[: len(self._have)] = self._have
            self._have = grown
        fresh = ~self._have[ids]
        if not fresh.any():
            return 0
        rows = hex_to_rows(h for h, keep in zip(hexes, fresh.tolist(), strict=True) if keep)
        with self._lock.write():
            self._index.add(ids[fresh], rows)
        self._have[ids[fresh]] = True
        return int(fresh.sum())

    # ------------------------------------------------------------------ tables

    def build(self) -> None:
        """Table every row now (at start-up, so the first searches do not scan millions of rows)."""
        with self._lock.write():
            self._index.build()

    def maintain(self) -> bool:
        """Run the table build that is due, if any; True if one was installed. Searches go on meanwhile."""
        with self._lock.read():  # planning copies the rows to table; searches may go on
            due = self._index.plan()
        if due is None:
            return False
        due.run()
        with self._lock.write():
            return self._index.install(due)

    def load(self, s: Session) -> None:
        """Read every entry and table them all at once (at server start), without the background thread
        starting a build of its own over the same rows meanwhile."""
        self._hold_builder = True
        try:
            self.refresh(s)
            self.build()
        finally:
            self._hold_builder = False

    def _kick(self) -> None:
        if not self._background or self._closed or self._hold_builder:
            return
        if self._builder is None or not self._builder.is_alive():
            self._builder = threading.Thread(
                target=_build_loop, args=(weakref.ref(self), self._wake), name="hub-index-tables", daemon=True
            )
            self._builder.start()
        self._wake.set()

    def close(self) -> None:
        """Stop the background builder (the index stays searchable)."""
        self._closed = True
        self._wake.set()
        if self._builder is not None:
            self._builder.join(timeout=60)

    # ------------------------------------------------------------------ searching

    def search(self, hexes: Sequence[str], radius: int) -> list[tuple[int, int, int]]:
        """(query position, entry id, distance) for every indexed entry within ``radius``."""
        if not hexes:
            return []
        rows = hex_to_rows(hexes)
        if self._background:
            with self._lock.read():
                qi, ids, dist = self._index.search(rows, radius=radius)
        else:
            with self._lock.write():  # the search may build tables
                qi, ids, dist = self._index.search(rows, radius=radius)
        return list(zip(qi.tolist(), ids.tolist(), dist.tolist(), strict=True))


def _build_loop(ref: weakref.ref[HubIndex], wake: threading.Event) -> None:
    """Table new rows whenever some were added; ends with its index (weakly held, so no leak)."""
    while True:
        wake.wait(timeout=5.0)
        index = ref()
        if index is None or index._closed:
            return
        wake.clear()  # before building: rows added meanwhile set it again
        while not index._closed and index.maintain():
            pass
        del index
