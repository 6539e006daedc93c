"""iTunes/Finder backup ingest throughput against the floor of reading the same backup, in one run.

    python bench/bench_backup.py [--entries 50000] [--repeat 2] [--workers N] [--encrypted 0]

* data: a generated unencrypted backup (``tessera.synth.backups``) of ``--entries`` files, phone-like
  sizes (100 B .. 16 KiB) spread over app containers, app groups, HomeDomain and CameraRollDomain,
  cached under bench/out/backup-<n>/. ``--encrypted N`` adds an encrypted backup of N files (DPIC
  10,000,000 as real backups use) for a second row.
* floor: the ``sqlite3`` shell reading every ``Files`` row (``select * from Files`` to /dev/null)
  plus ``hashdeep -r -c md5,sha1,sha256`` over the backup folder (every core); the sum is the floor:
  reading the index and digesting every byte, nothing stored.
* ours: ``tessera ingest`` of the backup folder into a fresh SQLite case with ``--workers`` processes
  (default: the machine's cores, as hashdeep uses): the index copied and read, every file under its
  device path, hashed (MD5, SHA-1, SHA-256), sniffed and stored. Also the walk alone (items/s of
  ``iter_evidence``, no hashing), to show where the time goes.

Results (best of ``--repeat``) are printed and appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from machine import summary  # type: ignore[import-not-found]

from tessera.evidence import Limits, iter_evidence
from tessera.evidence.backup_crypto import _UNLOCKED
from tessera.synth.backups import WHATSAPP_GROUP, write_backup

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def entries(n: int, seed: int = 0) -> Iterator[tuple[str, str, bytes]]:
    """``n`` files as a phone's backup holds them: mostly small app files, some camera files."""
    rng = random.Random(seed)
    apps = [f"AppDomain-com.example.app{i:02d}" for i in range(40)]
    for i in range(n):
        size = int(100 * (16384 / 100) ** rng.random())  # log-uniform 100 B .. 16 KiB
        roll = rng.random()
        if roll < 0.6:
            domain, rel = rng.choice(apps), f"Library/Caches/c{i % 97:02d}/f{i}.dat"
        elif roll < 0.7:
            domain, rel = WHATSAPP_GROUP, f"Message/Media/{i % 50}/{i:x}.bin"
        elif roll < 0.9:
            domain, rel = "HomeDomain", f"Library/Data/d{i % 31}/r{i}.db"
        else:
            domain, rel = "CameraRollDomain", f"Media/DCIM/{100 + i % 9}APPLE/IMG_{i:05d}.DAT"
        yield domain, rel, rng.randbytes(size)


def dataset(n: int, password: str | None = None) -> Path:
    root = OUT / (f"backup-{n}" + ("-enc" if password else ""))
    marker = OUT / (root.name + ".complete")
    if root.is_dir() and marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    kw = {"dpic": 10_000_000, "iterations": 10_000} if password else {}
    write_backup(root, entries(n), password=password, **kw)  # type: ignore[arg-type]
    marker.write_text(str(n))
    return root


def timed(cmd: list[str] | str, shell: bool = False) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - t
    if done.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed: {done.stderr.decode()[-2000:]}")
    return took


def floor(root: Path, encrypted: bool) -> tuple[float, float]:
    # An encrypted Manifest.db is no SQLite file: there the floor is digesting the ciphertext alone
    # (no key derivation, no decryption), a lower bound.
    select = ["sqlite3", "-readonly", str(root / "Manifest.db"), "select * from Files"]
    index = 0.0 if encrypted else timed(select)
    digest = timed(["hashdeep", "-r", "-c", "md5,sha1,sha256", str(root)])
    return index, digest


def ingest(root: Path, workers: int, password: str | None) -> float:
    case = Path(tempfile.mkdtemp(prefix="bench-case-", dir=OUT))
    try:
        subprocess.run(
            [sys.executable, "-m", "tessera", "case", "init", str(case), "--name", "B", "--agency", "X"],
            check=True,
            capture_output=True,
        )
        cmd = [sys.executable, "-m", "tessera", "ingest", str(root), "--device", "B01", "--kind", "phone"]
        cmd += ["--workers", str(workers), "--case", str(case)]
        if password:
            cmd += ["--password", password]
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, check=False)
        took = time.perf_counter() - t
        if done.returncode not in (0, 1):
            raise SystemExit(f"ingest failed: {done.stderr.decode()[-2000:]}")
        return took
    finally:
        shutil.rmtree(case, ignore_errors=True)


