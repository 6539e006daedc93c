"""`tessera hub serve` transport: no clear-text bind off loopback, real TLS, and the Host allow-list."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tessera.netsafe import default_hosts, host_of, is_loopback
from tests.review.test_transport import _free_port, _self_signed


def hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", "hub", *args], capture_output=True, text=True)


def test_non_loopback_without_tls_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert hub("init", "--db", db).returncode == 0
    run = hub("serve", "--db", db, "--host", "0.0.0.0", "--port", str(_free_port()))
    assert run.returncode == 2 and "without TLS" in run.stderr, run.stderr
    run = hub("serve", "--db", db, "--certfile", str(tmp_path / "c.pem"))
    assert run.returncode == 2 and "go together" in run.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_tls_hub_answers_only_its_hosts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert hub("init", "--db", db).returncode == 0
    cert, key = _self_signed(tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera", "hub", "serve", "--db", db, "--port", str(port),
         "--certfile", str(cert), "--keyfile", str(key)],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ctx = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first = httpx.get(base + "/v1/entries/" + "0" * 64, verify=ctx, timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert first.status_code == 401  # served over TLS; no token
        rebound = httpx.get(base + "/v1/entries/" + "0" * 64, verify=ctx, headers={"Host": "evil.example"})
        assert rebound.status_code == 400 and rebound.json()["detail"] == "unknown Host header"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert host_of(b"LOCALHOST:8700") == "localhost" and "127.0.0.1" in default_hosts("127.0.0.1")
