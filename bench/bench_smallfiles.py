"""Per-file cost: ``tessera ingest`` against ``hashdeep`` on small-file and mixed trees, same cores.

    python bench/bench_smallfiles.py [--files 30000] [--mixed 20000] [--rounds 3] [--workers 2] [--record]
    python bench/bench_smallfiles.py --profile [--files 30000]

* small: a phone-like tree of app files (``data/<app>/{files,cache,shared_prefs,databases}/...``),
  100 B - 64 KiB, log-uniform, none of them images (the per-file cost, not decoding, is measured);
* mixed: bench_ingest.py's "digests" tree (512 B - 512 KiB), the same files under bench/out/files.

Both trees are generated once and cached under bench/out/. Each round runs, per tree, ``hashdeep -r -c
md5,sha1,sha256 -j WORKERS`` and the real ``tessera ingest --workers WORKERS`` CLI into a fresh SQLite
case (CLI start-up included, as hashdeep's is), the same with ``--store-in-process``, and
bench/pyfloor.py (the same walk, reads and digests in plain Python on the same processes, storing
nothing: what Python itself costs), interleaved, so load on the shared machine hits every side alike;
the median of the rounds is reported with /proc/loadavg.
``--record`` appends a section to bench/RESULTS.md.

``--profile`` runs the ingest in-process under cProfile and prints the top of the parent's profile
(walk, writer, matching, IPC) and of ``hash_files`` as a worker runs it (every batch, in-process).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_ingest import make_files  # type: ignore[import-not-found]
from machine import precompile  # type: ignore[import-not-found]
from machine import summary as machine  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TESSERA = [sys.executable, "-m", "tessera"]

_APPS = ["com.whatsapp", "org.telegram.messenger", "com.android.chrome", "com.google.android.gms",
         "com.instagram.android", "com.snapchat.android", "com.facebook.katana", "com.spotify.music",
         "com.android.providers.media", "com.google.android.youtube"]  # fmt: skip
_KINDS = [  # (folder, suffix, head)
    ("files", ".dat", b""),
    ("cache", ".0", b""),
    ("cache/http", ".cache", b"HTTP/1.1 200 OK\r\n"),
    ("shared_prefs", ".xml", b"<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n"),
    ("databases", ".db", b"SQLite format 3\x00"),
    ("files/json", ".json", b'{"v": 1, "items": ['),
    ("no_backup", ".pb", b"\x0a\x12"),
]


def make_small(directory: Path, n: int, seed: int = 11) -> int:
    """``n`` app files of 100 B .. 64 KiB (log-uniform) spread over apps and folders of ~200 files."""
    marker = directory / ".complete"
    if marker.exists() and marker.read_text().split()[0] == str(n):
        return int(marker.read_text().split()[1])
    shutil.rmtree(directory, ignore_errors=True)
    rng = random.Random(seed)
    block = rng.randbytes(1 << 20)
    total = 0
    for i in range(n):
        app = _APPS[i % len(_APPS)]
        folder, suffix, head = _KINDS[(i // len(_APPS)) % len(_KINDS)]
        sub = directory / "data" / app / folder / f"{i // 2000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        size = int(2 ** rng.uniform(math.log2(100), 16))
        off = rng.randrange(len(block) - size)
        body = (head + block[off : off + size])[: max(size - 4, 0)] + i.to_bytes(4, "big")
        (sub / f"f{i:06d}{suffix}").write_bytes(body)
        total += len(body)
    marker.write_text(f"{n} {total}")
    return total


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def hashdeep(tree: Path, workers: int) -> float:
    return _timed(["hashdeep", "-r", "-c", "md5,sha1,sha256", "-j", str(workers), str(tree)])


def pyfloor(tree: Path, workers: int) -> float:
    return _timed([sys.executable, str(HERE / "pyfloor.py"), str(tree), "--workers", str(workers)])


def tessera(tree: Path, workers: int, *extra: str) -> float:
    case = OUT / "case-small"
    shutil.rmtree(case, ignore_errors=True)
    subprocess.run(
        [*TESSERA, "case", "init", str(case), "--name", "bench", "--agency", "BENCH"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cmd = [*TESSERA, "ingest", str(tree), "--device", "B1", "--workers", str(workers), "--case", str(case)]
    return _timed([*cmd, *extra])


def tessera_in_process(tree: Path, workers: int) -> float:
    """The same ingest storing in its main process (as before the store process, issue 16 part 1)."""
    return tessera(tree, workers, "--store-in-process")


SIDES = (("hashdeep", hashdeep), ("python", pyfloor), ("tessera", tessera), ("in-proc", tessera_in_process))


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def compare(trees: list[tuple[str, Path, int, int]], rounds: int, workers: int) -> list[str]:
    rows: list[str] = []
    times: dict[tuple[str, str], list[float]] = {}
    empty = OUT / "empty"
    empty.mkdir(exist_ok=True)
    for _, tree, _, _ in trees:  # warm the page cache: both sides read from memory
        subprocess.run(["hashdeep", "-r", "-c", "md5", str(tree)], check=True, stdout=subprocess.DEVNULL)
    for r in range(rounds):
        # The fixed cost (interpreter, imports, case open, pool start) of an ingest of nothing.
        times.setdefault(("empty", "tessera"), []).append(tessera(empty, workers))
        for label, tree, n, _ in trees:
            for side, fn in SIDES:
                t = fn(tree, workers)
                times.setdefault((label, side), []).append(t)
                print(f"round {r + 1} {label:6} {side:8} {t:6.2f} s  {n / t:7,.0f} files/s  load {loadavg()}")
    fixed = statistics.median(times[("empty", "tessera")])
    print(f"[empty] tessera ingest of an empty folder: {fixed:.2f} s")
    for label, _, n, nbytes in trees:
        peer = statistics.median(times[(label, "hashdeep")])
        ours = statistics.median(times[(label, "tessera")])
        floor = statistics.median(times[(label, "python")])
        inproc = statistics.median(times[(label, "in-proc")])
        ratio = peer / ours
        net = n / max(ours - fixed, 1e-3)
        print(
            f"[{label}] tessera {n / ours:,.0f} files/s ({net:,.0f} past start-up), "
            f"hashdeep {n / peer:,.0f} files/s: x{ratio:.2f}; Python floor {n / floor:,.0f} files/s "
            f"(x{peer / floor:.2f} of hashdeep); storing in-process {n / inproc:,.0f} files/s "
            f"(x{peer / inproc:.2f})"
        )
        rows.append(
            f"| {label} ({n:,} files, {nbytes / 1e6:,.0f} MB) | {n / ours:,.0f} files/s ({ours:.2f} s; "
            f"{net:,.0f} files/s past the {fixed:.2f} s start-up) | {n / peer:,.0f} files/s ({peer:.2f} s) | "
            f"**{ratio:.2f}x** | {n / inproc:,.0f} files/s ({inproc:.2f} s; {peer / inproc:.2f}x) | "
            f"{n / floor:,.0f} files/s ({floor:.2f} s; {peer / floor:.2f}x) |"
        )
    return rows


def profile(tree: Path, workers: int, top: int) -> None:
    """The parent's profile of a real ingest (pool of ``workers``), then ``hash_files`` in-process."""
    from tessera.evidence import iter_evidence
    from tessera.ingest.hashwork import hash_files, work_of
    from tessera.ingest.pipeline import BATCH_FILES, IngestOptions, ingest
    from tessera.store.case import init_case

    case_dir = OUT / "case-profile"
    shutil.rmtree(case_dir, ignore_errors=True)
    case = init_case(case_dir, "bench", "BENCH")
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    res = ingest(case, tree, IngestOptions(device_id="P1", workers=workers))
    prof.disable()
    wall = time.perf_counter() - t
    print(f"== parent: {res.files_new:,} files in {wall:.2f} s ({res.files_new / wall:,.0f} files/s) ==")
    _print(prof, top)
    case.close()

    work = [work_of(it.opener) for it in iter_evidence(tree) if it.opener is not None]
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for start in range(0, len(work), BATCH_FILES):
        hash_files(work[start : start + BATCH_FILES], True)
    prof.disable()
    wall = time.perf_counter() - t
    print(f"== worker (hash_files in-process): {len(work):,} files in {wall:.2f} s ==")
    _print(prof, top)


