"""Bounded requests against a real hub process: a chunked body behind a lying Content-Length, with and
without a token, must be cut (413) or refused before it is read (401), with the hub's memory bounded
(RSS measured in the server process) and the server still answering."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.hub.conftest import Hub, free_port

_RUNNER = """
import sys, uvicorn
from tessera.hub.app import create_app
from tessera.hub.db import open_hub
uvicorn.run(create_app(open_hub(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

MB = 1024 * 1024


@pytest.fixture
def hub_process(hub: Hub, tmp_path: Path) -> Iterator[tuple[int, psutil.Process]]:
    if not hub.url.startswith("sqlite"):
        pytest.skip("one database is enough to measure the server's memory")
    port = free_port()
    log = (tmp_path / "hub.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, hub.url, str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("hub process did not start")
        time.sleep(0.1)
    yield port, psutil.Process(proc.pid)
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _chunked_attack(port: int, token: str | None, total: int) -> tuple[int, int]:
    """Stream ``total`` bytes as chunks behind ``Content-Length: 10``; returns (status, bytes sent)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /v1/query HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"[" * (256 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                sock.sendall(frame)
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the hub answered and closed: the rest of the body was never wanted
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, sent


def test_chunked_body_with_lying_length_is_bounded(hub: Hub, hub_process: tuple[int, psutil.Process]) -> None:
    port, proc = hub_process
    before = proc.memory_info().rss
    # Without a token: refused before a byte of the body is read.
    status, _ = _chunked_attack(port, None, 300 * MB)
    assert status == 401
    # With a valid token: read up to the 8 MiB limit, then cut.
    status, _ = _chunked_attack(port, hub.tokens["C"], 300 * MB)
    assert status == 413
    grown = proc.memory_info().rss - before
    assert grown < 50 * MB, f"hub grew by {grown / MB:.0f} MB"
    r = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=10)
    assert r.status_code == 200


def test_chunked_body_without_length_is_counted(hub: Hub, hub_process: tuple[int, psutil.Process]) -> None:
    port, proc = hub_process
    before = proc.memory_info().rss
    big = (b"[" * MB for _ in range(100))  # 100 MB, streamed: httpx sends it chunked
    headers = {"Authorization": f"Bearer {hub.tokens['C']}", "Content-Type": "application/json"}
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/query", content=big, headers=headers, timeout=60)
        assert r.status_code == 413 and "exceeds the limit" in r.json()["detail"]
    except httpx.TransportError:
        pass  # the hub may close before httpx has finished writing; the size check is above
    r = httpx.post(f"http://127.0.0.1:{port}/v1/query", content=iter([b"{}"]), headers=headers)
    assert r.status_code == 200  # a small chunked body is fine
    big = (b"[" * MB for _ in range(100))
    r = httpx.post(f"http://127.0.0.1:{port}/v1/query", content=big, headers={"Content-Type": "x"})
    assert r.status_code == 401
    assert proc.memory_info().rss - before < 50 * MB
    assert httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200
