"""Exactness of PdqIndex against a plain numpy Hamming scan. All hashes are random or invented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tessera.matching import _plan
from tessera.matching.pdq import PdqIndex, hex_to_rows

U8 = npt.NDArray[np.uint8]
CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "pdq"


def numpy_pairs(refs: U8, ids: npt.NDArray[np.int64], queries: U8, radius: int) -> set[tuple[int, int, int]]:
    """Reference answer: every (query, id, distance) with distance <= radius, by full unpacked-bit XOR."""
    rb = np.unpackbits(refs, axis=1).astype(bool)
    out: set[tuple[int, int, int]] = set()
    for qi, q in enumerate(np.unpackbits(queries, axis=1).astype(bool)):
        d = (rb ^ q).sum(axis=1)
        for r in np.flatnonzero(d <= radius):
            out.add((qi, int(ids[r]), int(d[r])))
    return out


def as_set(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    qi, ids, d = result
    triples = list(zip(qi.tolist(), ids.tolist(), d.tolist(), strict=True))
    assert len(triples) == len(set(triples)), "duplicate results"
    return set(triples)


def flip(row: U8, bits: npt.NDArray[np.int64]) -> U8:
    out = row.copy()
    for b in bits:
        out[b // 8] ^= np.uint8(1 << (7 - b % 8))
    return out


def planted(rng: np.random.Generator, n_refs: int, n_queries: int) -> tuple[U8, U8, dict[int, int]]:
    """Random refs; for query i < 33, one ref at distance i (0..31) and, for i == 32, a decoy at 32."""
    refs = rng.integers(0, 256, (n_refs, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, (n_queries, 32), dtype=np.uint8)
    slots = rng.choice(n_refs, 33, replace=False)
    expect: dict[int, int] = {}
    for i, slot in enumerate(slots):
        refs[slot] = flip(queries[i], rng.choice(256, i, replace=False))
        expect[i] = int(slot)
    return refs, queries, expect


@pytest.mark.parametrize("n_refs,compact", [(300, False), (60_000, False), (60_000, True)])
def test_planted_every_distance(n_refs: int, compact: bool) -> None:
    rng = np.random.default_rng(n_refs)
    refs, queries, expect = planted(rng, n_refs, 200)
    ids = np.arange(n_refs, dtype=np.int64) * 7 + 3
    index = PdqIndex(compact=compact)
    index.add(ids, refs)
    got = as_set(index.search(queries))
    if n_refs >= 60_000:
        assert index.layout is not None, "expected the multi-index path"
    for i in range(32):
        assert (i, int(ids[expect[i]]), i) in got
    assert not any(q == 32 for q, _, _ in got), "decoy at distance 32 returned"
    assert got == numpy_pairs(refs, ids, queries, 31)


@pytest.fixture(params=["auto", "force_mih"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``force_mih`` makes brute force look ruinous so the multi-index path runs even where it is slower."""
    if request.param == "force_mih":
        monkeypatch.setattr(_plan, "COST_BRUTE_PAIR", 1.0)
    # The planners are memoised on their arguments; the patched constant is not one of them.
    _plan.choose_layout.cache_clear()
    _plan.probe_plan.cache_clear()
    yield str(request.param)
    _plan.choose_layout.cache_clear()
    _plan.probe_plan.cache_clear()


