"""Known-good hashes (issue 15, migration 0015): NSRL RDS v3 sets and the local "known benign" set.

Known-good sets are kept apart from ``hash_entry`` on purpose. A known-good set is tens of millions of
hashes whose only question is "is this file in it?": it carries no category, series or victim flag, is
never matched into ``match`` rows (a known-good file is not a hit) and must import at hundreds of
thousands of rows a second. So each distinct digest is one row of raw bytes (16 MD5, 20 SHA-1 or 32
SHA-256 bytes; the length says which) keyed by ``(digest, hashset_id)``: about 45 bytes a row with its
key instead of ~250 for a ``hash_entry`` row with three hex hashes and three indexes. NSRL rows are
stored by their SHA-256 alone (every RDS v3 row has one; the case holds the SHA-256 of every file).

``rows`` counts the source rows that gave the digest (one file is listed by many NSRL packages), so a
delta that deletes one package's row removes the digest only when no row is left.

Whether a file is known-good is decided when it is asked (a join, see :func:`known_good_media`), not
stored as a flag on the file: sets are imported, updated by deltas and extended by reviewers after the
files were ingested, and a join is never stale. The probe is one primary-key lookup per digest of a
media row.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import ColumnElement, Engine, Integer, LargeBinary, and_, event, exists, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from tessera.store.models import Base, HashSet, Media

#: ``hashset.metadata["disposition"]`` of a set whose files are excluded from review and counts.
KNOWN_GOOD = "known-good"
#: ... of a set whose entries are matched as hits (every set imported before issue 15).
KNOWN_BAD = "known-bad"
DISPOSITIONS = (KNOWN_GOOD, KNOWN_BAD)
#: ``hashset.metadata["key"]`` of a known-good set holding MD5 or SHA-1 digests (not only SHA-256).
ANY_KEY = "any"
#: Digest length in bytes -> algorithm.
DIGEST_ALGORITHMS = {16: "md5", 20: "sha1", 32: "sha256"}


class KnownHash(Base):
    __tablename__ = "known_hash"
    # SQLite: the primary key is the table (no rowid b-tree beside it), which halves its size.
    __table_args__ = {"sqlite_with_rowid": False}

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # Deliberately no foreign key: PostgreSQL checks one with a trigger per row, which tripled the
    # time of a 1,000,000-row import (3.7 s -> 10.4 s measured). Rows of a set are deleted with it
    # by :func:`tessera.ingest.known.drop_known` (tessera never deletes a set any other way).
    hashset_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    rows: Mapped[int] = mapped_column(Integer, default=1)


def disposition(hs: HashSet) -> str:
    return str((hs.meta or {}).get("disposition", KNOWN_BAD))


class unhex(FunctionElement[bytes]):  # noqa: N801  (an SQL function name)
    """Hex text to bytes: PostgreSQL's ``decode(x, 'hex')``; on SQLite the ``unhex`` registered below
    (SQLite has its own only from 3.41)."""

    inherit_cache = True
    type = LargeBinary()


@compiles(unhex)
def _unhex_default(element: unhex, compiler: Any, **kw: Any) -> str:
    return f"tessera_unhex({compiler.process(element.clauses, **kw)})"


@compiles(unhex, "postgresql")
def _unhex_pg(element: unhex, compiler: Any, **kw: Any) -> str:
    return f"decode({compiler.process(element.clauses, **kw)}, 'hex')"


@compiles(unhex, "sqlite")
def _unhex_sqlite(element: unhex, compiler: Any, **kw: Any) -> str:
    return f"tessera_unhex({compiler.process(element.clauses, **kw)})"


def _py_sha256(value: object) -> bytes | None:
    """SHA-256 hex to its 32 bytes; None for anything else (a NOT NULL column then refuses the row)."""
    if not isinstance(value, str) or len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _py_unhex(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


@event.listens_for(Engine, "connect")
def _register_unhex(dbapi_conn: Any, _record: Any) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.create_function("tessera_unhex", 1, _py_unhex, deterministic=True)
        dbapi_conn.create_function("tessera_sha256", 1, _py_sha256, deterministic=True)


def _listed(column: Any) -> ColumnElement[bool]:
    return exists(select(KnownHash.digest).where(KnownHash.digest == unhex(column)))


def known_good_media() -> ColumnElement[bool]:
    """True for a ``media`` row whose SHA-256 is in a known-good set, or whose MD5 or SHA-1 is in one
    of the sets that hold such digests.

    The MD5/SHA-1 probes are guarded by one uncorrelated test (is there such a set?), which the
    database answers once per query: NSRL and the benign set are SHA-256 only, and the two extra
    probes made every media row about four times dearer (8 µs against 2 µs a row on SQLite)."""
    short_keys = exists(select(HashSet.id).where(HashSet.meta["key"].as_string() == ANY_KEY))
    # Most cases hold no known-good set at all: one uncorrelated test (answered once per query) spares
    # every media row its hex conversion and probe (100,000 media: 46 ms -> under 1 ms on SQLite).
    any_known = exists(select(KnownHash.digest))
    return and_(
        any_known,
        or_(_listed(Media.sha256), and_(short_keys, or_(_listed(Media.sha1), _listed(Media.md5)))),
    )


def known_good_sha256(column: Any) -> ColumnElement[bool]:
    """True where ``column`` (a SHA-256 hex column, e.g. ``file.sha256``) is known-good media."""
    return exists(select(Media.sha256).where(Media.sha256 == column, known_good_media()))
