"""The known-benign list through the hub: one case pushes its reviewers' benign marks, another case
pulls them as a known-good set and leaves those items out of review; a withdrawal travels too."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from tessera.hub.benign import pull_benign, push_benign
from tessera.hub.client import HubClient
from tessera.ingest.known import mark_benign
from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.review.data import review_page
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.synth.images import jpeg_bytes
from tests.hub.conftest import Hub, auth

from .conftest import rhex


def _case_with_pictures(root: Path, name: str) -> tuple[CaseHandle, list[str]]:
    import hashlib

    ev = root / name / "evidence"
    ev.mkdir(parents=True)
    shas = []
    for k in range(3):
        data = jpeg_bytes(7700 + k, 320, 240)
        (ev / f"p{k}.jpg").write_bytes(data)
        shas.append(hashlib.sha256(data).hexdigest())
    case = init_case(root / name / "case", name, "XX-TEST")
    ingest(case, ev, IngestOptions(device_id="D1", workers=1))
    return case, shas


def _queue(case: CaseHandle) -> set[str]:
    with case.session() as s:
        return {i["sha256"] for i in review_page(s, 1, 100)[0]}


def test_benign_marks_travel_through_the_hub(hub: Hub, server: str, tmp_path: Path) -> None:
    a, shas = _case_with_pictures(tmp_path, "A")
    b, same = _case_with_pictures(tmp_path, "B")
    assert shas == same
    try:
        mark_benign(a, "rita", [shas[0], shas[1]], "stickers")
        with HubClient(server, hub.tokens["A"]) as client:
            assert push_benign(a, client) == {"received": 2, "new": 2, "changed": 2}
            assert push_benign(a, client) == {"received": 2, "new": 0, "changed": 0}  # idempotent
        with HubClient(server, hub.tokens["C"]) as client:  # query-only agency
            res = pull_benign(b, client)
        assert (res.added, res.removed, res.entries) == (2, 0, 2)
        assert res.hashset == "hub-benign:" + server.split("://", 1)[1]
        assert _queue(b) == {shas[2]}
        with b.session() as s:
            hs = s.scalar(select(m.HashSet).where(m.HashSet.name == res.hashset))
            assert hs is not None and hs.meta["disposition"] == "known-good"

        with HubClient(server, hub.tokens["A"]) as client:
            client.request("DELETE", f"/v1/benign/{shas[0]}")
        with HubClient(server, hub.tokens["C"]) as client:
            again = pull_benign(b, client)
        assert (again.added, again.removed, again.entries) == (0, 1, 1)
        assert _queue(b) == {shas[0], shas[2]}
    finally:
        a.close()
        b.close()


def test_benign_api_refuses_what_it_must(hub: Hub) -> None:
    import random

    from tessera.hub.app import create_app

    with TestClient(create_app(hub.engine)) as api:
        value = rhex(random.Random(3), 32)
        r = api.post("/v1/benign", json={"sha256": [value]}, headers=auth(hub.tokens["C"]))
        assert r.status_code == 403  # a query-only token cannot mark
        r = api.post("/v1/benign", json={"sha256": ["not a hash"]}, headers=auth(hub.tokens["A"]))
        assert r.status_code == 422 and "sha256[0] is not a SHA-256" in r.text and "not a hash" not in r.text
        r = api.post("/v1/benign", json={"sha256": [value], "category": 1}, headers=auth(hub.tokens["A"]))
        assert r.status_code == 422  # nothing but values travels
        assert (
            api.post("/v1/benign", json={"sha256": [value]}, headers=auth(hub.tokens["B"])).status_code == 200
        )
        assert api.delete(f"/v1/benign/{value}", headers=auth(hub.tokens["A"])).status_code == 404
        page = api.get("/v1/benign/changes", params={"since": 0}, headers=auth(hub.tokens["C"])).json()
        assert [e["sha256"] for e in page["entries"]] == [value] and page["more"] is False
        assert (
            api.get("/v1/benign/changes", params={"limit": 0}, headers=auth(hub.tokens["C"])).status_code
            == 422
        )
