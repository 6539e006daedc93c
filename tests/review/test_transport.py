"""Transport: real TLS with Secure cookies, no clear-text bind off loopback, Host allow-list, no-store,
and bad input answered 4xx by a live server that stays up."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tessera.review import create_app
from tessera.review.guards import default_hosts, host_of
from tessera.store.case import CaseHandle
from tests.review.conftest import sign_in
from tests.review.helpers import PASSWORD, Built, build_case
from tests.review.test_cli import tessera


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(sqlite_case: CaseHandle, tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    build_case(sqlite_case, tmp_path)
    cert, key = _self_signed(tmp_path)
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - read after the server stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--certfile", str(cert), "--keyfile", str(key)],
        env={**os.environ, "TESSERA_CASE": str(sqlite_case.directory)},
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/login", verify=ssl.create_default_context(cafile=str(cert)), timeout=2)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield base, cert, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_tls_cookies_are_secure_and_bad_input_is_4xx(
    tls_server: tuple[str, Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base, cert, proc = tls_server
    with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(cert)), timeout=30) as c:
        page = c.get("/login")
        assert "secure" in page.headers["set-cookie"].lower()
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        r = c.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": token.group(1)})
        session = [v for k, v in r.headers.multi_items() if k == "set-cookie" and "tessera_session=" in v]
        assert session and "secure" in session[0].lower() and "httponly" in session[0].lower()
        # DNS rebinding: a name the server was not told about.
        assert c.get("/login", headers={"Host": "evil.example"}).status_code == 400
        # Bad input against the live server: each a 4xx, and the server still answers.
        for path in ("/media/%00", "/media/%ED%A0%80", "/account/99999999999999999999999", "/account/NaN"):
            assert 400 <= c.get(path).status_code < 500, path
        bad = c.post("/login", content=b"name=\xff\xfe&password=\xff", headers={
            "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert 400 <= bad.status_code < 500
        assert c.get("/login").status_code == 200
    assert proc.poll() is None
    proc.terminate()
    proc.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_non_loopback_bind_without_tls_is_refused(sqlite_case: CaseHandle) -> None:
    r = tessera("serve", "--host", "0.0.0.0", "--port", str(_free_port()), case=sqlite_case.directory)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "TLS" in r.stderr
    half = tessera("serve", "--certfile", "x.pem", case=sqlite_case.directory)
    assert half.returncode == 2


def test_host_allow_list() -> None:
    assert host_of(b"127.0.0.1:8080") == "127.0.0.1"
    assert host_of(b"[::1]:8080") == "[::1]"
    assert host_of(b"Example.ORG") == "example.org"
    assert host_of(b"\xff") == ""
    assert "localhost" in default_hosts("10.0.0.5") and "10.0.0.5" in default_hosts("10.0.0.5")


def test_host_header_checked_and_thumbnails_not_cached(case: CaseHandle, built: Built) -> None:
    app = create_app(case, allowed_hosts=frozenset({"testserver"}))
    with TestClient(app) as client:
        sign_in(client, "rita")
        r = client.get(f"/thumb/{built.singles[0]}.jpg")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert client.get(f"/media/{built.singles[0]}").headers["cache-control"] == "no-store"
        assert client.get("/review", headers={"Host": "attacker.example:80"}).status_code == 400
