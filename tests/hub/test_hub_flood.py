"""Floods of refused requests: rate-limited per client address (429), and aggregated in the audit log
(one row per client, caller and minute with counts) instead of one chained row per refusal."""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import func, select

from tessera.hub import audit
from tessera.hub import models as hm
from tessera.hub.audit import verify
from tessera.hub.auth import RateLimiter
from tessera.hub.service import Policy
from tessera.refusals import RefusalLog
from tests.hub.conftest import Hub, auth, make_client


def _rows(hub: Hub) -> int:
    with hub.session() as s:
        return int(s.scalar(select(func.count()).select_from(hm.AuditEntry)) or 0)


def test_refusals_are_rate_limited_and_aggregated(hub: Hub) -> None:
    now = [1_000_000.0]
    policy = Policy(refusal_rate=1.0, refusal_burst=20, rate=1.0, burst=30)
    with make_client(hub, policy) as api:
        state = cast(Any, api.app).state.hub
        state.refusals = RefusalLog(audit.append, clock=lambda: now[0])
        before = _rows(hub)
        codes = [api.post("/v1/query", json={}, headers=auth("tsh_guess")).status_code for _ in range(60)]
        # The first 20 guesses get 401; the rest are throttled (the bucket refills at 1/s).
        assert codes[:20] == [401] * 20 and codes.count(429) >= 35
        r = api.get("/v1/changes", headers=auth("tsh_guess"))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        # A valid token lacking a scope: its 403s count against its own bucket, then 429.
        c = auth(hub.tokens["C"])
        codes = [api.get("/v1/admin/agencies", headers=c).status_code for _ in range(40)]
        assert codes[:30] == [403] * 30 and set(codes[30:]) == {429}
        assert _rows(hub) == before  # nothing written during the flood, no chain lock taken
        now[0] += 61  # the minute is over: the next audited request writes the counts
        assert api.get("/v1/health").status_code == 200
        with hub.session() as s:
            rows = s.scalars(select(hm.AuditEntry).where(hm.AuditEntry.action == "refused requests")).all()
            by_user = {r.user: json.loads(r.details) for r in rows}
            assert verify(s) == s.scalar(select(func.count()).select_from(hm.AuditEntry))
        assert len(rows) == 2
        anon = by_user["anonymous"]
        assert anon["refused"] == 61 and anon["client"] == "testclient"
        assert anon["status"]["401"] == 20 and anon["status"]["429"] == 41
        fr = next(v for k, v in by_user.items() if k.startswith("FR#"))
        assert fr["status"] == {"403": 30, "429": 10}
        # Counts of an unfinished minute are written when the hub stops.
        api.get("/v1/changes", headers=auth("tsh_again"))
    with hub.session() as s:
        last = s.scalars(select(hm.AuditEntry).order_by(hm.AuditEntry.id.desc())).first()
        assert (
            last is not None
            and last.action == "refused requests"
            and json.loads(last.details)["refused"] == 1
        )


def test_unknown_route_without_token_is_refused_not_listed(hub: Hub) -> None:
    with make_client(hub) as api:
        assert api.get("/v1/nothing-here").status_code == 401
        assert api.get("/v1/health").status_code == 200
        # With a token an unknown method is 405 (it was 411: no body length), not a length error.
        assert api.patch("/v1/query", json={}, headers=auth(hub.tokens["A"])).status_code == 405


def test_rate_limiter_table_stays_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=2)
    limiter.max_keys = 100
    for i in range(5000):  # one request from each of 5,000 addresses
        assert limiter.take(f"addr:{i}") == 0.0
    assert len(limiter._buckets) <= 100
    limiter.take("busy")
    limiter.take("busy")
    assert limiter.take("busy") > 0  # a key still in use keeps its state


def test_refusal_counts_stay_bounded(hub: Hub) -> None:
    log = RefusalLog(audit.append, clock=lambda: 120.0)
    for i in range(6000):
        log.note(f"10.0.{i // 256}.{i % 256}", "anonymous", 401)
    assert len(log._counts) <= 5001
    with hub.session() as s:
        assert log.flush(s, everything=True) == 5001  # 5,000 addresses and one "other"
        s.commit()
        rows = s.scalars(select(hm.AuditEntry).where(hm.AuditEntry.subject == "client other")).all()
    assert len(rows) == 1 and json.loads(rows[0].details)["refused"] == 1000
