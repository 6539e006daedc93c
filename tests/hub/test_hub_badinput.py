"""Bad input is a 4xx with the hub's JSON error shape, audited, on SQLite and PostgreSQL: NUL bytes,
lone surrogates and invalid UTF-8, NaN and infinities, integers beyond 2^63, non-UTF-8 bodies, in
every route that takes a path, a query or a body. Unexpected errors are logged without their message."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tessera.hub import models as hm
from tessera.hub import reads
from tests.hub.conftest import Hub, auth

H64 = "ab" * 32
ITEM = '{"sha256": "' + H64 + '"'

# (method, path, body, token name)
CASES: list[tuple[str, str, bytes | None, str]] = [
    # NUL and invalid UTF-8 in paths
    *[
        (m, p.format(bad), b, "admin")
        for bad in ("ab%00cd", "%ED%A0%80", "%FF%FE", H64 + "%00")
        for m, p, b in [
            ("GET", "/v1/entries/{}", None),
            ("GET", "/v1/entries/{}/contributors", None),
            ("PUT", "/v1/contributions/{}", b'{"category": 1}'),
            ("DELETE", "/v1/contributions/{}", None),
            ("POST", "/v1/admin/agencies/{}/tokens", b'{"scopes": ["query"]}'),
            ("DELETE", "/v1/admin/tokens/{}", None),
        ]
    ],
    # NUL, invalid UTF-8, NaN and huge integers in queries
    *[
        ("GET", f"/v1/changes?{q}", None, "admin")
        for q in ("since=%00", "since=NaN", "since=99999999999999999999", "limit=1e400", "limit=%ED%A0%80")
    ],
    *[("GET", f"/v1/admin/conflicts?limit={v}", None, "admin") for v in ("%00", "NaN", "9" * 30)],
    *[("GET", f"/v1/admin/tokens?agency={v}", None, "admin") for v in ("%00", "%ED%A0%80", "NL&revoked=%00")],
    ("DELETE", "/v1/admin/tokens/" + "9" * 25, None, "admin"),
    # bodies: non-UTF-8, NaN, infinities, huge integers, NUL and lone surrogates in strings
    *[
        ("POST", "/v1/query", body, "A")
        for body in (
            b'\xff\xfe{"md5": []}',
            b'{"pdq_radius": NaN}',
            b'{"pdq_radius": 1e400}',
            b'{"pdq_radius": 9' + b"9" * 30 + b"}",
        )
    ],
    *[
        (
            "POST",
            "/v1/contributions",
            b'{"batch_id": "batch-0001", "items": [' + ITEM.encode() + extra + b"}]}",
            "A",
        )
        for extra in (
            b', "series": "a\\u0000b"',
            b', "series": "\\ud800"',
            b', "category": NaN',
            b', "category": -Infinity',
            b', "category": 99999999999999999999999',
            b', "pdq_quality": 1e400',
            b', "series": "\xff"',
        )
    ],
    ("PUT", f"/v1/contributions/{H64}", b'{"series": "\\udc00"}', "A"),
    ("PUT", f"/v1/contributions/{H64}", b'{"category": NaN}', "A"),
    ("POST", "/v1/admin/agencies", b'{"code": "X1", "name": "a\\u0000b"}', "admin"),
    ("POST", "/v1/admin/agencies", b'{"code": "X2", "name": "\\udc00"}', "admin"),
    ("POST", "/v1/admin/agencies", b"\x80\x81", "admin"),
    ("POST", "/v1/admin/agencies/NL/tokens", b'{"scopes": ["query"], "label": "a\\u0000"}', "admin"),
]


def _audit_rows(hub: Hub) -> int:
    with hub.session() as s:
        return int(s.scalar(select(func.count()).select_from(hm.AuditEntry)) or 0)


@pytest.mark.parametrize("method,path,body,who", CASES)
def test_bad_input_is_a_4xx(hub: Hub, api: Any, method: str, path: str, body: bytes | None, who: str) -> None:
    before = _audit_rows(hub)
    headers = {**auth(hub.tokens[who]), "content-type": "application/json"}
    r = api.request(method, path, content=body, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json") and "detail" in r.json()
    assert r.headers.get("connection") != "close"
    assert H64 not in r.text  # the offending input is not echoed
    assert _audit_rows(hub) == before + 1
    with hub.session() as s:
        row = s.scalars(select(hm.AuditEntry).order_by(hm.AuditEntry.id.desc())).first()
        assert row is not None and H64 not in row.subject + row.details and "\x00" not in row.subject


def test_unexpected_error_logged_without_request_data(
    hub: Hub, api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token_hash = __import__("tessera.hub.auth", fromlist=["hash_token"]).hash_token(hub.tokens["A"])

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"database said no about {H64} [parameters: {token_hash}]")

    monkeypatch.setattr(reads, "query", broken)
    with caplog.at_level(logging.ERROR):
        r = api.post("/v1/query", json={"sha256": [H64]}, headers=auth(hub.tokens["A"]))
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert "RuntimeError" in caplog.text and "broken" in caplog.text  # type and stack are kept
    assert H64 not in caplog.text and token_hash not in caplog.text
    # The hub keeps answering.
    assert api.get("/v1/health").status_code == 200


def test_bad_input_keeps_the_connection(hub: Hub, server: str) -> None:
    """Against uvicorn: several bad requests over one keep-alive connection, then a good one."""
    h = {**auth(hub.tokens["A"]), "content-type": "application/json"}
    with httpx.Client(base_url=server, headers=h) as c:
        for path, body in [
            ("/v1/query", b'{"pdq_radius": NaN}'),
            ("/v1/query", b"\xff\xfe"),
            (
                "/v1/contributions",
                b'{"batch_id": "batch-0001", "items": [' + ITEM.encode() + b', "series": "\\ud800"}]}',
            ),
        ]:
            r = c.post(path, content=body)
            assert 400 <= r.status_code < 500 and r.headers.get("connection") != "close"
        assert c.get("/v1/entries/ab%00cd").status_code == 400
        assert c.get("/v1/changes?since=" + "9" * 30).status_code == 422
        assert c.post("/v1/query", json={"sha256": [H64]}).status_code == 200
