"""Exact PDQ range search: every reference within a Hamming radius of each query, in batches.

Hash rows are 32 bytes in the order of the hex string (``bytes.fromhex(pdq_hex)``). Large indexes are
searched with multi-index hashing (see ``_plan``: exact by the pigeonhole principle, not by luck); small
indexes, large radii and references added since the tables were built use faiss' brute-force Hamming
kernel. Both paths verify the full 256-bit distance, so results are identical to a brute-force scan.

An index that keeps growing (the hub's) is held as *segments*: tables over consecutive row ranges, plus a
short tail of rows not yet tabled that is scanned brute force. Re-tabling everything on each addition
would cost seconds at 10M references; scanning a long untabled tail costs every query a full pass over
it. Instead the tail is tabled once it reaches ``TAIL_ROWS`` rows, together with the newest segments
while they are not much bigger than it (``MERGE_RATIO``), so the number of segments stays logarithmic
and each row is re-tabled a few times at most. Every segment is searched exactly, so recall stays 1.0.

Not thread-safe for concurrent ``add`` and ``search``; concurrent searches are fine. An owner that wants
table builds off its request path passes ``auto_build=False`` and runs ``plan`` / ``TableBuild.run`` /
``install`` itself (``run`` needs no lock: it works on a copy of the rows).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tessera.hashing.algorithms import ALGORITHMS, PDQ_BYTES
from tessera.matching import _mih, _plan

_PDQ = ALGORITHMS.get("pdq")
HASH_BYTES = PDQ_BYTES
#: The PDQ match threshold, unless a caller asks for another radius.
DEFAULT_RADIUS = _PDQ.default_threshold
MAX_RADIUS = 255

#: Queries per probing batch: big enough to amortise numpy call overhead ...
BATCH = 4096
#: ... but capped so one batch's probes plus candidates (about 50 bytes of temporaries each) stay near
#: 100 MiB per thread even at large radii, where a query probes hundreds of thousands of buckets.
BATCH_WORK = 2_000_000
#: Untabled rows are tabled once there are this many: a brute-force pass over them costs a query about
#: 20 us, a few times less than searching 10M tabled rows, and a table build over them about 50 ms.
TAIL_ROWS = 16_384
#: A new segment absorbs the newest segments while it is at least 1/MERGE_RATIO of their size. Searching
#: a few big segments is cheaper than many small ones (search cost grows far slower than size), so the
#: ratio leans towards merging: rows are re-tabled about log_MERGE_RATIO(n / TAIL_ROWS) times at worst.
MERGE_RATIO = 4


def _as_hashes(hashes: npt.ArrayLike) -> _mih.U8:
    arr = np.asarray(hashes)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(f"expected a uint8 array of shape (n, {HASH_BYTES}), got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def hex_to_rows(hexes: Iterable[str]) -> _mih.U8:
    """Hex PDQ strings to an (n, 32) uint8 matrix (same byte order as the string): the axis' bit form."""
    return _PDQ.to_bits(hexes)


