"""The GPU PDQ matcher: its tiling and threshold logic on numpy against PdqIndex, the CUDA kernel where a GPU
is present, and how an index is chosen. All hashes are random or invented."""

from __future__ import annotations

from functools import partial

import numpy as np
import numpy.typing as npt
import pytest

from tessera.matching import gpu
from tessera.matching.gpu import GpuPdqIndex, NoGpuError, choose_device, decide, pdq_index, xp_scan
from tessera.matching.pdq import PdqIndex, hex_to_rows

from .test_pdq_index import conformance_lists

U8 = npt.NDArray[np.uint8]
Triple = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
GPU_REASON = gpu.gpu_unavailable_reason()


def flip(row: U8, bits: npt.NDArray[np.int64]) -> U8:
    out = row.copy()
    for b in bits:
        out[b // 8] ^= np.uint8(1 << (7 - b % 8))
    return out


def near_duplicates(rng: np.random.Generator, n_refs: int, n_queries: int, spread: int = 70) -> tuple[U8, U8]:
    """Random refs; query i is a copy of some ref with ``i % spread`` bits flipped (both sides of any radius),
    and a few refs are exact copies of others (one hash under two ids is two results)."""
    refs = rng.integers(0, 256, (n_refs, 32), dtype=np.uint8)
    dup = rng.choice(n_refs, min(10, n_refs), replace=False)
    refs[dup[1:]] = refs[dup[0]]
    src = rng.integers(0, n_refs, n_queries)
    queries = np.stack([flip(refs[s], rng.choice(256, i % spread, replace=False)) for i, s in enumerate(src)])
    return refs, queries.reshape(-1, 32)


def assert_same(got: Triple, want: Triple) -> None:
    """Identical arrays: same pairs, same distances, same order, same dtype."""
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)


def cpu_answer(ids: npt.NDArray[np.int64], refs: U8, queries: U8, radius: int) -> Triple:
    index = PdqIndex()
    index.add(ids, refs)
    return index.search(queries, radius=radius)


def numpy_index(ids: npt.NDArray[np.int64], refs: U8, **tiles: int) -> GpuPdqIndex:
    index = GpuPdqIndex(xp=np, **tiles)
    index.add(ids, refs)
    return index


# ------------------------------------------------------------------------------------ numpy-backed logic


@pytest.mark.parametrize("radius", [0, 8, 31, 45, 64])
def test_near_duplicates_equal_pdq_index(radius: int) -> None:
    rng = np.random.default_rng(radius)
    refs, queries = near_duplicates(rng, 20_000, 160)
    ids = rng.integers(-(2**62), 2**62, refs.shape[0], dtype=np.int64)
    want = cpu_answer(ids, refs, queries, radius)
    assert want[0].size > 10, "the data is meant to have neighbours"
    assert_same(numpy_index(ids, refs).search(queries, radius=radius), want)


