"""Report memory at scale: peak RSS of ``tessera report`` for 20,000 and 200,000 hits.

    python bench/bench_report.py [--hits 20000,200000] [--formats json,html,csv] [--record]

Each case is written straight into the store (``tessera.synth.bulk_hits``: every file its own media,
matched by one entry; every tenth file with an error, so problems grow too). Each report is a child
process; its peak RSS is that child's own (``os.wait4``), not the largest child so far. Streamed, the
peak must not follow the number of hits: ten times the hits, a few MiB more at most.
Results are appended to bench/RESULTS.md with ``--record``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import summary as machine  # type: ignore[import-not-found]

from tessera.store.case import init_case
from tessera.synth.bulk_hits import write_bulk_hits

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "report"


def report(case_dir: Path, fmt: str, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one ``tessera report`` child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tessera",
            "report",
            "--format",
            fmt,
            "--out",
            str(out),
            "--case",
            str(case_dir),
        ],
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"tessera report --format {fmt} exited {proc.returncode}")
    return time.perf_counter() - t, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hits", default="20000,200000")
    ap.add_argument("--formats", default="json,html,csv")
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args()
    sizes = [int(x) for x in a.hits.split(",")]
    formats = a.formats.split(",")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    rows: dict[tuple[str, int], tuple[float, float, int]] = {}
    fills = []
    for n in sizes:
        case_dir = OUT / f"case{n}"
        t = time.perf_counter()
        handle = init_case(case_dir, "Bench report", "XX")
        write_bulk_hits(handle, n)
        handle.close()
        fills.append(f"{n:,} hits in {time.perf_counter() - t:.0f} s")
        for fmt in formats:
            out = OUT / f"r{n}.{fmt}"
            wall, rss = report(case_dir, fmt, out)
            rows[(fmt, n)] = (wall, rss, out.stat().st_size)
            out.unlink()
    lines = [f"Cases (SQLite) written directly: {', '.join(fills)}.", ""]
    lines.append("| format | hits | wall time | peak RSS | output |")
    lines.append("|---|---|---|---|---|")
    for (fmt, n), (wall, rss, size) in rows.items():
        lines.append(f"| {fmt} | {n:,} | {wall:.1f} s | {rss:.0f} MiB | {size / 2**20:.0f} MiB |")
    lo, hi = min(sizes), max(sizes)
    for fmt in formats:
        grow = rows[(fmt, hi)][1] - rows[(fmt, lo)][1]
        lines.append(f"\n{fmt}: {hi // lo}x the hits, peak RSS {grow:+.1f} MiB.")
    print("\n".join(lines))
    if a.record:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        cmd = "python bench/bench_report.py " + " ".join(sys.argv[1:])
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write(f"\n\n## Report memory — {stamp}\nMachine: {machine()}. Command: `{cmd}`\n\n")
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
