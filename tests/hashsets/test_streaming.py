"""Large files are streamed: memory stays bounded whatever the file size."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tessera.hashsets import open_hashset
from tessera.synth.hashsets import headed_csv, plain_list, random_entries, vics_cases, vics_media

# Peak RSS growth while a child process reads the file; tracemalloc would slow 200k entries ~6x.
_RSS_PROBE = """
import resource, sys, json
from tessera.hashsets import open_hashset
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with open(sys.argv[1], "rb") as fh:
    reader = open_hashset(fh)
    before = rss()
    n = sum(1 for _ in reader)
print(json.dumps({"entries": n, "growth": rss() - before}))
"""


@pytest.fixture(scope="module")
def big_vics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.json"
    vics_media(random_entries(200_000, seed=1), "1.3", out=path)
    return path


@pytest.mark.slow
def test_200k_vics_read_in_bounded_memory(big_vics: Path) -> None:
    size = big_vics.stat().st_size
    assert size > 100 * 2**20
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(big_vics)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert result["entries"] == 200_000 * 4 + 66_667  # md5, sha1, sha256, pdq each; PhotoDNA on every third
    assert result["growth"] < size / 10, result


def _peak(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with path.open("rb") as fh:
            n = sum(1 for _ in open_hashset(fh, algorithm="sha256" if path.suffix == ".txt" else None))
        return n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("name", "count", "write", "entries"),
    [
        ("media.json", 10_000, lambda e, p: vics_media(e, "2.0", out=p), 10_000 * 4 + 3_334),
        ("cases.json", 8_000, lambda e, p: vics_cases(e, "1.3", per_case=3_000, out=p), 8_000 * 4 + 2_667),
        ("list.txt", 80_000, lambda e, p: plain_list(e, "sha256", out=p), 80_000),
        ("hashes.csv", 30_000, lambda e, p: headed_csv(e, out=p), 30_000 * 3),
    ],
)
def test_peak_allocation_is_a_small_fraction_of_the_file(
    tmp_path: Path, name: str, count: int, write: Callable[[Any, Path], bytes], entries: int
) -> None:
    path = tmp_path / name
    write(random_entries(count, seed=4), path)
    size = path.stat().st_size
    assert size > 4 * 2**20
    n, peak = _peak(path)
    assert n == entries
    assert peak < size / 4, (peak, size)
    assert peak < 2 * 2**20


def test_generators_write_without_holding_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gen.json"
    tracemalloc.start()
    try:
        vics_media(random_entries(20_000, seed=8), "1.3", out=path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size / 5, (peak, path.stat().st_size)