@pytest.mark.parametrize("radius", [0, 5, 16, 31, 40, 63])
def test_radius_override(radius: int, mode: str) -> None:
    rng = np.random.default_rng(radius)
    refs = rng.integers(0, 256, (40_000, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    for i in range(50):  # neighbours around the radius, both sides
        d = min(255, max(0, radius - 3 + i % 7))
        refs[i * 11] = flip(queries[i], rng.choice(256, d, replace=False))
    ids = np.arange(40_000, dtype=np.int64)
    index = PdqIndex()
    index.add(ids, refs)
    index.build()
    assert index.layout is not None
    assert as_set(index.search(queries, radius=radius)) == numpy_pairs(refs, ids, queries, radius)


def test_empty_index_and_empty_queries() -> None:
    index = PdqIndex()
    assert len(index) == 0
    q = np.zeros((3, 32), dtype=np.uint8)
    for arr in index.search(q):
        assert arr.shape == (0,) and arr.dtype == np.int64
    index.add(np.array([1]), np.zeros((1, 32), dtype=np.uint8))
    for arr in index.search(np.zeros((0, 32), dtype=np.uint8)):
        assert arr.shape == (0,)


def test_incremental_add_and_ids_preserved() -> None:
    rng = np.random.default_rng(7)
    refs, queries, _ = planted(rng, 80_000, 100)
    ids = rng.integers(-(2**62), 2**62, 80_000, dtype=np.int64)
    index = PdqIndex()
    for lo in range(0, 80_000, 20_000):
        index.add(ids[lo : lo + 20_000], refs[lo : lo + 20_000])
        # Searching between adds exercises the brute-forced tail and rebuilds.
        want = numpy_pairs(refs[: lo + 20_000], ids[: lo + 20_000], queries, 31)
        assert as_set(index.search(queries)) == want
    assert len(index) == 80_000
    index.add(ids[:5], refs[:5])  # the same rows again: each copy is its own result
    qi, got_ids, d = index.search(refs[:1])
    assert len(index) == 80_005
    assert got_ids.tolist() == [ids[0], ids[0]] and d.tolist() == [0, 0]


def test_same_hash_two_ids_and_ordering() -> None:
    rng = np.random.default_rng(3)
    h = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    near = flip(h[0], np.array([0, 9, 200]))[None, :]
    index = PdqIndex()
    index.add(np.array([10, 11, 12]), np.concatenate([near, h, h]))
    qi, ids, d = index.search(h)
    assert qi.tolist() == [0, 0, 0]
    assert ids.tolist() == [11, 12, 10] and d.tolist() == [0, 0, 3]


def test_hex_byte_order() -> None:
    hexes = ["f" * 63 + "e", "0" * 64]
    rows = hex_to_rows(hexes)
    assert rows[0].tobytes() == bytes.fromhex(hexes[0])
    index = PdqIndex()
    index.add(np.array([5, 6]), rows)
    qi, ids, d = index.search(hex_to_rows(["f" * 64]))
    assert ids.tolist() == [5] and d.tolist() == [1]


def test_bad_input_rejected() -> None:
    index = PdqIndex()
    with pytest.raises(ValueError):
        index.add(np.array([1]), np.zeros((1, 31), dtype=np.uint8))
    with pytest.raises(ValueError):
        index.add(np.array([1, 2]), np.zeros((1, 32), dtype=np.uint8))
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 32), dtype=np.uint8), radius=256)


def test_pigeonhole_bound_holds() -> None:
    """For every radius and chunk count, the thresholds make the exactness argument go through."""
    for radius in range(64):
        for chunks in range(1, 33):
            ts = _plan.thresholds_for(chunks, radius)
            assert len(ts) == chunks and min(ts) >= 0
            assert sum(ts) + chunks >= radius + 1


def conformance_lists() -> tuple[U8, U8]:
    """The PDQ conformance haystack and needles as rows (the test skips where they are absent)."""
    haystack, needles = CONFORMANCE / "haystack.txt", CONFORMANCE / "needles.txt"
    if not (haystack.is_file() and needles.is_file()):
        pytest.skip(f"conformance lists not found under {CONFORMANCE.resolve()}")
    refs = hex_to_rows(line.strip() for line in haystack.read_text().splitlines() if line.strip())
    queries = hex_to_rows(line.strip() for line in needles.read_text().splitlines() if line.strip())
    return refs, queries


def test_conformance_haystack_needles(mode: str) -> None:
    refs, queries = conformance_lists()
    ids = np.arange(len(refs), dtype=np.int64)
    for compact in (False, True):
        index = PdqIndex(compact=compact)
        index.add(ids, refs)
        index.build()
        assert (index.layout is not None) == (mode == "force_mih")
        for radius in (31, 63):
            want = numpy_pairs(refs, ids, queries, radius)
            assert as_set(index.search(queries, radius=radius)) == want
    assert want, "the needles are expected to have neighbours in the haystack"
