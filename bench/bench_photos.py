"""12-MP photos at equal cores: Tessera against python-threatexchange, and where a photo's time goes.

    python bench/bench_photos.py [--n 120] [--peer-n 24] [--rounds 3] [--workers 2] [--record]
    python bench/bench_photos.py --breakdown [--breakdown-photos 8]

Photos: generated abstract 4032x3024 JPEGs with invented EXIF, 3-6 MB each (checked), cached under
bench/out/photos12mp/. Each round runs, in rotating order on the same files:

(a) python-threatexchange ``PdqSignal.hash_from_file`` on a ``multiprocessing`` pool of ``--workers``
    processes (pool started and warmed before the clock; ``--peer-n`` photos, it is slow);
(b) ``tessera ingest --workers N`` (the real CLI: digests, PDQ, EXIF, match against a small loaded hash
    set, store) into a fresh case; process start-up is inside the time and is also shown on its own
    (the same command on an empty folder);
(c) ``hash_item`` alone on a pool of ``--workers`` processes (warmed), to separate hashing from ingest.

Rates are medians over rounds; the ratio is Tessera's rate over the peer's, same number of processes.
``--breakdown`` times each stage of ``hash_item`` on one process, photo by photo (median of repeats,
mean over photos). ``--record`` appends a section to bench/RESULTS.md (machine, date, load average).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pdqhash  # noqa: E402
from machine import precompile  # noqa: E402
from machine import summary as machine  # noqa: E402
from PIL import Image  # noqa: E402

from tessera.hashing import hash_item  # noqa: E402
from tessera.hashing.digest import open_readonly  # noqa: E402
from tessera.hashing.exif import read_exif  # noqa: E402
from tessera.hashing.image import DRAFT_MIN_SIDE  # noqa: E402
from tessera.hashing.magic import HEAD_SIZE, sniff  # noqa: E402
from tessera.records import Opener  # noqa: E402
from tessera.synth.hashsets import random_entries, vics_media  # noqa: E402
from tessera.synth.images import SIZE_12MP, invented_exif, photo_jpeg  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PHOTOS = OUT / "photos12mp"
CASE = OUT / "photos_case"
TESSERA = [sys.executable, "-m", "tessera"]
MIN_BYTES, MAX_BYTES = 3_000_000, 6_000_000


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def make_photos(n: int) -> list[Path]:
    """``n`` cached 12-MP JPEGs of 3-6 MB: quality 93..96 by seed, nudged until the size fits."""
    PHOTOS.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = PHOTOS / f"IMG_{i:05d}.jpg"
        if not p.exists() or not MIN_BYTES <= p.stat().st_size <= MAX_BYTES:
            quality = 93 + i % 4
            while True:
                data = photo_jpeg(300_000 + i, *SIZE_12MP, quality=quality, exif=invented_exif(i))
                if len(data) < MIN_BYTES and quality < 99:
                    quality += 1
                elif len(data) > MAX_BYTES and quality > 70:
                    quality -= 2
                else:
                    break
            p.write_bytes(data)
        paths.append(p)
    sizes = [p.stat().st_size for p in paths]
    assert all(MIN_BYTES <= s <= MAX_BYTES for s in sizes), (min(sizes), max(sizes))
    return paths


def known_set(paths: list[Path]) -> Path:
    """A small VICS set: five photos' real hashes (so matching finds hits) and 2,000 invented entries."""
    out = OUT / "photos_known.json"
    if out.exists():
        return out
    entries = []
    for i, p in enumerate(paths[:5]):
        rec = hash_item(Opener(path=str(p)))
        entries.append({"md5": rec.md5, "sha1": rec.sha1, "pdq": rec.pdq, "category": 1 + i % 3})
    entries.extend(random_entries(2_000, seed=5))
    with out.open("wb") as fh:
        vics_media(entries, version="2.0", out=fh)
    return out


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def tessera_ingest(source: Path, workers: int, hashset: Path) -> tuple[float, float]:
    """Wall and CPU seconds (the CLI and its pool workers, all reaped) of one ingest into a fresh case."""
    shutil.rmtree(CASE, ignore_errors=True)
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run([*TESSERA, "case", "init", str(CASE), "--name", "bench", "--agency", "BENCH"], **quiet)  # type: ignore[call-overload]
    subprocess.run([*TESSERA, "hashset", "import", str(hashset), "--case", str(CASE)], **quiet)  # type: ignore[call-overload]
    cmd = [*TESSERA, "ingest", str(source), "--device", "B1", "--workers", str(workers), "--case", str(CASE)]
    cpu, t = children_cpu(), time.perf_counter()
    subprocess.run(cmd, **quiet)  # type: ignore[call-overload]
    return time.perf_counter() - t, children_cpu() - cpu


