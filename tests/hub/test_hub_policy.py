"""Hub policy: the changes feed only moves on what a puller sees, contributors for admin alone, the
client's Retry-After in both forms."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from fastapi.testclient import TestClient

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
