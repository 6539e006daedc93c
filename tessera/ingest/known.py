"""Known-good sets in a case: bulk import (NSRL RDS v3 and any format), deltas, the local benign set.

Digests go to ``known_hash`` (tessera.store.models_known) in bulk, never through the ORM: an RDS on
SQLite by one ``INSERT ... SELECT`` from the attached database, on PostgreSQL by one ``COPY ... FROM
STDIN`` through psycopg; other known-good lists by ``executemany`` upserts on the driver connection.
Rows through Python would cost more than the writes (a 1,000,000-row RDS must import at >= 300,000
rows/s; the runs behind this choice are in bench/RESULTS.md, "NSRL known-good").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, delete, event, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from tessera.hashing.algorithms import ALGORITHMS, exact_names
from tessera.hashsets.base import HashSetReader
from tessera.hashsets.nsrl import NAME as NSRL_FORMAT
from tessera.hashsets.nsrl import NsrlReader, sqlite_uri
from tessera.hashsets.nsrl_delta import DeltaSummary, read_delta
from tessera.records import FormatError
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.db import StoreError
from tessera.store.models_known import KNOWN_GOOD, KnownHash, known_good_sha256

#: The local set reviewers add to (``tessera hashset mark-benign``); a permanent name.
BENIGN_SET = "local-benign"
BENIGN_FORMAT = "local-benign"
_BATCH = 50_000
_ATTACHED = "tessera_attached_rds"
#: Bytes of each digest a known-good set holds: the axis' exact algorithms.
_DIGEST_SIZES = {a: ALGORITHMS.get(a).byte_length for a in exact_names()}

Batch = list[tuple[bytes, int]]


def _raw(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _set_size(s: Session, hashset_id: int) -> int:
    q = select(func.count()).select_from(KnownHash).where(KnownHash.hashset_id == hashset_id)
    return int(s.scalar(q) or 0)


def write_add(conn: Connection, hashset_id: int, batch: Batch) -> None:
    """Add rows to digests that may already be in the set (lists with repeats, deltas, the benign set)."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    sql = (
        f"INSERT INTO known_hash (digest, hashset_id, rows) VALUES ({mark}, {mark}, {mark})"
        " ON CONFLICT (digest, hashset_id) DO UPDATE SET rows = known_hash.rows + excluded.rows"
    )
    cur = _raw(conn).cursor()
    try:
        cur.executemany(sql, [(d, hashset_id, n) for d, n in batch])
    finally:
        cur.close()


def import_known(
    s: Session, hs: m.HashSet, reader: HashSetReader, on_entries: Callable[[int], None] | None
) -> tuple[int, dict[str, int]]:
    """Store a known-good set's digests; returns (digests stored, digests by algorithm)."""
    conn = s.connection()
    if isinstance(reader, NsrlReader):
        total = _import_rds(conn, hs.id, reader, on_entries)
        return total, {"sha256": total}
    counts: dict[str, int] = {}
    for n, batch in enumerate(_entry_batches(reader, counts), 1):
        write_add(conn, hs.id, batch)
        if on_entries:
            on_entries(n * _BATCH)
    # Repeats in the file were merged into one digest with more rows.
    total = _set_size(s, hs.id)
    return total, counts


