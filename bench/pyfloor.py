"""The least a Python tool can spend on a tree at N processes: walk it, read each file, three digests.

    python bench/pyfloor.py TREE [--workers 2]

Nothing is stored, sniffed or sent back but a count: this is the floor under any Python ingest of the
same files (interpreter start-up included, as hashdeep's and tessera's are), used by
bench_smallfiles.py to tell what Python itself costs from what Tessera adds."""

from __future__ import annotations

import argparse
import hashlib
import os
from concurrent.futures import ProcessPoolExecutor


def _walk(top: str) -> list[str]:
    out: list[str] = []
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    out.append(e.path)
    return out


def _hash(paths: list[str]) -> int:
    for p in paths:
        with open(p, "rb") as fh:
            data = fh.read()
        hashlib.md5(data).digest()
        hashlib.sha1(data).digest()
        hashlib.sha256(data).digest()
    return len(paths)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tree")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    paths = _walk(args.tree)
    chunks = [paths[i : i + 256] for i in range(0, len(paths), 256)]
    with ProcessPoolExecutor(args.workers) as pool:
        done = sum(pool.map(_hash, chunks))
    print(done)


if __name__ == "__main__":
    main()
