"""The single writer alone: how many files per second one ingest's writer can store, per database.

    python bench/bench_writer.py [--files 20000] [--pg postgresql://postgres@127.0.0.1:5432/test]
                                 [--processes 1,2] [--record]

No hashing in the timings: the records are those of bench_scaling.py's generated phone trees (640x480
JPEGs with PDQ and EXIF, archive members, small app files), hashed once and cached, then replayed with
fresh digests (every file new content: the writer's worst case, a new media row each) into the
pipeline's own writer (``tessera.ingest.pipeline._Writer``: ``add`` per file, a flush per
``FLUSH_FILES`` files or ``FLUSH_SECONDS``: insert-or-ignore media, EXIF and file rows, match against
the case's hash sets, commit).
The case holds the same known set as bench_scaling (20,002 entries).

For each database (SQLite in the case directory; PostgreSQL in a database made for the run and
dropped after) it measures one writer, then several writer processes at once (different devices, one
case), as several ``tessera`` processes sharing a PostgreSQL case would. Reported: files/s (wall), the
writer thread's CPU per 1,000 files and, for PostgreSQL, the server's backend CPU per 1,000 files
(from /proc, the backends of this database only): dividing a machine's cores by these gives where the
writer process and the server saturate. ``--record`` appends a section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import resource
import secrets
import shutil
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_scaling as scaling  # type: ignore[import-not-found]
from machine import summary as machine  # type: ignore[import-not-found]
from sqlalchemy import create_engine, text

import tessera
from tessera.evidence import Limits, iter_evidence
from tessera.ingest import pipeline
from tessera.ingest.executors import LocalExecutor
from tessera.ingest.importer import import_hashset
from tessera.ingest.matcher import CaseMatcher, case_default_threshold
from tessera.records import EvidenceItem, MediaRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case, normalise_url, open_case

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "writer"
Pair = tuple[EvidenceItem, MediaRecord | None]


def hashed_records(devices: int) -> list[Pair]:
    """bench_scaling's devices walked and hashed once (cached): (item without its bytes, record)."""
    cache = OUT / f"records-{devices}.pickle"
    if cache.exists():
        with cache.open("rb") as fh:
            return list(pickle.load(fh))
    roots, _ = scaling.make_devices(devices, 500, 1500)
    items = [i for root in roots for i in iter_evidence(root, Limits(scratch_dir=OUT))]
    pool = LocalExecutor(2)
    work = [(n, i.opener) for n, i in enumerate(items) if i.opener is not None]
    chunks = [work[k : k + 64] for k in range(0, len(work), 64)]
    recs: dict[int, MediaRecord | None] = {}
    for fut in [pool.submit(pipeline.hash_batch, c, True) for c in chunks]:
        for idx, rec, _ in fut.result():
            recs[idx] = rec
    pool.close()
    pairs = [(replace(i, opener=None), recs.get(n)) for n, i in enumerate(items)]
    with cache.open("wb") as fh:
        pickle.dump(pairs, fh)
    return pairs


def fresh(pairs: list[Pair], n: int, tag: str) -> list[Pair]:
    """n files cycled from the real records, each with new digests (new content) and its own locator."""
    out = []
    for k in range(n):
        item, rec = pairs[k % len(pairs)]
        item = replace(
            item, locator=f"/{tag}/{k}{item.locator}", raw_path=f"/{tag}/{k}".encode() + item.raw_path
        )
        if rec is not None:
            rec = replace(
                rec, sha256=secrets.token_hex(32), sha1=secrets.token_hex(20), md5=secrets.token_hex(16)
            )
        out.append((item, rec))
    return out


class BackendCpu:
    """CPU seconds the PostgreSQL backends of one database spend from now on (server on this machine).

    Polls pg_stat_activity and /proc every 0.1 s from a connection to another database: a backend's
    CPU counts from the first poll (or from its start, if it connects later) to the last poll it was
    seen in, so at most one interval of a closing backend's work is missed.
    """

    def __init__(self, admin_url: str, database: str) -> None:
        self.engine = create_engine(admin_url)
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> None:
        with self.engine.connect() as c:
            pids = c.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": self.database}
            )
            for (pid,) in pids:
                try:
                    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                        f = fh.read().rsplit(")", 1)[1].split()
                except FileNotFoundError:
                    continue
                cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
                self.first.setdefault(pid, cpu if not self.started else 0.0)
                self.last[pid] = cpu
        self.started = True

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def __enter__(self) -> BackendCpu:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last)


def write_device(
    case_dir: str, device: str, pairs: list[Pair], start_at: float
) -> tuple[float, float, float]:
    """One writer storing one device's files, as the pipeline's writer does: (start, end, CPU of this
    process, all its threads)."""
    case = open_case(Path(case_dir))
    with case.session() as s:
        s.add(m.Device(id=device, kind="phone", source_path=f"/evidence/{device}"))
        run = m.IngestRun(
            device_id=device, source_path=f"/evidence/{device}", tool_version=tessera.__version__
        )
        s.add(run)
        s.commit()
        run_id = run.id
        matcher = CaseMatcher(case_default_threshold(s)).load(s)
    result = pipeline.IngestResult(run_id=run_id)
    writer = pipeline._Writer(case, device, run_id, matcher, result, None)
    while time.time() < start_at:  # writer processes start together
        time.sleep(0.005)
    t, c = time.time(), own_cpu()
    for item, rec in pairs:
        writer.add(item, rec, None)
    writer.flush()  # stores what is left and waits for it
    end, cpu = time.time(), own_cpu() - c
    if hasattr(writer, "close"):
        writer.close()
    assert result.files_new == len(pairs), (result.files_new, len(pairs))
    assert result.media_new == sum(1 for _, rec in pairs if rec is not None)  # all stored as new content
    case.close()
    return t, end, cpu


