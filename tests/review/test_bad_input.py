"""Bad input in paths, queries and bodies: a 4xx with a JSON or HTML answer, never a 500, on both stores."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tessera.review import create_app
from tessera.store.case import CaseHandle
from tests.review.conftest import sign_in
from tests.review.helpers import Built

BIG = str(2**64)
FORM = {"content-type": "application/x-www-form-urlencoded"}
GETS = [
    "/media/%00",
    "/media/a%00b",
    "/media/%ED%A0%80",
    "/media/%FF%FE",
    "/thumb/%00.jpg",
    "/thumb/%ED%A0%80.jpg",
    "/thumb/%00/clear.png",
    f"/account/{BIG}",
    f"/account/-{BIG}",
    "/account/NaN",
    "/account/%00",
    f"/review?page={BIG}",
    f"/review?page=-{BIG}",
    "/review?page=NaN",
    "/review?page=%00",
    f"/audit?before={BIG}",
    "/audit?before=NaN",
    "/audit?check=%ED%A0%80",
]
DECIDES: list[bytes] = [
    b'{"sha256": "\\u0000", "category": 1}',
    b'{"sha256": "\\ud800", "category": 1}',
    b'{"sha256": "abc", "category": ' + BIG.encode() + b"}",
    b'{"sha256": "abc", "category": NaN}',
    b'{"sha256": "abc", "category": 1e400}',
    b"\xff\xfe\x00",
    b'{"sha256": "\xff", "category": 1}',
]


@pytest.fixture
def raw_client(case: CaseHandle, built: Built) -> TestClient:
    # raise_server_exceptions=False: a 500 is seen as the browser would see it, not as a test error.
    return TestClient(create_app(case), raise_server_exceptions=False)


def test_bad_paths_and_queries_are_4xx(raw_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with raw_client as client, caplog.at_level(logging.INFO):
        sign_in(client, "rita")
        for path in GETS:
            r = client.get(path)
            assert 400 <= r.status_code < 500, (path, r.status_code)
        assert client.get("/review").status_code == 200  # still serving
    assert "Traceback" not in caplog.text


def test_bad_bodies_are_4xx(raw_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with raw_client as client, caplog.at_level(logging.INFO):
        csrf = sign_in(client, "rita")
        for body in DECIDES:
            r = client.post(
                "/api/decide",
                content=body,
                headers={"x-csrf-token": csrf, "content-type": "application/json"},
            )
            assert 400 <= r.status_code < 500, (body, r.status_code)
            assert r.headers["content-type"].startswith("application/json")
        for blur in (BIG, "NaN", "\x00"):
            r = client.post("/settings/blur", data={"blur": blur, "csrf": csrf}, follow_redirects=False)
            assert r.status_code in (303, 400, 422), (blur, r.status_code)
        form = {"content-type": "application/x-www-form-urlencoded"}
        for raw in (b"name=%ff&password=\xff\xfe", b"name=a%00&password=b%00"):
            assert 400 <= client.post("/login", content=raw, headers=form).status_code < 500, raw
        assert client.get("/review").status_code == 200
    assert "Traceback" not in caplog.text


def test_a_csrf_token_with_any_characters_is_refused_not_a_500(raw_client: TestClient) -> None:
    # Found by the OpenAPI fuzzer: hmac.compare_digest raised on a non-ASCII token.
    with raw_client as client:
        csrf = sign_in(client, "rita")
        for token in ("\x80", "é" * 40, csrf + "\u00e9"):
            r = client.post("/login", content=f"name=x&password=y&csrf={quote(token)}".encode(), headers=FORM)
            assert 400 <= r.status_code < 500 or r.status_code == 200, (token, r.status_code)
            h = {"x-csrf-token": quote(token), "content-type": "application/json"}
            assert (
                client.post("/api/decide", content=b'{"sha256": "ab", "category": 1}', headers=h).status_code
                == 403
            )
        assert client.get("/review").status_code == 200
