"""The growing PDQ index behind the hub: segments tabled as rows arrive (exact at every step), table
builds off the search path, the hub index fed by pushes directly or from the database, and the
shortcut consensus of a brand-new entry. All hashes are random."""

from __future__ import annotations

import random
import time

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient

from tessera.hub.index import HubIndex
from tessera.hub.service import _CONTRIB_INSERT, _STATE_COLUMNS, consensus, fresh_consensus
from tessera.matching import pdq
from tessera.matching.pdq import PdqIndex

from .conftest import Hub, auth, flip_bits, make_client, rand_item

U8 = npt.NDArray[np.uint8]


def reference(refs: U8, ids: npt.NDArray[np.int64], queries: U8, radius: int) -> set[tuple[int, int, int]]:
    """Every (query, id, distance) within ``radius``, by a full popcount scan."""
    r64, q64 = refs.view(np.uint64), queries.view(np.uint64)
    out: set[tuple[int, int, int]] = set()
    for qi in range(len(queries)):
        d = np.bitwise_count(r64 ^ q64[qi]).sum(axis=1)
        out.update((qi, int(ids[j]), int(d[j])) for j in np.flatnonzero(d <= radius))
    return out


def as_set(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    triples = list(zip(*(a.tolist() for a in result), strict=True))
    assert len(triples) == len(set(triples)), "duplicate results"
    return set(triples)


def near(rng: np.random.Generator, rows: U8, bits: int) -> U8:
    """Copies of ``rows`` with ``bits`` random bits flipped each."""
    out = rows.copy()
    for row in out:
        for b in rng.choice(256, bits, replace=False):
            row[b // 8] ^= np.uint8(1 << (7 - b % 8))
    return out


def test_growing_index_stays_exact_with_few_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdq, "TAIL_ROWS", 2_000)  # many segments and merges at a test's size
    rng = np.random.default_rng(5)
    refs = rng.integers(0, 256, (60_000, 32), dtype=np.uint8)
    ids = np.arange(60_000, dtype=np.int64) * 3 + 1
    index = PdqIndex()
    index.add(ids[:20_000], refs[:20_000])
    index.build()
    lo, seen = 20_000, []
    while lo < 60_000:
        step = int(rng.integers(500, 4_000))
        index.add(ids[lo : lo + step], refs[lo : lo + step])
        lo = min(60_000, lo + step)
        # Queries near rows of every age: the first segment, merged segments, the untabled tail.
        picks = rng.choice(lo, 30, replace=False)
        queries = near(rng, refs[picks], int(rng.integers(0, 32)))
        assert as_set(index.search(queries)) == reference(refs[:lo], ids[:lo], queries, 31)
        seen.append(index.segments)
        assert sum(index.segments) <= lo and lo - sum(index.segments) < 2_000
    assert any(len(s) > 1 for s in seen), "expected segments besides the first"
    assert max(len(s) for s in seen) <= 6
    assert index.segments[0] >= 20_000  # the first segment is only ever merged into, never split


def test_builds_off_the_search_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdq, "TAIL_ROWS", 2_000)
    rng = np.random.default_rng(6)
    refs = rng.integers(0, 256, (35_000, 32), dtype=np.uint8)
    ids = np.arange(35_000, dtype=np.int64)
    index = PdqIndex(auto_build=False)
    index.add(ids[:30_000], refs[:30_000])
    queries = near(rng, refs[rng.choice(35_000, 40)], 9)
    # Searches never build: the whole index is a brute-force tail until a build is installed.
    assert as_set(index.search(queries)) == reference(refs[:30_000], ids[:30_000], queries, 31)
    assert index.segments == []
    first = index.plan()
    assert first is not None and (first.lo, first.hi) == (0, 30_000)
    index.add(ids[30_000:], refs[30_000:])  # rows arrive while the build runs on its copy
    assert index.install(first.run())
    assert index.segments == [30_000]
    assert as_set(index.search(queries)) == reference(refs, ids, queries, 31)
    tail = index.plan()
    assert tail is not None and (tail.lo, tail.hi) == (30_000, 35_000)  # too small to merge
    tail.run()
    index.build()  # meanwhile someone tabled everything: the stale build no longer fits
    assert not index.install(tail)
    assert index.segments == [35_000]
    assert as_set(index.search(queries)) == reference(refs, ids, queries, 31)


def test_hub_index_tables_new_rows_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdq, "TAIL_ROWS", 1_000)
    rng = random.Random(8)
    index = HubIndex(bytes_per_entry=None)  # the "fast" profile tables even 12,000 rows
    hexes = [f"{rng.getrandbits(256):064x}" for _ in range(12_000)]
    seq = 0
    for lo in range(0, 12_000, 1_500):
        index.advance(None, seq, seq + 1_500, list(range(lo + 1, lo + 1_501)), hexes[lo : lo + 1_500])  # type: ignore[arg-type]
        seq += 1_500
    deadline = time.monotonic() + 30
    while sum(index.segments) < 11_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(index.segments) >= 11_000, index.segments
    probe = [flip_bits(hexes[i], 12) for i in (0, 5_000, 11_999)]
    hits = {(qi, eid) for qi, eid, _ in index.search(probe, 31)}
    assert {(0, 1), (1, 5_001), (2, 12_000)} <= hits
    index.close()
    assert index._builder is not None and not index._builder.is_alive()


