"""Kill -9 in the middle of an ingest, run it again: the same files and matches as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tessera.ingest.importer import import_hashset
from tessera.store.case import init_case
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tessera", *args]


def _counts(db: Path) -> tuple[int, int, int, set[str]]:
    with sqlite3.connect(db) as conn:
        files = conn.execute("select count(*) from file").fetchone()[0]
        media = conn.execute("select count(*) from media").fetchone()[0]
        matches = conn.execute("select count(*) from match").fetchone()[0]
        locs = {r[0] for r in conn.execute("select locator from file")}
    return files, media, matches, locs


def _stored_files(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("select count(*) from file").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    sc = build_scenario(n_known=3, n_unrelated=2)
    tree = make_device_tree(
        tmp_path / "dev", 21, n_photos=500, n_chat=150, image_size=(320, 240), plant=sc.plant
    )
    total = len(tree.locators)
    known = known_vics(sc, tmp_path / "known.json")
    cases = {}
    for label in ("straight", "killed"):
        handle = init_case(tmp_path / label, label, "XX")
        import_hashset(handle, known, name="known")
        handle.close()
        cases[label] = tmp_path / label
    args = ["ingest", str(tree.root), "--device", "D9", "--workers", "1"]

    straight = subprocess.run(_cli(*args, "--case", str(cases["straight"])), capture_output=True, text=True)
    assert straight.returncode in (0, 1), straight.stderr

    proc = subprocess.Popen(
        _cli(*args, "--case", str(cases["killed"])),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = cases["killed"] / "case.db"
    deadline = time.monotonic() + 120
    at_kill = 0
    while time.monotonic() < deadline and proc.poll() is None:
        at_kill = _stored_files(db)
        if at_kill >= total // 4:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, as a crash would
    proc.wait()
    assert 0 < at_kill < total, f"the kill must land mid-run (stored {at_kill} of {total})"
    partial = _counts(db)[0]
    assert partial < total

    resumed = subprocess.run(_cli(*args, "--case", str(cases["killed"])), capture_output=True, text=True)
    assert resumed.returncode in (0, 1), resumed.stderr
    assert "already stored (resumed)" in resumed.stdout

    a, b = _counts(cases["straight"] / "case.db"), _counts(db)
    assert a[0] == b[0] == total
    assert a[1:] == b[1:]
    assert a[2] > 0
