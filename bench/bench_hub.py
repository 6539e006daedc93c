"""Hub benchmarks on loopback (random hashes only; everything stops by itself).

    python bench/bench_hub.py --entries 1000000            # query + push + time-to-matchable
    python bench/bench_hub.py --load --seconds 60          # 8 agencies pushing and querying
    python bench/bench_hub.py --db URL --push 1000000      # reuse a hub database loaded earlier

The hub database is a fresh PostgreSQL database on 127.0.0.1 (created and dropped here). The server
runs as a separate process (``tessera hub serve``) so the clients do not share its interpreter.
Results are appended to bench/RESULTS.md with --record.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import summary  # noqa: E402
from tessera.hub import models as hm  # noqa: E402
from tessera.hub.auth import add_agency, create_token  # noqa: E402
from tessera.hub.db import open_hub, sessions  # noqa: E402

ADMIN = os.environ.get("TESSERA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


def make_db() -> tuple[str, Any]:
    name = f"tessera_bench_hub_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def setup(url: str, agencies: int) -> list[str]:
    engine = open_hub(url, create=True)
    tokens = []
    with sessions(engine)() as s:
        for i in range(agencies):
            add_agency(s, f"A{i:02d}", f"Agency {i}")
            tokens.append(create_token(s, f"A{i:02d}", ["contribute", "query"])[1])
        s.commit()
    engine.dispose()
    return tokens


def bulk_load(url: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """COPY ``n`` entries (each with one contribution) straight into the hub tables; returns a sample."""
    sample: list[dict[str, Any]] = []
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        chunk = 200_000
        for start in range(0, n, chunk):
            buf = io.StringIO()
            for i in range(start, min(n, start + chunk)):
                it = item(rng)
                if len(sample) < 20_000 and rng.random() < 0.01:
                    sample.append(it)
                buf.write(
                    f"{i + 1}\t{it['sha256']}\t{it['md5']}\t{it['sha1']}\t{it['pdq']}\t100\t"
                    f"{it['category']}\tvics-us\tf\tf\t1\t{i + 1}\t2026-01-01T00:00:00Z\n"
                )
            buf.seek(0)
            with cur.copy(
                "COPY hub_entry (id, sha256, md5, sha1, pdq, pdq_quality, category, profile, conflict,"
                " withdrawn, contributions, seq, updated_at) FROM STDIN"
            ) as cp:
                cp.write(buf.getvalue())
            cur.execute(
                "INSERT INTO hub_contribution (entry_id, agency_id, category, profile, withdrawn, updated_at)"
                " SELECT id, 1, category, profile, false, updated_at FROM hub_entry"
                " WHERE id > %s AND id <= %s",
                (start, start + chunk),
            )
            conn.commit()
            print(f"  loaded {min(n, start + chunk):,}", file=sys.stderr)
        cur.execute("SELECT setval(pg_get_serial_sequence('hub_entry','id'), %s)", (n,))
        cur.execute("UPDATE hub_counter SET value = %s WHERE name = 'seq'", (n,))
        cur.execute("ANALYZE")
        conn.commit()
    return sample


def attach(url: str) -> tuple[list[str], list[dict[str, Any]], int]:
    """New tokens for agencies A00 and A01 of a hub loaded earlier, a sample of its entries, its size."""
    engine = open_hub(url)
    with sessions(engine)() as s:
        tokens = [create_token(s, code, ["contribute", "query"])[1] for code in ("A00", "A01")]
        s.commit()
        n = s.scalar(text("SELECT count(*) FROM hub_entry")) or 0
        pct_rows = min(100.0, 100.0 * 40_000 / max(n, 1))
        rows = s.execute(
            text(f"SELECT md5, pdq FROM hub_entry TABLESAMPLE SYSTEM ({pct_rows:.4f}) WHERE pdq IS NOT NULL")
        ).all()
    engine.dispose()
    return tokens, [{"md5": md5, "pdq": pdq} for md5, pdq in rows[:20_000]], int(n)


def serve(url: str, port: int, key: Path | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("TESSERA_HUB_AUDIT_KEY", None)
    if key is not None:  # the keyed (anchorable) audit log: every entry MACed with the hub's key
        env["TESSERA_HUB_AUDIT_KEY"] = str(key)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tessera",
            "hub",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--rate",
            "100000",
            "--burst",
            "100000",
        ],
        env=env,
    )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start")


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else 0.0


def bench_query(base: str, token: str, sample: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    rng = random.Random(7)
    lat: list[float] = []
    hashes = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        end = time.monotonic() + seconds
        t_all = time.perf_counter()
        while time.monotonic() < end:
            known = rng.sample(sample, 25)
            body = {
                "md5": [k["md5"] for k in known],
                "sha256": [rhex(rng, 32) for _ in range(25)],
                "pdq": [k["pdq"] for k in rng.sample(sample, 25)] + [rhex(rng, 32) for _ in range(25)],
            }
            t = time.perf_counter()
            r = c.post("/v1/query", json=body)
            lat.append(time.perf_counter() - t)
            r.raise_for_status()
            hashes += 100
        wall = time.perf_counter() - t_all
    return {
        "hashes_per_s": hashes / wall,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "requests": len(lat),
    }


def bench_push(base: str, token: str, n: int) -> float:
    from tessera.hub.client import HubClient

    rng = random.Random(99)
    t = time.perf_counter()
    with HubClient(base, token) as c:
        c.push((item(rng) for _ in range(n)), batch_size=5000)
    return time.perf_counter() - t


def matchable_after(base: str, token: str) -> float:
    from tessera.hub.client import HubClient

    it = item(random.Random(time.time_ns()))
    with HubClient(base, token) as c:
        t = time.perf_counter()
        c.push([it])
        while not c.query({"pdq": [it["pdq"]]})[0]["matches"]:
            time.sleep(0.01)
        return time.perf_counter() - t


def load_test(base: str, tokens: list[str], seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    pushed: set[str] = set()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def agency(k: int, token: str) -> None:
        nonlocal errors
        rng = random.Random(k)
        mine: list[dict[str, Any]] = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            n = 0
            while time.monotonic() < end:
                n += 1
                if n % 2:
                    batch = [item(rng) for _ in range(100)]
                    req = (
                        "/v1/contributions",
                        {"batch_id": f"a{k}-{n}-{rng.getrandbits(32)}", "items": batch},
                    )
                else:
                    known = [i["md5"] for i in rng.sample(mine, min(50, len(mine)))]
                    req = ("/v1/query", {"md5": known, "pdq": [rhex(rng, 32) for _ in range(50)]})
                t = time.perf_counter()
                try:
                    r = c.post(req[0], json=req[1])
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    lat.append(time.perf_counter() - t)
                    if not ok:
                        errors += 1
                    elif req[0] == "/v1/contributions":
                        mine.extend(batch)
                        pushed.update(i["sha256"] for i in batch)

    threads = [threading.Thread(target=agency, args=(k, tok)) for k, tok in enumerate(tokens)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    wall = time.perf_counter() - t0
    return {
        "requests": len(lat),
        "rps": len(lat) / wall,
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
        "errors": errors,
        "pushed": len(pushed),
    }


def load_row(url: str, port: int, seconds: float, *, keyed: bool) -> str:
    """One load test on a fresh hub database; ``keyed``: the audit log MACed with a hub key (0600 file),
    and the log verified with that key afterwards."""
    import tempfile

    from tessera.hub.audit import create_hub_key, hub_key, verify_all

    tokens = setup(url, 8)
    key_dir = tempfile.mkdtemp(prefix="tessera-bench-key-")
    key = Path(key_dir) / "hub-audit.key" if keyed else None
    if key is not None:
        engine = open_hub(url)
        with sessions(engine)() as s:
            create_hub_key(s, key)
        engine.dispose()
    proc = serve(url, port, key)
    try:
        res = load_test(f"http://127.0.0.1:{port}", tokens, seconds)
    finally:
        proc.terminate()
        proc.wait(60)
    stored = count_entries(url)
    check = "ok" if stored == res["pushed"] else "MISMATCH"
    audit = "plain hash chain"
    if key is not None:
        engine = open_hub(url)
        with sessions(engine)() as s:
            done = verify_all(s, hub_key(key), find_key=False)
            entries = done.entries
        engine.dispose()
        audit = f"keyed (HMAC-SHA256), {entries:,} entries verified"
    return (
        f"| {audit} | {res['requests']:,} | {res['rps']:.1f} | {res['p50_ms']:.1f} ms |"
        f" {res['p99_ms']:.1f} ms | {res['errors']} | {res['pushed']:,} / {stored:,} ({check}) |"
    )


def count_entries(url: str) -> int:
    engine = open_hub(url)
    with sessions(engine)() as s:
        from sqlalchemy import func, select

        n = s.scalar(select(func.count()).select_from(hm.Entry)) or 0
    engine.dispose()
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--push", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--db", help="a hub database bulk-loaded earlier (kept): skips the bulk load")
    ap.add_argument(
        "--audit-ab",
        action="store_true",
        help="with --load: run the load test twice, audit unkeyed then keyed (each on a fresh database)",
    )
    args = ap.parse_args()
    load_start = os.getloadavg()[0]
    if args.db:
        url, drop = args.db, lambda: None
    else:
        url, drop = make_db()
    proc = None
    lines: list[str] = []
    try:
        if args.load:
            header = [
                f"Load test: 8 agencies pushing (100 items) and querying (100 hashes)"
                f" for {args.seconds:.0f} s.",
                "",
                "| hub audit log | requests | requests/s | p50 | p99 | errors | pushed / stored entries |",
                "|---|---|---|---|---|---|---|",
            ]
            lines = header + [load_row(url, args.port, args.seconds, keyed=False)]
            if args.audit_ab:
                url2, drop2 = make_db()
                try:
                    lines.append(load_row(url2, args.port, args.seconds, keyed=True))
                finally:
                    drop2()
        else:
            t = time.perf_counter()
            if args.db:
                tokens, sample, args.entries = attach(url)
                loaded = "loaded earlier (`--db`)"
            else:
                tokens = setup(url, 2)
                sample = bulk_load(url, args.entries, random.Random(1))
                loaded = f"bulk load {time.perf_counter() - t:.0f} s"
            t = time.perf_counter()
            proc = serve(url, args.port)
            start_s = time.perf_counter() - t
            base = f"http://127.0.0.1:{args.port}"
            bench_query(base, tokens[1], sample, 3)  # warm-up (index tables built on first search)
            q = bench_query(base, tokens[1], sample, args.seconds)
            push_s = bench_push(base, tokens[0], args.push)
            server_rss = rss_mib(proc.pid)
            match_s = matchable_after(base, tokens[0])
            q2 = bench_query(base, tokens[1], sample, 10)
            lines = [
                f"Hub holding {args.entries:,} bulk-loaded entries (all with PDQ); {loaded},"
                f" server start with PDQ index load {start_s:.0f} s.",
                "",
                "| measure | result | target |",
                "|---|---|---|",
                f"| query, batches of 100 (25 MD5 known, 25 SHA-256 unknown, 25 PDQ known, 25 PDQ unknown) |"
                f" **{q['hashes_per_s']:,.0f} hashes/s**, p50 {q['p50_ms']:.1f} ms, p99 {q['p99_ms']:.1f} ms"
                f" ({q['requests']:,} requests) | >= 2,000/s, p99 < 100 ms |",
                f"| push {args.push:,} entries (batches of 5,000, one client) | **{push_s:.0f} s**"
                f" ({args.push / push_s:,.0f}/s) | < 300 s for 1,000,000 |",
                f"| newly pushed entry matchable by PDQ | **{match_s * 1000:.0f} ms** | < 5 s |",
                f"| query again after the push ({args.entries + args.push:,} entries) |"
                f" {q2['hashes_per_s']:,.0f} hashes/s, p99 {q2['p99_ms']:.1f} ms | |",
                f"| hub server resident memory after the push | {server_rss:,.0f} MiB | |",
            ]
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        drop()
    # The machine is shared: say how busy it was (2 cores: a load of 2 means both were in use).
    lines += ["", f"Load average (1 min) at the start {load_start:.2f}, at the end {os.getloadavg()[0]:.2f}."]
    text_out = "\n".join(lines)
    print(text_out)
    if args.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        cmd = " ".join(sys.argv[1:])
        with open(Path(__file__).with_name("RESULTS.md"), "a", encoding="utf-8") as fh:
            fh.write(
                f"\n## Hub — {stamp}\nMachine: {summary()}. Hub database: PostgreSQL 15 on 127.0.0.1."
                f" Command: `python bench/bench_hub.py {cmd}`\n\n{text_out}\n"
            )


if __name__ == "__main__":
    main()
