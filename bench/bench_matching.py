"""Benchmark: Tessera's PdqIndex against python-threatexchange's PDQIndex on random PDQ hashes.

    python bench/bench_matching.py [--refs 10000000 --queries 100000 --peer-sample 2000]

All data is random (seeded numpy); no real hashes. Some queries get planted references at exact distances
0..31 (must be found) and decoys at 32..40 (must not be). Each engine runs in its own subprocess so its
peak RSS (VmHWM) is its own; references are generated in chunks so they never exist twice in our process.
The peer answers one query per call (its API), so it is timed on a sample and extrapolated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
RADIUS = 31
CHUNK = 1_000_000
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
#: Peer peak RSS per reference, measured at 1M (entries list, id maps, faiss multi-hash).
PEER_BYTES_PER_REF = 1150


# ---------------------------------------------------------------------------------------------- data


class Workload:
    """Seeded queries and planted rows; reference chunks are regenerated on demand."""

    def __init__(self, refs: int, queries: int, seed: int, planted_frac: float = 0.1) -> None:
        self.refs, self.seed = refs, seed
        rng = np.random.default_rng([seed, 0])
        self.queries: U8 = rng.integers(0, 256, (queries, 32), dtype=np.uint8)
        n_planted = int(queries * planted_frac)
        owners = rng.choice(queries, n_planted, replace=False)
        per = rng.integers(1, 4, n_planted)  # 1..3 true neighbours each
        q_true = np.repeat(owners, per)
        d_true = rng.integers(0, RADIUS + 1, q_true.size)
        q_decoy = owners  # one decoy each, just outside the radius
        d_decoy = rng.integers(RADIUS + 1, 41, q_decoy.size)
        q_all = np.concatenate([q_true, q_decoy])
        d_all = np.concatenate([d_true, d_decoy])
        if q_all.size > refs:
            raise SystemExit("too few references for the planted rows")
        pos = rng.choice(refs, q_all.size, replace=False)
        rows = np.empty((q_all.size, 32), dtype=np.uint8)
        for i, (q, d) in enumerate(zip(q_all.tolist(), d_all.tolist(), strict=True)):
            bits = np.unpackbits(self.queries[q])
            bits[rng.choice(256, d, replace=False)] ^= 1
            rows[i] = np.packbits(bits)
        self.n_true = q_true.size
        self.plant_q, self.plant_pos, self.plant_d, self.plant_rows = q_all, pos, d_all, rows

    def truth(self, limit: int | None = None) -> set[tuple[int, int, int]]:
        """Planted (query, reference id, distance) within the radius; ids are row numbers."""
        n = self.n_true
        out = zip(
            self.plant_q[:n].tolist(), self.plant_pos[:n].tolist(), self.plant_d[:n].tolist(), strict=True
        )
        return {t for t in out if limit is None or t[1] < limit}

    def decoys(self) -> set[tuple[int, int]]:
        n = self.n_true
        return set(zip(self.plant_q[n:].tolist(), self.plant_pos[n:].tolist(), strict=True))

    def chunks(self, limit: int | None = None) -> Iterator[tuple[I64, U8]]:
        total = self.refs if limit is None else min(limit, self.refs)
        order = np.argsort(self.plant_pos)
        pos_sorted = self.plant_pos[order]
        for c, lo in enumerate(range(0, total, CHUNK)):
            hi = min(lo + CHUNK, total)
            block = np.random.default_rng([self.seed, 1, c]).integers(0, 256, (hi - lo, 32), dtype=np.uint8)
            a, b = np.searchsorted(pos_sorted, [lo, hi])
            block[pos_sorted[a:b] - lo] = self.plant_rows[order[a:b]]
            yield np.arange(lo, hi, dtype=np.int64), block


# ------------------------------------------------------------------------------------------ measuring


def vm(field: str) -> int:
    """A /proc/self/status memory field in bytes (VmHWM = peak RSS, VmRSS = current)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def check(found: set[tuple[int, int, int]], work: Workload, refs: int) -> dict[str, Any]:
    truth = work.truth(limit=refs)
    decoys = work.decoys()
    return {
        "planted": len(truth),
        "recall": len(truth & found) / max(1, len(truth)),
        "over_radius": sum(1 for _, _, d in found if d > RADIUS),
        "decoys_returned": sum(1 for q, r, _ in found if (q, r) in decoys),
        "unplanted_returned": len({(q, r) for q, r, _ in found} - {(q, r) for q, r, _ in truth}),
    }