def peer_one(path: Path) -> float:
    """CPU seconds python-threatexchange spends on one photo (in the worker)."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    cpu = time.process_time()
    PdqSignal.hash_from_file(path)
    return time.process_time() - cpu


def ours_one(path: Path) -> float:
    cpu = time.process_time()
    hash_item(Opener(path=str(path)))
    return time.process_time() - cpu


def pool_rate(
    pool: multiprocessing.pool.Pool, fn: Callable[[Path], float], paths: list[Path]
) -> tuple[float, float]:
    """Images per second and mean CPU milliseconds per image of ``fn`` mapped over ``paths``."""
    t = time.perf_counter()
    cpu = pool.map(fn, paths, chunksize=1)
    return len(paths) / (time.perf_counter() - t), statistics.fmean(cpu) * 1000


# --- stage breakdown ------------------------------------------------------------------------------


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU milliseconds of ``fn`` (CPU, not wall: other helpers' load barely moves it)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times) * 1000


def _read(path: str) -> bytes:
    fd = open_readonly(path)
    try:
        return os.read(fd, os.fstat(fd).st_size + 1)
    finally:
        os.close(fd)


def _opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _decoded(data: bytes) -> Image.Image:
    im = _opened(data)
    im.draft("RGB", (DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
    im.load()
    return im


def _to_pdq_input(im: Image.Image) -> np.ndarray:
    factor = min(im.size) // DRAFT_MIN_SIDE
    if factor >= 2:
        im = im.reduce(factor)
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    return np.asarray(im)


def breakdown(paths: list[Path], repeat: int) -> list[tuple[str, float]]:
    """Per-stage milliseconds of one photo on one process, mean over ``paths``."""
    stages: dict[str, list[float]] = {}
    for p in paths:
        for k, v in _stages(str(p), repeat).items():
            stages.setdefault(k, []).append(v)
    return [(k, statistics.fmean(v)) for k, v in stages.items()]


def _stages(path: str, repeat: int) -> dict[str, float]:
    data = _read(path)
    im = _decoded(data)
    arr = _to_pdq_input(im)
    bits, _ = pdqhash.compute(arr)
    row = {
        "read file (open, fstat, read)": _median_ms(lambda: _read(path), repeat),
        "md5": _median_ms(lambda: hashlib.md5(data, usedforsecurity=False).hexdigest(), repeat),
        "sha1": _median_ms(lambda: hashlib.sha1(data, usedforsecurity=False).hexdigest(), repeat),
        "sha256": _median_ms(lambda: hashlib.sha256(data).hexdigest(), repeat),
        "sniff type": _median_ms(lambda: sniff(data[:HEAD_SIZE]), repeat),
        "open header (Image.open)": _median_ms(lambda: _opened(data), repeat),
        "EXIF parse (read_exif)": _median_ms(lambda: read_exif(_opened(data)), repeat)
        - _median_ms(lambda: _opened(data), repeat),
        f"entropy decode at draft size {im.size[0]}x{im.size[1]}": _median_ms(lambda: _decoded(data), repeat)
        - _median_ms(lambda: _opened(data), repeat),
        f"resize/convert to PDQ input {arr.shape[1]}x{arr.shape[0]}": _median_ms(
            lambda: _to_pdq_input(im), repeat
        ),
        "PDQ (pdqhash.compute)": _median_ms(lambda: pdqhash.compute(arr), repeat),
        "hex packing": _median_ms(
            lambda: np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), repeat
        ),
    }
    total = _median_ms(lambda: hash_item(Opener(path=path)), repeat)
    row["other (hash_item total - stages)"] = total - sum(row.values())
    row["**hash_item total**"] = total
    # The peer, for the ceiling: a full-size decode and PDQ over all 12 M pixels.
    full = np.asarray(Image.open(io.BytesIO(data)))
    row["peer: full-size decode (Image.open + asarray)"] = _median_ms(
        lambda: np.asarray(Image.open(io.BytesIO(data))), 3
    )
    row["peer: pdqhash.compute on the full image"] = _median_ms(lambda: pdqhash.compute(full), 3)
    row["**peer: PdqSignal.hash_from_file total**"] = _median_ms(lambda: peer_one(Path(path)), 3)
    return row


Rounds = dict[str, list[tuple[float, float]]]


def compare(
    peer_paths: list[Path],
    our_paths: list[Path],
    src: Path,
    empty: Path,
    hashset: Path,
    workers: int,
    rounds: int,
) -> Rounds:
    """Per side, one ``(img/s, CPU ms per image)`` per round, the sides interleaved in rotating order."""
    res: Rounds = {"peer": [], "ingest": [], "hash": [], "startup": []}

    def ingest(source: Path, n: int) -> tuple[float, float]:
        wall, cpu = tessera_ingest(source, workers, hashset)
        return n / wall if n else wall, cpu * 1000 / max(n, 1)

    with multiprocessing.Pool(workers) as peer_pool, multiprocessing.Pool(workers) as our_pool:
        peer_pool.map(peer_one, peer_paths[:workers], chunksize=1)  # workers started and warm
        our_pool.map(ours_one, our_paths[:workers], chunksize=1)
        steps: list[tuple[str, Callable[[], tuple[float, float]]]] = [
            ("peer", lambda: pool_rate(peer_pool, peer_one, peer_paths)),
            ("ingest", lambda: ingest(src, len(our_paths))),
            ("hash", lambda: pool_rate(our_pool, ours_one, our_paths)),
        ]
        for r in range(rounds):
            for name, step in steps[r % 3 :] + steps[: r % 3]:
                res[name].append(step())
                rate, cpu = res[name][-1]
                print(
                    f"[round {r + 1}] {name}: {rate:.2f} img/s, {cpu:.1f} CPU ms/img; load {loadavg()}",
                    flush=True,
                )
            # Start-up alone: the same command on an empty folder (wall s, CPU ms).
            res["startup"].append(ingest(empty, 0))
    return res


def table(res: Rounds, w: int, peer_n: int) -> list[str]:
    def med(side: str, i: int) -> float:
        return statistics.median(r[i] for r in res[side])

    def each(side: str, i: int) -> str:
        return ", ".join(f"{r[i]:.{2 if i == 0 else 0}f}" for r in res[side])

    peer_rate, peer_cpu = med("peer", 0), med("peer", 1)
    start_wall, start_cpu = med("startup", 0), med("startup", 1)
    rows = [
        ("peer", f"(a) python-threatexchange `PdqSignal.hash_from_file`, Pool({w}), {peer_n} photos"),
        (
            "ingest",
            f"(b) `tessera ingest --workers {w}`, fresh case, 2,005-entry hash set (start-up "
            f"included: empty folder {start_wall:.2f} s, {start_cpu:.0f} CPU ms)",
        ),
        ("hash", f"(c) `hash_item` alone, Pool({w})"),
    ]
    out = [
        "| side | img/s | x peer (img/s) | CPU ms/img | x peer (CPU) |",
        "|---|---|---|---|---|",
    ]
    for side, label in rows:
        rate, cpu = med(side, 0), med(side, 1)
        out.append(
            f"| {label} | {rate:.2f} ({each(side, 0)}) | **{rate / peer_rate:.1f}x** | "
            f"{cpu:.0f} ({each(side, 1)}) | {peer_cpu / cpu:.1f}x |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120, help="photos ingested and hashed per round")
    ap.add_argument("--peer-n", type=int, default=24, help="photos the peer hashes per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="append a section to bench/RESULTS.md")
    ap.add_argument("--breakdown", action="store_true", help="time each hash_item stage (then stop)")
    ap.add_argument("--breakdown-photos", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=7, help="repeats per stage in --breakdown")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    precompile()  # as an installed tessera has it
    print(f"[photos] {args.n} photos 4032x3024 under {PHOTOS} ...", flush=True)
    paths = make_photos(max(args.n, args.peer_n, args.breakdown_photos))
    sizes = [p.stat().st_size / 1e6 for p in paths[: args.n]]
    size_text = f"{min(sizes):.1f}-{max(sizes):.1f} MB, median {statistics.median(sizes):.1f} MB"
    print(f"[photos] {size_text}")
    load_before = loadavg()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/bench_photos.py " + " ".join(sys.argv[1:])

    if args.breakdown:
        rows = breakdown(paths[: args.breakdown_photos], args.repeat)
        lines = [f"| {name} | {ms:.2f} |" for name, ms in rows]
        section = [
            f"\n## 12-MP photo: where hash_item's time goes — {stamp}",
            f"Machine: {machine()}. Load average {load_before} (before), {loadavg()} (after).",
            f"Command: `{command}`. One process; {args.breakdown_photos} photos ({size_text}), "
            f"median of {args.repeat} repeats per stage, mean over photos.",
            "",
            "| stage | CPU ms |",
            "|---|---|",
            *lines,
            "",
        ]
    else:
        try:
            import threatexchange  # noqa: F401
        except ImportError:
            sys.exit("python-threatexchange is not installed: pip install 'tessera[bench]'")
        hashset = known_set(paths)
        src = PHOTOS  # the folder holds exactly the cached photos
        assert len(list(src.glob("*.jpg"))) >= args.n
        empty = OUT / "photos_empty"
        empty.mkdir(exist_ok=True)
        peer_paths, our_paths = paths[: args.peer_n], paths[: args.n]
        if len(list(src.glob("*.jpg"))) != args.n:
            src = OUT / f"photos12mp_{args.n}"
            shutil.rmtree(src, ignore_errors=True)
            src.mkdir()
            for p in our_paths:
                os.link(p, src / p.name)
        subprocess.run(["cat", *map(str, our_paths)], stdout=subprocess.DEVNULL, check=True)  # page cache
        res = compare(peer_paths, our_paths, src, empty, hashset, args.workers, args.rounds)
        section = [
            f"\n## 12-MP photos at equal cores ({args.workers} processes each) — {stamp}",
            f"Machine: {machine()}. Load average {load_before} (before), {loadavg()} (after).",
            f"Command: `{command}`. Photos: {args.n} generated 4032x3024 JPEGs with EXIF, {size_text}; "
            f"{args.rounds} rounds, interleaved in rotating order; medians (each round in brackets). CPU ms "
            "per image is the processes' own CPU time: unlike img/s it hardly moves with other load, and "
            "its ratio is the img/s ratio both sides reach when each has its cores to itself.",
            "",
            *table(res, args.workers, args.peer_n),
            "",
        ]
    print("\n".join(section))
    if args.record:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(section) + "\n")


if __name__ == "__main__":
    main()
