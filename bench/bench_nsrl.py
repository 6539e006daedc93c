"""NSRL RDS v3 known-good sets: import rate, and the cost of the known-good lookup per file.

    python bench/bench_nsrl.py [--rows 1000000] [--files 2000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

1. A generated RDS v3 (minimal build, the real schema; tessera.synth.nsrl) of ``--rows`` rows is
   imported with ``import_hashset`` into a fresh SQLite case and, when ``--pg`` names a reachable
   server, a fresh PostgreSQL database. Target: >= 300,000 rows/s. Wall and CPU time are both given:
   the machine is shared, and the load average at the start is printed.
2. ``--files`` small files (half generated 320x240 JPEGs, half a few KB of bytes) are ingested into
   each case before the import (in-process ``ingest``, 2 workers); a quarter of them are listed in
   the RDS. The known-good lookup is a join asked at query time (tessera.store.models_known): its
   cost per file is measured as one probe of every media row
   (``SELECT count(*) FROM media WHERE <known-good>``) with the 1,000,000-digest set present, over
   the ingest's time per file. Target: < 5 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import summary  # noqa: E402
from tessera.ingest.importer import import_hashset  # noqa: E402
from tessera.ingest.pipeline import IngestOptions, ingest  # noqa: E402
from tessera.store import models as m  # noqa: E402
from tessera.store.case import init_case  # noqa: E402
from tessera.store.models_known import known_good_media  # noqa: E402
from tessera.store.queries import device_stats  # noqa: E402
from tessera.synth.images import jpeg_bytes  # noqa: E402
from tessera.synth.nsrl import KnownFile, known_file, write_rds3  # noqa: E402


def timed(fn):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - w, time.process_time() - c


def fresh_pg(admin: str) -> str | None:
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        name = f"tessera_bench_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return admin.rsplit("/", 1)[0] + "/" + name
    except Exception as exc:  # noqa: BLE001  (a bench without a server still runs SQLite)
        print(f"PostgreSQL not used: {exc}")
        return None


def make_files(directory: Path, n: int) -> list[KnownFile]:
    directory.mkdir(parents=True)
    made = []
    for i in range(n):
        data = jpeg_bytes(40_000 + i, 320, 240) if i % 2 == 0 else os.urandom(2048 + i % 4096)
        name = f"f{i:05d}.{'jpg' if i % 2 == 0 else 'bin'}"
        (directory / name).write_bytes(data)
        made.append(known_file(data, name))
    return made


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument(
        "--pg", default=os.environ.get("TESSERA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {summary()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-nsrl-") as tmp:
        root = Path(tmp)
        files = make_files(root / "evidence", args.files)
        listed = files[: args.files // 4]
        _, gen_s, _ = timed(lambda: write_rds3(root / "rds.db", args.rows - len(listed), known=listed))
        size = (root / "rds.db").stat().st_size
        print(
            f"generated RDS v3 minimal: {args.rows:,} rows, {size / 1e6:.0f} MB in {gen_s:.1f} s (not timed)"
        )

        targets = [("SQLite", None)]
        pg = fresh_pg(args.pg)
        if pg:
            targets.append(("PostgreSQL", pg))
        cases = {}
        ingests = {}
        for label, url in targets:
            case = init_case(root / f"case-{label}", "bench", "XX-BENCH", url)
            cases[label] = case
            opts = IngestOptions(device_id="D1", workers=2)
            ingests[label] = timed(lambda c=case, o=opts: ingest(c, root / "evidence", o))
            res, wall, cpu = timed(lambda c=case: import_hashset(c, root / "rds.db", name="nsrl"))
            print(
                f"| import, {label} | {args.rows:,} rows ({res.entries:,} distinct SHA-256) |"
                f" **{wall:.2f} s wall, {args.rows / wall:,.0f} rows/s** | CPU {cpu:.2f} s"
                f" ({args.rows / cpu:,.0f} rows per CPU-second) |"
            )

        for label, case in cases.items():
            _, ing_s, ing_cpu = ingests[label]
            with case.session() as s:
                media = s.scalar(select(func.count()).select_from(m.Media)) or 0
                nfiles = s.scalar(select(func.count()).select_from(m.File)) or 0
                known, probe_s, _ = timed(
                    lambda s=s: s.scalar(select(func.count()).select_from(m.Media).where(known_good_media()))
                )
                stats, stats_s, _ = timed(lambda s=s: device_stats(s, "D1"))
            per_file_ingest = ing_s / nfiles
            per_file_probe = probe_s / media
            print(
                f"| small-file ingest, {label} | {nfiles:,} files ({media:,} media) | {ing_s:.1f} s wall"
                f" (CPU {ing_cpu:.1f} s), {per_file_ingest * 1e3:.2f} ms per file |"
            )
            print(
                f"| known-good lookup of every media row, {label} (1 probe each, {args.rows:,}-row set) |"
                f" {probe_s * 1e3:.1f} ms, {per_file_probe * 1e6:.1f} µs per file |"
                f" **{100 * per_file_probe / per_file_ingest:.2f} % of the ingest per file** |"
                f" {known:,} known-good |"
            )
            print(
                f"| device_stats with the set, {label} | {stats_s * 1e3:.0f} ms |"
                f" files {stats['files']:,}, excluded {stats['known_good_excluded']['files']:,} |"
            )
        for c in cases.values():
            c.close()
        if pg:
            admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg.rsplit("/", 1)[1]}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
