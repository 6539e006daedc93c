"""Regression tests for the hub entries of FINDINGS.md, each in the shape it was reported: hash values
in the audit log of entry calls, a re-run `tessera hub push` reporting "4 new", PATCH answered 411."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tessera.cli import app as cli
from tessera.hub import models as hm
from tessera.hub.audit import batch_ref
from tessera.hub.service import Policy
from tessera.store import models as m
from tessera.store.case import init_case
from tests.hub.conftest import Hub, auth, make_client, rand_item
from tests.hub.test_hub_api import push
from tests.hub.test_hub_live import _add_media


def test_no_entry_call_leaves_a_hash_in_the_audit_log(hub: Hub) -> None:
    rng = random.Random(71)
    item, other, unknown = rand_item(rng), rand_item(rng), rand_item(rng)
    fourth = rand_item(rng)
    sha = item["sha256"]
    a, admin = auth(hub.tokens["A"]), auth(hub.tokens["admin"])
    with make_client(hub, Policy(max_body_bytes=2048)) as api:
        push(api, hub.tokens["A"], [item, other], "batch-regress-1")
        push(api, hub.tokens["A"], [fourth], fourth["sha256"])  # a file's hash as the batch id
        calls = [
            api.get(f"/v1/entries/{sha}", headers=a),
            api.get(f"/v1/entries/{sha}?note={other['sha256']}", headers=a),
            api.get(f"/v1/entries/{unknown['sha256']}", headers=a),  # 404
            api.get(f"/v1/entries/{sha}/contributors", headers=admin),
            api.get(f"/v1/entries/{sha}/contributors", headers=a),  # 403: policy
            api.get(f"/v1/entries/{sha}/nothing", headers=a),  # no route
            api.patch(f"/v1/entries/{sha}", headers=a),  # 405
            api.post("/v1/query", json={"pdq": [item["pdq"]], "sha1": [item["sha1"]]}, headers=a),
            api.put(f"/v1/contributions/{sha}", json={"category": 2}, headers=a),
            # Refused by the body guard before routing: no route template to stand in for the path.
            api.put(f"/v1/contributions/{sha}", json={"series": "x" * 4096}, headers=a),
            api.post("/v1/benign", json={"sha256": [other["sha256"]]}, headers=a),
            api.delete(f"/v1/benign/{other['sha256']}", headers=a),
            api.delete(f"/v1/contributions/{other['sha256']}", headers=a),
            api.get(f"/v1/entries/{sha}"),  # 401: counted with the refusals
        ]
        assert [r.status_code for r in calls] == [
            200, 200, 404, 200, 403, 404, 405, 200, 200, 413, 200, 204, 204, 401,
        ]  # fmt: skip
    with hub.session() as s:  # the refusal counts were written when the hub stopped
        rows = s.scalars(select(hm.AuditEntry)).all()
    text = " ".join(e.user + e.action + e.subject + e.details for e in rows).lower()
    assert len(rows) >= len(calls)
    for it in (item, other, unknown, fourth):
        for key in ("sha256", "md5", "sha1", "pdq"):
            assert it[key] not in text, key
    # The batch id is kept as a digest: a client may choose a file's hash as its id.
    pushes = [e for e in rows if e.subject == "/v1/contributions"]
    assert pushes and all("batch-regress-1" not in e.details for e in pushes)
    assert json.loads(pushes[0].details)["batch"] == batch_ref("batch-regress-1")
    subjects = {e.subject for e in rows}
    assert {"/v1/entries/{sha256}", "/v1/entries/{sha256}/contributors", "/v1/benign/{sha256}"} <= subjects
    assert "/v1/contributions/<hex>" in subjects and "/v1/entries/<hex>/nothing" in subjects


def test_rerun_cli_push_says_nothing_new(hub: Hub, server: str, tmp_path: Path) -> None:
    case = init_case(tmp_path / "case", "Source", "NL")
    media = _add_media(case, random.Random(72), 6)
    with case.session() as s:
        for row in media[:4]:
            s.add(m.Decision(sha256=row.sha256, category=1, profile="vics-us", user="rev"))
        s.commit()
    token = tmp_path / "token"
    token.write_text(hub.tokens["A"])
    args = ["hub", "push", "--hub", server, "--token-file", str(token), "--case", str(tmp_path / "case")]
    runner = CliRunner()
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "4 new to the hub, 4 contributions added or changed" in first.output
    again = runner.invoke(cli, args)  # nothing changed in the case
    assert again.exit_code == 0, again.output
    assert "(1 already applied): 0 new to the hub, 0 contributions added or changed" in again.output
    with hub.session() as s:
        rows = s.scalars(select(hm.AuditEntry).where(hm.AuditEntry.action == "POST /v1/contributions"))
        details = [json.loads(e.details) for e in rows]
    flags = [(d["duplicate"], d["new"], d["changed"]) for d in details]
    assert flags == [(False, 4, 4), (True, 0, 0)]  # the replay is audited as one, with nothing new


def _raw(server: str, request: bytes) -> tuple[int, dict[str, str]]:
    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), {k.lower(): v for k, v in fields.items()}


@pytest.mark.parametrize(
    "framing",
    [
        ("", b""),  # no body and no Content-Length: was 411
        ("Content-Length: 0\r\n", b""),
        ("Content-Type: application/json\r\nContent-Length: 2\r\n", b"{}"),
        ("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"),
    ],
    ids=["bare", "empty", "json", "chunked"],
)
def test_a_method_the_route_lacks_is_405_whatever_the_body(
    hub: Hub, server: str, framing: tuple[str, bytes]
) -> None:
    extra, body = framing
    sha = rand_item(random.Random(73))["sha256"]
    cases = {
        "/v1/query": "POST",
        "/v1/changes": "GET",
        f"/v1/entries/{sha}": "GET",
        "/v1/contributions": "POST",
        f"/v1/contributions/{sha}": "DELETE, PUT",
        "/v1/admin/agencies": "GET, POST",
    }
    for path, allowed in cases.items():
        for method in ("PATCH", "PUT", "DELETE"):
            if method in allowed:
                continue
            request = (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: Bearer {hub.tokens['admin']}\r\n{extra}\r\n"
            )
            status, headers = _raw(server, request.encode() + body)
            assert status == 405, (method, path, status)
            assert sorted(headers["allow"].split(", ")) == sorted(allowed.split(", ")), (method, path)
