"""Storing in a process of its own (tessera.ingest.storeproc): the same case as storing in-process, on
both databases; faults, a dead store process, a killed main process and Ctrl-C lose nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError

from tessera.ingest.importer import import_hashset
from tessera.ingest.pipeline import IngestOptions, IngestResult, ingest
from tessera.ingest.storeproc import StoreProcess, StoreProcessError, wanted
from tessera.ingest.writer import HitReport
from tessera.records import EvidenceItem, MediaRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics

SCENARIO = build_scenario(n_known=2, n_unrelated=2)
SMALL = 1500  # small files beside the tree: several flushes while the ingest ramps up (256 each)


def _tree(root: Path) -> set[str]:
    tree = make_device_tree(root, 31, plant=SCENARIO.plant)
    for i in range(SMALL):
        d = root / "data" / f"app{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.dat").write_bytes(b"%d" % i * (1 + i % 50))
    return set(tree.locators) | {f"/data/app{i % 7}/f{i}.dat" for i in range(SMALL)}


class Seen:
    """A progress display that notes which processes were alive while answers came in."""

    def __init__(self, on_advance: Any = None) -> None:
        self.hits: list[HitReport] = []
        self.files = 0
        self.children: set[str] = set()
        self.on_advance = on_advance

    def start(self, total_files: int | None, total_bytes: int | None) -> None:
        pass

    def advance(self, files: int, nbytes: int) -> None:
        self.files += files
        self.children |= {p.name for p in multiprocessing.active_children()}
        if self.on_advance is not None:
            self.on_advance()

    def hit(self, hit: HitReport) -> None:
        self.hits.append(hit)


def _content(case: CaseHandle, device: str) -> dict[str, Any]:
    with case.session() as s:
        files = s.execute(
            select(
                m.File.locator, m.File.sha256, m.File.size, m.File.error, m.File.depth, m.File.mtime
            ).where(m.File.device_id == device)
        ).all()
        media = s.execute(select(m.Media.sha256, m.Media.md5, m.Media.sha1, m.Media.pdq, m.Media.kind)).all()
        matches = s.execute(
            select(m.Match.sha256, m.Match.algorithm, m.Match.distance, m.Match.entry_id)
        ).all()
        runs = s.execute(select(m.IngestRun.status, m.IngestRun.files_new, m.IngestRun.errors)).all()
    return {"files": sorted(files), "media": sorted(media), "matches": sorted(matches), "runs": runs}


def _counts(res: IngestResult) -> tuple[int, ...]:
    return (res.files_new, res.files_skipped, res.media_new, res.errors, res.hits, res.bytes_hashed)


def test_same_case_as_storing_in_process(case: CaseHandle, tmp_path: Path, db_url: str | None) -> None:
    locators = _tree(tmp_path / "D1")
    known = known_vics(SCENARIO, tmp_path / "known.json")
    import_hashset(case, known, name="known")
    apart = Seen()
    res = ingest(case, tmp_path / "D1", IngestOptions("D1", workers=2), apart)
    assert "tessera-store" in apart.children  # stored by the store process, answers applied here

    with _second_db(db_url) as other_url:
        other = init_case(tmp_path / "inproc", "Operation Test", "XX-TEST", other_url)
        try:
            import_hashset(other, known, name="known")
            here = Seen()
            opts = IngestOptions("D1", workers=2, store_process=False)
            res_here = ingest(other, tmp_path / "D1", opts, here)
            assert "tessera-store" not in here.children
            assert _content(case, "D1") == _content(other, "D1")
        finally:
            other.close()
    got = _content(case, "D1")
    assert {f[0] for f in got["files"]} == locators
    assert got["runs"] == [("complete", len(locators), res.errors)]
    assert _counts(res) == _counts(res_here) and res.files_new == len(locators)
    assert sorted(res.problems) == sorted(res_here.problems) and res.errors >= 1  # the tree's bad files
    assert res.hits >= 2 and sorted((h.locator, h.algorithm) for h in apart.hits) == sorted(
        (h.locator, h.algorithm) for h in here.hits
    )
    assert apart.files == here.files == len(locators)
    assert not [p for p in multiprocessing.active_children() if p.name == "tessera-store"]  # it ended


@contextmanager
def _second_db(db_url: str | None) -> Iterator[str | None]:
    """A second database of the same kind for the in-process side, dropped afterwards."""
    if db_url is None:
        yield None
        return
    from sqlalchemy import create_engine, text

    base, name = db_url.rsplit("/", 1)
    name += "_b"
    admin = create_engine(base + "/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _run_row(case: CaseHandle, device: str) -> int:
    """A device and its running ingest run, for driving a StoreProcess directly."""
    with case.session() as s:
        s.add(m.Device(id=device, kind="storage", source_path="/x"))
        run = m.IngestRun(device_id=device, source_path="/x", tool_version="t")
        s.add(run)
        s.commit()
        return run.id


def _item(i: int) -> tuple[EvidenceItem, MediaRecord, None]:
    sha = f"{i:064x}"
    item = EvidenceItem(f"/f{i}", b"/f%d" % i, 10, None, mtime=1.7e9)
    return item, MediaRecord(sha, sha[:32], sha[:40], 10, "text/plain", "other"), None


def test_a_database_fault_in_the_store_process_is_raised_here(case: CaseHandle) -> None:
    run_id = _run_row(case, "D2")
    store = StoreProcess(case, "D2")
    try:
        result = IngestResult(run_id=run_id)
        store.begin(run_id, result, None)
        store.send([_item(1)])
        store.wait()
        assert result.files_new == 1 and result.media_new == 1
        with case.engine.begin() as conn:  # the table goes away under the store process
            conn.exec_driver_sql(
                "DROP TABLE file" + (" CASCADE" if conn.dialect.name == "postgresql" else "")
            )
        with pytest.raises(DatabaseError, match="file"):  # raised by the send or by the wait
            store.send([_item(2)])
            store.wait()
    finally:
        store.close()
    assert result.files_new == 1


def test_a_store_process_that_dies_is_named_and_the_run_resumes(
    sqlite_case: CaseHandle, tmp_path: Path
) -> None:
    locators = _tree(tmp_path / "D3")

    def kill_store() -> None:
        for p in multiprocessing.active_children():
            if p.name == "tessera-store" and p.pid is not None:
                os.kill(p.pid, signal.SIGKILL)

    with pytest.raises(StoreProcessError, match=r"exit code -9.*run the ingest again to resume"):
        ingest(sqlite_case, tmp_path / "D3", IngestOptions("D3", workers=2), Seen(kill_store))
    with sqlite_case.session() as s:
        assert s.scalars(select(m.IngestRun.status)).all() == ["interrupted"]
        stored = len(s.scalars(select(m.File.locator)).all())
    assert 0 < stored < len(locators)
    res = ingest(sqlite_case, tmp_path / "D3", IngestOptions("D3", workers=2))
    assert res.files_skipped == stored and res.files_new == len(locators) - stored
    with sqlite_case.session() as s:
        assert set(s.scalars(select(m.File.locator))) == locators
        assert s.scalars(select(m.IngestRun.status).order_by(m.IngestRun.id)).all() == [
            "interrupted",
            "complete",
        ]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tessera", *args]


def _wait_for_rows(db: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with suppress(sqlite3.Error):
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                if con.execute("select count(*) from file").fetchone()[0] > 0:
                    return
            finally:
                con.close()
        time.sleep(0.01)
    pytest.fail("the ingest stored nothing in time")


@pytest.mark.parametrize(
    ("how", "flags"), [("kill -9", ()), ("Ctrl-C", ()), ("kill -9", ("--store-in-process",))]
)
def test_main_process_stopped_leaves_no_store_process_and_resumes(
    tmp_path: Path, how: str, flags: tuple[str, ...]
) -> None:
    root = tmp_path / "D4"
    for i in range(30_000):
        d = root / f"d{i % 50}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_bytes(b"x%d" % i)
    case = init_case(tmp_path / "case", "Operation Test", "XX-TEST")
    case.close()
    args = ("--case", str(tmp_path / "case"), "ingest", str(root), "--device", "D4", "--workers", "2", *flags)
    proc = subprocess.Popen(
        _cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for_rows(tmp_path / "case" / "case.db", proc)
        children = psutil.Process(proc.pid).children(recursive=True)
        # Two hashing workers, and the store process unless the main process stores.
        assert len(children) == (2 if flags else 3), [p.cmdline() for p in children]
        if how == "kill -9":
            os.kill(proc.pid, signal.SIGKILL)
        else:
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        code = proc.wait(60)
        _gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == (-signal.SIGKILL if how == "kill -9" else 130)
    db = sqlite3.connect(tmp_path / "case" / "case.db")
    stored = db.execute("select count(*) from file").fetchone()[0]
    assert stored < 30_000
    if how == "Ctrl-C":  # the main process marked its run itself, after the store process ended
        assert db.execute("select status from ingest_run").fetchall() == [("interrupted",)]
    db.close()
    again = subprocess.run(_cli(*args), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{stored:,} already stored (resumed)" in again.stdout
    db = sqlite3.connect(tmp_path / "case" / "case.db")
    assert db.execute("select count(*), count(distinct locator) from file").fetchone() == (30_000, 30_000)
    assert db.execute("select status from ingest_run order by id").fetchall()[-1] == ("complete",)
    db.close()


def test_only_where_a_fork_is_safe_and_pays() -> None:
    assert wanted(True, has_pool=True, waits_for_hit=False)
    assert not wanted(False, has_pool=True, waits_for_hit=False)  # a batch's device thread
    assert not wanted(True, has_pool=False, waits_for_hit=False)  # inline hashing
    assert not wanted(True, has_pool=True, waits_for_hit=True)  # first-hit callers


def test_close_ends_after_the_flush_under_way(sqlite_case: CaseHandle) -> None:
    """Interrupted, the store process finishes the transaction it began and drops what was queued
    behind it (those files are stored by the resumed run), so the main process is not held up."""
    run_id = _run_row(sqlite_case, "D5")
    blocker = sqlite3.connect(
        sqlite_case.directory / "case.db", isolation_level=None, check_same_thread=False
    )
    store = StoreProcess(sqlite_case, "D5")
    try:
        store.begin(run_id, IngestResult(run_id=run_id), None)
        blocker.execute("BEGIN IMMEDIATE")  # the store process's first flush waits for this lock
        store.send([_item(i) for i in range(0, 10)])
        store.send([_item(i) for i in range(10, 20)])
        time.sleep(1.0)  # the first flush has begun (and waits); the second is queued
        threading.Timer(1.0, blocker.execute, ("COMMIT",)).start()
        store.close()  # returns once the first flush is committed
    finally:
        store.close()
        blocker.close()
    con = sqlite3.connect(sqlite_case.directory / "case.db")
    assert con.execute("select locator from file order by locator").fetchall() == sorted(
        (f"/f{i}",) for i in range(10)
    )
    con.close()
