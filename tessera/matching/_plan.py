"""Cost model for the PDQ index: table layout at build time, probe plan per search.

Multi-index hashing (Norouzi et al.) splits the 256 bits into ``m`` disjoint chunks of ``b`` bits. The
generalised pigeonhole principle makes it exact: if chunk thresholds ``t_i`` over the chunks probed satisfy
``sum(t_i) >= r - m' + 1`` (``m'`` chunks probed), any hash within distance ``r`` of the query differs in
at most ``t_i`` bits in at least one probed chunk -- otherwise each chunk contributes ``>= t_i + 1`` bits and
the total is ``>= r + 1``. Probing every key within ``t_i`` of the query's chunk key therefore finds every
neighbour; recall is 1.0 by construction and candidates are verified with the full 256-bit distance.

The constants below were measured on the numpy kernel in ``_mih.py`` (2-core AMD EPYC, numpy 2.4); they
only steer speed, never correctness.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import comb

from tessera.hashing.algorithms import ALGORITHMS

#: Layouts are chosen for searches at the PDQ match threshold unless told otherwise.
_DEFAULT_RADIUS = ALGORITHMS.get("pdq").default_threshold

BITS = 256

#: Seconds per probed bucket (key generation, one random read of the bucket span, bookkeeping).
COST_PROBE = 20e-9
#: Seconds per candidate screened (read of its first 16 bytes, XOR, popcount, bookkeeping).
COST_CANDIDATE = 20e-9
#: Same in compact mode, where the read is a cache (and TLB) miss into the hash matrix via the row number.
COST_CANDIDATE_COMPACT = 50e-9
#: Seconds per (query, reference) pair for faiss' brute-force Hamming range search.
COST_BRUTE_PAIR = 1.2e-9
#: Seconds per reference per chunk to build tables (key extraction, counting, sorting).
COST_BUILD = 60e-9

#: Largest chunk width: the offsets table has 2**b entries (4 bytes each), 64 MiB at 24 bits.
MAX_CHUNK_BITS = 24
MIN_CHUNK_BITS = 8


@lru_cache(maxsize=256)
def ball_size(bits: int, radius: int) -> int:
    """Number of ``bits``-wide keys within Hamming distance ``radius`` of a key."""
    return sum(comb(bits, k) for k in range(min(radius, bits) + 1))


@dataclass(frozen=True, slots=True)
class Layout:
    """How the tables split a hash: ``chunks`` chunks of ``bits`` bits starting at bit 0."""

    chunks: int
    bits: int

    def offset(self, chunk: int) -> int:
        return chunk * self.bits


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """Which chunks a search probes and to what per-chunk radius; ``None`` thresholds mean brute force."""

    thresholds: tuple[int, ...] | None
    est_seconds_per_query: float

    @property
    def brute(self) -> bool:
        return self.thresholds is None


def thresholds_for(chunks: int, radius: int) -> tuple[int, ...]:
    """Smallest even split of ``radius - chunks + 1`` over ``chunks`` chunks (pigeonhole bound)."""
    need = max(0, radius - chunks + 1)
    base, extra = divmod(need, chunks)
    return tuple(base + (1 if i < extra else 0) for i in range(chunks))


def mih_cost(layout: Layout, n: int, thresholds: tuple[int, ...], compact: bool = False) -> float:
    """Estimated seconds per query of probing ``thresholds`` on ``layout`` over ``n`` references."""
    per_bucket = n / float(1 << layout.bits)
    probes = sum(ball_size(layout.bits, t) for t in thresholds)
    per_candidate = COST_CANDIDATE_COMPACT if compact else COST_CANDIDATE
    return probes * (COST_PROBE + per_candidate * per_bucket)


@lru_cache(maxsize=1024)
def probe_plan(layout: Layout | None, n: int, radius: int, compact: bool = False) -> ProbePlan:
    """Cheapest exact way to search ``n`` tabled references at ``radius``: a subset of chunks, or brute force.

    Probing fewer chunks than the layout has is allowed (the bound is over the chunks probed), which is
    what makes small radii cheap: at radius 0 one exact lookup in one chunk suffices.
    """
    brute = ProbePlan(None, n * COST_BRUTE_PAIR)
    if layout is None or n == 0:
        return brute
    best = brute
    for used in range(1, layout.chunks + 1):
        ts = thresholds_for(used, radius)
        cost = mih_cost(layout, n, ts, compact)
        if cost < best.est_seconds_per_query:
            best = ProbePlan(ts, cost)
    return best


def table_bytes(layout: Layout, n: int, compact: bool = False) -> int:
    """Bytes the tables of ``layout`` hold over ``n`` rows (see ``_mih.Tables``): per chunk, a 4-byte
    bucket start per key, a 4-byte row number per row and, unless ``compact``, a 16-byte head per row."""
    per_row = 4 if compact else 20
    return layout.chunks * (per_row * n + 4 * ((1 << layout.bits) + 1))


@lru_cache(maxsize=1024)  # asked on every search (for the untabled tail): pure, and ~1 ms per call
def choose_layout(
    n: int, radius: int = _DEFAULT_RADIUS, compact: bool = False, max_bytes_per_row: float | None = None
) -> Layout | None:
    """Table layout minimising search cost at ``radius`` for ``n`` references; ``None`` if brute force wins.

    Wider chunks mean smaller buckets but many more probes per chunk; the offsets table (``2**b`` entries)
    is kept no larger than a few times ``n`` so small indexes do not pay for empty tables. With
    ``max_bytes_per_row``, a layout keeps only as many chunks as fit that budget (the chunks need not
    cover all 256 bits: the pigeonhole bound holds over any set of disjoint chunks).
    """
    if n == 0:
        return None
    max_bits = MAX_CHUNK_BITS
    while max_bits > MIN_CHUNK_BITS and (1 << max_bits) > 4 * n:
        max_bits -= 1
    best: tuple[float, Layout] | None = None
    for bits in range(MIN_CHUNK_BITS, max_bits + 1):
        chunks = BITS // bits
        if max_bytes_per_row is not None:
            per_chunk = table_bytes(Layout(1, bits), n, compact)
            chunks = min(chunks, int(max_bytes_per_row * n // per_chunk))
            if chunks == 0:
                continue
        layout = Layout(chunks, bits)
        cost = probe_plan(layout, n, radius, compact).est_seconds_per_query
        if best is None or cost < best[0]:
            best = (cost, layout)
    if best is None or best[0] >= n * COST_BRUTE_PAIR:
        return None
    return best[1]
