"""The case timeline at scale: stream every event of a large case to CSV, and page deep into it.

    python bench/bench_timeline.py [--messages 1000000] [--pictures 200000] [--db sqlite|postgresql]

The case is filled directly through the store (not ingest: this measures the timeline, not parsing):
one chat of ``--messages`` messages (one in five a post), ``--pictures`` pictures each with a file
(mtime and crtime) and, for half of them, an EXIF capture time (a tenth with GPS). Measured: the full
``tessera timeline --format csv`` (a child process: wall time and peak RSS), a first and a deep
workstation page (keyset: the cost must not grow with depth), and ``tessera places --format geojson``.
Results are appended to bench/RESULTS.md with ``--record``.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from machine import summary as machine  # type: ignore[import-not-found]
from sqlalchemy import insert

from tessera.store import models as m
from tessera.store.case import init_case
from tessera.timeline import events as E

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "timeline"
PG = "postgresql://postgres@127.0.0.1:5432/"
CHUNK = 20000


def fill(case_dir: Path, n_msg: int, n_pic: int, db_url: str | None) -> None:
    handle = init_case(case_dir, "Bench timeline", "XX", db_url)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    shas = [hashlib.sha256(b"pic%d" % k).hexdigest() for k in range(n_pic)]
    with handle.session() as s:
        s.add(m.Device(id="D1", kind="phone"))
        s.add(m.Chat(id=1, platform="whatsapp", key="g1@g.us", title="Group 1"))
        s.add_all(m.Account(id=k + 1, platform="whatsapp", key=f"+3461{k:07d}") for k in range(1000))
        s.flush()
        s.add(
            m.MessagingSource(id=1, device_id="D1", locator="/msgstore.db", parser="bench", status="complete")
        )
        s.flush()
        for a in range(0, n_pic, CHUNK):
            s.execute(
                insert(m.Media),
                [
                    {
                        "sha256": shas[k],
                        "md5": shas[k][:32],
                        "sha1": shas[k][:40],
                        "size": 1000,
                        "kind": "image",
                        "exif_time": (t0 + timedelta(minutes=7 * k)).strftime("%Y:%m:%d %H:%M:%S")
                        if k % 2
                        else None,
                        "gps_lat": (k % 160) - 80.0 if k % 10 == 1 else None,
                        "gps_lon": (k % 340) - 170.0 if k % 10 == 1 else None,
                    }
                    for k in range(a, min(n_pic, a + CHUNK))
                ],
            )
            s.execute(
                insert(m.File),
                [
                    {
                        "device_id": "D1",
                        "locator": f"/DCIM/{k}.jpg",
                        "raw_path": b"x",
                        "sha256": shas[k],
                        "mtime": (t0 + timedelta(minutes=5 * k)).timestamp(),
                        "crtime": (t0 + timedelta(minutes=5 * k - 1)).timestamp(),
                    }
                    for k in range(a, min(n_pic, a + CHUNK))
                ],
            )
        for a in range(0, n_msg, CHUNK):
            s.execute(
                insert(m.Message),
                [
                    {
                        "device_id": "D1",
                        "source_id": 1,
                        "locator": f"/msgstore.db#message/{k}",
                        "chat_id": 1,
                        "sender_id": k % 1000 + 1,
                        "time": t0 + timedelta(seconds=30 * k),
                        "kind": "text",
                        "text": None if k % 5 == 0 else f"message {k}",
                        "media_sha256": shas[k % n_pic] if k % 5 == 0 else None,
                    }
                    for k in range(a, min(n_msg, a + CHUNK))
                ],
            )
        s.commit()
    handle.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--pictures", type=int, default=200_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    case_dir = OUT / "case"
    db_url = None
    if a.db == "postgresql":
        import psycopg

        name = "bench_timeline"
        with psycopg.connect(PG + "postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
        db_url = PG + name
    t = time.perf_counter()
    fill(case_dir, a.messages, a.pictures, db_url)
    fill_s = time.perf_counter() - t
    lines = []
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "tessera", "timeline", "--format", "csv", "--out", str(OUT / "t.csv"),
         "--case", str(case_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    full_s = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    n_events = sum(1 for _ in (OUT / "t.csv").open()) - 1
    from tessera.store.case import open_case

    handle = open_case(case_dir)
    with handle.session() as s:
        t = time.perf_counter()
        _rows, cur = E.page(s, None, None, 100)
        first_ms = (time.perf_counter() - t) * 1000
        deep = None
        for k, (c, _e) in enumerate(E.stream(s)):
            if k == int(n_events * 0.9):
                deep = c
                break
        t = time.perf_counter()
        rows, _ = E.page(s, None, deep, 100)
        deep_ms = (time.perf_counter() - t) * 1000
        assert len(rows) == 100
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tessera", "places", "--format", "geojson", "--out", str(OUT / "p.geojson"),
         "--case", str(case_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    places_s = time.perf_counter() - t
    lines.append(
        f"Case: {a.messages:,} messages, {a.pictures:,} pictures ({a.db}); filled in {fill_s:.0f} s."
    )
    lines.append("")
    lines.append("| measure | value |")
    lines.append("|---|---|")
    lines.append(f"| `tessera timeline --format csv`: events | {n_events:,} |")
    lines.append(f"| ... wall time | {full_s:.1f} s ({n_events / full_s:,.0f} events/s) |")
    lines.append(f"| ... peak RSS of the process | {rss:.0f} MiB |")
    lines.append(f"| workstation page 1 (100 events) | {first_ms:.0f} ms |")
    lines.append(f"| workstation page at 90 % depth (100 events) | {deep_ms:.0f} ms |")
    lines.append(f"| `tessera places --format geojson` ({a.pictures // 10:,} located) | {places_s:.1f} s |")
    print(r.stderr.strip())
    print("\n".join(lines))
    if a.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        cmd = "python bench/bench_timeline.py " + " ".join(sys.argv[1:])
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n\n## Case timeline — {stamp}\nMachine: {machine()}. Command: `{cmd}`\n\n")
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
