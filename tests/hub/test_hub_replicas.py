"""Several hub processes on one PostgreSQL database (issue 16, part 4): started at once (one migrates
at a time), each catching up its PDQ index in the background, each answering with its name; a PDQ
entry pushed through one replica becomes matchable on the others. Real processes, real HTTP on
loopback. The catch-up times are printed (run with -s), not asserted beyond a generous bound."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tessera.audit.keys import AuditKey
from tessera.hub import audit
from tessera.hub import models as hm
from tessera.hub.app import REPLICA_HEADER
from tessera.hub.auth import add_agency, create_token
from tessera.hub.client import batch_id
from tessera.hub.db import open_hub, sessions

from ..conftest import PG_ADMIN_URL
from ..hashsets.trip import fresh_pg
from .conftest import Hub, auth, flip_bits, free_port, rand_item

#: Failure bound for a catch-up (the issue's goal is 5 s; the measured time is printed).
TIMEOUT = 30.0
START_TIMEOUT = 60.0


@pytest.fixture(params=["sqlite", "postgresql"])
def replica_db(request: pytest.FixtureRequest, pg_ok: bool) -> Iterator[str]:
    """A fresh PostgreSQL database; SQLite is skipped: a demo hub is one process."""
    if request.param == "sqlite":
        pytest.skip("several hub processes need PostgreSQL (SQLite serialises every transaction)")
    if not pg_ok:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    with fresh_pg() as url:
        yield url


def tessera(*args: str) -> list[str]:
    return [sys.executable, "-m", "tessera", *args]


@dataclass
class Replicas:
    urls: list[str]
    names: list[str]
    hub: Hub

    def post(self, i: int, path: str, token: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.urls[i] + path, json=body, headers=auth(token), timeout=30)

    def status(self, i: int) -> dict[str, Any]:
        r = httpx.get(self.urls[i] + "/v1/admin/replica", headers=auth(self.hub.tokens["admin"]), timeout=30)
        r.raise_for_status()
        return dict(r.json())


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hub process exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            r = httpx.get(url + "/v1/health", timeout=2)
            if r.status_code == 200:
                return r.headers[REPLICA_HEADER]
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"hub process did not answer within {START_TIMEOUT} s: {log.read_text()[-2000:]}")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=20)


@pytest.fixture
def replicas(replica_db: str, tmp_path: Path) -> Iterator[Replicas]:
    """Three ``hub init`` at once on a fresh database, then three ``hub serve`` at once."""
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    env.pop(audit.HUB_KEY_ENV, None)
    inits = [
        subprocess.Popen(
            tessera("hub", "init", "--db", replica_db),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in inits]
    assert [p.returncode for p in inits] == [0, 0, 0], outputs
    engine = open_hub(replica_db)
    tokens: dict[str, str] = {}
    with sessions(engine)() as s:
        for code in ("NL", "DE", "OPS"):
            add_agency(s, code, f"Agency {code}")
        tokens["A"] = create_token(s, "NL", ["contribute", "query"])[1]
        tokens["B"] = create_token(s, "DE", ["contribute", "query"])[1]
        tokens["admin"] = create_token(s, "OPS", ["admin", "query", "contribute"])[1]
        s.commit()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports, logs = [free_port() for _ in range(3)], [tmp_path / f"r{i}.log" for i in range(3)]
        for i, port in enumerate(ports):
            cmd = tessera("hub", "serve", "--db", replica_db, "--port", str(port), "--replica-name", f"r{i}")
            with logs[i].open("wb") as out:
                procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        names = [_wait_healthy(u, p, log) for u, p, log in zip(urls, procs, logs, strict=True)]
        yield Replicas(urls, names, Hub(replica_db, engine, tokens))
    finally:
        _stop(procs)
        engine.dispose()


def _until(check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check()`` holds, polling; fails after TIMEOUT."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > TIMEOUT:
            pytest.fail(f"{what}: not within {TIMEOUT} s")
        time.sleep(0.02)
    return time.monotonic() - start


def _push(r: Replicas, i: int, token: str, items: list[dict[str, Any]]) -> None:
    resp = r.post(i, "/v1/contributions", token, {"batch_id": batch_id(items), "items": items})
    assert resp.status_code == 200, resp.text
    assert resp.headers[REPLICA_HEADER] == r.names[i]


def _matches(r: Replicas, i: int, item: dict[str, Any]) -> bool:
    """Replica ``i`` finds ``item`` by a PDQ hash 8 bits away and by its SHA-256."""
    body = {"pdq": [flip_bits(item["pdq"], 8)], "sha256": [item["sha256"]], "pdq_radius": 31}
    resp = r.post(i, "/v1/query", r.hub.tokens["A"], body)
    assert resp.status_code == 200, resp.text
    assert resp.headers[REPLICA_HEADER] == r.names[i]
    found = {res["algorithm"]: {m["sha256"] for m in res["matches"]} for res in resp.json()["results"]}
    return item["sha256"] in found["pdq"] and item["sha256"] in found["sha256"]


def test_replicas_started_together_migrated_once(replicas: Replicas) -> None:
    assert len(set(replicas.names)) == 3
    assert [n.split(":")[0] for n in replicas.names] == ["r0", "r1", "r2"]
    with replicas.hub.session() as s:
        assert s.execute(text("SELECT count(*) FROM hub_alembic_version")).scalar() == 1
        names = s.scalars(select(hm.Counter.name).order_by(hm.Counter.name)).all()
    assert names == ["audit", "seq"]


def test_a_push_through_one_replica_matches_on_every_replica(replicas: Replicas) -> None:
    rng = random.Random(16)
    times: list[float] = []
    for origin in range(3):  # through each replica once; the other two must find it
        item = rand_item(rng)
        _push(replicas, origin, replicas.hub.tokens["A"], [item])
        start = time.monotonic()
        others = [i for i in range(3) if i != origin]
        assert _matches(replicas, origin, item)  # the pushing replica indexed it on commit
        for i in others:
            _until(lambda i=i, it=item: _matches(replicas, i, it), f"replica r{i}: a push through r{origin}")
        times.append(time.monotonic() - start)
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(f"\ncatch-up through queries (push -> match on every replica): {shown} s")


def test_background_catchup_without_queries(replicas: Replicas) -> None:
    """Only the status endpoint is polled (it never refreshes the index): the catch-up thread alone
    must bring the other replicas' indexes to the pushing replica's sequence number."""
    rng = random.Random(17)
    items = [rand_item(rng) for _ in range(50)]
    _push(replicas, 1, replicas.hub.tokens["B"], items)
    target = replicas.status(1)["index_seq"]
    assert target >= 50
    took = [
        _until(lambda i=i: replicas.status(i)["index_seq"] >= target, f"replica r{i} catching up")
        for i in (0, 2)
    ]
    for i in (0, 2):
        st = replicas.status(i)
        assert st["replica"] == replicas.names[i] and st["lag"] == 0 and st["catchup_errors"] == 0
        assert st["index_entries"] >= 50 and st["catchup_interval"] == 1.0
        assert all(_matches(replicas, i, it) for it in items[:3])
    print(f"\nbackground catch-up (no queries): r0 {took[0]:.2f} s, r2 {took[1]:.2f} s (interval 1 s)")


def test_concurrent_pushes_through_all_replicas_keep_one_audit_chain(replicas: Replicas) -> None:
    rng = random.Random(18)
    batches = [[rand_item(rng) for _ in range(20)] for _ in range(12)]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(k, len(batches), 3):
                _push(replicas, k, replicas.hub.tokens["A" if j % 2 else "B"], batches[j])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with replicas.hub.session() as s:
        assert s.scalar(select(func.count()).select_from(hm.Entry)) == 240
        entries = audit.verify_all(s, find_key=False).entries
    assert entries >= 12 + 3  # the pushes through three writers and the start-up health checks
    everything = [it for b in batches for it in b]
    for i in range(3):
        _until(lambda i=i: _matches(replicas, i, everything[-1]), f"replica r{i}")


def test_workers_share_one_address(replica_db: str, tmp_path: Path) -> None:
    """``hub serve --workers 2``: two processes behind one port, each with its own name."""
    subprocess.run(tessera("hub", "init", "--db", replica_db), check=True, capture_output=True, timeout=120)
    port, log = free_port(), tmp_path / "workers.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            tessera("hub", "serve", "--db", replica_db, "--port", str(port), "--workers", "2"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, proc, log)
        seen: set[str] = set()

        def both_answered() -> bool:
            # A new connection per request, so the kernel may hand it to either worker.
            seen.add(
                httpx.get(url + "/v1/health", headers={"Connection": "close"}, timeout=5).headers[
                    REPLICA_HEADER
                ]
            )
            return len(seen) == 2

        _until(both_answered, "both workers answering")
    finally:
        _stop([proc])


def test_a_process_with_another_audit_key_refuses_to_start(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "hub.key"
    with hub.session() as s:
        audit.append(s, "operator", "agency add", "XX", {})
        s.commit()
        made: AuditKey = audit.create_hub_key(s, key_file)
    monkeypatch.setenv(audit.HUB_KEY_ENV, str(key_file))
    with hub.session() as s:
        audit.check_writer_key(s)  # the last entry predates the key: plain, as this process writes it
        audit.append(s, "operator", "token create", "XX", {})
        s.commit()
        audit.check_writer_key(s)
    assert made.from_sequence == 2
    monkeypatch.delenv(audit.HUB_KEY_ENV)
    with hub.session() as s, pytest.raises(audit.AuditError, match="same audit key"):
        audit.check_writer_key(s)


def test_catchup_reads_in_bounded_rounds(hub: Hub) -> None:
    """Two apps on one database (in-process): the second's catch-up reads what the first committed,
    at most ``rows`` entries per round, until its index holds everything."""
    from tessera.hub.app import CatchUp, create_app
    from tessera.hub.index import HubIndex

    rng = random.Random(19)
    items = [rand_item(rng) for _ in range(10)]
    first = create_app(hub.engine, catchup_interval=None)
    second = create_app(hub.engine, catchup_interval=None)
    with TestClient(first) as c:
        r = c.post(
            "/v1/contributions",
            json={"batch_id": batch_id(items), "items": items},
            headers=auth(hub.tokens["A"]),
        )
        assert r.status_code == 200, r.text
    index = HubIndex(background=False)
    with hub.session() as s:
        assert index.refresh(s, limit=3) == 3 and (index.seq, index.db_seq) == (3, 10)
    state = second.state.hub
    catchup = CatchUp(state, interval=1.0, rows=4)
    assert len(state.index) == 0 and catchup.step() == 10
    assert catchup.rounds == 3 and state.index.seq == state.index.db_seq == 10
    assert catchup.step() == 0  # caught up: one round that finds nothing
    with TestClient(second) as c:
        r = c.post(
            "/v1/query",
            json={"pdq": [flip_bits(items[4]["pdq"], 8)], "pdq_radius": 31},
            headers=auth(hub.tokens["A"]),
        )
    assert [m["sha256"] for m in r.json()["results"][0]["matches"]] == [items[4]["sha256"]]
