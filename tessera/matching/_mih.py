"""Numpy kernels for the PDQ index: chunk tables (multi-index hashing) and brute-force range search.

Tables are compressed sparse rows per chunk (bucket spans indexed directly by key, rows sorted by key),
so a bucket lookup is one array read with no hashing and no per-bucket allocation, unlike the
``std::unordered_map`` of vectors in faiss ``IndexBinaryMultiHash``.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from tessera.matching._plan import Layout

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Triple = tuple[I64, I64, I64]

#: Below this many (query, reference) pairs a brute-force scan runs on the calling thread alone: an
#: OpenMP region for one query waits for its idle second thread to wake and meet it at the closing
#: barrier, measured at 20-29 ms on the 2-core machine under load, against 0.8 ms for one query over
#: 1M references on one thread (bench/RESULTS.md, hub PDQ index memory).
SERIAL_PAIRS = 1 << 25


@lru_cache(maxsize=1)
def _faiss() -> tuple[ModuleType, int]:
    # Imported on the first brute-force search, not with the matcher: faiss costs ~50-100 ms of every
    # command's start-up (an ingest that matches nothing, a listing) and a case without PDQ references
    # never needs it.
    import faiss

    return faiss, faiss.omp_get_max_threads()


def empty_triple() -> Triple:
    e = np.empty(0, dtype=np.int64)
    return e, e.copy(), e.copy()


def chunk_keys(hashes: U8, start_bit: int, bits: int) -> U32:
    """Bits ``[start_bit, start_bit + bits)`` of each row (bit 0 = MSB of byte 0) as integers.

    Reads a big-endian 4-byte window through a strided view, so no (n, 32) temporary is made.
    """
    assert bits <= 25
    first = min(start_bit // 8, 28)
    shift = 32 - (start_bit - 8 * first) - bits
    n = hashes.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.uint32)
    window = np.ndarray(
        shape=(n,), dtype=">u4", buffer=hashes, offset=first, strides=(hashes.strides[0],)
    ).astype(np.uint32)
    window >>= np.uint32(shift)
    window &= np.uint32((1 << bits) - 1)
    return window


@lru_cache(maxsize=64)
def flip_masks(bits: int, radius: int) -> U32:
    """All ``bits``-wide masks of popcount ``<= radius``, sorted so nearby buckets are probed together."""
    masks: list[int] = [0]
    for k in range(1, min(radius, bits) + 1):
        for pos in combinations(range(bits), k):
            m = 0
            for p in pos:
                m |= 1 << p
            masks.append(m)
    out = np.array(masks, dtype=np.uint32)
    out.setflags(write=False)
    return out


class Tables:
    """Per-chunk bucket tables over rows ``[0, n)`` of a hash matrix.

    For chunk ``c``: the bucket of key ``k`` is ``orders[c][starts[c][k]:starts[c][k + 1]]`` (4 bytes per
    key: packing start and end in 8 bytes saved one adjacent read per probe but cost 4 more bytes per
    key, up to 10 bytes per row at the hub's sizes), ``orders[c]`` lists row numbers by key, and --
    unless ``compact`` -- ``heads[c]`` holds the first 16 bytes of those rows in the same order, so a
    bucket's candidates are screened with sequential reads instead of one cache miss each into the hash
    matrix.
    """

    def __init__(self, layout: Layout, hashes: U8, compact: bool = False) -> None:
        self.layout = layout
        self.n = int(hashes.shape[0])
        self.compact = compact
        self.starts: list[U32] = []
        self.orders: list[U32] = []
        self.heads: list[npt.NDArray[np.void]] = []
        head = head_view(hashes)
        for c in range(layout.chunks):
            keys = chunk_keys(hashes, layout.offset(c), layout.bits)
            starts = np.zeros((1 << layout.bits) + 1, dtype=np.uint32)
            np.cumsum(np.bincount(keys, minlength=1 << layout.bits), out=starts[1:])
            # Sorting (key << 32 | row) orders rows by key and, within a bucket, by insertion (deterministic
            # output); numpy's SIMD sort on uint64 beats a stable argsort of the keys.
            packed = keys.astype(np.uint64)
            del keys
            packed <<= np.uint64(32)
            packed |= np.arange(self.n, dtype=np.uint64)
            packed.sort()
            order = packed.astype(np.uint32)  # keeps the low 32 bits: the row
            del packed
            if not compact:
                self.heads.append(np.take(head, order))
            self.starts.append(starts)
            self.orders.append(order)

    @property
    def nbytes(self) -> int:
        arrays: list[npt.NDArray[np.generic]] = [*self.starts, *self.orders, *self.heads]
        return sum(a.nbytes for a in arrays)


def head_view(hashes: U8) -> npt.NDArray[np.void]:
    """The first 16 bytes of every row as one 16-byte item (a strided view, no copy)."""
    return np.ndarray(shape=(hashes.shape[0],), dtype="V16", buffer=hashes, strides=(hashes.strides[0],))


def _hamming(refs: U64, queries: U64) -> npt.NDArray[np.uint16]:
    """Row-wise Hamming distance of two (k, 4) uint64 arrays."""
    bc = np.bitwise_count(np.bitwise_xor(refs, queries))
    d = bc[:, 0].astype(np.uint16)
    d += bc[:, 1]
    d += bc[:, 2]
    d += bc[:, 3]
    return d


def probe(
    tables: Tables,
    hashes: U8,
    queries: U8,
    thresholds: tuple[int, ...],
    radius: int,
) -> Triple:
    """All (query, row, distance) with distance <= radius among the tabled rows; may contain duplicates.

    ``hashes`` is the tabled reference matrix (rows ``[0, tables.n)``).
    """
    layout = tables.layout
    nq = queries.shape[0]
    q_codes = queries.view(np.uint64)
    q_head = np.ascontiguousarray(head_view(queries))
    head = head_view(hashes)
    words = hashes.view(np.uint64)
    out_q: list[I64] = []
    out_r: list[I64] = []
    for c, t in enumerate(thresholds):
        masks = flip_masks(layout.bits, t).astype(np.intp)
        # intp keys: numpy's take converts any other index dtype element by element (several times slower).
        qk = chunk_keys(queries, layout.offset(c), layout.bits).astype(np.intp)
        keys = (qk[:, None] ^ masks[None, :]).ravel()
        starts = np.take(tables.starts[c], keys).astype(np.int64)
        keys += 1
        counts = np.take(tables.starts[c], keys).astype(np.int64)
        del keys
        counts -= starts
        total = int(counts.sum())
        if total == 0:
            continue
        # Expand the (start, count) runs into candidate positions without a Python loop:
        # pos = start_of_run + (k - first_output_index_of_run).
        shift = starts
        shift += counts
        shift -= np.cumsum(counts)
        pos = np.repeat(shift, counts)
        del shift, starts
        pos += np.arange(total, dtype=np.intp)
        per_query = counts.reshape(nq, masks.shape[0]).sum(axis=1)
        del counts
        if tables.compact:
            rows = np.take(tables.orders[c], pos).astype(np.intp)
            # Row-wise take from the 2-D word matrix: a take through the strided 16-byte head view costs
            # about 1.5 ms per call whatever its size (numpy's generic path), 200x this for a single query.
            x = np.ascontiguousarray(np.take(words, rows, axis=0)[:, :2]).view(head.dtype).ravel()
        else:
            x = np.take(tables.heads[c], pos)
        # Stage 1: distance on the first 128 bits. Unrelated hashes differ in ~64 of them, so almost every
        # candidate is rejected here; it is a lower bound on the full distance, so nothing is lost.
        x64 = x.view(np.uint64)
        x64 ^= np.repeat(q_head, per_query).view(np.uint64)
        del x
        bc = np.bitwise_count(x64.reshape(-1, 2))
        del x64
        d = bc[:, 0]
        d += bc[:, 1]
        del bc
        hit = np.flatnonzero(d <= radius)
        if hit.size:
            # Query of each hit from the running candidate count (cheaper than materialising a repeat).
            out_q.append(np.searchsorted(np.cumsum(per_query), hit, side="right").astype(np.int64))
            hit_rows = rows[hit] if tables.compact else np.take(tables.orders[c], pos[hit])
            out_r.append(hit_rows.astype(np.int64))
    if not out_q:
        return empty_triple()
    # Stage 2: full 256-bit distance on the survivors.
    qi = np.concatenate(out_q)
    rows = np.concatenate(out_r)
    codes = hashes.view(np.uint64)
    d = _hamming(codes[rows], q_codes[qi])
    keep = d <= radius
    return qi[keep], rows[keep], d[keep].astype(np.int64)


def brute(refs: U8, queries: U8, radius: int, row_offset: int = 0) -> Triple:
    """Exhaustive range search with faiss' Hamming kernel (OpenMP over queries), distance <= radius."""
    nq, nr = queries.shape[0], refs.shape[0]
    if nq == 0 or nr == 0:
        return empty_triple()
    refs = np.ascontiguousarray(refs)
    queries = np.ascontiguousarray(queries)
    faiss: Any
    faiss, omp_threads = _faiss()
    res = faiss.RangeSearchResult(nq)
    # OpenMP's thread count is per calling thread, so this does not touch concurrent searches.
    faiss.omp_set_num_threads(1 if nq * nr < SERIAL_PAIRS else omp_threads)
    # faiss keeps distances strictly below its radius argument.
    faiss.hamming_range_search(
        faiss.swig_ptr(queries), faiss.swig_ptr(refs), nq, nr, radius + 1, refs.shape[1], res
    )
    lims = faiss.rev_swig_ptr(res.lims, nq + 1).copy().astype(np.int64)
    total = int(lims[-1])
    if total == 0:
        return empty_triple()
    dist = faiss.rev_swig_ptr(res.distances, total).copy().astype(np.int64)
    labels = faiss.rev_swig_ptr(res.labels, total).copy().astype(np.int64)
    qi = np.repeat(np.arange(nq, dtype=np.int64), np.diff(lims))
    return qi, labels + row_offset, dist
