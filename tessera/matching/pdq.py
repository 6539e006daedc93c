"""Exact PDQ range search: every reference within a Hamming radius of each query, in batches.

Hash rows are 32 bytes in the order of the hex string (``bytes.fromhex(pdq_hex)``). Large indexes are
searched with multi-index hashing (see ``_plan``: exact by the pigeonhole principle, not by luck); small
indexes, large radii and references added since the tables were built use faiss' brute-force Hamming
kernel. Both paths verify the full 256-bit distance, so results are identical to a brute-force scan.

Not thread-safe for concurrent ``add`` and ``search``; concurrent searches are fine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from tessera.matching import _mih, _plan

HASH_BYTES = 32
DEFAULT_RADIUS = 31
MAX_RADIUS = 255

#: Queries per probing batch: big enough to amortise numpy call overhead ...
BATCH = 4096
#: ... but capped so one batch's probes plus candidates (about 50 bytes of temporaries each) stay near
#: 100 MiB per thread even at large radii, where a query probes hundreds of thousands of buckets.
BATCH_WORK = 2_000_000


def _as_hashes(hashes: npt.ArrayLike) -> _mih.U8:
    arr = np.asarray(hashes)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(f"expected a uint8 array of shape (n, {HASH_BYTES}), got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def hex_to_rows(hexes: Iterable[str]) -> _mih.U8:
    """Hex PDQ strings to an (n, 32) uint8 matrix (same byte order as the string)."""
    data = b"".join(bytes.fromhex(h) for h in hexes)
    if len(data) % HASH_BYTES:
        raise ValueError("every PDQ hash must be 64 hex digits")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, HASH_BYTES).copy()


class PdqIndex:
    """Exact Hamming range index over PDQ hashes with caller-chosen int64 ids.

    ``add`` appends (cheap); tables are (re)built lazily by ``search`` or explicitly by ``build``. Rows
    added after the last build are scanned brute force until a rebuild is cheaper than scanning them.
    """

    def __init__(self, capacity: int = 0, threads: int | None = None, compact: bool = False) -> None:
        self._hashes: _mih.U8 = np.empty((max(capacity, 0), HASH_BYTES), dtype=np.uint8)
        self._ids: _mih.I64 = np.empty(max(capacity, 0), dtype=np.int64)
        self._n = 0
        self._tables: _mih.Tables | None = None
        self._threads = max(1, threads or os.cpu_count() or 1)
        self._compact = compact

    # ------------------------------------------------------------------ building

    def __len__(self) -> int:
        return self._n

    def reserve(self, capacity: int) -> None:
        """Grow storage to ``capacity`` rows in place, so adding chunks never holds the data twice."""
        if capacity <= self._hashes.shape[0]:
            return
        # ndarray.resize reallocs; glibc moves large (mmapped) blocks with mremap, without a copy. We hold
        # the only references to these arrays (search results are always fresh arrays).
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
            self.reserve(max(self._n + k, int(self._hashes.shape[0] * 1.5)))
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
        layout = _plan.choose_layout(self._n, compact=self._compact)
        self._tables = (
            _mih.Tables(layout, self._hashes[: self._n], self._compact) if layout is not None else None
        )

    @property
    def nbytes(self) -> int:
        """Bytes held: hashes, ids and tables (spare capacity included)."""
        tables = self._tables.nbytes if self._tables is not None else 0
        return self._hashes.nbytes + self._ids.nbytes + tables

    @property
    def layout(self) -> _plan.Layout | None:
        return self._tables.layout if self._tables is not None else None

    # ------------------------------------------------------------------ searching

    def _tabled(self) -> int:
        return self._tables.n if self._tables is not None else 0

    def _maybe_rebuild(self, n_queries: int) -> None:
        tabled = self._tabled()
        tail = self._n - tabled
        if tail == 0:
            return
        if self._tables is None and _plan.choose_layout(self._n, compact=self._compact) is None:
            return  # brute force is the plan anyway; nothing to build
        layout = _plan.choose_layout(self._n, compact=self._compact)
        chunks = layout.chunks if layout is not None else 0
        rebuild_cost = self._n * chunks * _plan.COST_BUILD
        scan_cost = tail * n_queries * _plan.COST_BRUTE_PAIR
        if self._tables is None or scan_cost > rebuild_cost:
            self.build()

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
        self._maybe_rebuild(q.shape[0])
        tabled = self._tabled()
        parts: list[_mih.Triple] = []
        if tabled:
            parts.append(self._search_tables(q, radius))
        if self._n > tabled:
            parts.append(_mih.brute(self._hashes[tabled : self._n], q, radius, row_offset=tabled))
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

    def _search_tables(self, q: _mih.U8, radius: int) -> _mih.Triple:
        tables = self._tables
        assert tables is not None
        plan = _plan.probe_plan(tables.layout, tables.n, radius, tables.compact)
        refs = self._hashes[: tables.n]
        if plan.thresholds is None:
            return _mih.brute(refs, q, radius)
        thresholds = plan.thresholds
        layout = tables.layout
        per_bucket = tables.n / float(1 << layout.bits)
        work = max(_plan.ball_size(layout.bits, t) for t in thresholds) * (1.0 + per_bucket)
        batch = max(1, min(BATCH, int(BATCH_WORK / work)))

        def run(lo: int) -> _mih.Triple:
            hi = min(lo + batch, q.shape[0])
            qi, rows, dist = _mih.probe(tables, refs, q[lo:hi], thresholds, radius)
            return qi + lo, rows, dist

        starts = range(0, q.shape[0], batch)
        # numpy releases the GIL inside its array loops, so threads overlap the gathers and popcounts.
        if self._threads > 1 and len(starts) > 1:
            with ThreadPoolExecutor(self._threads) as pool:
                parts = list(pool.map(run, starts))
        else:
            parts = [run(lo) for lo in starts]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )
