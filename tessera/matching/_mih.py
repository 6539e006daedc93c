"""Numpy kernels for the PDQ index: chunk tables (multi-index hashing) and brute-force range search.

Tables are compressed sparse rows per chunk: ``offsets`` (``2**bits + 1`` entries) and ``order`` (row
numbers sorted by chunk key), so a bucket lookup is two array reads with no hashing and no per-bucket
allocations -- about 8 bytes per reference per chunk plus the offsets, against tens of bytes per entry
for a ``std::unordered_map`` of vectors (faiss ``IndexBinaryMultiHash``).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import faiss
import numpy as np
import numpy.typing as npt

from tessera.matching._plan import Layout

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Triple = tuple[I64, I64, I64]


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
    """Per-chunk bucket tables over rows ``[0, n)`` of a hash matrix."""

    def __init__(self, layout: Layout, hashes: U8) -> None:
        self.layout = layout
        self.n = int(hashes.shape[0])
        self.offsets: list[U32] = []
        self.orders: list[U32] = []
        for c in range(layout.chunks):
            keys = chunk_keys(hashes, layout.offset(c), layout.bits)
            counts = np.bincount(keys, minlength=1 << layout.bits)
            offsets = np.zeros((1 << layout.bits) + 1, dtype=np.uint32)
            np.cumsum(counts, out=offsets[1:])
            del counts
            # Stable radix-style sort keeps rows of one bucket in insertion order (deterministic output).
            order = np.argsort(keys, kind="stable").astype(np.uint32)
            del keys
            self.offsets.append(offsets)
            self.orders.append(order)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.offsets) + sum(a.nbytes for a in self.orders)


def _hamming(refs: U64, queries: U64) -> npt.NDArray[np.uint16]:
    """Row-wise Hamming distance of two (k, 4) uint64 arrays."""
    x = np.bitwise_xor(refs, queries)
    bc = np.bitwise_count(x)
    d = bc[:, 0].astype(np.uint16)
    d += bc[:, 1]
    d += bc[:, 2]
    d += bc[:, 3]
    return d


def probe(
    tables: Tables,
    codes: U64,
    q_bytes: U8,
    q_codes: U64,
    thresholds: tuple[int, ...],
    radius: int,
) -> Triple:
    """All (query, row, distance) with distance <= radius among the tabled rows; may contain duplicates.

    ``codes`` is the reference matrix viewed as (n, 4) uint64; ``q_codes`` likewise for the queries.
    """
    layout = tables.layout
    nq = q_bytes.shape[0]
    out_q: list[I64] = []
    out_r: list[I64] = []
    out_d: list[I64] = []
    for c, t in enumerate(thresholds):
        masks = flip_masks(layout.bits, t)
        qk = chunk_keys(q_bytes, layout.offset(c), layout.bits)
        keys = (qk[:, None] ^ masks[None, :]).ravel()
        offsets = tables.offsets[c]
        starts = offsets[keys]
        keys += np.uint32(1)
        counts = offsets[keys].astype(np.int64)
        del keys
        counts -= starts
        total = int(counts.sum())
        if total == 0:
            continue
        # Expand the (start, count) runs into candidate positions without a Python loop.
        ends_out = np.cumsum(counts)
        shift = starts.astype(np.int64)
        shift -= ends_out
        shift += counts
        pos = np.repeat(shift, counts)
        pos += np.arange(total, dtype=np.int64)
        del shift, ends_out, starts
        rows = tables.orders[c][pos]
        del pos
        per_query = counts.reshape(nq, masks.shape[0]).sum(axis=1)
        qi = np.repeat(np.arange(nq, dtype=np.int64), per_query)
        d = _hamming(codes[rows], q_codes[qi])
        hit = np.flatnonzero(d <= radius)
        if hit.size:
            out_q.append(qi[hit])
            out_r.append(rows[hit].astype(np.int64))
            out_d.append(d[hit].astype(np.int64))
    if not out_q:
        return empty_triple()
    return np.concatenate(out_q), np.concatenate(out_r), np.concatenate(out_d)


def brute(refs: U8, queries: U8, radius: int, row_offset: int = 0) -> Triple:
    """Exhaustive range search with faiss' Hamming kernel (OpenMP over queries), distance <= radius."""
    nq, nr = queries.shape[0], refs.shape[0]
    if nq == 0 or nr == 0:
        return empty_triple()
    refs = np.ascontiguousarray(refs)
    queries = np.ascontiguousarray(queries)
    res = faiss.RangeSearchResult(nq)
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
