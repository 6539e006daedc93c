from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from tessera.records import EvidenceItem, MediaRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case, open_case
from tessera.store.db import StoreError
from tessera.store.writes import existing_locators, file_row, insert_ignore, media_row


def test_init_creates_schema_and_settings(case: CaseHandle) -> None:
    tables = set(inspect(case.engine).get_table_names())
    assert {"case_info", "device", "file", "media", "hashset", "hash_entry", "match", "decision"} <= tables
    cfg = json.loads((case.directory / "tessera-case.json").read_text())
    assert cfg["format"] == "tessera-case" and cfg["version"] == 1 and cfg["agency"] == "XX-TEST"
    reopened = open_case(case.directory)
    assert reopened.name == "Operation Test" and reopened.url == case.url
    reopened.close()


def test_sqlite_default_is_wal(sqlite_case: CaseHandle) -> None:
    assert (sqlite_case.directory / "case.db").exists()
    with sqlite_case.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_init_twice_refused(case: CaseHandle) -> None:
    with pytest.raises(StoreError, match="already holds a case"):
        init_case(case.directory, "Again", "XX")


def test_open_missing_case(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no case at"):
        open_case(tmp_path / "nothing")


def _item(locator: str, raw: bytes | None = None) -> EvidenceItem:
    return EvidenceItem(locator=locator, raw_path=raw or locator.encode(), size=3, opener=None, mtime=1.5)


def _rec(n: int) -> MediaRecord:
    return MediaRecord(sha256=f"{n:064x}", md5=f"{n:032x}", sha1=f"{n:040x}", size=3, kind="other")


def test_writes_are_idempotent(case: CaseHandle) -> None:
    raw = b"/DCIM/caf\xe9.jpg"  # Latin-1 name: not valid UTF-8
    with case.session() as s:
        s.add(m.Device(id="D001", kind="phone"))
        s.commit()
        for _ in range(2):  # a rerun after a kill writes the same rows again
            insert_ignore(s, m.Media, [media_row(_rec(1)), media_row(_rec(2))], ["sha256"])
            rows = [
                file_row("D001", _item("/a", None), _rec(1), None, None),
                file_row("D001", _item("/DCIM/caf\\xe9.jpg", raw), _rec(2), "truncated image", None),
            ]
            insert_ignore(s, m.File, rows, ["device_id", "locator"])
            s.commit()
        assert s.scalar(select(func.count()).select_from(m.Media)) == 2
        assert s.scalar(select(func.count()).select_from(m.File)) == 2
        stored = s.scalar(select(m.File).where(m.File.locator == "/DCIM/caf\\xe9.jpg"))
        assert stored is not None and stored.raw_path == raw and stored.error == "truncated image"
        assert existing_locators(s, "D001", ["/a", "/b", "/DCIM/caf\\xe9.jpg"]) == {
            "/a",
            "/DCIM/caf\\xe9.jpg",
        }
        assert existing_locators(s, "D002", ["/a"]) == set()


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from tessera.store.db import HEAD_REVISION, MIGRATIONS, alembic_config, make_engine

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert script.get_heads() == [HEAD_REVISION], "a new migration needs HEAD_REVISION moved to it"
    assert MIGRATIONS.is_dir()


def test_a_case_behind_the_head_is_migrated_on_open(case: CaseHandle) -> None:
    from alembic import command

    from tessera.store.db import HEAD_REVISION, alembic_config, current_revision

    assert current_revision(case.engine) == HEAD_REVISION
    command.downgrade(alembic_config(case.engine), "0014")
    assert current_revision(case.engine) == "0014"
    assert "known_hash" not in inspect(case.engine).get_table_names()
    reopened = open_case(case.directory)
    assert current_revision(reopened.engine) == HEAD_REVISION
    assert "known_hash" in inspect(reopened.engine).get_table_names()
    reopened.close()


def test_opening_a_case_at_the_head_loads_no_migration_code(sqlite_case: CaseHandle) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from tessera.store.case import open_case; "
        f"open_case(Path({str(sqlite_case.directory)!r})).close(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
