"""The hub's in-memory PDQ index, kept up to date incrementally from the entries' sequence numbers.

Writers commit entries with increasing ``seq`` (the seq counter row is locked until commit, so commit
order is seq order); the index remembers the highest seq it has read and, on refresh, appends the PDQ
hashes of entries changed since. Nothing is ever rebuilt from scratch: a new entry costs one append
(PdqIndex scans appended rows brute force until re-tabling them is the cheaper plan). Because the
state is derived from the database, several server processes each keep a correct index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.hub import models as hm
from tessera.matching.pdq import PdqIndex, hex_to_rows

_CHUNK = 50_000


class HubIndex:
    def __init__(self, refresh_interval: float = 0.25) -> None:
        self._index = PdqIndex()
        # PdqIndex may re-table inside search, so adds and searches take turns.
        self._lock = threading.Lock()
        self._seq = 0
        self._have = np.zeros(0, dtype=bool)  # by entry id: already indexed (an entry is added once)
        self._last = 0.0
        self.refresh_interval = refresh_interval

    def __len__(self) -> int:
        return len(self._index)

    @property
    def seq(self) -> int:
        return self._seq

    def refresh(self, s: Session, *, force: bool = True) -> int:
        """Index entries changed since the last refresh; returns how many were added."""
        if not force and time.monotonic() - self._last < self.refresh_interval:
            return 0
        with self._lock:
            self._last = time.monotonic()
            hi = s.scalar(select(func.max(hm.Entry.seq))) or 0
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
                if len(self._have) <= int(ids.max()):
                    grown = np.zeros(max(int(ids.max()) + 1, len(self._have) * 3 // 2), dtype=bool)
                    grown[: len(self._have)] = self._have
                    self._have = grown
                fresh = ~self._have[ids]
                if not fresh.any():
                    continue
                hexes = [str(r[1]) for r, keep in zip(part, fresh.tolist(), strict=True) if keep]
                self._index.add(ids[fresh], hex_to_rows(hexes))
                self._have[ids[fresh]] = True
                added += int(fresh.sum())
            self._seq = hi
            return added

    def search(self, hexes: Sequence[str], radius: int) -> list[tuple[int, int, int]]:
        """(query position, entry id, distance) for every indexed entry within ``radius``."""
        if not hexes:
            return []
        rows = hex_to_rows(hexes)
        with self._lock:
            qi, ids, dist = self._index.search(rows, radius=radius)
        return list(zip(qi.tolist(), ids.tolist(), dist.tolist(), strict=True))
