"""The prepared SQLite insert stores exactly what Core's insert stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from tessera.records import EvidenceItem, ExifInfo, MediaRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle, init_case
from tessera.store.writes import (
    SQLITE_IN,
    _prepared_sqlite,
    existing_sha256,
    file_row,
    insert_ignore,
    media_row,
)


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    recs = [
        MediaRecord("a" * 64, "b" * 32, "c" * 40, 10, "image/jpeg", "image", 4, 3, "d" * 64, 90,
                    ExifInfo("Make", "Model", "SN1", "2024:01:02 03:04:05", 51.5, -0.12)),
        MediaRecord("e" * 64, "f" * 32, "0" * 40, 0),
        MediaRecord("1" * 64, "2" * 32, "3" * 40, 5, "video/mp4", "video", duration=2.5, error="bad"),
    ]  # fmt: skip
    items = [
        EvidenceItem("/a.jpg", b"/a.jpg", 10, None, mtime=1.5, atime=2.0, ctime=3.25, crtime=None),
        EvidenceItem("/b\\xff", b"/b\xff", 0, None, deleted=True, orphan=True, stream="s", depth=2),
        EvidenceItem(
            "/l", b"/l", None, None, is_symlink=True, link_kind="symlink", link_target="/x", error="e"
        ),
    ]
    media = [media_row(r) for r in recs]
    for row in media:
        row["first_seen"] = media[0]["first_seen"]  # one instant, so both databases hold equal rows
    # ... but the last a second later: the prepared path formats a repeated instant once, and a new one anew.
    media[2]["first_seen"] = media[0]["first_seen"] + timedelta(seconds=1)
    files = [
        file_row("D1", it, rec, it.error, 1) for it, rec in zip(items, [recs[0], recs[1], None], strict=True)
    ]
    return media, files


def _setup(case: CaseHandle) -> None:
    with case.session() as s:
        s.add(m.Device(id="D1", kind="storage", source_path="/src"))
        s.flush()
        s.add(m.IngestRun(id=1, device_id="D1", source_path="/src", tool_version="t"))
        s.commit()


def _dump(case: CaseHandle, table: str) -> list[tuple[Any, ...]]:
    """Every row's values and each value's SQLite storage class (a bool bound as 1 and a text "1"
    read back alike; typeof tells them apart)."""
    with case.engine.connect() as conn:
        cols = [r[1] for r in conn.execute(text(f"PRAGMA table_info({table})"))]
        types = ", ".join(f"typeof({c})" for c in cols)
        return [tuple(r) for r in conn.execute(text(f"SELECT *, {types} FROM {table} ORDER BY 1, 2"))]


def test_prepared_insert_stores_what_core_stores(tmp_path: Path) -> None:
    fast, core = init_case(tmp_path / "fast", "F", "XX"), init_case(tmp_path / "core", "C", "XX")
    media, files = _rows()
    assert _prepared_sqlite(m.Media.__table__, tuple(media[0]), ("sha256",), sqlite.dialect()) is not None
    for case in (fast, core):
        _setup(case)
    with fast.session() as s:
        insert_ignore(s, m.Media, media, ["sha256"])
        insert_ignore(s, m.Media, media[:1], ["sha256"])  # already there: ignored
        insert_ignore(s, m.File, files, ["device_id", "locator"])
        s.commit()
    with core.session() as s:
        conn = s.connection()
        conn.execute(
            sqlite.insert(m.Media.__table__).on_conflict_do_nothing(index_elements=["sha256"]), media
        )
        conn.execute(sqlite.insert(m.File.__table__), files)
        s.commit()
    for table in ("media", "file"):
        assert _dump(fast, table) == _dump(core, table)
    assert len(_dump(fast, "media")) == 3 and len(_dump(fast, "file")) == 3
    fast.close()
    core.close()


def test_rows_without_a_defaulted_column_take_the_default(sqlite_case: CaseHandle) -> None:
    _setup(sqlite_case)
    _, files = _rows()
    row = {k: v for k, v in files[0].items() if k != "deleted"}  # File.deleted has a Python default
    row["sha256"] = None
    assert _prepared_sqlite(m.File.__table__, tuple(row), ("device_id", "locator"), sqlite.dialect()) is None
    with sqlite_case.session() as s:
        insert_ignore(s, m.File, [row], ["device_id", "locator"])
        s.commit()
        stored = s.query(m.File).one()
    assert stored.deleted is False and stored.locator == "/a.jpg" and stored.mtime == 1.5


def test_existing_sha256_finds_exactly_the_stored_digests(case: CaseHandle) -> None:
    # More digests than one SQLite IN list holds, stored ones spread over every chunk.
    digests = [f"{i:064x}" for i in range(2 * SQLITE_IN + 7)]
    stored = set(digests[::3]) | {digests[-1]}
    with case.session() as s:
        insert_ignore(
            s, m.Media, [media_row(MediaRecord(h, "0" * 32, "0" * 40, 1)) for h in sorted(stored)], ["sha256"]
        )
        s.commit()
        assert existing_sha256(s, digests) == stored
        assert existing_sha256(s, ["f" * 64]) == set()
        assert existing_sha256(s, []) == set()
