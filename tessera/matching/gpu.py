"""Exact PDQ range search by brute force on a GPU (CuPy), with the search API and results of ``PdqIndex``.

A GPU compares every query with every reference fast enough that no tables are needed: 100,000 queries
against 10M references is 10^12 pairs, about 4 popcounts each (see below). The scan is written twice:

- ``xp_scan``, against an array module ``xp``: numpy on the CPU (what the tests run everywhere) or CuPy.
  It materialises a (queries x references) tile of distances, so it is the specification, not the speed.
- ``FusedScan``, one CUDA kernel: each thread holds a few references in registers, the block streams
  the queries' first 128 bits through shared memory, and only pairs within the radius on those bits (a
  lower bound of the full distance; unrelated hashes differ in ~64 of them) read the other 128. Hits
  are appended with an atomic counter, so nothing of size queries x references is ever written.

Both return the same thing for a tile: packed int64 keys ``query << 43 | distance << 34 | row`` and the
total number of hits, of which at most ``capacity`` are kept. The tiling, the retry when a tile had more
hits than room, the ordering (one sort of the keys: query, then distance, then insertion order, as
``PdqIndex``) and the mapping to ids are shared (``range_search``), so the numpy tests prove the logic
the GPU runs; the GPU only changes the array module and the kernel.

Which index a matcher gets: ``pdq_index`` (``TESSERA_PDQ_DEVICE=auto|cpu|gpu``; see docs/matching.md,
"On a GPU"). Install CuPy with the ``gpu`` extra.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from tessera.hashing.algorithms import ALGORITHMS, PDQ_BITS, PDQ_BYTES

if TYPE_CHECKING:
    from tessera.matching.pdq import PdqIndex

# Only numpy (and CuPy) at import: ``pdq`` brings faiss, which a GPU machine running the bench may lack.
DEFAULT_RADIUS = ALGORITHMS.get("pdq").default_threshold
MAX_RADIUS = PDQ_BITS - 1

#: Chooses the PDQ index: ``auto`` (a GPU when present and worth it), ``cpu`` or ``gpu`` (an error if none).
DEVICE_ENV = "TESSERA_PDQ_DEVICE"
#: ``auto`` takes the GPU from this many references on. Below it the CPU index answers a batch in
#: milliseconds (tables; bench/RESULTS-matching.md), less than a GPU's start-up, upload and launches cost.
GPU_MIN_REFS = 1_000_000

I64 = npt.NDArray[np.int64]
Triple = tuple[I64, I64, I64]
Device = Literal["cpu", "gpu"]
#: A scan over one tile: (refs words, query words, radius, capacity, row offset) -> (keys, total hits).
Scan = Callable[[Any, Any, int, int, int], tuple[Any, int]]

# Key layout: 20 bits of query (within its tile), 9 of distance (0..256), 34 of row.
_Q_SHIFT = 43
_D_SHIFT = 34
_ROW_BITS = 34
_MAX_QUERY_TILE = 1 << (63 - _Q_SHIFT)
_MAX_ROWS = 1 << _ROW_BITS


def _empty() -> Triple:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)


def _rows(hashes: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    arr = np.asarray(hashes)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != PDQ_BYTES:
        raise ValueError(f"expected a uint8 array of shape (n, {PDQ_BYTES}), got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


class NoGpuError(RuntimeError):
    """A GPU index was asked for where none can run."""


class PdqMatcher(Protocol):
    """What a matcher needs of a PDQ index (``PdqIndex`` and ``GpuPdqIndex`` both provide it)."""

    def __len__(self) -> int: ...

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None: ...

    def search(self, queries: npt.ArrayLike, radius: int = DEFAULT_RADIUS) -> Triple: ...


# ---------------------------------------------------------------------------------------------- scans


def _popcount(xp: ModuleType) -> Callable[[Any], Any]:
    found: Callable[[Any], Any] | None = getattr(xp, "bitwise_count", None)
    if found is not None:
        return found
    return _cupy_popcount()  # CuPy releases without bitwise_count


@lru_cache(maxsize=1)
def _cupy_popcount() -> Callable[[Any], Any]:
    cupy = importlib.import_module("cupy")
    kernel: Callable[[Any], Any] = cupy.ElementwiseKernel(
        "uint64 x", "uint8 y", "y = __popcll(x)", "tessera_popcount"
    )
    return kernel


def xp_scan(
    xp: ModuleType, refs: Any, queries: Any, radius: int, capacity: int, row_offset: int
) -> tuple[Any, int]:
    """Hits of ``queries`` (m, 4) uint64 among ``refs`` (n, 4) uint64 as packed keys, with ``xp`` arrays.

    Holds an (m, n) uint64 temporary: callers keep ``m * n`` small (``range_search`` tiles).
    """
    pop = _popcount(xp)
    # The first 128 bits first, as the kernel does: at most 128, so uint8 holds the sum.
    d = pop(queries[:, None, 0] ^ refs[None, :, 0])
    d += pop(queries[:, None, 1] ^ refs[None, :, 1])
    qi, ri = xp.nonzero(d <= radius)
    full = d[qi, ri].astype(xp.int64)
    full += pop(queries[qi, 2] ^ refs[ri, 2])
    full += pop(queries[qi, 3] ^ refs[ri, 3])
    keep = full <= radius
    keys = qi[keep].astype(xp.int64) << _Q_SHIFT
    keys |= full[keep] << _D_SHIFT
    keys |= ri[keep].astype(xp.int64) + row_offset
    return keys[:capacity], int(keys.shape[0])


_KERNEL = r"""
struct __align__(16) Head { unsigned long long a, b; };

