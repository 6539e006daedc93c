"""Hub API: push (idempotent, deduplicated, conflicts), query, access control, limits, audit."""

from __future__ import annotations

import random
from typing import Any, cast

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tessera.hub import models as hm
from tessera.hub.audit import AuditError, verify
from tessera.hub.service import Policy

from .conftest import Hub, auth, flip_bits, make_client, rand_item


def push(api: TestClient, token: str, items: list[dict], batch_id: str = "batch-0001") -> dict:
    r = api.post("/v1/contributions", json={"batch_id": batch_id, "items": items}, headers=auth(token))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_push_dedups_agencies_and_flags_conflicts(hub: Hub, api: TestClient) -> None:
    rng = random.Random(1)
    items = [rand_item(rng, category=1) for _ in range(20)]
    assert push(api, hub.tokens["A"], items)["new_entries"] == 20
    # The same batch again is recognised; the same items under another id change nothing either.
    assert push(api, hub.tokens["A"], items)["duplicate_batch"] is True
    again = push(api, hub.tokens["A"], items, "batch-0002")
    assert again["new_entries"] == 0 and again["changed"] == 0
    # B agrees on ten and disagrees on five; five are new.
    theirs = [dict(i) for i in items[:15]]
    for i in theirs[10:]:
        i["category"] = 2
    fresh = [rand_item(rng, category=3) for _ in range(5)]
    res = push(api, hub.tokens["B"], theirs + fresh)
    assert res["new_entries"] == 5
    with hub.session() as s:
        assert s.scalar(select(func.count()).select_from(hm.Entry)) == 25
        assert s.scalar(select(func.count()).select_from(hm.Contribution)) == 40
        conflicted = set(s.scalars(select(hm.Entry.sha256).where(hm.Entry.conflict.is_(True))))
        assert conflicted == {i["sha256"] for i in theirs[10:]}
        # Never overwritten: the tie keeps the first contributor's category.
        cats = set(s.scalars(select(hm.Entry.category).where(hm.Entry.conflict.is_(True))))
        assert cats == {1}
    r = api.get("/v1/admin/conflicts", headers=auth(hub.tokens["admin"]))
    assert r.status_code == 200 and len(r.json()) == 5
    assert {c["agency"] for c in r.json()[0]["contributors"]} == {"NL", "DE"}
    assert api.get("/v1/admin/conflicts", headers=auth(hub.tokens["A"])).status_code == 403


def test_query_exact_and_pdq_and_new_entries_matchable(hub: Hub, api: TestClient) -> None:
    rng = random.Random(2)
    items = [rand_item(rng) for _ in range(50)]
    items[0]["series"], items[0]["victim_identified"] = "S-17", True
    push(api, hub.tokens["A"], items)
    near = flip_bits(items[0]["pdq"], 10)
    body = {"md5": [items[0]["md5"].upper()], "sha256": [items[1]["sha256"], "0" * 64], "pdq": [near]}
    r = api.post("/v1/query", json=body, headers=auth(hub.tokens["C"]))
    assert r.status_code == 200, r.text
    res = {(x["algorithm"], x["value"]): x["matches"] for x in r.json()["results"]}
    m = res[("md5", items[0]["md5"])][0]
    assert (m["sha256"], m["category"], m["series"], m["victim_identified"]) == (
        items[0]["sha256"],
        items[0]["category"],
        "S-17",
        True,
    )
    assert res[("sha256", items[1]["sha256"])][0]["md5"] == items[1]["md5"]
    assert res[("sha256", "0" * 64)] == []
    assert [(x["sha256"], x["distance"]) for x in res[("pdq", near)]] == [(items[0]["sha256"], 10)]
    # A new entry is matchable by PDQ right after its push (incremental index, no rebuild).
    late = rand_item(rng)
    push(api, hub.tokens["B"], [late], "batch-late")
    r = api.post("/v1/query", json={"pdq": [flip_bits(late["pdq"], 3)]}, headers=auth(hub.tokens["C"]))
    assert r.json()["results"][0]["matches"][0]["sha256"] == late["sha256"]


def test_pdq_near_duplicates_listed(hub: Hub, api: TestClient) -> None:
    rng = random.Random(3)
    a = rand_item(rng)
    b = rand_item(rng)
    b["pdq"] = flip_bits(a["pdq"], 20)
    push(api, hub.tokens["A"], [a])
    push(api, hub.tokens["B"], [b])
    r = api.get(f"/v1/entries/{a['sha256']}", headers=auth(hub.tokens["A"]))
    assert r.json()["near_duplicates"] == [{"sha256": b["sha256"], "distance": 20}]


