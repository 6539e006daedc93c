"""Whole-ingest throughput against the peers named in issue 2, in one run.

    python bench/bench_ingest.py [--n12 250] [--nsmall 1000] [--files 20000] [--peer-sample 100] [--workers 2]

* photos: generated 12-MP (4032x3024) and 1280x960 JPEGs; Tessera's whole ingest (three digests + PDQ +
  match against a loaded hash set + store, via the real CLI) against python-threatexchange's
  ``PdqSignal.hash_from_file`` loop on the same files (single process, as that API is used).
* digests: a tree of mixed non-image files; Tessera's ingest against ``hashdeep -r -c md5,sha1,sha256``.

Test data is cached under bench/out/ (generated once). Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from machine import summary as machine  # type: ignore[import-not-found]

from tessera.synth.hashsets import random_entries, vics_media
from tessera.synth.images import photo_jpeg

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TESSERA = [sys.executable, "-m", "tessera"]


def make_photos(directory: Path, n: int, size: tuple[int, int], seed0: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = directory / f"IMG_{i:05d}.jpg"
        if not p.exists():
            p.write_bytes(photo_jpeg(seed0 + i, size[0], size[1], quality=92))
        paths.append(p)
    return paths


def make_files(directory: Path, n: int, seed: int = 7) -> int:
    """Mixed non-image files (text, binary, document-like headers), sizes log-uniform 512 B .. 512 KiB."""
    marker = directory / ".complete"
    if marker.exists() and marker.read_text().split()[0] == str(n):
        return int(marker.read_text().split()[1])
    shutil.rmtree(directory, ignore_errors=True)
    rng = random.Random(seed)
    total = 0
    block = rng.randbytes(1 << 20)
    heads = [b"%PDF-1.7\n", b"PK\x03\x04", b"SQLite format 3\x00", b"", b'{"k": 1}\n', b"\x7fELF"]
    for i in range(n):
        sub = directory / f"d{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        size = int(2 ** rng.uniform(9, 19))
        head = heads[i % len(heads)]
        if head == b"PK\x03\x04":
            head = b""  # no fake zips: they would be recorded as corrupt archives, not hashed plainly
        off = rng.randrange(len(block) - size) if size < len(block) else 0
        (sub / f"file{i:06d}.bin").write_bytes(head + block[off : off + size] + i.to_bytes(4, "big"))
        total += size + len(head) + 4
    marker.write_text(f"{n} {total}")
    return total


def run(cmd: list[str], **kw: object) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t


def tessera_ingest(source: Path, workers: int, hashset: Path | None) -> float:
    case = OUT / "case"
    shutil.rmtree(case, ignore_errors=True)
    subprocess.run(
        [*TESSERA, "case", "init", str(case), "--name", "bench", "--agency", "BENCH"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if hashset:
        subprocess.run(
            [*TESSERA, "hashset", "import", str(hashset), "--case", str(case)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return run(
        [*TESSERA, "ingest", str(source), "--device", "B1", "--workers", str(workers), "--case", str(case)]
    )


def peer_pdq(paths: list[Path]) -> float:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    t = time.perf_counter()
    for p in paths:
        PdqSignal.hash_from_file(p)
    return time.perf_counter() - t


def known_set(paths: list[Path]) -> Path:
    """A VICS set: the first photos' real hashes plus 20,000 invented entries, so matching really runs."""
    import hashlib

    from tessera.hashing import hash_item
    from tessera.records import Opener

    entries = []
    for i, p in enumerate(paths[:5]):
        rec = hash_item(Opener(path=str(p)))
        entries.append({"md5": rec.md5, "sha1": rec.sha1, "pdq": rec.pdq, "category": 1 + i % 3})
    entries.extend(random_entries(20_000, seed=3))
    out = OUT / "known.json"
    with out.open("wb") as fh:
        vics_media(entries, version="2.0", out=fh)
    assert hashlib.sha256(out.read_bytes()).hexdigest()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n12", type=int, default=250)
    ap.add_argument("--nsmall", type=int, default=1000)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3, help="digest runs per tool (best is kept)")
    ap.add_argument("--peer-sample", type=int, default=100, help="photos the peer is timed on (rate)")
    ap.add_argument("--skip", default="", help="comma list of: photos12,photos1k,digests")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    OUT.mkdir(exist_ok=True)
    rows: list[str] = []

    for label, n, size, seed0 in (
        ("photos12", args.n12, (4032, 3024), 100_000),
        ("photos1k", args.nsmall, (1280, 960), 200_000),
    ):
        if label in skip:
            continue
        print(f"[{label}] generating {n} photos {size[0]}x{size[1]} ...", flush=True)
        paths = make_photos(OUT / label, n, size, seed0)
        hs = known_set(paths)
        ours = tessera_ingest(OUT / label, args.workers, hs)
        sample = paths[: max(1, min(n, args.peer_sample))]
        peer = peer_pdq(sample)
        ours_rate, peer_rate = n / ours, len(sample) / peer
        ratio = ours_rate / peer_rate
        print(f"[{label}] tessera {ours_rate:.1f} img/s, threatexchange {peer_rate:.2f} img/s, x{ratio:.1f}")
        target = 15 if label == "photos12" else 3
        rows.append(
            f"| {label} ({size[0]}x{size[1]}, {n} JPEGs) | tessera ingest --workers {args.workers}: "
            f"{ours_rate:.2f} img/s ({n} in {ours:.1f} s, CLI start included) | "
            f"PdqSignal.hash_from_file loop: {peer_rate:.2f} img/s ({len(sample)} in {peer:.1f} s) | "
            f"**{ratio:.1f}x** (target >= {target}x) |"
        )

    if "digests" not in skip:
        tree = OUT / "files"
        print(f"[digests] generating {args.files} files ...", flush=True)
        total = make_files(tree, args.files)
        if shutil.which("hashdeep") is None:
            print("hashdeep not installed (Debian package hashdeep); skipping the peer")
        else:
            run(["cat", *[str(p) for p in list(tree.rglob("*.bin"))[:1]]])
            subprocess.run(f"cat {tree}/*/* > /dev/null", shell=True, check=False)  # warm the page cache
            # Best of --repeat runs each: hashdeep's wall time varies by a second or more here.
            peer = min(
                run(["hashdeep", "-r", "-c", "md5,sha1,sha256", str(tree)]) for _ in range(args.repeat)
            )
            ours = min(tessera_ingest(tree, args.workers, None) for _ in range(args.repeat))
            ratio = peer / ours
            mb = total / 1e6  # the tree's .complete marker is one more (tiny) file for both tools
            print(
                f"[digests] tessera {args.files / ours:.0f} files/s, "
                f"hashdeep {args.files / peer:.0f} files/s, x{ratio:.2f}"
            )
            rows.append(
                f"| digests ({args.files:,} mixed non-image files, {mb:,.0f} MB) | tessera ingest: "
                f"{args.files / ours:,.0f} files/s, {mb / ours:,.0f} MB/s ({ours:.1f} s) | hashdeep -r -c "
                f"md5,sha1,sha256: {args.files / peer:,.0f} files/s ({peer:.1f} s); best of {args.repeat} "
                f"each | **{ratio:.2f}x** (target >= 0.9x) |"
            )

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        f"\n## Ingest throughput — {stamp}",
        f"Machine: {machine()}.",
        "Command: `python bench/bench_ingest.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| data | Tessera | peer | ratio |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(section) + "\n")
    print("\n".join(section))


if __name__ == "__main__":
    main()