def _import_rds(
    conn: Connection, hashset_id: int, reader: NsrlReader, on_entries: Callable[[int], None] | None
) -> int:
    """The RDS in bulk: on SQLite one ``INSERT ... SELECT`` from the attached database (no row passes
    through Python), on PostgreSQL one ``COPY`` fed with the RDS's own hex text."""
    try:
        if conn.dialect.name == "sqlite":
            reader.claim()
            raw = _raw(conn)
            # Attached read-only and immutable (the RDS is never written); detached when the
            # connection goes back to the pool, since SQLite refuses DETACH inside the transaction.
            alias = f"tessera_rds_{hashset_id}"
            raw.execute(f"ATTACH DATABASE ? AS {alias}", (sqlite_uri(reader.path),))
            conn.connection.info[_ATTACHED] = alias
            cur = raw.execute(
                "INSERT INTO known_hash (digest, hashset_id, rows)"
                f" SELECT tessera_sha256(sha256), ?, count(*) FROM {alias}.FILE GROUP BY sha256",
                (hashset_id,),
            )
            total = cur.rowcount
        else:
            total = 0
            with (
                _raw(conn).cursor() as cur,
                cur.copy("COPY known_hash (digest, hashset_id, rows) FROM STDIN") as cp,
            ):
                for batch in reader.hex_batches(_BATCH):
                    # COPY text: a bytea is written \\x<hex> (the backslash itself escaped).
                    cp.write("".join([f"\\\\x{v}\t{hashset_id}\t{n}\n" for v, n in batch]))
                    total += len(batch)
                    if on_entries:
                        on_entries(total)
    except (sqlite3.IntegrityError, psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        bad = NsrlReader(reader.path, None).first_bad()
        raise bad or FormatError(f"a SHA-256 is listed twice in different letter cases ({exc})") from None
    finally:
        reader.close()
    return total


@event.listens_for(Pool, "checkin")
def _detach_rds(dbapi_conn: Any, record: Any) -> None:
    alias = record.info.pop(_ATTACHED, None) if record is not None else None
    if alias and dbapi_conn is not None:
        dbapi_conn.execute(f"DETACH DATABASE {alias}")


def _entry_batches(reader: HashSetReader, counts: dict[str, int]) -> Iterator[Batch]:
    batch: Batch = []
    for n, e in enumerate(reader, 1):
        size = _DIGEST_SIZES.get(e.algorithm)
        if size is None:
            raise FormatError(
                f"a known-good set holds MD5, SHA-1 or SHA-256 digests; entry {n} is {e.algorithm}"
                " (import it as --known-bad, or leave that column out)",
                f"entry {n}",
            )
        batch.append((bytes.fromhex(e.value), 1))
        counts[e.algorithm] = counts.get(e.algorithm, 0) + 1
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def known_counts(hs: m.HashSet) -> dict[str, int]:
    """Digests by algorithm of a known-good set, as recorded when it was imported or changed."""
    counts = dict((hs.meta or {}).get("by_algorithm") or {})
    if hs.format in (NSRL_FORMAT, BENIGN_FORMAT):
        counts = {"sha256": hs.entry_count}
    return counts


def drop_known(case: CaseHandle, set_name: str) -> int:
    """Remove a known-good set and its digests (e.g. an NSRL release replaced by the next one)."""
    with case.session() as s:
        hs = s.scalar(select(m.HashSet).where(m.HashSet.name == set_name))
        if hs is None:
            raise StoreError(f"no hash set named {set_name!r}")
        if (hs.meta or {}).get("disposition") != KNOWN_GOOD:
            raise StoreError(f"{set_name!r} is a known-bad set; only known-good sets are removed here")
        gone = s.execute(delete(KnownHash).where(KnownHash.hashset_id == hs.id))
        s.delete(hs)
        s.commit()
        return int(getattr(gone, "rowcount", 0) or 0)


def apply_delta(case: CaseHandle, set_name: str, path: Path) -> dict[str, Any]:
    """Apply an NSRL RDS v3 delta to a known-good set, all or nothing; returns what changed."""
    from tessera.ingest.importer import file_sha256

    if not path.is_file():
        raise StoreError(f"no such delta file: {path}")
    summary = DeltaSummary()
    not_found = 0
    with case.session() as s:
        hs = s.scalar(select(m.HashSet).where(m.HashSet.name == set_name))
        if hs is None:
            raise StoreError(f"no hash set named {set_name!r}")
        if (hs.meta or {}).get("disposition") != KNOWN_GOOD:
            raise StoreError(f"{set_name!r} is not a known-good set; a delta applies to an NSRL import")
        conn = s.connection()
        adds: Batch = []
        for op in read_delta(path, summary):
            if op.op == "add":
                adds.append((op.digest, 1))
                if len(adds) >= _BATCH:
                    write_add(conn, hs.id, adds)
                    adds = []
                continue
            # Adds are written before a removal so a row re-listed earlier in the delta is seen.
            if adds:
                write_add(conn, hs.id, adds)
                adds = []
            not_found += _remove(s, hs.id, op.digest, op.op == "drop")
        if adds:
            write_add(conn, hs.id, adds)
        gone = s.execute(delete(KnownHash).where(KnownHash.hashset_id == hs.id, KnownHash.rows <= 0))
        count = (
            s.scalar(select(func.count()).select_from(KnownHash).where(KnownHash.hashset_id == hs.id)) or 0
        )
        record = {
            "file": str(path.resolve()),
            "sha256": file_sha256(path),
            "applied_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "statements": summary.statements,
            "rows_added": summary.adds,
            "rows_removed": summary.removes,
            "hashes_dropped": summary.drops,
            # Digests no row lists any more (their last row removed, or dropped whole): left the set.
            "digests_removed": int(getattr(gone, "rowcount", 0) or 0),
            "removals_not_in_set": not_found,
            "passed_over": summary.passed_over,
            "digests_before": hs.entry_count,
            "digests_after": count,
        }
        hs.meta = {**hs.meta, "deltas": [*hs.meta.get("deltas", []), record]}
        hs.entry_count = count
        s.commit()
    return record


def _remove(s: Session, hashset_id: int, digest: bytes, drop: bool) -> int:
    """Take one row (or every row) of ``digest`` off the set; 1 if the set did not hold it."""
    where = (KnownHash.digest == digest, KnownHash.hashset_id == hashset_id)
    rows = 0 if drop else KnownHash.rows - 1
    done = s.execute(update(KnownHash).where(*where, KnownHash.rows > 0).values(rows=rows))
    return 0 if getattr(done, "rowcount", 0) else 1


def benign_set(s: Session) -> m.HashSet:
    hs = s.scalar(select(m.HashSet).where(m.HashSet.name == BENIGN_SET))
    if hs is None:
        hs = m.HashSet(
            name=BENIGN_SET,
            format=BENIGN_FORMAT,
            profile="local",
            meta={"disposition": KNOWN_GOOD, "kind": "benign", "key": "sha256"},
        )
        s.add(hs)
        s.flush()
    return hs


def mark_benign(case: CaseHandle, user: str, shas: Iterable[str], note: str | None = None) -> list[str]:
    """Add SHA-256 values to the local known-benign set, each decision audited; returns those added."""
    with case.session() as s:
        added = mark_benign_in(s, user, shas, note)
        s.commit()
    return added


def mark_benign_in(s: Session, user: str, shas: Iterable[str], note: str | None = None) -> list[str]:
    """:func:`mark_benign` in the caller's transaction (the workstation's ``POST /api/benign``)."""
    from tessera.audit import append

    added = []
    hs = benign_set(s)
    for n, sha in enumerate(shas, 1):
        value = sha.strip().lower()
        try:
            digest = bytes.fromhex(value)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise StoreError(f"value {n} ({sha[:80]!r}) is not a SHA-256 (64 hex digits)")
        if s.get(KnownHash, (digest, hs.id)) is not None:
            continue
        s.add(KnownHash(digest=digest, hashset_id=hs.id, rows=1))
        in_case = s.get(m.Media, value) is not None
        append(s, user, "known-benign", value, {"set": BENIGN_SET, "note": note, "in_case": in_case})
        added.append(value)
    s.flush()
    hs.entry_count = _set_size(s, hs.id)
    return added


KNOWN_FIELDS = ("device", "locator", "sha256", "size", "deleted")


def iter_known_files(session: Session, device: str | None = None) -> Iterator[dict[str, Any]]:
    """Files kept in the case but excluded from review and counts because their content is known-good."""
    q = (
        select(m.File.device_id, m.File.locator, m.File.sha256, m.File.size, m.File.deleted)
        .where(m.File.sha256.is_not(None), known_good_sha256(m.File.sha256))
        .order_by(m.File.device_id, m.File.locator)
    )
    if device:
        q = q.where(m.File.device_id == device)
    for row in session.execute(q.execution_options(yield_per=2000)):
        yield dict(zip(KNOWN_FIELDS, row, strict=True))