def phase_ours(args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from tessera.matching.pdq import PdqIndex

    work = Workload(args.refs, args.queries, args.seed)
    base = vm("VmRSS")
    index = PdqIndex(capacity=args.refs, compact=args.compact)
    t0 = time.perf_counter()
    for ids, hashes in work.chunks():
        index.add(ids, hashes)
    t_add = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.build()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    qi, ids, dist = index.search(work.queries, RADIUS)
    t_search = time.perf_counter() - t0
    found = set(zip(qi.tolist(), ids.tolist(), dist.tolist(), strict=True))
    out = check(found, work, args.refs)
    # Independent exactness check: faiss brute force over all references for a sample of queries.
    rng = np.random.default_rng([args.seed, 2])
    sample = np.sort(rng.choice(args.queries, min(args.verify_sample, args.queries), replace=False))
    sample = np.union1d(sample, work.plant_q[:20])  # make sure some planted queries are in it
    flat = faiss.IndexBinaryFlat(256)
    flat.add(index._hashes[: len(index)])
    lims, d_bf, i_bf = flat.range_search(work.queries[sample], RADIUS + 1)
    del flat
    bf = {
        (int(sample[k]), int(i_bf[j]), int(d_bf[j]))
        for k in range(sample.size)
        for j in range(lims[k], lims[k + 1])
    }
    sample_set = set(sample.tolist())
    out["brute_sample_queries"] = int(sample.size)
    out["brute_sample_equal"] = bf == {t for t in found if t[0] in sample_set}
    out.update(
        engine="tessera PdqIndex" + (" (compact)" if args.compact else ""),
        refs=args.refs,
        queries=args.queries,
        add_s=t_add,
        build_s=t_build,
        search_s=t_search,
        queried=args.queries,
        search_full_s=t_search,
        results=int(qi.size),
        index_bytes=index.nbytes,
        rss_growth_bytes=vm("VmRSS") - base,
        peak_rss_bytes=vm("VmHWM"),
        layout=str(index.layout),
        threads=os.cpu_count(),
    )
    return out


def phase_peer(args: argparse.Namespace) -> dict[str, Any]:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    work = Workload(args.refs, args.queries, args.seed)
    refs = args.peer_refs
    base = vm("VmRSS")
    t0 = time.perf_counter()
    entries: list[tuple[str, int]] = []
    for ids, hashes in work.chunks(limit=refs):
        entries.extend(zip((bytes(h).hex() for h in hashes), ids.tolist(), strict=True))
    t_hex = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = PDQIndex(entries)  # the public constructor; it keeps the (hex, meta) list as its entries
    t_build = time.perf_counter() - t0
    del entries
    rng = np.random.default_rng([args.seed, 3])
    sample = np.sort(rng.choice(args.queries, min(args.peer_sample, args.queries), replace=False))
    hexes = [bytes(work.queries[i]).hex() for i in sample]
    # The peer asks faiss for one query at a time; with OpenMP on, each call pays thread start-up and
    # barriers (several times slower when the cores are busy). Give it its faster setting, chosen on
    # a warm-up of up to 200 other random queries.
    warm = [
        bytes(h).hex()
        for h in np.random.default_rng([args.seed, 4]).integers(0, 256, (200, 32), dtype=np.uint8)
    ]
    per_thread: dict[int, float] = {}
    default_threads = faiss.omp_get_max_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        faiss.omp_set_num_threads(threads)
        t0 = time.perf_counter()
        for h in warm:
            index.query(h)
        per_thread[threads] = (time.perf_counter() - t0) / len(warm)
    best_threads = min(per_thread, key=lambda k: per_thread[k])
    faiss.omp_set_num_threads(best_threads)
    found: set[tuple[int, int, int]] = set()
    t0 = time.perf_counter()
    for qn, h in zip(sample.tolist(), hexes, strict=True):
        for m in index.query(h):
            found.add((qn, int(m.metadata), int(m.similarity_info.distance)))
    t_search = time.perf_counter() - t0
    sample_set = set(sample.tolist())
    truth = {t for t in work.truth(limit=refs) if t[0] in sample_set}
    out: dict[str, Any] = {
        "engine": "threatexchange PDQIndex",
        "refs": refs,
        "queries": args.queries,
        "hex_s": t_hex,
        "build_s": t_build,
        "search_s": t_search,
        "queried": int(sample.size),
        "search_full_s": t_search * args.queries / sample.size,
        "results": len(found),
        "planted": len(truth),
        "recall": len(truth & found) / max(1, len(truth)),
        "over_radius": sum(1 for _, _, d in found if d > RADIUS),
        "rss_growth_bytes": vm("VmRSS") - base,
        "peak_rss_bytes": vm("VmHWM"),
        "omp_threads_used": best_threads,
        "warmup_us_per_query_by_threads": {k: v * 1e6 for k, v in per_thread.items()},
    }
    return out


# ------------------------------------------------------------------------------------------- driving


def run_phase(args: argparse.Namespace, phase: str, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", phase, *extra]
    print(f"[{time.strftime('%H:%M:%S')}] running {phase} ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"phase {phase} failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def machine() -> str:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"`{' '.join(platform.uname())}`; nproc {os.cpu_count()}; CPU {model}; RAM {mem:.1f} GiB"


def table(rows: list[dict[str, Any]], ours: dict[str, Any], peer: dict[str, Any] | None) -> str:
    lines = [
        "| engine | refs | build s | search s (all queries) | us/query | peak RSS GiB | index B/ref "
        "| recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_q = r["search_full_s"] / r["queries"] * 1e6
        est = " (extrapolated)" if r["queried"] != r["queries"] else ""
        bpr = r.get("index_bytes", r["rss_growth_bytes"]) / r["refs"]
        build = r["build_s"] + r.get("add_s", 0.0)
        lines.append(
            f"| {r['engine']} | {r['refs']:,} | {build:.1f} | {r['search_full_s']:.1f}{est} | {per_q:.0f} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {bpr:.0f} | {r['recall']:.4f} |"
        )
    if peer is not None:
        ratio = peer["search_full_s"] / ours["search_full_s"]
        lines.append("")
        lines.append(f"Search speed-up over the peer: **{ratio:.1f}x**.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refs", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=100_000)
    ap.add_argument("--peer-sample", type=int, default=2000)
    ap.add_argument(
        "--peer-refs", type=int, default=0, help="peer index size (default: refs, if memory allows)"
    )
    ap.add_argument("--verify-sample", type=int, default=200, help="queries re-checked by faiss brute force")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-compact", action="store_true", help="skip the compact-mode run")
    ap.add_argument("--no-append", action="store_true", help=f"do not append to {RESULTS.name}")
    ap.add_argument("--phase", choices=["ours", "peer"], help=argparse.SUPPRESS)
    ap.add_argument("--compact", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.phase:
        result = phase_ours(args) if args.phase == "ours" else phase_peer(args)
        print(json.dumps(result))
        return

    started = time.perf_counter()
    common = ["--refs", str(args.refs), "--queries", str(args.queries), "--seed", str(args.seed)]
    ours = run_phase(args, "ours", [*common, "--verify-sample", str(args.verify_sample)])
    rows = [ours]
    if not args.no_compact:
        rows.append(run_phase(args, "ours", [*common, "--verify-sample", "50", "--compact"]))
    peer = None
    note = ""
    if not args.no_peer:
        peer_refs = args.peer_refs or args.refs
        if not args.peer_refs:
            # Leave 6 GiB for whatever else runs on the machine; the peer's footprint is ~1.15 KB/ref.
            fits = int((mem_available() - 6 * 2**30) / PEER_BYTES_PER_REF)
            if fits < peer_refs:
                peer_refs = max(CHUNK, fits // CHUNK * CHUNK)
                note = (
                    f"The peer was built on the first {peer_refs:,} references only: at {args.refs:,} it "
                    "would not fit in the memory available next to other work (about 1.15 KB per reference)."
                )
        peer = run_phase(
            args, "peer", [*common, "--peer-refs", str(peer_refs), "--peer-sample", str(args.peer_sample)]
        )
        rows.append(peer)
    total = time.perf_counter() - started

    text = table(rows, ours, peer)
    checks = (
        f"Checks (ours): planted neighbours {ours['planted']:,}, recall {ours['recall']:.4f}, "
        f"results over the radius {ours['over_radius']}, "
        f"decoys (distance 32-40) returned {ours['decoys_returned']}, "
        f"unplanted results {ours['unplanted_returned']}; equal to faiss brute force on "
        f"{ours['brute_sample_queries']} queries: {ours['brute_sample_equal']}. Layout {ours['layout']}."
    )
    if peer is not None:
        checks += (
            f" Peer: recall {peer['recall']:.4f} on its {peer['planted']} sampled planted pairs; "
            f"faiss OpenMP threads {peer['omp_threads_used']} (warm-up us/query by threads: "
            f"{ {k: round(v) for k, v in peer['warmup_us_per_query_by_threads'].items()} })."
        )
    detail = json.dumps(rows, indent=1)
    print(text)
    print(checks)
    if note:
        print(note)
    print(f"Total benchmark wall time {total:.0f} s")
    if not args.no_append:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        section = [
            f"\n## PDQ matching — {stamp} — {args.refs:,} refs, {args.queries:,} queries, "
            f"peer sample {args.peer_sample:,}\n",
            f"Machine: {machine()}. Command: `python bench/bench_matching.py --refs {args.refs} "
            f"--queries {args.queries} --peer-sample {args.peer_sample}`. Wall time {total:.0f} s.\n",
            text + "\n",
            checks + "\n",
            (note + "\n") if note else "",
            "Build = add + table build (ours), constructor incl. its id maps (peer; hex encoding "
            "excluded). Peak RSS is the whole process, including the generated data.\n",
            f"<details><summary>raw</summary>\n\n```json\n{detail}\n```\n</details>\n",
        ]
        with RESULTS.open("a") as f:
            f.write("\n".join(s for s in section if s))


if __name__ == "__main__":
    main()
