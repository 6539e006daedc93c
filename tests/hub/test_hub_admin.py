"""Agency and token management over HTTP (admin scope): tokens shown once and stored hashed, listing
without secrets, revocation, refusals for other scopes, the audit trail and the OpenAPI description."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tessera.cli import app as cli
from tessera.hub import models as hm
from tessera.hub.audit import verify

from .conftest import Hub, auth


def test_agencies_and_tokens_lifecycle(hub: Hub, api: TestClient) -> None:
    admin = auth(hub.tokens["admin"])
    r = api.post(
        "/v1/admin/agencies", json={"code": "BE-FP", "name": "Belgian Federal Police"}, headers=admin
    )
    assert r.status_code == 201, r.text
    assert r.json()["code"] == "BE-FP" and r.json()["active_tokens"] == 0
    r = api.post("/v1/admin/agencies", json={"code": "BE-FP", "name": "again"}, headers=admin)
    assert r.status_code == 409
    for bad in ({"code": "B E", "name": "x"}, {"code": "BE2", "name": ""}, {"code": "BE3"}):
        assert api.post("/v1/admin/agencies", json=bad, headers=admin).status_code == 422
    listed = {a["code"]: a for a in api.get("/v1/admin/agencies", headers=admin).json()}
    assert set(listed) == {"NL", "DE", "FR", "OPS", "BE-FP"}
    assert listed["NL"]["active_tokens"] == 1 and listed["BE-FP"]["active_tokens"] == 0

    body = {"scopes": ["query", "query"], "label": "analyst desk"}
    r = api.post("/v1/admin/agencies/BE-FP/tokens", json=body, headers=admin)
    assert r.status_code == 201, r.text
    issued = r.json()
    token = issued["token"]
    assert token.startswith("tsh_") and issued["prefix"] == token[:12]
    assert issued["scopes"] == ["query"] and issued["agency"] == "BE-FP" and issued["revoked_at"] is None
    # Stored as its SHA-256 only.
    with hub.session() as s:
        row = s.get(hm.Token, issued["id"])
        assert row is not None and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.prefix, row.label, row.scopes)
    # The scopes hold: it may query, not contribute.
    assert api.post("/v1/query", json={"md5": []}, headers=auth(token)).status_code == 200
    push = {"batch_id": "batch-admin-1", "items": []}
    assert api.post("/v1/contributions", json=push, headers=auth(token)).status_code == 403

    # Listed without the secret, anywhere in the answer.
    r = api.get("/v1/admin/tokens", params={"agency": "BE-FP"}, headers=admin)
    assert r.status_code == 200 and token not in r.text and "token_hash" not in r.text
    assert [t["id"] for t in r.json()] == [issued["id"]]
    assert all("token" not in t for t in r.json())
    assert len(api.get("/v1/admin/tokens", headers=admin).json()) == 5
    assert api.get("/v1/admin/tokens", params={"agency": "XX"}, headers=admin).status_code == 404

    # Revocation takes effect on the next request and is idempotent.
    r = api.delete(f"/v1/admin/tokens/{issued['id']}", headers=admin)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert api.post("/v1/query", json={"md5": []}, headers=auth(token)).status_code == 401
    first = r.json()["revoked_at"]
    assert api.delete(f"/v1/admin/tokens/{issued['id']}", headers=admin).json()["revoked_at"] == first
    assert api.delete("/v1/admin/tokens/99999", headers=admin).status_code == 404
    active = api.get("/v1/admin/tokens", params={"agency": "BE-FP", "revoked": "false"}, headers=admin)
    assert active.json() == []
    listed = {a["code"]: a for a in api.get("/v1/admin/agencies", headers=admin).json()}
    assert listed["BE-FP"]["active_tokens"] == 0

    # Unknown agency, unknown or missing scopes.
    assert (
        api.post("/v1/admin/agencies/XX/tokens", json={"scopes": ["query"]}, headers=admin).status_code == 404
    )
    for bad in ({"scopes": ["root"]}, {"scopes": []}, {"scopes": ["query"], "token": "mine"}):
        assert api.post("/v1/admin/agencies/NL/tokens", json=bad, headers=admin).status_code == 422


def test_admin_endpoints_refuse_other_scopes(hub: Hub, api: TestClient) -> None:
    calls = [
        ("post", "/v1/admin/agencies", {"code": "IT", "name": "Italy"}),
        ("get", "/v1/admin/agencies", None),
        ("post", "/v1/admin/agencies/NL/tokens", {"scopes": ["admin"]}),
        ("get", "/v1/admin/tokens", None),
        ("delete", "/v1/admin/tokens/1", None),
    ]
    for who in ("A", "C"):  # contribute + query, query only
        for method, path, body in calls:
            kwargs = {"json": body} if body is not None else {}
            r = api.request(method.upper(), path, headers=auth(hub.tokens[who]), **kwargs)
            assert r.status_code == 403, (who, method, path, r.text)
    for method, path, body in calls:
        kwargs = {"json": body} if body is not None else {}
        assert api.request(method.upper(), path, **kwargs).status_code == 401
    with hub.session() as s:  # nothing happened
        assert s.scalar(select(hm.Agency).where(hm.Agency.code == "IT")) is None
        assert s.scalar(select(hm.Token.revoked_at).where(hm.Token.id == 1)) is None
        assert len(s.scalars(select(hm.Token)).all()) == 4


def test_admin_calls_are_audited_without_secrets(hub: Hub, api: TestClient) -> None:
    admin = auth(hub.tokens["admin"])
    api.post("/v1/admin/agencies", json={"code": "ES", "name": "Spain"}, headers=admin)
    token = api.post("/v1/admin/agencies/ES/tokens", json={"scopes": ["contribute"]}, headers=admin).json()
    api.get("/v1/admin/tokens", headers=admin)
    api.delete(f"/v1/admin/tokens/{token['id']}", headers=admin)
    api.get("/v1/admin/agencies", headers=auth(hub.tokens["A"]))  # refused, audited too (aggregated)
    with hub.session() as s:
        cast(Any, api.app).state.hub.refusals.flush(s, everything=True)  # as the hub does when it stops
        s.commit()
        rows = s.scalars(select(hm.AuditEntry).order_by(hm.AuditEntry.id)).all()
        assert verify(s) == len(rows)
    logged = [(e.user, e.action, json.loads(e.details)) for e in rows]
    assert all(token["token"] not in e.details for e in rows)
    admin_label = next(u for u, a, _ in logged if a == "POST /v1/admin/agencies")
    assert admin_label.startswith("OPS#t")
    by_action = {a: d for u, a, d in logged if u == admin_label}
    assert by_action["POST /v1/admin/agencies"] == {"method": "POST", "status": 201, "agency": "ES"}
    created = by_action["POST /v1/admin/agencies/{code}/tokens"]
    assert (
        created["token_id"] == token["id"]
        and created["scopes"] == ["contribute"]
        and created["agency"] == "ES"
    )
    revoked = by_action["DELETE /v1/admin/tokens/{token_id}"]
    assert revoked == {"method": "DELETE", "status": 200, "token_id": token["id"], "agency": "ES"}
    assert by_action["GET /v1/admin/tokens"]["status"] == 200
    assert logged[-1][0].startswith("NL#t") and logged[-1][1] == "refused requests"
    assert logged[-1][2]["status"] == {"403": 1} and logged[-1][2]["refused"] == 1


def test_openapi_describes_the_admin_api(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/v1/admin/agencies"]) == {"get", "post"}
    assert set(paths["/v1/admin/agencies/{code}/tokens"]) == {"post"}
    assert set(paths["/v1/admin/tokens"]) == {"get"}
    assert set(paths["/v1/admin/tokens/{token_id}"]) == {"delete"}
    assert paths["/v1/admin/tokens/{token_id}"]["delete"]["tags"] == ["administration"]
    schemas = spec["components"]["schemas"]
    assert "token" in schemas["TokenIssued"]["properties"]
    assert "token" not in schemas["TokenView"]["properties"]
    assert schemas["TokenCreate"]["properties"]["scopes"]["items"]["enum"] == ["contribute", "query", "admin"]


def test_cli_lists_agencies_and_tokens(tmp_path: Path) -> None:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert runner.invoke(cli, ["hub", "init", "--db", db]).exit_code == 0
    assert runner.invoke(cli, ["hub", "agency", "add", "NL", "Netherlands Police", "--db", db]).exit_code == 0
    r = runner.invoke(
        cli, ["hub", "token", "create", "NL", "--scope", "query", "--label", "desk", "--db", db]
    )
    token = r.stdout.strip().splitlines()[-1]
    runner.invoke(cli, ["hub", "token", "create", "NL", "--scope", "admin", "--db", db])
    assert runner.invoke(cli, ["hub", "token", "revoke", "2", "--db", db]).exit_code == 0
    r = runner.invoke(cli, ["hub", "agency", "list", "--db", db])
    assert r.exit_code == 0 and "NL\tNetherlands Police\t1 active token(s)" in r.output
    r = runner.invoke(cli, ["hub", "token", "list", "--db", db])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 2 and token not in r.output
    assert lines[0].startswith(f"1\tNL\t{token[:12]}...\tquery\tactive\tdesk")
    assert "\trevoked " in lines[1]
    r = runner.invoke(cli, ["hub", "token", "list", "--active", "--agency", "NL", "--db", db])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(cli, ["hub", "token", "list", "--agency", "XX", "--db", db])
    assert r.exit_code != 0 and "no agency 'XX'" in f"{r.output}{r.exception}"