def test_agency_cannot_touch_or_see_others(hub: Hub, api: TestClient) -> None:
    rng = random.Random(4)
    item = rand_item(rng, category=2)
    push(api, hub.tokens["A"], [item])
    sha = item["sha256"]
    b = auth(hub.tokens["B"])
    assert api.put(f"/v1/contributions/{sha}", json={"category": 1}, headers=b).status_code == 404
    assert api.delete(f"/v1/contributions/{sha}", headers=b).status_code == 404
    assert api.get(f"/v1/entries/{sha}/contributors", headers=b).status_code == 403
    view = api.get(f"/v1/entries/{sha}", headers=b).json()
    assert "contributors" not in view and view["own_contribution"] is None
    assert all("agency" not in e for e in api.get("/v1/changes", headers=b).json()["entries"])
    # Nothing B did changed A's contribution.
    with hub.session() as s:
        c = s.scalars(select(hm.Contribution)).one()
        assert (c.category, c.withdrawn) == (2, False)
    # A query-only token cannot contribute; the operator can see contributors.
    assert (
        api.post(
            "/v1/contributions", json={"batch_id": "xxxxxxxx", "items": [item]}, headers=auth(hub.tokens["C"])
        ).status_code
        == 403
    )
    r = api.get(f"/v1/entries/{sha}/contributors", headers=auth(hub.tokens["admin"]))
    assert [c["agency"] for c in r.json()] == ["NL"]
    # A changes, then withdraws, its own contribution.
    a = auth(hub.tokens["A"])
    assert api.put(f"/v1/contributions/{sha}", json={"category": 3}, headers=a).json()["category"] == 3
    assert api.delete(f"/v1/contributions/{sha}", headers=a).status_code == 204
    assert api.get(f"/v1/entries/{sha}", headers=a).status_code == 404
    changes = api.get("/v1/changes", headers=b).json()["entries"]
    assert changes[-1]["sha256"] == sha and changes[-1]["withdrawn"] is True


def test_revoked_and_unknown_tokens_refused(hub: Hub, api: TestClient) -> None:
    from tessera.hub.auth import revoke_token

    h = auth(hub.tokens["C"])
    assert api.post("/v1/query", json={"md5": []}, headers=h).status_code == 200
    with hub.session() as s:
        tid = s.scalar(select(hm.Token.id).join(hm.Agency).where(hm.Agency.code == "FR"))
        revoke_token(s, tid)
        s.commit()
    r = api.post("/v1/query", json={"md5": []}, headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert api.post("/v1/query", json={}, headers=auth("tsh_nonsense")).status_code == 401
    assert api.post("/v1/query", json={}).status_code == 401


def test_oversized_and_malformed_requests(hub: Hub) -> None:
    policy = Policy(max_body_bytes=20_000, max_push_items=10, max_query_hashes=5)
    rng = random.Random(5)
    with make_client(hub, policy) as api:
        a = auth(hub.tokens["A"])
        big = {"batch_id": "batch-big1", "items": [rand_item(rng) for _ in range(200)]}
        r = api.post("/v1/contributions", json=big, headers=a)
        assert r.status_code == 413 and "exceeds the limit" in r.json()["detail"]
        r = api.post(
            "/v1/contributions", json={"batch_id": "batch-011", "items": big["items"][:11]}, headers=a
        )
        assert r.status_code == 413 and "11 items" in r.json()["detail"]
        r = api.post("/v1/query", json={"md5": [rand_item(rng)["md5"] for _ in range(6)]}, headers=a)
        assert r.status_code == 413
        r = api.post(
            "/v1/contributions", content=b"{not json", headers={**a, "content-type": "application/json"}
        )
        assert r.status_code == 422
        bad = rand_item(rng)
        bad["md5"] = "xyz"
        r = api.post("/v1/contributions", json={"batch_id": "batch-bad1", "items": [bad]}, headers=a)
        assert r.status_code == 422 and "md5" in str(r.json()["detail"])
        leak = rand_item(rng) | {"file_name": "x.jpg"}
        r = api.post("/v1/contributions", json={"batch_id": "batch-bad2", "items": [leak]}, headers=a)
        assert r.status_code == 422 and "file_name" in str(r.json()["detail"])
        r = api.post("/v1/query", json={"pdq": ["00" * 32], "pdq_radius": 200}, headers=a)
        assert r.status_code == 422
    with hub.session() as s:
        assert s.scalar(select(func.count()).select_from(hm.Entry)) == 0


def test_rate_limit(hub: Hub) -> None:
    with make_client(hub, Policy(rate=0.5, burst=3)) as api:
        codes = [api.post("/v1/query", json={}, headers=auth(hub.tokens["C"])).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


def test_audit_chain_records_requests_and_detects_edits(hub: Hub, api: TestClient) -> None:
    push(api, hub.tokens["A"], [rand_item(random.Random(6))])
    api.post("/v1/query", json={}, headers=auth("tsh_wrong"))
    with hub.session() as s:
        cast(Any, api.app).state.hub.refusals.flush(s, everything=True)  # refusals are written once a minute
        s.commit()
        n = verify(s)
        assert n >= 2
        users = list(s.scalars(select(hm.AuditEntry.user)))
        assert any(u.startswith("NL#") for u in users) and "anonymous" in users
        first = s.scalar(select(func.min(hm.AuditEntry.id)))
        s.execute(update(hm.AuditEntry).where(hm.AuditEntry.id == first).values(subject="/v1/other"))
        s.commit()
        try:
            verify(s)
        except AuditError as exc:
            assert f"entry {first}" in str(exc)
        else:
            raise AssertionError("edited audit row not detected")


def test_near_duplicates_found_across_server_processes_and_within_a_batch(hub: Hub) -> None:
    """The entry view finds near-duplicates another server committed after this server's index was read."""
    rng = random.Random(31)
    a, b, c, d = (rand_item(rng) for _ in range(4))
    b["pdq"] = flip_bits(a["pdq"], 12)
    d["pdq"] = flip_bits(c["pdq"], 7)
    with make_client(hub) as one, make_client(hub) as two:  # two processes, two indexes
        push(one, hub.tokens["A"], [a], "batch-one-a")
        push(two, hub.tokens["B"], [b, c, d], "batch-two-bcd")  # two's index has not seen a
        near = {
            x["sha256"]: two.get(f"/v1/entries/{x['sha256']}", headers=auth(hub.tokens["A"])).json()
            for x in (a, c)
        }
    assert near[a["sha256"]]["near_duplicates"] == [{"sha256": b["sha256"], "distance": 12}]
    assert near[c["sha256"]]["near_duplicates"] == [{"sha256": d["sha256"], "distance": 7}]


def test_mixed_push_of_new_and_known_digests_keeps_seq_dense(hub: Hub, api: TestClient) -> None:
    rng = random.Random(32)
    old = [rand_item(rng) for _ in range(30)]
    for it in old:
        it["category"], it["profile"] = 1, "vics-us"
    assert push(api, hub.tokens["A"], old, "batch-mixed-1")["new_entries"] == 30
    fresh = [rand_item(rng) for _ in range(20)]
    # B agrees on 10 old entries, disagrees on 10, and brings 20 new ones.
    again = [dict(it) for it in old[:10]] + [dict(it, category=2) for it in old[10:20]] + fresh
    res = push(api, hub.tokens["B"], again, "batch-mixed-2")
    assert (res["new_entries"], res["changed"]) == (20, 40)
    # A re-push of identical contributions changes nothing and takes no sequence number.
    assert push(api, hub.tokens["A"], old, "batch-mixed-3")["changed"] == 0
    with hub.session() as s:
        seqs = sorted(s.scalars(select(hm.Entry.seq)))
        flagged = set(s.scalars(select(hm.Entry.sha256).where(hm.Entry.conflict.is_(True))))
        counts = {e.sha256: e.contributions for e in s.scalars(select(hm.Entry))}
        counter = s.get(hm.Counter, "seq")
    # 30 + 20 new entries took one number each, the 10 old ones now in conflict a new one (their old one
    # is gone); the 10 that B agreed with look the same to a puller and keep theirs.
    assert counter is not None and counter.value == 60
    assert len(set(seqs)) == 50 and seqs[-10:] == list(range(51, 61))
    assert flagged == {it["sha256"] for it in old[10:20]}
    assert [counts[it["sha256"]] for it in old[:20]] == [2] * 20
    assert [counts[it["sha256"]] for it in old[20:] + fresh] == [1] * 30
