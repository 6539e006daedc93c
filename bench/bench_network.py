"""Messaging at scale: parse and store a 1,000,000-message msgstore.db, then analyse the whole network.

    python bench/bench_network.py [--messages 1000000] [--db sqlite|postgresql]

* store: ``tessera ingest`` of a folder holding the generated msgstore.db (50 groups, 5,000 accounts),
  the real CLI end to end (walk, hash, detect, parse, resolve identities, store), against the floor:
  ``sqlite3 -csv`` exporting the same tables to /dev/null, measured in the same run.
  Target: under 60 s.
* reconciliation: what accounting for every row costs (issue 10: under 5 % of the store time): the
  parse alone with the real coverage record against the same parse with a no-op one, plus the
  ``COUNT(*)`` queries the parser runs for each table it accounts for and the pipeline's count of
  stored messages.
* analysis: first posts, roles with evidence, bridges, cross-device accounts and groups, group
  summaries and media spread over the stored network. Target: under 30 s.

Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_msgstore import FLOOR_SQL, dataset  # type: ignore[import-not-found]
from machine import summary as machine  # type: ignore[import-not-found]

from tessera.messaging.coverage import Coverage
from tessera.messaging.whatsapp_db import parse_file
from tessera.network import analysis
from tessera.network.graph import build_graph
from tessera.store.case import open_case

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PG = "postgresql://postgres@127.0.0.1:5432/"


def floor(db: Path) -> float:
    t = time.perf_counter()
    with open("/dev/null", "wb") as null:
        subprocess.run(["sqlite3", "-readonly", "-csv", str(db), FLOOR_SQL], stdout=null, check=True)
    return time.perf_counter() - t


class NullCoverage(Coverage):
    """Accepts every call and keeps nothing: the parse's cost without the accounting."""

    def holds(self, unit: str, n: int) -> None:
        pass

    def parsed(self, unit: str, n: int = 1) -> None:
        pass

    def ignore(self, unit: str, reason: str, locator: str | None = None, n: int = 1) -> None:
        pass

    def skip(self, unit: str, reason: str, locator: str | None = None, n: int = 1) -> None:
        pass


def parse_only(db: Path, coverage: Coverage) -> float:
    t = time.perf_counter()
    for _ in parse_file(db, scratch=OUT / "scratch", coverage=coverage):
        pass
    return time.perf_counter() - t


def count_queries(db: Path, tables: list[str]) -> float:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    t = time.perf_counter()
    for table in tables:
        conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
    took = time.perf_counter() - t
    conn.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    db, _ = dataset(args.messages)
    floor_s = min(floor(db) for _ in range(2))

    case = OUT / "network-case"
    shutil.rmtree(case, ignore_errors=True)
    init = [
        sys.executable,
        "-m",
        "tessera",
        "case",
        "init",
        str(case),
        "--name",
        "bench",
        "--agency",
        "BENCH",
    ]
    if args.db == "postgresql":
        name = f"tessera_bench_{int(time.time())}"
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"', "test"],
            check=True,
        )
        init += ["--db", PG + name]
    subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tessera",
            "ingest",
            str(db.parent),
            "--device",
            "B-01",
            "--kind",
            "phone",
            "--case",
            str(case),
        ],
        capture_output=True,
        text=True,
    )
    store_s = time.perf_counter() - t
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = next(
        (ln.strip() for ln in proc.stdout.splitlines() if "msgstore.db (whatsapp-msgstore)" in ln), ""
    )

    real = Coverage()
    with_cov = min(parse_only(db, c) for c in (real, Coverage()))
    without = min(parse_only(db, NullCoverage()) for _ in range(2))
    tables = [u for u in real.units if u.isidentifier()]
    counts_s = count_queries(db, tables)
    handle0 = open_case(case)
    from sqlalchemy import func, select

    from tessera.store import models as m

    with handle0.session() as s0:
        t = time.perf_counter()
        s0.scalar(select(func.count()).select_from(m.Message).where(m.Message.source_id == 1))
        stored_count_s = time.perf_counter() - t
    handle0.close()
    recon_s = max(0.0, with_cov - without) + counts_s + stored_count_s

    handle = open_case(case)
    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    with handle.session() as s:
        for label, fn in (
            ("first posts", analysis.first_posts),
            ("accounts and roles", analysis.accounts),
            ("bridges", analysis.bridges),
            ("cross-device accounts", analysis.cross_device),
            ("groups", analysis.groups),
            ("media spread", lambda s: list(analysis.media_spread(s))),
            ("graph", build_graph),
        ):
            t = time.perf_counter()
            res = fn(s)
            timings[label] = time.perf_counter() - t
            sizes[label] = res.number_of_nodes() if label == "graph" else len(res)  # type: ignore[union-attr, arg-type]
    total = sum(timings.values())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Messaging at scale — {stamp}",
        f"Machine: {machine()}. Case database: {args.db}. Command: `python bench/bench_network.py "
        + " ".join(sys.argv[1:])
        + "`",
        "",
        f"Generated current-schema msgstore.db: {args.messages:,} messages, 50 groups, 5,000 accounts "
        f"({db.stat().st_size / 1e6:,.0f} MB).",
        "",
        "| step | time | target |",
        "|---|---|---|",
        f"| floor: `sqlite3 -csv` export of the same tables to /dev/null | {floor_s:.1f} s | |",
        f"| `tessera ingest` (walk, hash, parse, resolve identities, store) | **{store_s:.1f} s** "
        f"({args.messages / store_s:,.0f} messages/s, {store_s / floor_s:.1f}x the floor) | < 60 s |",
        f"| reconciliation (coverage calls {max(0.0, with_cov - without):.2f} s, COUNT(*) of "
        f"{len(tables)} tables {counts_s:.2f} s, stored-message count {stored_count_s:.2f} s) | "
        f"**{recon_s:.2f} s = {100 * recon_s / store_s:.1f} %** of the store time | < 5 % |",
        f"| whole-network analysis (all steps below) | **{total:.1f} s** | < 30 s |",
    ]
    lines += [f"| &nbsp; {k} ({sizes[k]:,} results) | {v:.2f} s | |" for k, v in timings.items()]
    lines += [
        "",
        f"Ingest summary line: `{summary}`",
        f"Parse alone: {with_cov:.1f} s with the coverage record, {without:.1f} s with a no-op one.",
    ]
    text = "\n".join(lines) + "\n"
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