extern "C" __global__ void __launch_bounds__(THREADS)
tessera_pdq_range(const unsigned long long* __restrict__ refs, const unsigned long long* __restrict__ queries,
                  const int n_refs, const int n_queries, const int radius, const long long row_offset,
                  unsigned long long* __restrict__ count, const unsigned long long capacity,
                  long long* __restrict__ out)
{
    __shared__ Head heads[STAGE];
    unsigned long long r[RPT][4];
    const int first = blockIdx.x * (THREADS * RPT) + threadIdx.x;
#pragma unroll
    for (int k = 0; k < RPT; ++k) {
        const int row = min(first + k * THREADS, n_refs - 1);  // rows past the end are never reported
        const size_t at = (size_t)row * 4;
        r[k][0] = refs[at]; r[k][1] = refs[at + 1]; r[k][2] = refs[at + 2]; r[k][3] = refs[at + 3];
    }
    for (int q0 = 0; q0 < n_queries; q0 += STAGE) {
        const int nq = min(STAGE, n_queries - q0);
        __syncthreads();
        for (int i = threadIdx.x; i < nq; i += THREADS) {
            const size_t at = (size_t)(q0 + i) * 4;
            heads[i].a = queries[at];
            heads[i].b = queries[at + 1];
        }
        __syncthreads();
        for (int i = 0; i < nq; ++i) {
            const Head h = heads[i];
#pragma unroll
            for (int k = 0; k < RPT; ++k) {
                int d = __popcll(h.a ^ r[k][0]) + __popcll(h.b ^ r[k][1]);
                if (d <= radius) {
                    const size_t at = (size_t)(q0 + i) * 4;
                    d += __popcll(queries[at + 2] ^ r[k][2]) + __popcll(queries[at + 3] ^ r[k][3]);
                    const int row = first + k * THREADS;
                    if (d <= radius && row < n_refs) {
                        const unsigned long long slot = atomicAdd(count, 1ull);
                        if (slot < capacity)
                            out[slot] = ((long long)(q0 + i) << Q_SHIFT) | ((long long)d << D_SHIFT)
                                        | (row_offset + row);
                    }
                }
            }
        }
    }
}
"""


class FusedScan:
    """The CUDA kernel behind ``GpuPdqIndex`` (CuPy). ``refs_per_thread`` and ``threads`` only tune speed."""

    def __init__(self, refs_per_thread: int = 4, threads: int = 256, stage: int = 1024) -> None:
        self.cupy = importlib.import_module("cupy")
        self.block = threads * refs_per_thread
        self.threads = threads
        defines = {
            "THREADS": threads,
            "RPT": refs_per_thread,
            "STAGE": stage,
            "Q_SHIFT": _Q_SHIFT,
            "D_SHIFT": _D_SHIFT,
        }
        options = tuple(f"-D{name}={value}" for name, value in defines.items())
        self.kernel = self.cupy.RawKernel(_KERNEL, "tessera_pdq_range", options=options)

    def __call__(
        self, refs: Any, queries: Any, radius: int, capacity: int, row_offset: int
    ) -> tuple[Any, int]:
        cp = self.cupy
        n, m = int(refs.shape[0]), int(queries.shape[0])
        count = cp.zeros(1, dtype=cp.uint64)
        out = cp.empty(max(capacity, 1), dtype=cp.int64)
        blocks = (n + self.block - 1) // self.block
        self.kernel(
            (blocks,),
            (self.threads,),
            (
                refs,
                queries,
                np.int32(n),
                np.int32(m),
                np.int32(radius),
                np.int64(row_offset),
                count,
                np.uint64(capacity),
                out,
            ),
        )
        total = int(count.get()[0])
        return out[: min(total, capacity)], total


def range_search(
    xp: ModuleType,
    scan: Scan,
    refs: Any,
    queries: Any,
    radius: int,
    query_tile: int,
    ref_tile: int,
    capacity: int,
) -> tuple[I64, I64, I64]:
    """(query, row, distance) of every pair within ``radius``, as host int64 arrays sorted by query, then
    distance, then row. ``refs`` and ``queries`` are (n, 4) / (m, 4) uint64 arrays of ``xp``.

    Work is split into tiles of ``query_tile`` x ``ref_tile`` pairs; a tile's hits are collected in room
    for ``capacity`` of them, and a tile that had more is run again with room for all (its count is exact
    either way), so memory follows the results, not the number of pairs.
    """
    n, m = int(refs.shape[0]), int(queries.shape[0])
    if not 0 < query_tile <= _MAX_QUERY_TILE:
        raise ValueError(f"query_tile must be in 1..{_MAX_QUERY_TILE}")
    if n >= _MAX_ROWS:
        raise ValueError(f"at most {_MAX_ROWS - 1} references")
    out_q: list[I64] = []
    out_r: list[I64] = []
    out_d: list[I64] = []
    for q0 in range(0, m, query_tile):
        q = queries[q0 : q0 + query_tile]
        parts = []
        for r0 in range(0, n, ref_tile):
            tile = refs[r0 : r0 + ref_tile]
            keys, total = scan(tile, q, radius, capacity, r0)
            if total > capacity:
                keys, total = scan(tile, q, radius, total, r0)
            if total:
                parts.append(keys)
        if not parts:
            continue
        keys = xp.sort(xp.concatenate(parts))
        host = keys.get() if hasattr(keys, "get") else np.asarray(keys)
        out_q.append((host >> _Q_SHIFT) + q0)
        out_d.append((host >> _D_SHIFT) & 0x1FF)
        out_r.append(host & (_MAX_ROWS - 1))
    if not out_q:
        return _empty()
    return np.concatenate(out_q), np.concatenate(out_r), np.concatenate(out_d)


# ---------------------------------------------------------------------------------------------- index


class GpuPdqIndex:
    """Exact Hamming range index over PDQ hashes by brute force on a GPU; the ``PdqIndex`` search API.

    ``add`` stages rows on the host; ``build`` (or the next ``search``) copies them to the device, where
    the references live as (n, 4) uint64 words. ``xp=numpy`` runs the same code on the CPU with
    ``xp_scan`` (for tests; ``PdqIndex`` is the CPU index to use). Not thread-safe for ``add``.
    """

    def __init__(
        self,
        capacity: int = 0,
        *,
        xp: ModuleType | None = None,
        scan: Scan | None = None,
        query_tile: int | None = None,
        ref_tile: int | None = None,
        hit_capacity: int = 1 << 20,
    ) -> None:
        if xp is None:
            reason = gpu_unavailable_reason()
            if reason is not None:
                raise NoGpuError(f"no GPU for the PDQ index: {reason}")
            xp = importlib.import_module("cupy")
        self._xp = xp
        on_numpy = xp is np
        if scan is None:
            scan = partial(xp_scan, np) if on_numpy else FusedScan()
        self._scan = scan
        # numpy materialises each tile (about 9 bytes per pair): 128 x 16,384 pairs keep it near 20 MiB.
        # The kernel materialises nothing; its query tile only bounds one launch's hits and duration.
        self.query_tile = query_tile or (128 if on_numpy else 16_384)
        self.ref_tile = ref_tile or (16_384 if on_numpy else 1 << 26)
        self.hit_capacity = hit_capacity
        self._ids: I64 = np.empty(max(capacity, 0), dtype=np.int64)
        self._n = 0
        self._pending: list[npt.NDArray[np.uint8]] = []
        self._words: Any = xp.empty((0, 4), dtype=xp.uint64)

    def __len__(self) -> int:
        return self._n

    def reserve(self, capacity: int) -> None:
        """Room for ``capacity`` ids (the hashes are staged per ``add`` and copied once to the device)."""
        if capacity > self._ids.shape[0]:
            self._ids.resize((capacity,), refcheck=False)

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Append ``hashes`` (uint8, shape (k, 32)) with their ``ids`` (int64, shape (k,))."""
        rows = _rows(hashes)
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if id_arr.shape[0] != rows.shape[0]:
            raise ValueError(f"{id_arr.shape[0]} ids for {rows.shape[0]} hashes")
        k = rows.shape[0]
        if self._n + k >= _MAX_ROWS:
            raise ValueError(f"at most {_MAX_ROWS - 1} references")
        if self._n + k > self._ids.shape[0]:
            self.reserve(max(self._n + k, self._ids.shape[0] + self._ids.shape[0] // 8))
        self._ids[self._n : self._n + k] = id_arr
        self._pending.append(rows.copy())  # the caller may reuse its buffer before the upload
        self._n += k

    def add_chunks(self, chunks: Iterable[tuple[npt.ArrayLike, npt.ArrayLike]]) -> None:
        for ids, hashes in chunks:
            self.add(ids, hashes)

    def build(self) -> None:
        """Copy staged rows to the device now (otherwise done by the next ``search``)."""
        if not self._pending:
            return
        xp = self._xp
        held = int(self._words.shape[0])
        words = xp.empty((self._n, 4), dtype=xp.uint64)
        words[:held] = self._words
        for rows in self._pending:
            words[held : held + rows.shape[0]] = xp.asarray(rows).view(xp.uint64)
            held += rows.shape[0]
        self._words, self._pending = words, []

    @property
    def nbytes(self) -> int:
        """Bytes held: ids and staged rows on the host, reference words on the device."""
        return self._ids.nbytes + int(self._words.nbytes) + sum(r.nbytes for r in self._pending)

    def search(self, queries: npt.ArrayLike, radius: int = DEFAULT_RADIUS) -> Triple:
        """Every (query, reference) pair with Hamming distance <= ``radius``, exactly as ``PdqIndex.search``:
        ``(q_idx, ids, distances)`` int64, sorted by query, then distance, then insertion order."""
        q = _rows(queries)
        if not 0 <= radius <= MAX_RADIUS:
            raise ValueError(f"radius must be in 0..{MAX_RADIUS}")
        if q.shape[0] == 0 or self._n == 0:
            return _empty()
        self.build()
        xp = self._xp
        q_words = xp.asarray(q).view(xp.uint64)
        qi, rows, dist = range_search(
            xp, self._scan, self._words, q_words, radius, self.query_tile, self.ref_tile, self.hit_capacity
        )
        return qi, self._ids[rows], dist


# ---------------------------------------------------------------------------------------------- choice


@lru_cache(maxsize=1)
def gpu_unavailable_reason() -> str | None:
    """Why no GPU index can run here (``None``: CuPy imports and sees a CUDA device). Asked once."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return "CuPy is not installed (pip install 'tessera[gpu]')"
    try:
        devices = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # CUDA reports a missing driver or device as a runtime error of its own
        return f"CuPy sees no CUDA device ({type(exc).__name__}: {exc})"
    return None if devices > 0 else "CuPy sees no CUDA device"


def decide(n_refs: int, wanted: str, unavailable: str | None) -> Device:
    """``auto``: the GPU when there is one and ``n_refs >= GPU_MIN_REFS``; ``cpu``; ``gpu`` or an error."""
    wanted = wanted.strip().lower() or "auto"
    if wanted not in ("auto", "cpu", "gpu"):
        raise ValueError(f"{DEVICE_ENV} must be auto, cpu or gpu, not {wanted!r}")
    if wanted == "cpu":
        return "cpu"
    if wanted == "gpu":
        if unavailable is not None:
            raise NoGpuError(f"a GPU PDQ index was asked for ({DEVICE_ENV}=gpu) but {unavailable}")
        return "gpu"
    return "gpu" if unavailable is None and n_refs >= GPU_MIN_REFS else "cpu"


def choose_device(n_refs: int, device: str | None = None) -> Device:
    """Where to match ``n_refs`` references: ``device`` if given, else ``$TESSERA_PDQ_DEVICE``, else auto."""
    wanted = device if device is not None else os.environ.get(DEVICE_ENV, "auto")
    # The GPU is only probed when it could be chosen: a forced CPU never imports CuPy.
    if wanted.strip().lower() == "cpu":
        return "cpu"
    return decide(n_refs, wanted, gpu_unavailable_reason())


def pdq_index(n_refs: int, device: str | None = None) -> PdqIndex | GpuPdqIndex:
    """An empty PDQ index sized for ``n_refs`` references, on the device ``choose_device`` picks."""
    if choose_device(n_refs, device) == "gpu":
        return GpuPdqIndex(n_refs)
    from tessera.matching.pdq import PdqIndex

    return PdqIndex(n_refs)