@dataclass(eq=False)
class TableBuild:
    """Tables to build over rows ``[lo, hi)``: planned under the owner's lock, run anywhere, installed back.

    ``rows`` is a copy when the build may run while the index grows (``add`` may move its storage).
    """

    lo: int
    hi: int
    rows: _mih.U8
    compact: bool
    max_bytes_per_row: float | None = None
    tables: _mih.Tables | None = field(default=None, init=False)

    def run(self) -> TableBuild:
        layout = _plan.choose_layout(
            self.hi - self.lo, compact=self.compact, max_bytes_per_row=self.max_bytes_per_row
        )
        # A range too small for tables is still worth a layout: it is only planned when a scan costs more
        # (under a byte budget, ``plan`` only plans ranges that have a layout within it).
        layout = layout or _plan.Layout(_plan.BITS // _plan.MIN_CHUNK_BITS, _plan.MIN_CHUNK_BITS)
        self.tables = _mih.Tables(layout, self.rows, self.compact)
        return self


class PdqIndex:
    """Exact Hamming range index over PDQ hashes with caller-chosen int64 ids.

    ``add`` appends (cheap); tables are built lazily by ``search`` (unless ``auto_build`` is off) or
    explicitly by ``build``. Rows added after the last build are scanned brute force until they are
    worth tables of their own (see the module docstring).
    """

    def __init__(
        self,
        capacity: int = 0,
        threads: int | None = None,
        compact: bool = False,
        auto_build: bool = True,
        table_bytes_per_row: float | None = None,
    ) -> None:
        self._hashes: _mih.U8 = np.empty((max(capacity, 0), HASH_BYTES), dtype=np.uint8)
        self._ids: _mih.I64 = np.empty(max(capacity, 0), dtype=np.int64)
        self._n = 0
        #: (first row, tables over rows [first, first + tables.n)), consecutive, oldest first.
        self._segments: list[tuple[int, _mih.Tables]] = []
        self._threads = max(1, threads or os.cpu_count() or 1)
        self._compact = compact
        #: Most bytes of tables per row (``None``: no limit). Where no layout fits, rows stay untabled and
        #: are scanned brute force: exact either way, only slower.
        self._table_budget = table_bytes_per_row
        self.auto_build = auto_build

    # ------------------------------------------------------------------ building

    def __len__(self) -> int:
        return self._n

    def reserve(self, capacity: int) -> None:
        """Grow storage to ``capacity`` rows in place, so adding chunks never holds the data twice."""
        if capacity <= self._hashes.shape[0]:
            return
        # ndarray.resize reallocs; glibc moves large (mmapped) blocks with mremap, without a copy. We hold
        # the only references to these arrays (search results are always fresh arrays, and a TableBuild
        # that may outlive this call holds a copy).
        self._hashes.resize((capacity, HASH_BYTES), refcheck=False)
        self._ids.resize((capacity,), refcheck=False)

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Append ``hashes`` (uint8, shape (k, 32)) with their ``ids`` (int64, shape (k,))."""
        rows = _as_hashes(hashes)
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if id_arr.shape[0] != rows.shape[0]:
            raise ValueError(f"{id_arr.shape[0]} ids for {rows.shape[0]} hashes")
        k = rows.shape[0]
        if self._n + k > self._hashes.shape[0]:
            # Grow by an eighth: reserve reallocates without copying large blocks, so small steps cost
            # little and spare capacity stays under 1/8 of what is held (1.5x growth left up to a third).
            self.reserve(max(self._n + k, self._hashes.shape[0] + self._hashes.shape[0] // 8))
        self._hashes[self._n : self._n + k] = rows
        self._ids[self._n : self._n + k] = id_arr
        self._n += k

    def add_chunks(self, chunks: Iterable[tuple[npt.ArrayLike, npt.ArrayLike]]) -> None:
        """``add`` each (ids, hashes) chunk, e.g. streamed from a hash-set file."""
        for ids, hashes in chunks:
            self.add(ids, hashes)

    def build(self) -> None:
        """Build tables over all rows now (otherwise done on demand); trims spare capacity."""
        if self._hashes.shape[0] != self._n:
            self._hashes.resize((self._n, HASH_BYTES), refcheck=False)
            self._ids.resize((self._n,), refcheck=False)
        layout = self._layout(self._n)
        self._segments = (
            [(0, _mih.Tables(layout, self._hashes[: self._n], self._compact))] if layout is not None else []
        )

    def plan(self, n_queries: int = 0, copy: bool = True) -> TableBuild | None:
        """The table build due now, if any: the untabled tail once it is long enough (or, for a search of
        ``n_queries``, once scanning it would cost more than tabling it), merged with the newest segments
        while they are not much bigger. ``copy``: give the build its own copy of the rows."""
        tabled = self._tabled()
        tail = self._n - tabled
        if tail == 0:
            return None
        if not self._segments:
            # Nothing tabled yet: all rows get one layout, unless brute force is the plan anyway.
            if self._layout(self._n) is None:
                return None
            lo = 0
        else:
            if tail < TAIL_ROWS:
                layout = self._layout(tail)
                build_cost = tail * (layout.chunks if layout is not None else 0) * _plan.COST_BUILD
                if layout is None or tail * n_queries * _plan.COST_BRUTE_PAIR <= build_cost:
                    return None
            lo, k = tabled, len(self._segments)
            while k and (self._n - lo) * MERGE_RATIO >= self._segments[k - 1][1].n:
                k -= 1
                lo = self._segments[k][0]
            if self._table_budget is not None and self._layout(self._n - lo) is None:
                # No tables fit the budget over the merged range: table the tail alone, if even that fits.
                lo = tabled
                if self._layout(tail) is None:
                    return None
        rows = self._hashes[lo : self._n]
        return TableBuild(lo, self._n, rows.copy() if copy else rows, self._compact, self._table_budget)

    def _layout(self, n: int) -> _plan.Layout | None:
        return _plan.choose_layout(n, compact=self._compact, max_bytes_per_row=self._table_budget)

    def install(self, build: TableBuild) -> bool:
        """Put a finished build's tables in place of the segments it covers; False if it no longer fits
        (a concurrent ``build`` re-tabled differently meanwhile), in which case nothing changes."""
        tables = build.tables
        if tables is None or build.hi > self._n:
            return False
        kept = [(lo, t) for lo, t in self._segments if lo + t.n <= build.lo]
        covered = [(lo, t) for lo, t in self._segments if lo + t.n > build.lo]
        kept_end = kept[-1][0] + kept[-1][1].n if kept else 0
        if kept_end != build.lo or any(lo < build.lo or lo + t.n > build.hi for lo, t in covered):
            return False
        self._segments = [*kept, (build.lo, tables)]
        return True

    @property
    def nbytes(self) -> int:
        """Bytes held: hashes, ids and tables (spare capacity included)."""
        tables = sum(t.nbytes for _, t in self._segments)
        return self._hashes.nbytes + self._ids.nbytes + tables

    @property
    def layout(self) -> _plan.Layout | None:
        """The layout of the first (largest) segment."""
        return self._segments[0][1].layout if self._segments else None

    @property
    def segments(self) -> list[int]:
        """Rows per tabled segment, oldest first (for diagnostics)."""
        return [t.n for _, t in self._segments]

    # ------------------------------------------------------------------ searching

    def _tabled(self) -> int:
        if not self._segments:
            return 0
        lo, tables = self._segments[-1]
        return lo + tables.n

    def search(self, queries: npt.ArrayLike, radius: int = DEFAULT_RADIUS) -> _mih.Triple:
        """Every (query, reference) pair with Hamming distance <= ``radius``.

        Returns ``(q_idx, ids, distances)`` as int64 arrays, sorted by query index, then distance, then
        insertion order. A reference added twice is reported twice (once per id).
        """
        q = _as_hashes(queries)
        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius must be in 0..{MAX_RADIUS}")
        if q.shape[0] == 0 or self._n == 0:
            return _mih.empty_triple()
        if self.auto_build and (due := self.plan(q.shape[0], copy=False)) is not None:
            self.install(due.run())
        tabled = self._tabled()
        parts = [self._search_tables(q, radius, lo, tables) for lo, tables in self._segments]
        if self._n > tabled:
            parts.append(_mih.brute(self._hashes[tabled : self._n], q, radius, row_offset=tabled))
        if not parts:
            return _mih.empty_triple()
        qi = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts])
        dist = np.concatenate([p[2] for p in parts])
        # One row can be found through several chunks; keep one copy, then order the output.
        key = qi * self._n + rows
        key, first = np.unique(key, return_index=True)
        qi, rows, dist = qi[first], rows[first], dist[first]
        order = np.lexsort((rows, dist, qi))
        qi, rows, dist = qi[order], rows[order], dist[order]
        return qi, self._ids[rows], dist

    def _search_tables(self, q: _mih.U8, radius: int, lo: int, tables: _mih.Tables) -> _mih.Triple:
        plan = _plan.probe_plan(tables.layout, tables.n, radius, tables.compact)
        refs = self._hashes[lo : lo + tables.n]
        if plan.thresholds is None:
            return _mih.brute(refs, q, radius, row_offset=lo)
        thresholds = plan.thresholds
        layout = tables.layout
        per_bucket = tables.n / float(1 << layout.bits)
        work = max(_plan.ball_size(layout.bits, t) for t in thresholds) * (1.0 + per_bucket)
        batch = max(1, min(BATCH, int(BATCH_WORK / work)))

        def run(start: int) -> _mih.Triple:
            stop = min(start + batch, q.shape[0])
            qi, rows, dist = _mih.probe(tables, refs, q[start:stop], thresholds, radius)
            return qi + start, rows + lo, dist

        starts = range(0, q.shape[0], batch)
        # numpy releases the GIL inside its array loops, so threads overlap the gathers and popcounts.
        if self._threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(self._threads) as pool:
                parts = list(pool.map(run, starts))
        else:
            parts = [run(start) for start in starts]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )
