"""Hub policy: the changes feed only moves on what a puller sees, contributors for admin alone, the
client's Retry-After in both forms."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from tessera.hub import models as hm
from tessera.hub.auth import create_token
from tessera.hub.client import retry_after
from tests.hub.conftest import Hub, auth, rand_item
from tests.hub.test_hub_api import push


def _feed(api: TestClient, token: str, since: int) -> dict:
    r = api.get("/v1/changes", params={"since": since}, headers=auth(token))
    assert r.status_code == 200
    return dict(r.json())


def test_changes_feed_sends_only_what_a_puller_sees(hub: Hub, api: TestClient) -> None:
    rng = random.Random(41)
    items = [rand_item(rng, category=1) for _ in range(5)]
    push(api, hub.tokens["A"], items, "batch-feed-1")
    cursor = _feed(api, hub.tokens["C"], 0)["cursor"]
    # B contributes exactly what the consensus already says: nothing a puller can see changed.
    push(api, hub.tokens["B"], [dict(i) for i in items], "batch-feed-2")
    page = _feed(api, hub.tokens["C"], cursor)
    assert page["entries"] == [] and page["cursor"] == cursor
    # B disagrees on one: that entry is now in conflict, which pullers see.
    push(api, hub.tokens["B"], [dict(items[0], category=3)], "batch-feed-3")
    page = _feed(api, hub.tokens["C"], cursor)
    assert [e["sha256"] for e in page["entries"]] == [items[0]["sha256"]] and page["entries"][0]["conflict"]
    # B withdraws an agreeing contribution: the entry still looks the same (A still contributes it).
    cursor = page["cursor"]
    assert (
        api.delete(f"/v1/contributions/{items[1]['sha256']}", headers=auth(hub.tokens["B"])).status_code
        == 204
    )
    assert _feed(api, hub.tokens["C"], cursor)["entries"] == []
    # A withdraws it too: gone, and pullers are told.
    assert (
        api.delete(f"/v1/contributions/{items[1]['sha256']}", headers=auth(hub.tokens["A"])).status_code
        == 204
    )
    page = _feed(api, hub.tokens["C"], cursor)
    assert [(e["sha256"], e["withdrawn"]) for e in page["entries"]] == [(items[1]["sha256"], True)]


def test_contributors_with_admin_scope_alone(hub: Hub, api: TestClient) -> None:
    item = rand_item(random.Random(42))
    push(api, hub.tokens["A"], [item], "batch-contr-1")
    with hub.session() as s:
        admin_only = create_token(s, "OPS", ["admin"])[1]
        s.commit()
    r = api.get(f"/v1/entries/{item['sha256']}/contributors", headers=auth(admin_only))
    assert r.status_code == 200 and [c["agency"] for c in r.json()] == ["NL"]
    # An agency's query token still may not (default sharing policy).
    r = api.get(f"/v1/entries/{item['sha256']}/contributors", headers=auth(hub.tokens["C"]))
    assert r.status_code == 403


def test_retry_after_both_forms() -> None:
    assert retry_after("7", 0.5) == 7.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 15 <= retry_after(soon, 0.5) <= 21
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0.5) == 0.0  # in the past: go now
    assert retry_after("soon", 0.5) == 0.5 and retry_after(None, 2.0) == 2.0


def test_reused_batch_id_with_other_items_is_a_409(hub: Hub, api: TestClient) -> None:
    rng = random.Random(43)
    items = [rand_item(rng) for _ in range(4)]
    first = push(api, hub.tokens["A"], items, "batch-reuse-1")
    assert (first["new_entries"], first["changed"], first["duplicate_batch"]) == (4, 4, False)
    # The same items again (a retry, or a re-run): idempotent, and it says nothing changed now.
    again = push(api, hub.tokens["A"], items, "batch-reuse-1")
    assert (again["new_entries"], again["changed"], again["duplicate_batch"]) == (0, 0, True)
    other = items[:3] + [rand_item(rng)]
    r = api.post(
        "/v1/contributions", json={"batch_id": "batch-reuse-1", "items": other}, headers=auth(hub.tokens["A"])
    )
    assert r.status_code == 409 and "already used" in r.json()["detail"]
    with hub.session() as s:
        rows = s.scalars(select(hm.AuditEntry).where(hm.AuditEntry.action == "POST /v1/contributions")).all()
        details = [json.loads(e.details) for e in rows]
    assert [(d["status"], d.get("duplicate")) for d in details] == [(200, False), (200, True), (409, None)]
    assert details[1]["new"] == 0 and details[1]["changed"] == 0


def test_contribute_only_token_learns_nothing_about_known_hashes(hub: Hub, api: TestClient) -> None:
    rng = random.Random(44)
    known = [rand_item(rng) for _ in range(3)]
    push(api, hub.tokens["A"], known, "batch-known-1")
    with hub.session() as s:
        writer = create_token(s, "FR", ["contribute"])[1]
        s.commit()
    fresh = [rand_item(rng) for _ in range(3)]
    a = push(api, writer, [dict(i) for i in known], "batch-writer-1")
    b = push(api, writer, fresh, "batch-writer-2")
    # Known and unknown hashes get the same answer.
    assert {k: v for k, v in a.items() if k != "batch_id"} == {k: v for k, v in b.items() if k != "batch_id"}
    assert a["new_entries"] is None and a["changed"] == 3
    # Withdrawing: both its own contributions, so the same 204; another agency's only: the same 404
    # as a hash nobody has.
    assert api.delete(f"/v1/contributions/{known[0]['sha256']}", headers=auth(writer)).status_code == 204
    assert api.delete(f"/v1/contributions/{fresh[0]['sha256']}", headers=auth(writer)).status_code == 204
    nobody = rand_item(rng)["sha256"]
    r1 = api.delete(f"/v1/contributions/{known[1]['sha256']}", headers=auth(hub.tokens["B"]))
    r2 = api.delete(f"/v1/contributions/{nobody}", headers=auth(hub.tokens["B"]))
    assert r1.status_code == r2.status_code == 404
    assert r1.json()["detail"].replace(known[1]["sha256"], "X") == r2.json()["detail"].replace(nobody, "X")
    # Reading entries needs the query scope.
    assert api.get(f"/v1/entries/{known[1]['sha256']}", headers=auth(writer)).status_code == 403


def test_entry_calls_leave_no_hash_in_the_audit_log(hub: Hub, api: TestClient) -> None:
    item = rand_item(random.Random(45))
    push(api, hub.tokens["A"], [item], "batch-audit-1")
    a, sha = auth(hub.tokens["A"]), item["sha256"]
    assert api.get(f"/v1/entries/{sha}", headers=a).status_code == 200
    assert api.get(f"/v1/entries/{sha.upper()}", headers=a).status_code == 200
    assert api.put(f"/v1/contributions/{sha}", json={"category": 3}, headers=a).status_code == 200
    assert api.post("/v1/query", json={"sha256": [sha], "md5": [item["md5"]]}, headers=a).status_code == 200
    assert api.get(f"/v1/nowhere/{sha}", headers=a).status_code == 404
    assert api.delete(f"/v1/contributions/{sha}", headers=a).status_code == 204
    with hub.session() as s:
        rows = s.scalars(select(hm.AuditEntry)).all()
    text = " ".join(e.subject + e.action + e.details for e in rows).lower()
    assert len(rows) >= 7
    for value in (sha, item["md5"], item["sha1"], item["pdq"]):
        assert value not in text
    assert "/v1/entries/{sha256}" in text and "<hex>" in text
