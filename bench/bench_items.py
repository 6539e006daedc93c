"""Items at scale: group 1,000,000 media by PDQ, and build the spread graph of every item of the
1,000,000-message benchmark operation.

    python bench/bench_items.py [--media 1000000] [--messages 1000000] [--skip-spread]

* grouping: 1,000,000 PDQ hashes made directly (no images): random 256-bit originals, each with a family
  of near-duplicates made hop by hop (1-30 bits flipped from the previous copy, as recompression does),
  so families chain beyond the threshold. Measured twice: the in-memory core (index, exact radius-31
  search of every hash, spanning forest) and ``update_items`` on a SQLite case holding the media
  (reading the hashes, the same core, writing 1,000,000 ``item_member`` rows). The families found are
  checked against the generated ones. Target: under 60 s; peak RSS reported.
* spread: the benchmark operation of bench_network (msgstore.db, 50 groups, 5,000 accounts) ingested,
  each media hash it references given a stored medium with a PDQ (families of 1-4 copies), grouped into
  items, then ``all_graphs``: every item's spread graph. Target: under 30 s.

Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from machine import summary as machine  # type: ignore[import-not-found]

from tessera.items.grouping import update_items
from tessera.items.links import Links, pdq_links, spanning_forest
from tessera.matching.pdq import PdqIndex

HERE = Path(__file__).resolve().parent
#: CPU seconds (all threads) per step: comparable across runs on a shared machine, unlike wall time.
CPU: dict[str, float] = {}
OUT = HERE / "out"


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def families(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32) uint8 hashes and each row's family: family sizes 1-9 (mean 5), each copy 1-30 bits
    from the copy before it."""
    rng = np.random.default_rng(seed)
    rows = np.empty((n, 32), np.uint8)
    fam = np.empty(n, np.int64)
    i = f = 0
    while i < n:
        size = min(int(rng.integers(1, 10)), n - i)
        cur = rng.integers(0, 256, 32, dtype=np.uint8)
        for _ in range(size):
            bits = np.unpackbits(cur)
            flip = rng.choice(256, int(rng.integers(1, 31)), replace=False) if i > 0 and _ else []
            bits[flip] ^= 1
            cur = np.packbits(bits)
            rows[i], fam[i] = cur, f
            i += 1
        f += 1
    return rows, fam


def load_note() -> str:
    """The machine is shared: the load average says how much of it this run had."""
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def grouping_core(rows: np.ndarray) -> tuple[float, np.ndarray, int]:
    t = time.perf_counter()
    cpu = time.process_time()
    n = len(rows)
    nodes = np.arange(n, dtype=np.int64)
    index = PdqIndex(n)
    index.add(nodes, rows)
    links = Links()
    pdq_links(links, index, nodes, rows, 31)
    a, b, d, via = links.arrays()
    forest = spanning_forest(n, [], a, b, d, via)
    CPU["core"] = time.process_time() - cpu
    return time.perf_counter() - t, forest.root, len(a)


