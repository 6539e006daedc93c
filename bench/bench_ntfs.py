"""A 2 GiB NTFS image with 50,000 files: Tessera against The Sleuth Kit's own tools, same cores.

    python bench/bench_ntfs.py [--files 50000] [--size-mb 2048] [--workers 2]

* Tessera: ``tessera ingest`` of a folder holding the image (dfVFS + TSK walk, MD5/SHA-1/SHA-256 of
  every file, type by magic, store), the real CLI end to end.
* Peer: ``fls -r -p`` lists the image, then ``icat`` reads every regular file and MD5, SHA-1 and
  SHA-256 are computed from its output, ``--workers`` ``icat`` processes at a time (equal cores).

The image is generated once (mkntfs + ntfs-3g through FUSE; files of 512 B .. 128 KiB, log-uniform,
in folders of 250) and cached under bench/out/. Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from machine import summary as machine  # type: ignore[import-not-found]

from tessera.synth.disks import ntfs_image, ntfs_tools_missing

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
_FLS = re.compile(r"^(?:\+ )*r/r (\*?)\s*(\d+(?:-\d+-\d+)?):\t(.*)$")


def dataset(n: int, size_mb: int) -> tuple[Path, int]:
    folder = OUT / f"ntfs-{n}"
    img = folder / "ntfs.img"
    marker = folder / ".complete"
    if img.exists() and marker.exists():
        return img, int(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(5)
    block = rng.randbytes(1 << 18)
    files: dict[str, bytes] = {}
    total = 0
    for i in range(n):
        size = int(2 ** rng.uniform(9, 17))
        off = rng.randrange(len(block) - size)
        files[f"Users/u{i // 10000}/d{(i // 250) % 40:02d}/f{i:06d}.dat"] = block[
            off : off + size
        ] + i.to_bytes(4, "big")
        total += size + 4
    t = time.perf_counter()
    ntfs_image(img, files, size_mb=size_mb)
    print(f"image built in {time.perf_counter() - t:.0f} s ({total / 1e6:,.0f} MB of files)", flush=True)
    marker.write_text(str(total))
    return img, total


def tessera(folder: Path, workers: int) -> tuple[float, int]:
    case = Path(tempfile.mkdtemp(prefix="ntfs-case-", dir=OUT))
    try:
        subprocess.run(
            [sys.executable, "-m", "tessera", "case", "init", str(case), "--name", "b", "--agency", "B"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        t = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tessera",
                "ingest",
                str(folder),
                "--device",
                "N1",
                "--case",
                str(case),
                "--workers",
                str(workers),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.perf_counter() - t
        if done.returncode not in (0, 1):
            raise SystemExit(done.stderr[-2000:])
        import sqlite3

        con = sqlite3.connect(case / "case.db")
        (hashed,) = con.execute(
            "SELECT COUNT(*) FROM file WHERE sha256 IS NOT NULL AND locator LIKE '%.dat'"
        ).fetchone()
        con.close()
        return took, int(hashed)
    finally:
        shutil.rmtree(case, ignore_errors=True)


def peer(img: Path, workers: int) -> tuple[float, int]:
    t = time.perf_counter()
    listing = subprocess.run(["fls", "-r", "-p", str(img)], capture_output=True, text=True, check=True).stdout
    inodes = [
        m.group(2) for line in listing.splitlines() if (m := _FLS.match(line)) and m.group(3).endswith(".dat")
    ]

    def digest(inode: str) -> str:
        md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()
        with subprocess.Popen(["icat", str(img), inode], stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            while chunk := proc.stdout.read(1 << 20):
                md5.update(chunk)
                sha1.update(chunk)
                sha256.update(chunk)
        return sha256.hexdigest()

    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(digest, inodes))
    return time.perf_counter() - t, len(done)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--size-mb", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if ntfs_tools_missing() or shutil.which("fls") is None:
        raise SystemExit("needs Debian ntfs-3g (mkntfs, ntfs-3g, fusermount) and sleuthkit (fls, icat)")
    OUT.mkdir(exist_ok=True)
    img, total = dataset(args.files, args.size_mb)
    subprocess.run(["cat", str(img)], stdout=subprocess.DEVNULL, check=False)  # warm the page cache
    ours, ours_n = tessera(img.parent, args.workers)
    theirs, their_n = peer(img, args.workers)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        f"\n## NTFS image: Tessera against fls + icat — {stamp}",
        f"Machine: {machine()}. Command: `python bench/bench_ntfs.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"{args.size_mb:,} MiB NTFS image (mkntfs + ntfs-3g), {args.files:,} files, {total / 1e6:,.0f} MB "
        f"of file data; {args.workers} processes each.",
        "",
        "| tool | files hashed | time | files/s |",
        "|---|---|---|---|",
        f"| `tessera ingest` (dfVFS + TSK walk, MD5+SHA-1+SHA-256, magic, store) | {ours_n:,} | "
        f"{ours:.1f} s | **{ours_n / ours:,.0f}** |",
        f"| `fls -r -p` + `icat` per file, MD5+SHA-1+SHA-256 of its output | {their_n:,} | {theirs:.1f} s | "
        f"{their_n / theirs:,.0f} |",
        "",
        f"Ratio: **{(ours_n / ours) / (their_n / theirs):.2f}x** the peer's files/s.",
        "",
    ]
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(section) + "\n")
    print("\n".join(section))


if __name__ == "__main__":
    main()
