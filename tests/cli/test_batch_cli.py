"""`tessera ingest-batch` and `tessera ingest --executor dask` as a user runs them: real processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

DEVICES = ("D1", "D2", "D3")
# A Dask cluster in its own process, as a lab's would be: this test process stays free of Dask threads.
CLUSTER = """
import sys
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as c:
        print(c.scheduler_address, flush=True)
        sys.stdin.read()
"""


def tessera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tessera", *args], capture_output=True, text=True)


def new_case(path: Path, known: Path) -> Path:
    assert tessera("case", "init", str(path), "--name", "Op Batch", "--agency", "XX").returncode == 0
    assert tessera("hashset", "import", str(known), "--case", str(path)).returncode == 0
    return path


def per_device(case: Path) -> dict[str, tuple[int, int, int]]:
    """device -> (files, (file, hash-set entry) matches, files with an error)."""
    with sqlite3.connect(case / "case.db") as conn:
        rows = conn.execute(
            "select f.device_id, count(distinct f.id), count(mt.id), count(distinct case when f.error "
            "is not null then f.id end) from file f left join match mt on mt.sha256 = f.sha256 "
            "group by f.device_id"
        ).fetchall()
    return {dev: (files, matches, errors) for dev, files, matches, errors in rows}


@pytest.fixture(scope="module")
def seized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, tuple[int, int, int]]]:
    """Three devices, a manifest naming them, and the counts of ingesting them one by one."""
    tmp = tmp_path_factory.mktemp("batch-cli")
    sc = build_scenario(n_known=2, n_unrelated=1, size=(320, 240))
    for n, dev in enumerate(DEVICES):
        make_device_tree(tmp / "seized" / dev, 120 + n, n_photos=15 + 5 * n, plant=sc.plant)
    manifest = tmp / "seized" / "manifest.csv"
    manifest.write_text("device,kind,suspect,source\nD1,phone,S1,D1\nD2,computer,,D2\nD3,storage,S2,D3\n")
    known = known_vics(sc, tmp / "known.json")
    one = new_case(tmp / "one-by-one", known)
    for dev in DEVICES:
        r = tessera(
            "ingest", str(tmp / "seized" / dev), "--device", dev, "--workers", "2", "--case", str(one)
        )
        assert r.returncode == 1, r.stderr  # the generated trees hold bad files on purpose
    return manifest, known, per_device(one)


@pytest.fixture(scope="module")
def untouched_case(seized: tuple[Path, Path, dict[str, tuple[int, int, int]]]) -> Path:
    """A case the refused commands share; each test checks that nothing was written to it."""
    return new_case(seized[0].parent.parent / "untouched", seized[1])


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    address = proc.stdout.readline().strip()
    assert address.startswith("tcp://"), address
    yield address
    proc.stdin.close()
    proc.wait(timeout=60)


def test_batch_reports_each_device_like_single_ingests(
    tmp_path: Path, seized: tuple[Path, Path, dict[str, tuple[int, int, int]]]
) -> None:
    manifest, known, expected = seized
    case = new_case(tmp_path / "case", known)
    r = tessera("ingest-batch", str(manifest), "--parallel", "3", "--workers", "2", "--case", str(case))
    assert r.returncode == 1, r.stderr  # done, but some files could not be processed
    assert per_device(case) == expected
    assert all(f"HIT {dev}:/WhatsApp/Media/WhatsApp Images/IMG-known-0.jpg" in r.stderr for dev in DEVICES)
    table = {
        line.split()[0]: line
        for line in r.stdout.splitlines()
        if line.split()[:1] in (["D1"], ["D2"], ["D3"])
    }
    assert sorted(table) == list(DEVICES)
    assert all("errors" in line for line in table.values())
    assert f"{expected['D2'][0]:,}" in table["D2"]  # the files column
    assert "not fully processed (D1, D2, D3)" in r.stderr

    # Run again: every device resumes, finds everything stored, and hashes nothing; the errors its
    # first run stored still count (issue 11: a resumed run is judged on everything the device holds).
    again = tessera("ingest-batch", str(manifest), "--case", str(case))
    assert again.returncode == 1, again.stderr
    assert per_device(case) == expected and "HIT" not in again.stderr
    assert all(
        f"{expected[dev][0]:,}" in line and "errors" in line
        for line in again.stdout.splitlines()
        for dev in DEVICES
        if line.split()[:1] == [dev]
    )
    assert all(f"{dev}: 3 file(s) stored with errors by an earlier run" in again.stderr for dev in DEVICES)


def test_malformed_manifest_exits_2_naming_the_line(
    seized: tuple[Path, Path, dict[str, tuple[int, int, int]]], untouched_case: Path
) -> None:
    manifest, _, _ = seized
    case = untouched_case
    bad = manifest.parent / "bad.csv"
    bad.write_text("device,kind,suspect,source\nD1,phone,,D1\nD2,toaster,,D2\n")
    r = tessera("ingest-batch", str(bad), "--case", str(case))
    assert r.returncode == 2
    assert r.stderr.startswith("tessera: error: manifest ") and r.stderr.count("\n") == 1
    assert "line 3: kind 'toaster'" in r.stderr
    with sqlite3.connect(case / "case.db") as conn:
        assert conn.execute("select count(*) from device").fetchone() == (0,)  # nothing was run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "dask"], "--executor dask needs --scheduler ADDRESS"),
        (["--executor", "spark"], "--executor must be one of dask, inline, local"),
        (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler is used only with --executor dask"),
        (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    ],
)
def test_executor_options_refused_with_one_line(
    seized: tuple[Path, Path, dict[str, tuple[int, int, int]]],
    untouched_case: Path,
    args: list[str],
    message: str,
) -> None:
    manifest, _, _ = seized
    case = untouched_case
    for cmd in (
        ["ingest", str(manifest.parent / "D1"), "--device", "D1", *args],
        ["ingest-batch", str(manifest), *args],
    ):
        t0 = time.monotonic()
        r = tessera(*cmd, "--case", str(case))
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.startswith("tessera: error: ") and message in r.stderr and r.stderr.count("\n") == 1
        assert time.monotonic() - t0 < 40
    with sqlite3.connect(case / "case.db") as conn:
        assert conn.execute("select count(*) from device").fetchone() == (0,)


def test_dask_cluster_gives_the_same_case(
    tmp_path: Path, seized: tuple[Path, Path, dict[str, tuple[int, int, int]]], scheduler: str
) -> None:
    manifest, known, expected = seized
    case = new_case(tmp_path / "case", known)
    dask = ["--executor", "dask", "--scheduler", scheduler, "--case", str(case)]
    r = tessera("ingest", str(manifest.parent / "D1"), "--device", "D1", "--kind", "phone", *dask)
    assert r.returncode == 1, r.stderr
    assert "HIT D1:" in r.stderr
    r = tessera("ingest-batch", str(manifest), "--parallel", "2", *dask)
    assert r.returncode == 1, r.stderr
    assert per_device(case) == expected  # D1 resumed (all skipped), D2 and D3 hashed on the cluster
