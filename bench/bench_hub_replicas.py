"""Hub replicas on loopback: how long until an entry pushed through one hub process is matchable on all.

    python bench/bench_hub_replicas.py                       # 3 replicas, 30 pushes per phase
    python bench/bench_hub_replicas.py --pushes 50 --preload 100000 --record

Starts ``--replicas`` separate ``tessera hub serve`` processes on one fresh PostgreSQL database
(created and dropped here), preloads ``--preload`` entries through the API, then pushes one new PDQ
entry at a time through a random replica, at a random moment (0 to ``--interval`` s after the last),
and measures from the push's answer (the entry is committed) until every other replica has it:

- *background*: only ``GET /v1/admin/replica`` is polled (it never refreshes the index), so this is
  the catch-up thread alone, the bound for a replica no query reaches; each replica is then asked
  once, by PDQ (8 bits off) and by SHA-256, and must match;
- *queries*: the replicas are asked by PDQ and SHA-256 until they match (a query also refreshes the
  index, at most four times a second), which is what an agency sees.

Reports median, p95 and max per phase; ``--record`` appends them to bench/RESULTS.md with the machine,
date and load average.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import summary  # noqa: E402
from tessera.hub.auth import add_agency, create_token  # noqa: E402
from tessera.hub.client import batch_id  # noqa: E402
from tessera.hub.db import open_hub, sessions  # noqa: E402

ADMIN = os.environ.get("TESSERA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
POLL_S = 0.01
GIVE_UP_S = 60.0


def rhex(rng: random.Random, n: int) -> str:
    return rng.getrandbits(n * 8).to_bytes(n, "big").hex()


def item(rng: random.Random) -> dict[str, Any]:
    return {
        "sha256": rhex(rng, 32),
        "md5": rhex(rng, 16),
        "sha1": rhex(rng, 20),
        "pdq": rhex(rng, 32),
        "pdq_quality": 100,
        "category": rng.choice([1, 2, 3]),
        "profile": "vics-us",
    }


def near(pdq: str) -> str:
    value = int(pdq, 16)
    for bit in range(8):
        value ^= 1 << (bit * 31)
    return f"{value:064x}"


class Hubs:
    """``n`` hub processes on one database; ``close`` stops them."""

    def __init__(self, url: str, n: int, interval: float, port: int) -> None:
        self.urls = [f"http://127.0.0.1:{port + i}" for i in range(n)]
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tessera", "hub", "serve", "--db", url, "--port", str(port + i)]
                + ["--replica-name", f"r{i}", "--catchup-interval", str(interval)],
                env=env,
            )
            for i in range(n)
        ]
        self.client = httpx.Client(timeout=60)
        for u, p in zip(self.urls, self.procs, strict=True):
            deadline = time.monotonic() + 120
            while True:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hub process for {u} did not start")
                try:
                    if self.client.get(u + "/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)

    def close(self) -> None:
        self.client.close()
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def until(check: Callable[[], bool]) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > GIVE_UP_S:
            raise RuntimeError(f"not caught up within {GIVE_UP_S} s")
        time.sleep(POLL_S)
    return time.monotonic() - start


def run_phase(
    hubs: Hubs, tokens: dict[str, str], rng: random.Random, pushes: int, interval: float, background: bool
) -> tuple[list[float], list[float]]:
    """(catch-up seconds, push seconds) per push."""
    c, user, admin = hubs.client, {"Authorization": f"Bearer {tokens['A']}"}, tokens["admin"]
    adm = {"Authorization": f"Bearer {admin}"}

    def matches(u: str, it: dict[str, Any]) -> bool:
        body = {"pdq": [near(it["pdq"])], "sha256": [it["sha256"]], "pdq_radius": 31}
        r = c.post(u + "/v1/query", json=body, headers=user)
        r.raise_for_status()
        return all(any(m["sha256"] == it["sha256"] for m in res["matches"]) for res in r.json()["results"])

    def seq(u: str) -> int:
        r = c.get(u + "/v1/admin/replica", headers=adm)
        r.raise_for_status()
        return int(r.json()["index_seq"])

    catchup, push_s = [], []
    for _ in range(pushes):
        time.sleep(rng.uniform(0, interval))  # land anywhere in the replicas' catch-up cycle
        origin = rng.randrange(len(hubs.urls))
        it = item(rng)
        t = time.monotonic()
        r = c.post(
            hubs.urls[origin] + "/v1/contributions",
            json={"batch_id": batch_id([it]), "items": [it]},
            headers=user,
        )
        r.raise_for_status()
        push_s.append(time.monotonic() - t)
        t = time.monotonic()
        others = [u for i, u in enumerate(hubs.urls) if i != origin]
        if background:
            target = seq(hubs.urls[origin])
            pending = set(others)
            while pending:
                pending = {u for u in pending if seq(u) < target}
                if time.monotonic() - t > GIVE_UP_S:
                    raise RuntimeError("a replica did not catch up")
                if pending:
                    time.sleep(POLL_S)
            catchup.append(time.monotonic() - t)
            if not all(matches(u, it) for u in others):
                raise RuntimeError("caught up by sequence number but the entry does not match")
        else:
            pending = set(others)
            while pending:
                pending = {u for u in pending if not matches(u, it)}
                if time.monotonic() - t > GIVE_UP_S:
                    raise RuntimeError("a replica did not match the entry")
                if pending:
                    time.sleep(POLL_S)
            catchup.append(time.monotonic() - t)
    return catchup, push_s


def stats(xs: list[float]) -> str:
    s = sorted(xs)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return f"{statistics.median(s):.2f} | {p95:.2f} | {s[-1]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--pushes", type=int, default=30, help="pushes per phase")
    ap.add_argument("--preload", type=int, default=10_000, help="entries pushed before measuring")
    ap.add_argument("--interval", type=float, default=1.0, help="the replicas' --catchup-interval")
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    load_start = os.getloadavg()

    name = f"tessera_bench_rep_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    hubs = None
    rng = random.Random(args.seed)
    try:
        engine = open_hub(url, create=True)
        with sessions(engine)() as s:
            add_agency(s, "A", "Agency A")
            tokens = {
                "A": create_token(s, "A", ["contribute", "query"])[1],
                "admin": create_token(s, "A", ["admin"])[1],
            }
            s.commit()
        engine.dispose()
        hubs = Hubs(url, args.replicas, args.interval, args.port)
        for start in range(0, args.preload, 5000):  # spread over the replicas, like agencies would
            batch = [item(rng) for _ in range(min(5000, args.preload - start))]
            u = hubs.urls[(start // 5000) % len(hubs.urls)]
            r = hubs.client.post(
                u + "/v1/contributions",
                json={"batch_id": batch_id(batch), "items": batch},
                headers={"Authorization": f"Bearer {tokens['A']}"},
            )
            r.raise_for_status()
        time.sleep(2 * args.interval)
        bg, bg_push = run_phase(hubs, tokens, rng, args.pushes, args.interval, background=True)
        q, q_push = run_phase(hubs, tokens, rng, args.pushes, args.interval, background=False)
    finally:
        if hubs is not None:
            hubs.close()
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    load_end = os.getloadavg()
    lines = [
        f"{args.replicas} hub processes (`tessera hub serve --catchup-interval {args.interval:g}`) on one"
        f" PostgreSQL 15 database on 127.0.0.1, {args.preload:,} entries preloaded; {args.pushes} pushes of"
        " one new PDQ entry per phase, each through a random replica at a random moment. Catch-up: seconds"
        " from the push's answer until every other replica matches the entry (PDQ 8 bits off, SHA-256).",
        "",
        "| phase | median s | p95 s | max s | push answer, median |",
        "|---|---|---|---|---|",
        f"| background catch-up alone (only the status endpoint polled) | {stats(bg)} |"
        f" {statistics.median(bg_push) * 1000:.0f} ms |",
        f"| queries polling every {POLL_S * 1000:.0f} ms (a query also refreshes, at most 4/s) | {stats(q)} |"
        f" {statistics.median(q_push) * 1000:.0f} ms |",
        "",
        f"Load average (1/5/15 min) at the start {'/'.join(f'{x:.2f}' for x in load_start)}, at the end"
        f" {'/'.join(f'{x:.2f}' for x in load_end)} ({os.cpu_count()} cores, shared with other work).",
    ]
    out = "\n".join(lines)
    print(out)
    if args.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        cmd = " ".join(sys.argv[1:])
        with open(Path(__file__).with_name("RESULTS.md"), "a", encoding="utf-8") as fh:
            fh.write(
                f"\n## Hub replicas: catch-up — {stamp}\nMachine: {summary()}."
                f" Command: `python bench/bench_hub_replicas.py {cmd}`\n\n{out}\n"
            )


if __name__ == "__main__":
    main()
