"""Exact (MD5 / SHA-1 / SHA-256) matching, done by the database on its (algorithm, value) index."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from tessera.store import models as m

EXACT_ALGORITHMS = ("md5", "sha1", "sha256")


def _media_column(algorithm: str) -> Any:
    return {"md5": m.Media.md5, "sha1": m.Media.sha1, "sha256": m.Media.sha256}[algorithm]


def exact_matches(session: Session, sha256s: Sequence[str]) -> Iterator[tuple[str, int, int, str]]:
    """(media sha256, entry id, hash set id, algorithm) for every entry equal to one of the media."""
    for start in range(0, len(sha256s), 500):
        part = sha256s[start : start + 500]
        for alg in EXACT_ALGORITHMS:
            col = _media_column(alg)
            q = (
                select(m.Media.sha256, m.HashEntry.id, m.HashEntry.hashset_id)
                .join(m.HashEntry, and_(m.HashEntry.algorithm == alg, m.HashEntry.value == col))
                .where(m.Media.sha256.in_(part))
            )
            for sha, entry_id, set_id in session.execute(q):
                yield sha, entry_id, set_id, alg


def exact_matches_for_set(session: Session, hashset_id: int) -> Iterator[tuple[str, int, int, str]]:
    """Every case media item equal to an entry of one hash set (used after a late import)."""
    for alg in EXACT_ALGORITHMS:
        col = _media_column(alg)
        q = (
            select(m.Media.sha256, m.HashEntry.id, m.HashEntry.hashset_id)
            .join(m.Media, col == m.HashEntry.value)
            .where(m.HashEntry.hashset_id == hashset_id, m.HashEntry.algorithm == alg)
            .execution_options(yield_per=2000)
        )
        for sha, entry_id, set_id in session.execute(q):
            yield sha, entry_id, set_id, alg
