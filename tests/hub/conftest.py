"""Hub fixtures: a hub database on SQLite and PostgreSQL, agencies with tokens, an ASGI client and a
real uvicorn server on a free loopback port. All hashes are random; categories are numbers."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tessera.hub.app import create_app
from tessera.hub.auth import add_agency, create_token
from tessera.hub.db import open_hub, sessions
from tessera.hub.service import Policy


@dataclass
class Hub:
    url: str
    engine: Engine
    tokens: dict[str, str]  # name -> token

    def session(self) -> Any:
        return sessions(self.engine)()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def hub(hub_db: str) -> Iterator[Hub]:
    engine = open_hub(hub_db, create=True)
    tokens: dict[str, str] = {}
    with sessions(engine)() as s:
        for code in ("NL", "DE", "FR", "OPS"):
            add_agency(s, code, f"Agency {code}")
        tokens["A"] = create_token(s, "NL", ["contribute", "query"])[1]
        tokens["B"] = create_token(s, "DE", ["contribute", "query"])[1]
        tokens["C"] = create_token(s, "FR", ["query"])[1]
        tokens["admin"] = create_token(s, "OPS", ["admin", "query", "contribute"])[1]
        s.commit()
    yield Hub(hub_db, engine, tokens)
    engine.dispose()


def make_client(hub: Hub, policy: Policy | None = None) -> TestClient:
    return TestClient(create_app(hub.engine, policy))


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with make_client(hub) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(hub: Hub) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1; yields its base URL and stops it afterwards."""
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(hub.engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("hub server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=20)


def rhex(rng: random.Random, nbytes: int) -> str:
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def rand_item(rng: random.Random, category: int | None = None) -> dict[str, Any]:
    return {
        "sha256": rhex(rng, 32),
        "md5": rhex(rng, 16),
        "sha1": rhex(rng, 20),
        "pdq": rhex(rng, 32),
        "pdq_quality": 100,
        "category": category if category is not None else rng.choice([1, 2, 3]),
        "profile": "vics-us",
        "series": None,
        "victim_identified": None,
        "first_seen": "2026-01-15",
    }


def flip_bits(hex_value: str, n: int) -> str:
    value = int(hex_value, 16)
    for bit in range(n):
        value ^= 1 << (bit * 7)
    return f"{value:064x}"