def test_random_data_at_large_radii() -> None:
    """Random pairs differ in ~128 bits: radii around that make many hits and most pairs pass stage 1."""
    rng = np.random.default_rng(11)
    refs = rng.integers(0, 256, (3_000, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    ids = np.arange(refs.shape[0], dtype=np.int64) * 5
    for radius in (100, 120, 128, 140, 255):
        want = cpu_answer(ids, refs, queries, radius)
        assert_same(numpy_index(ids, refs).search(queries, radius=radius), want)
    assert want[0].size == 3_000 * 40, "radius 255 matches every pair"


@pytest.mark.parametrize(
    "query_tile,ref_tile,hit_capacity",
    [(7, 1_000, 3), (1, 4_999, 1), (64, 333, 1 << 20), (1_000, 100_000, 2)],
)
def test_tiling_edges(query_tile: int, ref_tile: int, hit_capacity: int) -> None:
    """Tiles that do not divide the sizes, and hit buffers too small for a tile (the retry path)."""
    rng = np.random.default_rng(query_tile)
    refs, queries = near_duplicates(rng, 5_003, 101, spread=40)
    ids = np.arange(refs.shape[0], dtype=np.int64) + 100
    want = cpu_answer(ids, refs, queries, 31)
    tiles = {"query_tile": query_tile, "ref_tile": ref_tile, "hit_capacity": hit_capacity}
    index = numpy_index(ids, refs, **tiles)
    assert_same(index.search(queries, radius=31), want)


def test_xp_scan_keeps_capacity_and_counts_all() -> None:
    rng = np.random.default_rng(5)
    refs = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    words = refs.view(np.uint64)
    keys, total = xp_scan(np, words, words, 255, 7, 1_000)
    assert total == 50 * 50 and keys.shape == (7,)
    keys, total = xp_scan(np, words, words[:3], 0, 100, 1_000)
    assert total == 3
    assert sorted((keys & ((1 << 34) - 1)).tolist()) == [1_000, 1_001, 1_002]  # rows carry the offset


def test_empty_inputs() -> None:
    index = GpuPdqIndex(xp=np)
    assert len(index) == 0
    for arr in index.search(np.zeros((3, 32), dtype=np.uint8)):
        assert arr.shape == (0,) and arr.dtype == np.int64
    index.add(np.zeros(0, dtype=np.int64), np.zeros((0, 32), dtype=np.uint8))
    index.add(np.array([4]), np.zeros((1, 32), dtype=np.uint8))
    for arr in index.search(np.zeros((0, 32), dtype=np.uint8)):
        assert arr.shape == (0,)
    qi, ids, d = index.search(np.zeros((2, 32), dtype=np.uint8), radius=0)
    assert qi.tolist() == [0, 1] and ids.tolist() == [4, 4] and d.tolist() == [0, 0]


def test_incremental_add_between_searches() -> None:
    rng = np.random.default_rng(9)
    refs, queries = near_duplicates(rng, 6_000, 60, spread=35)
    ids = np.arange(6_000, dtype=np.int64) * 2
    index = GpuPdqIndex(xp=np)
    for lo in range(0, 6_000, 2_000):
        index.add(ids[lo : lo + 2_000], refs[lo : lo + 2_000])
        want = cpu_answer(ids[: lo + 2_000], refs[: lo + 2_000], queries, 31)
        assert_same(index.search(queries), want)
    assert len(index) == 6_000 and index.nbytes == 6_000 * (8 + 32)


def test_ordering_and_duplicate_hashes() -> None:
    h = np.random.default_rng(3).integers(0, 256, (1, 32), dtype=np.uint8)
    near = flip(h[0], np.array([0, 9, 200]))[None, :]
    index = GpuPdqIndex(xp=np)
    index.add(np.array([10, 11, 12]), np.concatenate([near, h, h]))
    qi, ids, d = index.search(h)
    assert qi.tolist() == [0, 0, 0] and ids.tolist() == [11, 12, 10] and d.tolist() == [0, 0, 3]


def test_hex_rows_and_bad_input() -> None:
    index = GpuPdqIndex(xp=np)
    index.add(np.array([5, 6]), hex_to_rows(["f" * 63 + "e", "0" * 64]))
    qi, ids, d = index.search(hex_to_rows(["f" * 64]))
    assert ids.tolist() == [5] and d.tolist() == [1]
    with pytest.raises(ValueError):
        index.add(np.array([1]), np.zeros((1, 31), dtype=np.uint8))
    with pytest.raises(ValueError):
        index.add(np.array([1, 2]), np.zeros((1, 32), dtype=np.uint8))
    with pytest.raises(ValueError):
        index.search(np.zeros((1, 32), dtype=np.uint8), radius=256)


def test_conformance_haystack_needles() -> None:
    refs, queries = conformance_lists()
    ids = np.arange(len(refs), dtype=np.int64)
    for radius in (31, 63):
        want = cpu_answer(ids, refs, queries, radius)
        assert want[0].size
        assert_same(numpy_index(ids, refs).search(queries, radius=radius), want)


# ------------------------------------------------------------------------------------ on a GPU


@pytest.mark.skipif(GPU_REASON is not None, reason=f"no GPU: {GPU_REASON}")
@pytest.mark.parametrize("radius", [0, 31, 64, 128])
def test_gpu_kernel_equals_pdq_index(radius: int) -> None:
    import cupy

    rng = np.random.default_rng(radius + 1)
    refs, queries = near_duplicates(rng, 50_003, 3_001)
    ids = rng.integers(-(2**62), 2**62, refs.shape[0], dtype=np.int64)
    want = cpu_answer(ids, refs, queries, radius)
    variants = {
        "kernel": {},
        "kernel, odd tiles, tiny hit buffer": {"query_tile": 1_000, "ref_tile": 7_777, "hit_capacity": 5},
        "kernel, 8 refs per thread": {"scan": gpu.FusedScan(refs_per_thread=8, threads=128)},
        "xp_scan on cupy": {"scan": partial(xp_scan, cupy), "query_tile": 64, "ref_tile": 16_384},
    }
    for name, options in variants.items():
        index = GpuPdqIndex(**options)  # type: ignore[arg-type]
        index.add(ids[:20_000], refs[:20_000])
        index.search(queries[:5])  # uploads the first part, so the second is appended on the device
        index.add(ids[20_000:], refs[20_000:])
        got = index.search(queries, radius=radius)
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w), name


# ------------------------------------------------------------------------------------ choice


def test_decide() -> None:
    big, small = gpu.GPU_MIN_REFS, gpu.GPU_MIN_REFS - 1
    assert decide(big, "auto", None) == "gpu"
    assert decide(small, "auto", None) == "cpu"
    assert decide(big, "auto", "no device") == "cpu"
    assert decide(big, "cpu", None) == "cpu"
    assert decide(0, " GPU ", None) == "gpu"
    assert decide(big, "", None) == "gpu"
    with pytest.raises(NoGpuError, match="no device"):
        decide(big, "gpu", "no device")
    with pytest.raises(ValueError, match="auto, cpu or gpu"):
        decide(big, "cuda", None)


def test_auto_and_forced_choice_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gpu.DEVICE_ENV, raising=False)
    assert choose_device(10) == "cpu"
    assert isinstance(pdq_index(10), PdqIndex)
    monkeypatch.setenv(gpu.DEVICE_ENV, "cpu")
    assert isinstance(pdq_index(50_000_000), PdqIndex)
    monkeypatch.setenv(gpu.DEVICE_ENV, "gpu")
    if GPU_REASON is None:
        assert isinstance(pdq_index(10), GpuPdqIndex)
        assert choose_device(50_000_000, device="auto") == "gpu"
    else:
        assert choose_device(50_000_000, device="auto") == "cpu"
        with pytest.raises(NoGpuError, match="asked for"):
            pdq_index(10)
        with pytest.raises(NoGpuError, match="no GPU"):
            GpuPdqIndex()