def same_partition(root: np.ndarray, fam: np.ndarray) -> bool:
    # Equal partitions: each family maps to one root and each root to one family.
    pairs = np.unique(np.stack([root, fam]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def grouping_db(rows: np.ndarray, fam: np.ndarray) -> tuple[float, float, bool]:
    from sqlalchemy import select

    from tessera.store import models as m
    from tessera.store.case import init_case
    from tessera.store.models_items import ItemMember

    case = OUT / "items-case"
    shutil.rmtree(case, ignore_errors=True)
    handle = init_case(case, "bench", "BENCH")
    shas = [hashlib.sha256(i.to_bytes(8, "big")).hexdigest() for i in range(len(rows))]
    media_t = m.Media.__table__
    t = time.perf_counter()
    with handle.session() as s:
        batch = []
        for i, sha in enumerate(shas):
            batch.append(
                {
                    "sha256": sha,
                    "md5": sha[:32],
                    "sha1": sha[:40],
                    "size": 1,
                    "kind": "image",
                    "pdq": rows[i].tobytes().hex(),
                    "pdq_quality": 100,
                }
            )
            if len(batch) == 50_000:
                s.execute(media_t.insert(), batch)
                batch = []
        if batch:
            s.execute(media_t.insert(), batch)
        s.commit()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    cpu = time.process_time()
    with handle.session() as s:
        update_items(s)
        s.commit()
    took = time.perf_counter() - t
    CPU["db"] = time.process_time() - cpu
    with handle.session() as s:
        item = dict(s.execute(select(ItemMember.sha256, ItemMember.item_id)).all())
    handle.close()
    root = np.asarray([item[s] for s in shas], np.int64)
    return took, load_s, same_partition(root, fam)


def spread_bench(messages: int) -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    from bench_msgstore import dataset  # type: ignore[import-not-found]
    from sqlalchemy import insert, select

    from tessera.items.spread import all_graphs
    from tessera.store import models as m
    from tessera.store.case import open_case

    db, _ = dataset(messages)
    case = OUT / f"items-spread-case-{messages}"
    if not (case / ".complete").exists():
        shutil.rmtree(case, ignore_errors=True)
        subprocess.run(
            [
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
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
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
            check=True,
            stdout=subprocess.DEVNULL,
        )
        handle = open_case(case)
        with handle.session() as s:
            shas = sorted(
                set(s.scalars(select(m.Message.media_sha256).where(m.Message.media_sha256.is_not(None))))
            )
            have = set(s.scalars(select(m.Media.sha256)))
            rng = np.random.default_rng(1)
            rows: list[dict[str, object]] = []
            cur = None
            for sha in shas:
                # Families of 1-4 stored copies: consecutive hashes, each 1-30 bits from the last.
                if cur is None or rng.random() < 0.4:
                    cur = rng.integers(0, 256, 32, dtype=np.uint8)
                else:
                    bits = np.unpackbits(cur)
                    bits[rng.choice(256, int(rng.integers(1, 31)), replace=False)] ^= 1
                    cur = np.packbits(bits)
                if sha not in have:
                    rows.append(
                        {
                            "sha256": sha,
                            "md5": sha[:32],
                            "sha1": sha[:40],
                            "size": 1,
                            "kind": "image",
                            "pdq": cur.tobytes().hex(),
                            "pdq_quality": 100,
                        }
                    )
            for start in range(0, len(rows), 50_000):
                s.execute(insert(m.Media), rows[start : start + 50_000])
            s.commit()
        handle.close()
        (case / ".complete").write_text("ok")
    handle = open_case(case)
    with handle.session() as s:
        t = time.perf_counter()
        grouped = update_items(s)
        s.commit()
        group_s = time.perf_counter() - t
        t = time.perf_counter()
        cpu = time.process_time()
        n_items = n_nodes = n_edges = 0
        for _, g in all_graphs(s):
            n_items += 1
            n_nodes += g.number_of_nodes()
            n_edges += g.number_of_edges()
        spread_s = time.perf_counter() - t
        CPU["spread"] = time.process_time() - cpu
        n_msgs = s.query(m.Message).count()
    handle.close()
    return {
        "group_s": group_s,
        "grouped": grouped.new,
        "spread_s": spread_s,
        "items": n_items,
        "nodes": n_nodes,
        "edges": n_edges,
        "messages": n_msgs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", type=int, default=1_000_000)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--skip-spread", action="store_true")
    ap.add_argument("--skip-db", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    t = time.perf_counter()
    rows, fam = families(args.media)
    gen_s = time.perf_counter() - t
    core_s, root, n_links = grouping_core(rows)
    core_ok = same_partition(root, fam)
    core_rss = rss_gib()
    print(
        f"core {core_s:.1f} s, {n_links:,} links, partition ok {core_ok}, rss {core_rss:.2f} GiB", flush=True
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Items at scale — {stamp}",
        f"Machine: {machine()}; {load_note()} at the start (2 cores shared with other jobs). "
        "Command: `python bench/bench_items.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"{args.media:,} PDQ hashes generated directly ({gen_s:.1f} s, not timed): {int(fam.max()) + 1:,} "
        "families of 1-9 copies, each copy 1-30 bits from the previous one.",
        "",
        "| step | time | target | notes |",
        "|---|---|---|---|",
        f"| grouping, in memory (index + exact radius-31 search of every hash + spanning forest) | "
        f"**{core_s:.1f} s** (CPU {CPU['core']:.1f} s) | < 60 s | {n_links:,} links; "
        f"families recovered exactly: {core_ok}; "
        f"peak RSS {core_rss:.2f} GiB |",
    ]
    if not args.skip_db:
        db_s, load_s, db_ok = grouping_db(rows, fam)
        print(f"db {db_s:.1f} s ok {db_ok}", flush=True)
        lines.append(
            f"| grouping, `update_items` on a SQLite case (read hashes, group, write item rows) | "
            f"**{db_s:.1f} s** (CPU {CPU['db']:.1f} s) | < 60 s | families recovered exactly: {db_ok}; "
            f"peak RSS {rss_gib():.2f} GiB; "
            f"storing the media rows beforehand {load_s:.1f} s (not timed) |"
        )
    if not args.skip_spread:
        r = spread_bench(args.messages)
        print(r, flush=True)
        lines.append(
            f"| spread graphs of every item of the {r['messages']:,}-message operation (`all_graphs`) | "
            f"**{r['spread_s']:.1f} s** (CPU {CPU['spread']:.1f} s) | < 30 s | {r['items']:,} items, "
            f"{r['nodes']:,} post nodes, "
            f"{r['edges']:,} forward edges; grouping its {r['grouped']:,} media first: {r['group_s']:.1f} s |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
