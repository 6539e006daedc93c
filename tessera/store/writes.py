"""Idempotent bulk writes shared by ingest and hash-set import.

Every write is "insert, and ignore what is already there", keyed by the natural keys (SHA-256 for media,
device + locator for files, media + entry for matches), so a run killed at any point and started again
stores each thing exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Connection, DateTime, Dialect, LargeBinary, Table, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from tessera.records import EvidenceItem, MediaRecord
from tessera.store import models as m


def insert_ignore(
    session: Session | Connection, model: type[m.Base], rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """Insert ``rows``; rows whose natural key (``keys``) is already stored are left as they are."""
    if not rows:
        return
    conn = session if isinstance(session, Connection) else session.connection()
    dialect = conn.dialect.name
    # Core inserts on the table (not the ORM entity): the ORM's per-row bookkeeping costs more than
    # the database write itself when an ingest stores thousands of small files a second.
    table: Any = model.__table__
    if dialect == "sqlite":
        prepared = _prepared_sqlite(table, tuple(rows[0]), tuple(keys), conn.dialect)
        if prepared is not None:
            sql, values = prepared
            # One prepared statement, executemany over plain tuples: the driver binds each row in C,
            # where Core's per-row parameter processing cost more than SQLite's own insert.
            conn.exec_driver_sql(sql, list(map(values, rows)))
            return
    if dialect == "postgresql":
        # Imported here: a SQLite case's ingest never loads the PostgreSQL dialect (20 ms of start-up).
        from sqlalchemy.dialects import postgresql

        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    conn.execute(stmt, list(rows))


@lru_cache(maxsize=64)
def _prepared_sqlite(
    table: Table, columns: tuple[str, ...], keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]] | None:
    """SQL and a row -> parameters function for SQLite's ``INSERT ... ON CONFLICT DO NOTHING``.

    The values bound are exactly Core's: each column's own bind processor (dates as text, JSON
    serialised) runs on the value. ``None`` (use Core) when a column left out of the rows has a
    Python-side default, which only Core knows how to fill in.
    """
    given = set(columns)
    if any(c.default is not None and c.key not in given for c in table.columns):
        return None
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    order = list(compiled.positiontup or ())
    if sorted(order) != sorted(columns):
        return None
    procs: list[tuple[int, Callable[[Any], Any]]] = []
    for i, k in enumerate(order):
        if isinstance(table.c[k].type, (Boolean, LargeBinary)):
            # sqlite3 binds a bool as the integer 0/1 and bytes as a BLOB by itself, exactly what these
            # processors produce (int(value); sqlite3.Binary): a Python call per value saved, three
            # per file row (tests/store/test_writes.py compares the stored values and their types).
            continue
        proc = table.c[k].type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            # A flush gives all its rows one timestamp (first_seen): formatted once, not per row.
            procs.append((i, _last_value(proc) if isinstance(table.c[k].type, DateTime) else proc))
    pick = itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))

    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        out = pick(row)
        if not procs:
            return out
        vals = list(out)
        for i, convert in procs:
            vals[i] = convert(vals[i])
        return tuple(vals)

    return str(compiled), values


def _last_value(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``proc`` that hands back its last result when given the same object again."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, proc(value)
        return last[1]

    return convert


#: Digests per SQLite ``IN`` list: under the 999 variables older SQLite builds allow.
SQLITE_IN = 900


def chunks(seq: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def existing_sha256(session: Session, digests: Iterable[str]) -> set[str]:
    found: set[str] = set()
    values = list(digests)
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # The driver binds the digests as they are: Core's expanding IN compiled the list and ran a
        # Python processor on each value, per flush of a small-file ingest a few thousand of them.
        for part in chunks(values, SQLITE_IN):
            marks = ",".join("?" * len(part))
            sql = f"SELECT sha256 FROM {m.Media.__tablename__} WHERE sha256 IN ({marks})"
            found.update(r[0] for r in conn.exec_driver_sql(sql, tuple(part)))
        return found
    for part in chunks(values):
        found.update(session.scalars(select(m.Media.sha256).where(m.Media.sha256.in_(part))))
    return found


def existing_locators(session: Session, device_id: str, locators: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(locators):
        q = select(m.File.locator).where(m.File.device_id == device_id, m.File.locator.in_(part))
        found.update(session.scalars(q))
    return found


def media_row(rec: MediaRecord, first_seen: datetime | None = None) -> dict[str, Any]:
    """The ``media`` row of ``rec``; ``first_seen`` defaults to now (a writer passes its flush's time)."""
    exif = rec.exif
    return {
        "sha256": rec.sha256,
        "md5": rec.md5,
        "sha1": rec.sha1,
        "size": rec.size,
        "mime": rec.mime,
        "kind": rec.kind,
        "width": rec.width,
        "height": rec.height,
        "pdq": rec.pdq,
        "pdq_quality": rec.pdq_quality,
        "exif_make": exif.make if exif else None,
        "exif_model": exif.model if exif else None,
        "exif_serial": exif.body_serial if exif else None,
        "exif_time": exif.capture_time if exif else None,
        "gps_lat": exif.gps_lat if exif else None,
        "gps_lon": exif.gps_lon if exif else None,
        "duration": rec.duration,
        "error": rec.error,
        "first_seen": first_seen or m.utcnow(),
    }


def frame_rows(rec: MediaRecord) -> list[dict[str, Any]]:
    """``video_frame`` rows of a video's vPDQ frames (none for other media)."""
    return [
        {"sha256": rec.sha256, "frame": f.frame, "seconds": f.seconds, "quality": f.quality, "pdq": f.pdq}
        for f in rec.frames or ()
    ]


def file_row(
    device_id: str, item: EvidenceItem, rec: MediaRecord | None, error: str | None, run_id: int | None
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "locator": item.locator,
        "raw_path": item.raw_path,
        "size": rec.size if rec else item.size,
        "mtime": item.mtime,
        "atime": item.atime,
        "ctime": item.ctime,
        "crtime": item.crtime,
        "deleted": item.deleted,
        "orphan": item.orphan,
        "stream": item.stream,
        "is_symlink": item.is_symlink,
        "link_kind": item.link_kind,
        "link_target": item.link_target,
        "depth": item.depth,
        "sha256": rec.sha256 if rec else None,
        "error": error,
        "run_id": run_id,
    }
