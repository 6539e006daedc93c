"""Importing a hash-set file into a case: streamed, all or nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from tessera.hashsets import FORMATS, open_hashset
from tessera.ingest.known import import_known, known_counts
from tessera.ingest.matcher import CaseMatcher, case_default_threshold
from tessera.records import FormatError
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.db import StoreError
from tessera.store.models_known import ANY_KEY, DISPOSITIONS, KNOWN_BAD, KNOWN_GOOD, disposition

_BATCH = 5000


@dataclass
class ImportResult:
    hashset_id: int
    name: str
    format: str
    version: str | None
    entries: int
    by_algorithm: dict[str, int]
    hits: int = 0
    disposition: str = KNOWN_BAD


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def import_hashset(
    case: CaseHandle,
    path: Path,
    *,
    name: str | None = None,
    fmt: str = "auto",
    algorithm: str | None = None,
    category: int | None = None,
    pdq_threshold: int | None = None,
    on_entries: Callable[[int], None] | None = None,
    disposition: str | None = None,
) -> ImportResult:
    """Import ``path`` as a new hash set in one transaction; a malformed file leaves nothing behind.

    ``disposition`` is ``known-bad`` (entries are matched as hits) or ``known-good`` (files holding
    them are excluded from review, new material and counts); the default is the format's own
    (``known-good`` for NSRL RDS v3, ``known-bad`` for every other format)."""
    if disposition is not None and disposition not in DISPOSITIONS:
        raise StoreError(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    want = disposition
    if not path.is_file():
        raise StoreError(f"no such hash-set file: {path}")
    set_name = name or path.stem
    counts: dict[str, int] = {}
    with case.session() as s, ThreadPoolExecutor(1) as pool:
        if s.scalar(select(m.HashSet.id).where(m.HashSet.name == set_name)) is not None:
            raise StoreError(f"a hash set named {set_name!r} already exists (use --name)")
        # The file's own hash is read beside the import (hashlib releases the GIL): a 1 GB RDS
        # costs seconds to hash, which would otherwise come before the first row is written.
        hashing = pool.submit(file_sha256, path)
        with path.open("rb") as fh:
            reader = open_hashset(fh, fmt, algorithm=algorithm, category=category)
            disp = str(want or getattr(FORMATS.get(reader.info.format), "default_disposition", KNOWN_BAD))
            hs = m.HashSet(
                name=set_name,
                format=reader.info.format,
                profile=reader.info.profile,
                source_file=str(path.resolve()),
                source_sha256=None,
                pdq_threshold=pdq_threshold,
                meta={**reader.info.metadata, "disposition": disp},
            )
            s.add(hs)
            s.flush()
            rows: list[dict[str, Any]] = []
            total = 0
            try:
                if disp == KNOWN_GOOD:
                    total, counts = import_known(s, hs, reader, on_entries)
                for e in [] if disp == KNOWN_GOOD else reader:
                    rows.append(
                        {
                            "hashset_id": hs.id,
                            "algorithm": e.algorithm,
                            "value": e.value,
                            "category": e.category,
                            "series": e.series,
                            "victim_identified": e.victim_identified,
                            "media_key": e.media_key,
                            "extra": e.extra or None,
                        }
                    )
                    counts[e.algorithm] = counts.get(e.algorithm, 0) + 1
                    if len(rows) >= _BATCH:
                        s.execute(insert(m.HashEntry), rows)
                        total += len(rows)
                        rows = []
                        if on_entries:
                            on_entries(total)
                if rows:
                    s.execute(insert(m.HashEntry), rows)
                    total += len(rows)
            except FormatError:
                s.rollback()
                raise
            # The header may only be complete once the stream is read (VICS puts it first, but
            # readers fill in what they learn), so it is copied after the entries.
            hs.version = reader.info.version
            hs.source_sha256 = hashing.result()
            same = (m.HashSet.source_sha256 == hs.source_sha256, m.HashSet.id != hs.id)
            dup = s.scalar(select(m.HashSet.name).where(*same))
            meta = {**hs.meta, **reader.info.metadata, "kind": reader.info.kind, "disposition": disp}
            if dup:
                meta["same_file_as"] = dup
            if disp == KNOWN_GOOD:
                meta["by_algorithm"] = counts
                meta["key"] = "sha256" if set(counts) <= {"sha256"} else ANY_KEY
            hs.meta = meta  # assigned whole: an in-place change of a JSON column is not seen
            hs.entry_count = total
            s.commit()
            if s.get_bind().dialect.name == "postgresql":
                # Fresh statistics for the table just filled: where autovacuum is off (or has not woken
                # yet) the planner would keep planning the matching below, and every ingest's, for the
                # table as it was before (measured: a full scan of the algorithm's entries per statement).
                table = m.HashEntry.__tablename__ if disp != KNOWN_GOOD else "known_hash"
                s.execute(text(f"ANALYZE {table}"))
                s.commit()
            result = ImportResult(hs.id, set_name, hs.format, hs.version, total, counts, disposition=disp)
    if disp == KNOWN_GOOD:
        return result  # known-good digests are never hits: nothing to match
    # Matching the new set against media already in the case happens after the import committed,
    # so a large set is never half imported because matching was interrupted.
    with case.session() as s:
        matcher = CaseMatcher(case_default_threshold(s)).load(s, hashset_id=result.hashset_id)
        result.hits = matcher.match_case_media(s, result.hashset_id)
        s.commit()
    return result


def hashset_summary(case: CaseHandle) -> list[dict[str, Any]]:
    with case.session() as s:
        matched = dict(
            s.execute(
                select(m.Match.hashset_id, func.count(func.distinct(m.Match.sha256))).group_by(
                    m.Match.hashset_id
                )
            ).all()
        )
        out = []
        for hs in s.scalars(select(m.HashSet).order_by(m.HashSet.id)):
            by_alg = (
                known_counts(hs)
                if disposition(hs) == KNOWN_GOOD
                else dict(
                    s.execute(
                        select(m.HashEntry.algorithm, func.count())
                        .where(m.HashEntry.hashset_id == hs.id)
                        .group_by(m.HashEntry.algorithm)
                    ).all()
                )
            )
            out.append(
                {
                    "id": hs.id,
                    "name": hs.name,
                    "format": hs.format,
                    "version": hs.version,
                    "profile": hs.profile,
                    "entries": hs.entry_count,
                    "by_algorithm": by_alg,
                    "imported_at": hs.imported_at.isoformat(timespec="seconds"),
                    "source_sha256": hs.source_sha256,
                    "pdq_threshold": hs.pdq_threshold,
                    "matched_media": matched.get(hs.id, 0),
                    "disposition": disposition(hs),
                }
            )
        return out