def _print(prof: cProfile.Profile, top: int) -> None:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=30_000, help="files in the small-file tree")
    ap.add_argument("--mixed", type=int, default=20_000, help="files in the mixed tree (0: skip it)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="append a section to bench/RESULTS.md")
    ap.add_argument("--profile", action="store_true", help="cProfile the ingest of the small tree")
    ap.add_argument("--top", type=int, default=30, help="profile lines shown")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    precompile()  # as an installed tessera has it
    small = OUT / f"small{args.files}"
    print(f"[small] {args.files:,} files ...", flush=True)
    small_bytes = make_small(small, args.files)
    if args.profile:
        profile(small, args.workers, args.top)
        return
    if shutil.which("hashdeep") is None:
        sys.exit("hashdeep is not installed (Debian package hashdeep)")
    trees = [("small", small, args.files, small_bytes)]
    if args.mixed:
        print(f"[mixed] {args.mixed:,} files ...", flush=True)
        trees.append(("mixed", OUT / "files", args.mixed, make_files(OUT / "files", args.mixed)))
    load0 = loadavg()
    rows = compare(trees, args.rounds, args.workers)
    load1 = loadavg()
    if not args.record:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        f"\n## Per-file cost: small-file ingest against hashdeep — {stamp}",
        f"Machine: {machine()}. Load average before/after: {load0} / {load1}.",
        "Command: `python bench/bench_smallfiles.py " + " ".join(sys.argv[1:]) + "`",
        f"Median of {args.rounds} interleaved rounds; both sides on {args.workers} workers "
        f"(`hashdeep -r -c md5,sha1,sha256 -j {args.workers}`, `tessera ingest --workers {args.workers}` "
        "into a fresh SQLite case, CLI start-up included, tessera's modules byte-compiled first as an "
        "install has them); the Python floor is bench/pyfloor.py, the same "
        "walk, reads and digests in plain Python on the same processes, storing nothing.",
        "",
        "`--store-in-process`: the same ingest storing in its main process, as before the store process.",
        "",
        "| tree | tessera ingest | hashdeep | ratio | tessera ingest --store-in-process (x hashdeep) "
        "| Python floor (walk + read + 3 digests, nothing kept) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(section) + "\n")
    print("\n".join(section))


if __name__ == "__main__":
    main()
