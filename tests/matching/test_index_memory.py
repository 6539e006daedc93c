"""Memory accounting of the PDQ index (issue 16): bytes its arrays hold per entry, and exactness within a
table budget. Counts array bytes (deterministic), not RSS or time. All hashes are random."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.hub.index import BYTES_PER_ENTRY, DEFAULT_PROFILE, PROFILES, HubIndex
from tessera.matching import _plan, pdq
from tessera.matching.pdq import PdqIndex

from .test_pdq_index import as_set, numpy_pairs, planted


def test_hub_index_holds_at_most_64_bytes_per_entry() -> None:
    rng = np.random.default_rng(16)
    n, push = 60_000, 7_000
    refs, queries, expect = planted(rng, n, 40)
    hexes = [r.tobytes().hex() for r in refs]
    index = HubIndex(background=False, bytes_per_entry=BYTES_PER_ENTRY)
    for lo in range(0, n, push):
        hi = min(n, lo + push)
        index.advance(None, lo, hi, list(range(lo + 1, hi + 1)), hexes[lo:hi])  # type: ignore[arg-type]
        while index.maintain():
            pass
        assert index.nbytes <= BYTES_PER_ENTRY * len(index), (len(index), index.nbytes / len(index))
    assert len(index) == n
    found = {(qi, eid) for qi, eid, _ in index.search([q.tobytes().hex() for q in queries], 31)}
    want = {(qi, eid) for qi, eid, _ in numpy_pairs(refs, np.arange(1, n + 1), queries, 31)}
    assert found == want and {(i, expect[i] + 1) for i in range(32)} <= found


def test_default_compact_profile_tables_within_its_budget() -> None:
    """The hub's default profile: tables once they pay (here from 200,000 entries), never above budget,
    and exact."""
    assert DEFAULT_PROFILE == "compact"
    budget = PROFILES["compact"]
    assert budget is not None
    rng = np.random.default_rng(112)
    n, push = 240_000, 40_000
    refs, queries, expect = planted(rng, n, 40)
    hexes = [r.tobytes().hex() for r in refs]
    index = HubIndex(background=False)
    for lo in range(0, n, push):
        hi = min(n, lo + push)
        index.advance(None, lo, hi, list(range(lo + 1, hi + 1)), hexes[lo:hi])  # type: ignore[arg-type]
        while index.maintain():
            pass
        assert index.nbytes <= budget * len(index), (len(index), index.nbytes / len(index))
    assert sum(index.segments) >= 200_000, index.segments
    found = {(qi, eid) for qi, eid, _ in index.search([q.tobytes().hex() for q in queries], 31)}
    want = {(qi, eid) for qi, eid, _ in numpy_pairs(refs, np.arange(1, n + 1), queries, 31)}
    assert found == want and {(i, expect[i] + 1) for i in range(32)} <= found


def test_unlimited_hub_index_still_tables() -> None:
    index = HubIndex(background=False, bytes_per_entry=None)
    rng = np.random.default_rng(3)
    hexes = [r.tobytes().hex() for r in rng.integers(0, 256, (40_000, 32), dtype=np.uint8)]
    index.advance(None, 0, 1, list(range(1, 40_001)), hexes)  # type: ignore[arg-type]
    while index.maintain():
        pass
    assert sum(index.segments) == 40_000
    assert index.nbytes > 100 * len(index)  # what the budget exists to avoid


def test_choose_layout_keeps_tables_within_the_budget() -> None:
    for n in (20_000, 300_000, 5_000_000):
        for budget in (8.0, 24.0, 64.0, 120.0):
            for compact in (False, True):
                layout = _plan.choose_layout(n, compact=compact, max_bytes_per_row=budget)
                if layout is not None:
                    assert _plan.table_bytes(layout, n, compact) <= budget * n


@pytest.mark.parametrize("budget", [30.0, 70.0])
def test_budgeted_segments_stay_exact_and_within_budget(
    monkeypatch: pytest.MonkeyPatch, budget: float
) -> None:
    monkeypatch.setattr(pdq, "TAIL_ROWS", 2_000)
    rng = np.random.default_rng(int(budget))
    n = 40_000
    refs, queries, _ = planted(rng, n, 60)
    ids = np.arange(n, dtype=np.int64) * 5 + 2
    index = PdqIndex(compact=True, auto_build=False, table_bytes_per_row=budget)
    for lo in range(0, n, 5_000):
        index.add(ids[lo : lo + 5_000], refs[lo : lo + 5_000])
        while (due := index.plan()) is not None:
            assert index.install(due.run())
        tables = index.nbytes - index._hashes.nbytes - index._ids.nbytes
        assert tables <= budget * sum(index.segments)
    # Spare capacity stays under an eighth of the rows held.
    assert index._hashes.shape[0] <= n * 9 // 8
    assert as_set(index.search(queries, 31)) == numpy_pairs(refs, ids, queries, 31)
