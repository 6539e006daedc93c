"""WhatsApp msgstore.db parsing throughput against the floor of reading the same rows, in one run.

    python bench/bench_msgstore.py [--messages 1000000] [--repeat 3]

* data: a generated current-schema ``msgstore.db`` (50 groups of 256 members, 5,000 accounts, 10%
  images with ``message_media`` rows, 5% forwarded), cached under bench/out/msgstore-<n>/.
* floor: the ``sqlite3`` command-line shell exporting the message rows with their media, forwarding
  and system columns as CSV to /dev/null (Debian package ``sqlite3``), and Python's ``sqlite3``
  iterating the same query without building anything.
* ours: the ``whatsapp-msgstore`` parser producing every record (accounts, chats, memberships,
  messages), consumed as a stream, in a fresh process so its peak RSS is its own.

Results (best of ``--repeat``) are printed and appended to bench/RESULTS.md. ``parse_all(path)``
is the record stream a later store benchmark can reuse.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from machine import facts as machine  # type: ignore[import-not-found]

from tessera.messaging.records import MessagingRecord
from tessera.messaging.whatsapp_db import parse_file
from tessera.synth.msgstore import write_big_msgstore

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

#: The message rows with everything the parser reads per message, sender and chat as JID strings.
FLOOR_SQL = (
    "SELECT m._id, c.raw_string, m.from_me, m.key_id, s.raw_string, m.timestamp, m.message_type, "
    "m.text_data, m.status, m.origination_flags, mm.file_path, mm.file_hash, mm.mime_type, "
    "mm.file_length, mm.media_name, mf.forward_score, ms.action_type FROM message m "
    "LEFT JOIN chat ch ON ch._id = m.chat_row_id LEFT JOIN jid c ON c._id = ch.jid_row_id "
    "LEFT JOIN jid s ON s._id = m.sender_jid_row_id "
    "LEFT JOIN message_media mm ON mm.message_row_id = m._id "
    "LEFT JOIN message_forwarded mf ON mf.message_row_id = m._id "
    "LEFT JOIN message_system ms ON ms.message_row_id = m._id ORDER BY m._id"
)


def parse_all(path: str | Path, *, owner: str | None = None) -> Iterator[MessagingRecord]:
    """Every record of a msgstore.db on disk, streamed (wa.db and -wal beside it are used)."""
    return parse_file(path, scratch=OUT / "scratch", owner=owner)


def dataset(n: int) -> tuple[Path, float | None]:
    db = OUT / f"msgstore-{n}" / "msgstore.db"
    marker = db.with_name(".complete")
    if db.exists() and marker.exists():
        return db, None
    shutil.rmtree(db.parent, ignore_errors=True)
    t = time.perf_counter()
    write_big_msgstore(db, n_messages=n, n_groups=50, n_accounts=5000, seed=0)
    took = time.perf_counter() - t
    marker.write_text(str(n))
    return db, took


def best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def floor_cli(db: Path) -> None:
    with open(os.devnull, "wb") as null:
        subprocess.run(["sqlite3", "-readonly", "-csv", str(db), FLOOR_SQL], stdout=null, check=True)


def floor_python(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        n = 0
        for _ in conn.execute(FLOOR_SQL):
            n += 1
        return n
    finally:
        conn.close()


def ours_child(db: Path) -> None:
    """Runs in a fresh interpreter: parse, then report count, seconds and peak RSS as JSON."""
    t = time.perf_counter()
    counts: dict[str, int] = {}
    for rec in parse_all(db):
        name = type(rec).__name__
        counts[name] = counts.get(name, 0) + 1
    took = time.perf_counter() - t
    # VmHWM belongs to this exec'd image; ru_maxrss would carry the parent's peak across fork+exec.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) * 1024
    print(json.dumps({"seconds": took, "counts": counts, "peak_rss": rss}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        ours_child(args.child)
        return
    if shutil.which("sqlite3") is None:
        sys.exit("the sqlite3 shell is missing: apt-get install sqlite3")
    db, generated = dataset(args.messages)
    size = db.stat().st_size
    t_cli = best(lambda: floor_cli(db), args.repeat)
    t_py = best(lambda: floor_python(db), args.repeat)
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(db)], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout))
    ours = min(runs, key=lambda r: r["seconds"])
    n_rec = sum(ours["counts"].values())
    n_msg = ours["counts"].get("MessageRecord", 0)
    rows = [
        ("sqlite3 shell, CSV to /dev/null (floor)", t_cli, args.messages, "rows"),
        ("python sqlite3, iterate the same query", t_py, args.messages, "rows"),
        ("tessera whatsapp-msgstore, all records", ours["seconds"], n_rec, "records"),
    ]
    facts = machine()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## WhatsApp msgstore.db parsing — {now}",
        "",
        f"Command: `python bench/bench_msgstore.py --messages {args.messages} --repeat {args.repeat}`",
        "",
        f"- `uname -a`: `{facts['uname']}`",
        f"- nproc: {facts['nproc']}; CPU: {facts['cpu']}; Python {facts['python']}, SQLite {facts['sqlite']}",
        f"- data: current schema, {args.messages:,} messages, {size / 1e6:.0f} MB"
        + (f" (generated in {generated:.1f} s)" if generated is not None else " (cached)"),
        "",
        f"| reader | time (best of {args.repeat}) | throughput |",
        "|---|---|---|",
    ]
    for label, secs, n, unit in rows:
        lines.append(f"| {label} | {secs:.2f} s | {n / secs:,.0f} {unit}/s |")
    lines += [
        "",
        f"Ours: {n_rec:,} records ({n_msg:,} messages) incl. `PRAGMA quick_check`; "
        f"{n_msg / ours['seconds']:,.0f} messages/s, **{t_cli / ours['seconds']:.2f}x** the shell's speed, "
        f"{t_py / ours['seconds']:.2f}x Python's bare cursor; peak RSS of the parsing process "
        f"{ours['peak_rss'] / 2**20:.0f} MiB (streamed: memory does not grow with the message count).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.no_record:
        return
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n" + text)


if __name__ == "__main__":
    main()