def test_two_server_processes_feed_their_indexes(hub: Hub) -> None:
    """A push hands its entries to its own server's index; the other server reads them from the database."""
    rng = random.Random(9)
    a, b = [rand_item(rng) for _ in range(30)], [rand_item(rng) for _ in range(30)]
    with make_client(hub) as one, make_client(hub) as two:
        for client, token, items, batch in ((one, "A", a, "batch-one-1"), (two, "B", b, "batch-two-1")):
            r = client.post(
                "/v1/contributions", json={"batch_id": batch, "items": items}, headers=auth(hub.tokens[token])
            )
            assert r.status_code == 200, r.text
        time.sleep(0.3)  # a server looks for other servers' entries at most every 0.25 s
        for client in (one, two):
            body = {"pdq": [flip_bits(a[3]["pdq"], 5), flip_bits(b[7]["pdq"], 30)]}
            res = client.post("/v1/query", json=body, headers=auth(hub.tokens["C"])).json()["results"]
            assert [r["matches"][0]["sha256"] for r in res] == [a[3]["sha256"], b[7]["sha256"]]
            index: HubIndex = client.app.state.hub.index  # type: ignore[attr-defined]
            assert len(index) == 60  # every entry once, however it arrived


def test_fresh_consensus_is_the_consensus_of_one() -> None:
    class Contribution:
        def __init__(self, item: dict) -> None:
            self.withdrawn = False
            for f in _CONTRIB_INSERT[2:-2]:
                setattr(self, f, item.get(f))

    rng = random.Random(10)
    for _ in range(300):
        item = {
            "category": rng.choice([None, 0, 1, 3]),
            "profile": rng.choice([None, "vics-us", "icse"]),
            "series": rng.choice([None, "", "S-1"]),
            "victim_identified": rng.choice([None, False, True]),
            "first_seen": rng.choice([None, "", "2026-01-02"]),
        }
        assert fresh_consensus(item) == consensus([Contribution(item)]), item
    assert set(_STATE_COLUMNS) == set(fresh_consensus({}))  # the bulk insert takes every key


def test_client_push_end_to_end_with_near_duplicates(hub: Hub, api: TestClient) -> None:
    """Big enough for several bulk inserts, with near-duplicates inside the batch and across batches."""
    rng = random.Random(11)
    items = [rand_item(rng) for _ in range(2_500)]
    items[1_000]["pdq"] = flip_bits(items[10]["pdq"], 6)
    items[1_000]["series"] = "tab\there, newline\nand back\\slash"  # COPY escaping
    r = api.post(
        "/v1/contributions", json={"batch_id": "batch-e2e-1", "items": items}, headers=auth(hub.tokens["A"])
    )
    assert r.status_code == 200 and r.json()["new_entries"] == 2_500
    later = rand_item(rng)
    later["pdq"] = flip_bits(items[20]["pdq"], 25)
    r = api.post(
        "/v1/contributions", json={"batch_id": "batch-e2e-2", "items": [later]}, headers=auth(hub.tokens["B"])
    )
    assert r.status_code == 200
    view = api.get(f"/v1/entries/{items[1_000]['sha256']}", headers=auth(hub.tokens["A"])).json()
    assert view["series"] == "tab\there, newline\nand back\\slash"
    assert view["near_duplicates"] == [{"sha256": items[10]["sha256"], "distance": 6}]
    view = api.get(f"/v1/entries/{items[20]['sha256']}", headers=auth(hub.tokens["A"])).json()
    assert view["near_duplicates"] == [{"sha256": later["sha256"], "distance": 25}]
    # Withdrawn entries are nobody's near-duplicate any more.
    assert (
        api.delete(f"/v1/contributions/{later['sha256']}", headers=auth(hub.tokens["B"])).status_code == 204
    )
    view = api.get(f"/v1/entries/{items[20]['sha256']}", headers=auth(hub.tokens["A"])).json()
    assert view["near_duplicates"] == []
    changes = api.get("/v1/changes", params={"limit": 5_000}, headers=auth(hub.tokens["C"])).json()
    assert [e["seq"] for e in changes["entries"]] == [*range(1, 2_501), 2_502]  # 2,501 re-sequenced


@pytest.mark.parametrize("profile", ["compact", "fast", "minimal"])
def test_index_profile_is_chosen_per_process_and_reported(hub: Hub, profile: str) -> None:
    """Each memory profile serves the same answers; the replica endpoint says which one runs."""
    from tessera.hub.app import create_app
    from tessera.hub.index import PROFILES

    rng = random.Random(7)
    item = rand_item(rng)
    with TestClient(create_app(hub.engine, index_profile=profile)) as api:
        body = {"batch_id": "profile01", "items": [item]}
        assert api.post("/v1/contributions", json=body, headers=auth(hub.tokens["A"])).status_code == 200
        near = flip_bits(item["pdq"], 9)
        r = api.post("/v1/query", json={"pdq": [near]}, headers=auth(hub.tokens["B"]))
        assert r.status_code == 200 and r.json()["results"][0]["matches"], r.json()
        st = api.get("/v1/admin/replica", headers=auth(hub.tokens["admin"])).json()
        assert st["index_profile"] == profile and st["index_entries"] == 1
        budget = PROFILES[profile]
        assert budget is None or st["index_bytes"] <= budget * 64  # one entry: fixed arrays dominate


def test_unknown_index_profile_is_refused(hub: Hub) -> None:
    from tessera.hub.app import create_app

    with pytest.raises(ValueError, match="unknown index profile"):
        create_app(hub.engine, index_profile="huge")
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "tessera", "hub", "serve", "--db", hub.url, "--index-profile", "huge"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "--index-profile" in run.stderr, run.stderr
