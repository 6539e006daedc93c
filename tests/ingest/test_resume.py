"""Kill -9 an ingest at three points (early in the walk, mid-hashing, in the messaging stage) and run it
again: the same files, matches and messages as an uninterrupted run, and the same exit code."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tessera.ingest.importer import import_hashset
from tessera.store.case import init_case
from tessera.synth.msgstore import write_phone_tree
from tessera.synth.network import make_network
from tessera.synth.trees import make_device_tree
from tests.ingest.helpers import build_scenario, known_vics


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tessera", *args]


@dataclass(frozen=True)
class Outcome:
    files: frozenset[tuple[str, str | None]]  # (locator, sha256)
    matches: frozenset[tuple[str, str, str]]  # (locator, entry algorithm, entry value)
    media: int
    messages: int
    sources: frozenset[tuple[str, str]]  # (locator, status) of the messaging sources


def _outcome(db: Path) -> Outcome:
    with sqlite3.connect(db) as conn:
        files = frozenset(conn.execute("select locator, sha256 from file"))
        matches = frozenset(
            conn.execute(
                "select f.locator, e.algorithm, e.value from file f join match mt on mt.sha256 = f.sha256 "
                "join hash_entry e on e.id = mt.entry_id"
            )
        )
        media = conn.execute("select count(*) from media").fetchone()[0]
        messages = conn.execute("select count(*) from message").fetchone()[0]
        sources = frozenset(conn.execute("select locator, status from messaging_source"))
    return Outcome(files, matches, media, messages, sources)


def _poll(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute(sql).fetchone()[0] or 0)
    except sqlite3.Error:
        return 0


@dataclass(frozen=True)
class Phone:
    root: Path
    known: Path
    args: tuple[str, ...]
    straight: Outcome
    exit_code: int


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Phone:
    """A phone extraction: camera and chat pictures (known material planted, a zip, broken files) and a
    WhatsApp database large enough that its parsing takes seconds; ingested once without a kill."""
    tmp = tmp_path_factory.mktemp("resume")
    sc = build_scenario(n_known=3, n_unrelated=2)
    root = tmp / "dev"
    make_device_tree(root, 21, n_photos=400, n_chat=120, image_size=(320, 240), plant=sc.plant)
    net = make_network(3, n_posts=100_000, image_size=(64, 48))
    write_phone_tree(net, next(s for s in net.seizures if s.format == "msgstore-current"), root)
    known = known_vics(sc, tmp / "known.json")
    args = ("ingest", str(root), "--device", "D9", "--workers", "1")
    case = _case(tmp / "straight", known)
    r = subprocess.run(_cli(*args, "--case", str(case)), capture_output=True, text=True)
    assert r.returncode in (0, 1), r.stderr
    straight = _outcome(case / "case.db")
    assert straight.matches and straight.messages > 10_000
    assert {status for _, status in straight.sources} == {"complete"}
    return Phone(root, known, args, straight, r.returncode)


def _case(directory: Path, known: Path) -> Path:
    handle = init_case(directory, directory.name, "XX")
    import_hashset(handle, known, name="known")
    handle.close()
    return directory


@pytest.mark.parametrize("point", ["walk", "hashing", "messaging"])
def test_kill_9_then_rerun_equals_an_uninterrupted_run(phone: Phone, tmp_path: Path, point: str) -> None:
    case = _case(tmp_path / "killed", phone.known)
    db = case / "case.db"
    total = len(phone.straight.files)
    ready = {
        "walk": "select count(*) from ingest_run",  # the run has begun: the walk is starting
        "hashing": f"select count(*) >= {total // 3} from file",
        # Every file is stored before the messaging stage begins; it then parses for seconds.
        "messaging": f"select count(*) >= {total} from file",
    }[point]
    proc = subprocess.Popen(
        _cli(*phone.args, "--case", str(case)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None and not _poll(db, ready):
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers must follow it
        proc.wait()
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    stored = _poll(db, "select count(*) from file")
    assert _poll(db, "select count(*) from ingest_run where status = 'running'") == 1, "killed after the end"
    if point == "messaging":
        assert stored == total and _poll(db, "select count(*) from messaging_source") == 0, stored
    else:
        assert stored < total, f"the kill must land before every file is stored ({stored} of {total})"

    resumed = subprocess.run(_cli(*phone.args, "--case", str(case)), capture_output=True, text=True)
    assert resumed.returncode == phone.exit_code, resumed.stderr
    assert f"{stored:,} already stored (resumed)" in resumed.stdout, resumed.stdout
    assert _outcome(db) == phone.straight
    assert [r[0] for r in sqlite3.connect(db).execute("select status from ingest_run order by id")] == [
        "interrupted",
        "complete",
    ]
