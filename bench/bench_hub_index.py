"""Memory of the hub's PDQ index: bytes per entry in steady state and at the peak of a table build.

    python bench/bench_hub_index.py --entries 1000000 --push 10000
    python bench/bench_hub_index.py --entries 1000000 --unlimited     # tables, no memory budget
    python bench/bench_hub_index.py --entries 10000000 --push 50000 --profiles [--record]
                                    # each of the hub's --index-profile values, one process each

Feeds random PDQ hashes through the path a push takes in the hub (``HubIndex._add``, then the table
builds the background thread would run, ``HubIndex.maintain``, here in the same thread so the peak is
attributable), without HTTP or PostgreSQL. Reports, every ``--every`` entries:

- the bytes the index's arrays hold (hashes, ids, tables, the hub's seen-by-id bitmap), per entry;
- tracemalloc's peak during the push and the builds it triggered, per entry (numpy reports its array
  allocations to tracemalloc, so this is the arrays' true peak, temporaries and copies included);
- RSS (noisy on a shared machine; a second figure only).

Search speed is reported at the end (``--queries`` random queries at the default radius), since memory is
bought with it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.machine import summary  # noqa: E402
from tessera.hub.index import BYTES_PER_ENTRY, PROFILES, HubIndex  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def held(index: HubIndex) -> int:
    """Bytes of the arrays the hub index holds."""
    return index.nbytes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--push", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--unlimited", action="store_true", help="no memory budget (segment tables)")
    ap.add_argument("--bytes-per-entry", type=float, default=None, help="budget other than the opt-in 64")
    ap.add_argument("--profiles", action="store_true", help="run each hub index profile in its own process")
    ap.add_argument("--record", action="store_true", help="with --profiles: append to bench/RESULTS.md")
    ap.add_argument("--json", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.profiles:
        profiles(args)
        return

    rng = np.random.default_rng(args.seed)
    budget = None if args.unlimited else (args.bytes_per_entry or BYTES_PER_ENTRY)
    index = HubIndex(background=False, bytes_per_entry=budget)
    rss0 = rss_mib()
    tracemalloc.start()
    worst_ratio = 0.0
    worst_peak_per_entry = 0.0
    t0 = time.perf_counter()
    print(
        f"{'entries':>10} {'held B/entry':>13} {'peak B/entry':>13} {'peak/held':>9} {'segments':>30}"
        f" {'RSS MiB':>8}"
    )
    next_id = 1
    held_before = 0
    while next_id <= args.entries:
        k = min(args.push, args.entries - next_id + 1)
        rows = rng.integers(0, 256, size=(k, 32), dtype=np.uint8)
        hexes = [r.tobytes().hex() for r in rows]
        ids = np.arange(next_id, next_id + k, dtype=np.int64)
        next_id += k
        del rows
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        index._add(ids, hexes)
        del hexes, ids
        while index.maintain():
            pass
        n = len(index)
        cur, peak = tracemalloc.get_traced_memory()
        # What the index held before the push plus the most it allocated on top during it.
        h = held(index)
        peak_index = held_before + (peak - base)
        held_before = h
        ratio = peak_index / h
        if n >= 4 * args.push:  # below that the fixed costs (empty bitmaps, first tables) dominate
            worst_ratio = max(worst_ratio, ratio)
            worst_peak_per_entry = max(worst_peak_per_entry, peak_index / n)
        if n % args.every == 0 or n == args.entries:
            segs = ",".join(str(s) for s in index.segments)
            print(
                f"{n:>10,} {h / n:>13.1f} {peak_index / n:>13.1f} {ratio:>9.2f} {segs[-30:]:>30}"
                f" {rss_mib():>8.0f}"
            )
    build_s = time.perf_counter() - t0
    tracemalloc.stop()
    n = len(index)
    print(f"\nentries {n:,}; held {held(index) / n:.1f} B/entry ({held(index) / 2**20:.0f} MiB)")
    print(f"worst push peak {worst_peak_per_entry:.1f} B/entry; worst peak/held {worst_ratio:.2f}")
    print(
        f"RSS {rss_mib() - rss0:.0f} MiB above start ({(rss_mib() - rss0) * 2**20 / n:.0f} B/entry); "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print(f"adding and tabling took {build_s:.1f} s")
    q = [rng.integers(0, 256, size=32, dtype=np.uint8).tobytes().hex() for _ in range(args.queries)]
    t0 = time.perf_counter()
    index.search(q, 31)
    dt = time.perf_counter() - t0
    print(
        f"search: {args.queries} random queries at radius 31 in {dt:.2f} s"
        f" ({dt / args.queries * 1e3:.2f} ms/query)"
    )
    one = []
    for h in q[:20]:
        t0 = time.perf_counter()
        index.search([h], 31)
        one.append(time.perf_counter() - t0)
    single = sorted(one)[len(one) // 2]
    print(f"search: one query per call, median of {len(one)}: {single * 1e3:.2f} ms")
    print(summary())
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "entries": n,
                    "held": held(index) / n,
                    "worst_peak": worst_peak_per_entry,
                    "worst_ratio": worst_ratio,
                    "rss": (rss_mib() - rss0) * 2**20 / n,
                    "build_s": build_s,
                    "batch_ms": dt / args.queries * 1e3,
                    "single_ms": single * 1e3,
                }
            )
        )


def profiles(args: argparse.Namespace) -> None:
    """Each profile in a fresh process (so RSS and the allocator start clean), then one table."""
    rows = []
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    for name, budget in PROFILES.items():
        out = Path(f"/tmp/bench_hub_index_{os.getpid()}_{name}.json")
        cmd = [sys.executable, __file__, "--entries", str(args.entries), "--push", str(args.push)]
        cmd += ["--every", str(args.entries), "--queries", str(args.queries), "--json", str(out)]
        cmd += ["--unlimited"] if budget is None else ["--bytes-per-entry", str(budget)]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
        rows.append((name, json.loads(out.read_text())))
        out.unlink()
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    lines = [
        "| profile | held B/entry | worst push peak B/entry (peak/held) | RSS B/entry"
        " | batch search ms/query | one query per call ms | add + table s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| `{name}` | {r['held']:.1f} | {r['worst_peak']:.1f} ({r['worst_ratio']:.2f})"
            f" | {r['rss']:.0f} | {r['batch_ms']:.2f} | {r['single_ms']:.2f} | {r['build_s']:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.record:
        head = (
            f"\n### Hub PDQ index profiles at {args.entries:,} entries — "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
            f"Machine: {summary()}. Load average before/after: {' '.join(load0)} / {' '.join(load1)}.\n"
            f"Command: `python bench/bench_hub_index.py --entries {args.entries} --push {args.push}"
            f" --profiles --record` (random hashes through `HubIndex._add` + `maintain`, each profile in"
            f" its own process; {args.queries} random queries at radius 31 in one batch, then 20 one"
            " per call).\n\n"
        )
        with (Path(__file__).resolve().parent / "RESULTS.md").open("a") as f:
            f.write(head + table + "\n")


if __name__ == "__main__":
    main()