def walk_only(root: Path, password: str | None) -> tuple[float, int]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-scratch-", dir=OUT))
    _UNLOCKED.clear()  # the password derivation is counted each time, as in a fresh ingest
    try:
        t = time.perf_counter()
        n = sum(
            1
            for _ in iter_evidence(
                root, Limits(scratch_dir=scratch, volume_keys=(password,) if password else ())
            )
        )
        return time.perf_counter() - t, n
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def as_folder(root: Path) -> Path:
    """The backup's data folders alone, copied as a plain folder: the same files without the index."""
    folder = root.with_name(root.name + "-folder")
    if not folder.is_dir():
        folder.mkdir()
        for d in root.iterdir():
            if d.is_dir():
                shutil.copytree(d, folder / d.name)
    return folder


def measure(label: str, root: Path, n: int, args: argparse.Namespace, password: str | None) -> list[str]:
    folder = None if password else as_folder(root)
    for tree in (root, folder):  # warm the page cache
        if tree is not None:
            subprocess.run(f"find {tree} -type f -exec cat {{}} + > /dev/null", shell=True, check=False)
    nbytes = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    ours, idx, dig, walks, plain = [], [], [], [], []
    for _ in range(args.repeat):  # alternating, so drift in the machine's load hits every row
        i, d = floor(root, password is not None)
        idx.append(i)
        dig.append(d)
        ours.append(ingest(root, args.workers, password))
        walks.append(walk_only(root, password))
        if folder is not None:
            plain.append(ingest(folder, args.workers, None))
    t_floor = min(i + d for i, d in zip(idx, dig, strict=True))
    t_ours = min(ours)
    t_walk, items = min(walks)
    kdf = "; includes the password derivation" if password else ""
    floor_what = (
        "`hashdeep -r` md5,sha1,sha256 of the ciphertext (floor, a lower bound: no key derivation, "
        "nothing decrypted; sqlite3 cannot read the encrypted index)"
        if password
        else "`sqlite3` select * from Files + `hashdeep -r` md5,sha1,sha256 (floor)"
    )
    print(f"[{label}] floor {n / t_floor:,.0f} files/s, tessera ingest {n / t_ours:,.0f} files/s")
    return [
        f"| {label}, {nbytes / 1e6:,.0f} MB | {floor_what} | {t_floor:.1f} s (index {min(idx):.2f} s) "
        f"| {n / t_floor:,.0f} |",
        f"| | `tessera ingest --workers {args.workers}` (index, device paths, MD5+SHA-1+SHA-256, store) | "
        f"{t_ours:.1f} s | **{n / t_ours:,.0f}** ({t_floor / t_ours:.2f}x the floor) |",
        f"| | walk alone (`iter_evidence`, {items:,} items, no hashing{kdf}) | {t_walk:.1f} s "
        f"| {items / t_walk:,.0f} |",
    ] + (
        [
            f"| | the same {n:,} data files as a plain folder, `tessera ingest --workers {args.workers}` "
            f"(directory source, hashed names) | {min(plain):.1f} s | {n / min(plain):,.0f} |"
        ]
        if plain
        else []
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--entries", type=int, default=50_000)
    ap.add_argument("--encrypted", type=int, default=0, help="also an encrypted backup of this many files")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    for tool in ("sqlite3", "hashdeep"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install {tool}")
    OUT.mkdir(exist_ok=True)
    t = time.perf_counter()
    plain = dataset(args.entries)
    print(f"dataset ready in {time.perf_counter() - t:.1f} s")
    rows = measure(f"{args.entries:,}-entry unencrypted backup", plain, args.entries, args, None)
    if args.encrypted:
        enc = dataset(args.encrypted, "bench")
        rows += measure(
            f"{args.encrypted:,}-entry encrypted backup (DPIC 10M)", enc, args.encrypted, args, "bench"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = f"python bench/bench_backup.py --entries {args.entries} --repeat {args.repeat}"
    cmd += f" --workers {args.workers}"
    if args.encrypted:
        cmd += f" --encrypted {args.encrypted}"
    text = "\n".join(
        [
            f"## iTunes/Finder backup ingest — {now}",
            f"Machine: {summary()}. Command: `{cmd}`; best of {args.repeat} alternating runs each. The floor",
            "reads the index and digests every byte with every core; it stores nothing. Load average at the "
            f"end (1, 5, 15 min): {load} (a shared machine: the rows alternate so the load hits each).",
            "",
            "| backup | what | time | files/s |",
            "|---|---|---|---|",
            *rows,
            "",
            "",
        ]
    )
    print(text)
    if not args.no_record:
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
