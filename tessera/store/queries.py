"""Read-side queries: streamed, so a case of millions of files never sits in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS
from tessera.store import models as m
from tessera.store.models_known import known_good_media, known_good_sha256

MATCH_FIELDS = (
    "device",
    "locator",
    "sha256",
    "md5",
    "sha1",
    "algorithm",
    "distance",
    "hashset",
    "matched_value",
    "category",
    "series",
    "victim_identified",
    "deleted",
)


def _match_query(device: str | None) -> Any:
    q = (
        select(
            m.File.device_id,
            m.File.locator,
            m.Media.sha256,
            m.Media.md5,
            m.Media.sha1,
            m.Match.algorithm,
            m.Match.distance,
            m.HashSet.name,
            m.HashEntry.value,
            m.HashEntry.category,
            m.HashEntry.series,
            m.HashEntry.victim_identified,
            m.File.deleted,
        )
        .join(m.Media, m.Media.sha256 == m.File.sha256)
        .join(m.Match, m.Match.sha256 == m.Media.sha256)
        .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
        .join(m.HashSet, m.HashSet.id == m.Match.hashset_id)
        .order_by(m.File.device_id, m.File.locator, m.Match.distance, m.HashSet.name, m.HashEntry.id)
    )
    if device:
        q = q.where(m.File.device_id == device)
    return q


def iter_matches(session: Session, device: str | None = None) -> Iterator[dict[str, Any]]:
    """Every (file occurrence, matching entry) pair: all matching entries, not only the closest."""
    for row in session.execute(_match_query(device).execution_options(yield_per=2000)):
        yield dict(zip(MATCH_FIELDS, row, strict=True))


def _is_matched() -> Any:
    return exists().where(m.Match.sha256 == m.Media.sha256)


def _unmatched_usable(min_quality: int = ALGORITHMS.get("pdq").min_quality) -> Any:
    return and_(
        m.Media.kind.in_(("image", "video")),
        or_(m.Media.kind == "video", m.Media.pdq_quality >= min_quality),
        ~_is_matched(),
    )


def new_material_filter(min_quality: int = ALGORITHMS.get("pdq").min_quality) -> Any:
    """Image or video of usable quality that matches no hash set and is in no known-good set."""
    return and_(_unmatched_usable(min_quality), ~known_good_media())


def unmatched_usable(min_quality: int = ALGORITHMS.get("pdq").min_quality) -> Any:
    """:func:`new_material_filter` less the known-good test, for rows already known not to be
    known-good (the review queue): that probe is the dearest part of the test."""
    return _unmatched_usable(min_quality)


def device_ids(session: Session) -> list[str]:
    return list(session.scalars(select(m.Device.id).order_by(m.Device.id)))


def device_stats(session: Session, device: str | None) -> dict[str, Any]:
    """Counts for one device, or for the whole case when ``device`` is None.

    Files whose content is in a known-good set (NSRL, the local benign set) are kept in the case but
    left out of ``files``, ``bytes``, ``deleted_files``, ``unique_media``, ``media_by_kind`` and
    ``new_material``; ``known_good_excluded`` says how many each of those left out. Hits are never
    left out: a file matching a known-bad set counts as a hit even if a known-good set lists it too.
    """
    fq = select(m.File)
    if device:
        fq = fq.where(m.File.device_id == device)
    every = fq.subquery()
    known = known_good_sha256(every.c.sha256)
    all_files, all_bytes, all_deleted = _file_counts(session, every, None)
    kg_files, kg_bytes, kg_deleted = _file_counts(session, every, known)
    files = select(every).where(~known).subquery()
    errors = session.scalar(select(func.count()).select_from(files).where(files.c.error.is_not(None))) or 0
    every_ids = select(every.c.sha256).where(every.c.sha256.is_not(None)).distinct().subquery()
    media_ids = select(files.c.sha256).where(files.c.sha256.is_not(None)).distinct().subquery()
    media_q = select(m.Media).join(media_ids, media_ids.c.sha256 == m.Media.sha256)
    unique_media = session.scalar(select(func.count()).select_from(media_ids)) or 0
    by_kind = dict(
        session.execute(
            select(m.Media.kind, func.count())
            .join(media_ids, media_ids.c.sha256 == m.Media.sha256)
            .group_by(m.Media.kind)
        ).all()
    )
    kg_by_kind = dict(
        session.execute(
            select(m.Media.kind, func.count())
            .join(every_ids, every_ids.c.sha256 == m.Media.sha256)
            .where(known_good_media())
            .group_by(m.Media.kind)
        ).all()
    )
    every_media_q = select(m.Media).join(every_ids, every_ids.c.sha256 == m.Media.sha256)
    matched_media = (
        session.scalar(select(func.count()).select_from(every_media_q.where(_is_matched()).subquery())) or 0
    )
    new_media = (
        session.scalar(select(func.count()).select_from(media_q.where(new_material_filter()).subquery())) or 0
    )
    kg_new = (
        session.scalar(
            select(func.count()).select_from(
                every_media_q.where(_unmatched_usable(), known_good_media()).subquery()
            )
        )
        or 0
    )
    hit_q = (
        select(m.Match.algorithm, m.HashEntry.category, func.count(func.distinct(m.Match.sha256)))
        .join(every_ids, every_ids.c.sha256 == m.Match.sha256)
        .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
        .group_by(m.Match.algorithm, m.HashEntry.category)
    )
    by_alg: dict[str, int] = {}
    by_cat: dict[str, int] = {}
    for alg, cat, n in session.execute(hit_q):
        by_alg[alg] = by_alg.get(alg, 0) + n
        key = "uncategorised" if cat is None else str(cat)
        by_cat[key] = by_cat.get(key, 0) + n
    hit_files_q = (
        select(func.count()).select_from(every).where(exists().where(m.Match.sha256 == every.c.sha256))
    )
    return {
        "files": all_files - kg_files,
        "bytes": all_bytes - kg_bytes,
        "deleted_files": all_deleted - kg_deleted,
        "errors": errors,
        "unique_media": unique_media,
        "media_by_kind": by_kind,
        "matched_media": matched_media,
        "files_with_hits": session.scalar(hit_files_q) or 0,
        "new_material": new_media,
        "hits_by_algorithm": dict(sorted(by_alg.items())),
        "hits_by_category": dict(sorted(by_cat.items())),
        "known_good_excluded": {
            "files": kg_files,
            "bytes": kg_bytes,
            "deleted_files": kg_deleted,
            "unique_media": sum(kg_by_kind.values()),
            "media_by_kind": kg_by_kind,
            "new_material": kg_new,
        },
    }


def _file_counts(session: Session, files: Any, where: Any) -> tuple[int, int, int]:
    """(files, bytes, deleted files) of the ``files`` subquery, optionally narrowed by ``where``."""
    q = select(
        func.count(),
        func.coalesce(func.sum(files.c.size), 0),
        func.coalesce(func.sum(case((files.c.deleted.is_(True), 1), else_=0)), 0),
    ).select_from(files)
    if where is not None:
        q = q.where(where)
    n, size, deleted = session.execute(q).one()
    return int(n or 0), int(size or 0), int(deleted or 0)


def iter_problems(session: Session, device: str | None = None) -> Iterator[tuple[str, str, str | None]]:
    q = select(m.File.device_id, m.File.locator, m.File.error).where(m.File.error.is_not(None))
    if device:
        q = q.where(m.File.device_id == device)
    for row in session.execute(
        q.order_by(m.File.device_id, m.File.locator).execution_options(yield_per=2000)
    ):
        yield row[0], row[1], row[2]


def iter_new_material(session: Session, device: str | None = None) -> Iterator[dict[str, Any]]:
    q = (
        select(
            m.File.device_id,
            m.File.locator,
            m.Media.sha256,
            m.Media.md5,
            m.Media.sha1,
            m.Media.pdq,
            m.Media.pdq_quality,
            m.Media.kind,
        )
        .join(m.Media, m.Media.sha256 == m.File.sha256)
        .where(new_material_filter())
        .order_by(m.File.device_id, m.File.locator)
    )
    if device:
        q = q.where(m.File.device_id == device)
    fields = ("device", "locator", "sha256", "md5", "sha1", "pdq", "pdq_quality", "kind")
    for row in session.execute(q.execution_options(yield_per=2000)):
        yield dict(zip(fields, row, strict=True))


def messaging_sources(session: Session, device: str | None = None) -> list[dict[str, Any]]:
    """Every messaging source of the case (or one device): parsed, partial, failed, or a known app's
    data present but not parsed, with its reconciliation (format tessera-coverage v1)."""
    from tessera.messaging.coverage import Coverage  # the store does not import messaging at load

    q = select(m.MessagingSource).order_by(m.MessagingSource.device_id, m.MessagingSource.locator)
    if device:
        q = q.where(m.MessagingSource.device_id == device)
    rows = []
    for src in session.scalars(q):
        cov = Coverage.from_json(src.coverage)
        rows.append(
            {
                "device": src.device_id,
                "locator": src.locator,
                "parser": src.parser,
                "status": src.status,
                "messages": src.messages,
                "coverage": cov.summary(),
                "reason": src.error,
                "parsed_at": src.parsed_at.isoformat() if src.parsed_at else None,
                "units": src.coverage.get("units", {}) if src.coverage else {},
                "skipped": [
                    {
                        "unit": r.unit,
                        "reason": r.reason,
                        "kind": r.kind,
                        "count": r.count,
                        "examples": r.examples,
                    }
                    for r in cov.reasons.values()
                ],
                "notes": cov.notes,
            }
        )
    return rows
