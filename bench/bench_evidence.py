"""Digest throughput before and after an evidence-layer change, with hashdeep in the same run.

    python bench/bench_evidence.py --before REV [--files 20000] [--phone-files 100000] [--repeat 3]

Issue 11 asks that moving the evidence layer (dfVFS, locators, archives) does not slow plain trees
down. ``REV`` (a commit before the change) is checked out in a temporary git worktree and its
``tessera ingest`` is timed on the same trees as this checkout's, alternating, best of ``--repeat``
each, with ``hashdeep -r -c md5,sha1,sha256`` as the peer at equal cores (``--workers`` = the
machine's cores, which is what hashdeep uses). Trees:

* the 20,000-file mixed tree of ``bench_ingest.py`` (512 B .. 512 KiB), and
* a phone-like tree of 100,000 small app files (100 B .. 64 KiB, 200 per folder, nested).

Results are appended to bench/RESULTS.md.
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
from datetime import UTC, datetime
from pathlib import Path

from bench_ingest import make_files  # type: ignore[import-not-found]
from machine import summary as machine  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"


def make_phone_tree(directory: Path, n: int, seed: int = 11) -> int:
    """``n`` small files as an app data partition holds them: 100 B .. 64 KiB, log-uniform."""
    marker = directory / ".complete"
    if marker.exists() and marker.read_text().split()[0] == str(n):
        return int(marker.read_text().split()[1])
    shutil.rmtree(directory, ignore_errors=True)
    rng = random.Random(seed)
    block = rng.randbytes(1 << 17)
    total = 0
    for i in range(n):
        sub = directory / f"data/app{i // 5000:02d}/files/d{(i // 200) % 25:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        size = int(2 ** rng.uniform(6.64, 16))
        off = rng.randrange(len(block) - size)
        (sub / f"f{i:06d}.dat").write_bytes(block[off : off + size] + i.to_bytes(4, "big"))
        total += size + 4
    marker.write_text(f"{n} {total}")
    return total


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - t
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-2000:]}")
    return took


def ingest(checkout: Path, tree: Path, workers: int) -> float:
    """``tessera ingest`` of ``tree`` with the code of ``checkout`` (its folder first on sys.path)."""
    case = Path(tempfile.mkdtemp(prefix="bench-case-", dir=OUT))
    try:
        env = dict(os.environ, PYTHONPATH=str(checkout))
        subprocess.run(
            [sys.executable, "-m", "tessera", "case", "init", str(case), "--name", "b", "--agency", "B"],
            cwd=checkout,
            env=env,
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
                str(tree),
                "--device",
                "B1",
                "--case",
                str(case),
                "--workers",
                str(workers),
            ],
            cwd=checkout,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        took = time.perf_counter() - t
        if done.returncode != 0:
            raise SystemExit(f"ingest with {checkout} failed: {done.stderr.decode()[-2000:]}")
        return took
    finally:
        shutil.rmtree(case, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="a commit before the change")
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--phone-files", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    old = Path(tempfile.mkdtemp(prefix="bench-before-", dir=OUT))
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), args.before], check=True)
    rows = []
    try:
        trees = [
            (
                f"{args.files:,} mixed files (512 B .. 512 KiB)",
                OUT / "files",
                make_files(OUT / "files", args.files),
                args.files,
            ),
            (
                f"{args.phone_files:,} phone-like app files (100 B .. 64 KiB)",
                OUT / "phone-files",
                make_phone_tree(OUT / "phone-files", args.phone_files),
                args.phone_files,
            ),
        ]
        for label, tree, nbytes, n in trees:
            subprocess.run(f"find {tree} -type f -exec cat {{}} + > /dev/null", shell=True, check=False)
            before, after, peer = [], [], []
            for _ in range(args.repeat):  # alternating, so drift in the machine's load hits all three
                before.append(ingest(old, tree, args.workers))
                after.append(ingest(REPO, tree, args.workers))
                peer.append(timed(["hashdeep", "-r", "-c", "md5,sha1,sha256", str(tree)]))
            b, a, p = min(before), min(after), min(peer)
            print(f"[{label}] before {n / b:,.0f} files/s, after {n / a:,.0f} files/s, hashdeep {n / p:,.0f}")
            rows.append(
                f"| {label}, {nbytes / 1e6:,.0f} MB | {n / b:,.0f} files/s ({b:.1f} s) | "
                f"**{n / a:,.0f} files/s** ({a:.1f} s) | **{b / a:.2f}x** | "
                f"{n / p:,.0f} files/s ({p:.1f} s) | {p / a:.2f}x |"
            )
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        f"\n## Evidence layer: digest throughput before/after — {stamp}",
        f"Machine: {machine()}. `--workers {args.workers}` (hashdeep uses every core too). Command: "
        f"`python bench/bench_evidence.py " + " ".join(sys.argv[1:]) + "`; best of "
        f"{args.repeat} alternating runs each.",
        "",
        f"| tree | before ({args.before[:10]}) | after (this checkout) | after/before | "
        "hashdeep -c md5,sha1,sha256 | after vs hashdeep |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write("\n".join(section) + "\n")
    print("\n".join(section))


if __name__ == "__main__":
    main()
