"""Every 4xx the workstation answers is in the case audit log, aggregated: one row per client, user
and minute with the count by status, so a flood of bad requests costs a row a minute, not a row each."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from tessera.audit import verify
from tessera.review import create_app
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tests.review.conftest import sign_in
from tests.review.helpers import Built


def _refusal_rows(case: CaseHandle) -> list[m.AuditEntry]:
    with case.session() as s:
        rows = list(s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "refused requests")))
        s.expunge_all()
        return rows


def test_refusals_are_counted_then_written_once(case: CaseHandle, built: Built) -> None:
    app = create_app(case)
    now = [1_000_000.0]
    app.refusals.clock = lambda: now[0]
    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(40):  # not signed in
            assert client.post("/api/decide", json={"sha256": "ab", "category": 1}).status_code == 401
        csrf = sign_in(client, "rita")
        for _ in range(25):  # signed in, bad input
            assert 400 <= client.get("/media/%00").status_code < 500
        for _ in range(5):  # signed in, no CSRF token
            assert client.post("/api/decide", json={"sha256": "ab", "category": 1}).status_code == 403
        unknown = client.post(
            "/api/decide", json={"sha256": "ab", "category": 1}, headers={"x-csrf-token": csrf}
        )
        assert unknown.status_code == 404  # no such media: a 4xx, counted too
        assert _refusal_rows(case) == []  # the minute is not over: nothing written yet
        now[0] += 61
        client.get("/review")  # the next request after the minute writes it
        rows = _refusal_rows(case)
        assert len(rows) == 2, [(r.user, r.details) for r in rows]
        by_user = {r.user: json.loads(r.details) for r in rows}
        assert by_user["anonymous"]["status"] == {"401": 40}
        assert by_user["rita"]["refused"] == 31 and by_user["rita"]["status"]["403"] == 5
        assert all(d["client"] == "testclient" for d in by_user.values())
        client.get("/media/%00")
    # Stopping the server writes the unfinished minute.
    rows = _refusal_rows(case)
    assert len(rows) == 3 and json.loads(rows[-1].details)["refused"] == 1
    with case.session() as s:
        assert verify(s) > 0  # the aggregated rows are chained and keyed like any other