def own_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _proc(args: tuple[str, str, list[Pair], float]) -> tuple[float, float, float]:
    return write_device(*args)


def measure(
    case: CaseHandle, pairs: list[Pair], n: int, procs: int, tag: str, pg: tuple[str, str] | None
) -> dict[str, float]:
    work = [(str(case.directory), f"{tag}-{p}", fresh(pairs, n, f"{tag}-{p}")) for p in range(procs)]
    start_at = time.time() + 3.0  # after the workers' imports and matcher loads
    ctx = multiprocessing.get_context("spawn")  # no forked SQLAlchemy engines or faiss threads
    server: BackendCpu | None = None
    with ctx.Pool(procs) as pool:
        result = pool.map_async(_proc, [(d, dev, p, start_at) for d, dev, p in work])
        if pg is not None:
            time.sleep(max(0.0, start_at - time.time() - 0.2))  # the backends exist, the clock not started
            server = BackendCpu(*pg).__enter__()
        spans = result.get(timeout=600)
        if server is not None:
            server.__exit__()
    wall = max(span[1] for span in spans) - min(span[0] for span in spans)
    return {
        "files": n * procs,
        "wall": wall,
        "rate": n * procs / wall,
        "client_cpu": sum(span[2] for span in spans),
        "server_cpu": server.seconds if server is not None else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20_000, help="files per writer")
    ap.add_argument("--devices", type=int, default=4, help="bench_scaling devices whose records are replayed")
    ap.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="server to make a database on"
    )
    ap.add_argument(
        "--processes", default="1,2", help="writer processes at once, one list entry per measurement"
    )
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    scaling.OUT.mkdir(parents=True, exist_ok=True)
    pairs = hashed_records(args.devices)
    _, known_images = scaling.make_devices(args.devices, 500, 1500)
    known = scaling.known_set(known_images)
    counts = [int(x) for x in args.processes.split(",")]
    load = os.getloadavg()[0]
    results: list[dict[str, Any]] = []
    admin = create_engine(normalise_url(args.pg), isolation_level="AUTOCOMMIT")
    pg_db = f"tessera_writer_{os.getpid()}"
    try:
        for r in range(1, args.rounds + 1):
            for db in ("sqlite", "postgresql"):
                case_dir = OUT / f"case-{db}"
                shutil.rmtree(case_dir, ignore_errors=True)
                url = None
                if db == "postgresql":
                    with admin.connect() as c:
                        c.execute(text(f'DROP DATABASE IF EXISTS "{pg_db}"'))
                        c.execute(text(f'CREATE DATABASE "{pg_db}"'))
                    url = normalise_url(args.pg).rsplit("/", 1)[0] + "/" + pg_db
                case = init_case(case_dir, "writer bench", "BENCH", db_url=url)
                import_hashset(case, known, name="known")
                for procs in counts:
                    pg = (normalise_url(args.pg), pg_db) if url else None
                    res: dict[str, Any] = dict(measure(case, pairs, args.files, procs, f"r{r}p{procs}", pg))
                    res.update(db=db, procs=procs, round=r, load=os.getloadavg()[0])
                    results.append(res)
                    print(
                        f"round {r} {db} x{procs}: {res['rate']:,.0f} files/s ({res['files']:,} in "
                        f"{res['wall']:.1f} s), writer CPU {res['client_cpu']:.1f} s, server "
                        f"{res['server_cpu']:.1f} s, load {res['load']:.1f}",
                        flush=True,
                    )
                case.close()
                shutil.rmtree(case_dir, ignore_errors=True)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
        admin.dispose()
    report(args, results, load, len(pairs))


def server(x: dict[str, Any]) -> str:
    return f"{1000 * x['server_cpu'] / x['files']:.2f} s" if x["db"] == "postgresql" else "(in the writer)"


def report(args: argparse.Namespace, results: list[dict[str, Any]], load: float, n_records: int) -> None:
    rows = [
        f"| {x['round']} | {x['db']} | {x['procs']} | {x['load']:.1f} | {x['files']:,} | {x['wall']:.1f} s "
        f"| **{x['rate']:,.0f}** | {1000 * x['client_cpu'] / x['files']:.2f} s "
        f"| {server(x)} |"
        for x in results
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text_ = "\n".join(
        [
            f"\n## Single writer alone: files stored per second, SQLite and PostgreSQL — {stamp}",
            f"Machine: {machine()}; load average {load:.1f} at the start, per run in the table (other "
            "sessions share these 2 cores). PostgreSQL 15 on 127.0.0.1 (same machine). Command: "
            "`python bench/bench_writer.py " + " ".join(sys.argv[1:]) + "`",
            "",
            f"No hashing: {n_records:,} records of bench_scaling.py's devices (hashed once) replayed with "
            "fresh digests, so every file is new content (a media row, EXIF where the photo had it, PDQ "
            "matched against the 20,002-entry known set), through the pipeline's `_Writer` (flush per "
            f"{pipeline.FLUSH_FILES:,} files or {pipeline.FLUSH_SECONDS:g} s). Several processes: one "
            "writer each, different devices, one case, started together. The writer as of this run "
            + (
                "stores on a thread of its own (`_Writer._store`)."
                if hasattr(pipeline._Writer, "_store")
                else "stores on the thread that hands it the records."
            ),
            "",
            "| round | database | writer processes | load | files | wall | files/s | writer process CPU "
            "per 1,000 files | server CPU per 1,000 files |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(text_)
    if args.record:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(text_)


if __name__ == "__main__":
    main()
