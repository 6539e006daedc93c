"""Exact (MD5 / SHA-1 / SHA-256) matching, done by the database on its (algorithm, value) index.

Which algorithms match exactly, and which ``media`` column holds a case item's value, is asked of the
algorithm axis (:mod:`tessera.hashing.algorithms`), whose exact algorithms name :class:`ExactIndex`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS, exact_names
from tessera.store import models as m

#: Media per statement: well under every database's parameter limit.
_BATCH = 500


class ExactIndex:
    """Equality matching of one algorithm's values: the database's (algorithm, value) index is the index."""

    def __init__(self, algorithm: str) -> None:
        alg = ALGORITHMS.get(algorithm)
        if alg.matching != "exact" or alg.media_column is None:
            raise ValueError(f"{algorithm} is not matched exactly against a media column")
        self.algorithm = algorithm
        self._column: Any = getattr(m.Media, alg.media_column)

    def matches(self, session: Session, sha256s: Sequence[str]) -> Iterator[tuple[str, int, int]]:
        """(media sha256, entry id, hash set id) for every entry equal to one of these media."""
        for start in range(0, len(sha256s), _BATCH):
            q = (
                select(m.Media.sha256, m.HashEntry.id, m.HashEntry.hashset_id)
                .join(
                    m.HashEntry,
                    and_(m.HashEntry.algorithm == self.algorithm, m.HashEntry.value == self._column),
                )
                .where(m.Media.sha256.in_(sha256s[start : start + _BATCH]))
            )
            for row in session.execute(q):
                yield row[0], row[1], row[2]

    def matches_for_set(self, session: Session, hashset_id: int) -> Iterator[tuple[str, int, int]]:
        """Every case media item equal to an entry of one hash set."""
        q = (
            select(m.Media.sha256, m.HashEntry.id, m.HashEntry.hashset_id)
            .join(m.Media, self._column == m.HashEntry.value)
            .where(m.HashEntry.hashset_id == hashset_id, m.HashEntry.algorithm == self.algorithm)
            .execution_options(yield_per=2000)
        )
        for row in session.execute(q):
            yield row[0], row[1], row[2]


def exact_matches(session: Session, sha256s: Sequence[str]) -> Iterator[tuple[str, int, int, str]]:
    """(media sha256, entry id, hash set id, algorithm) for every entry equal to one of the media."""
    indexes = [ExactIndex(alg) for alg in exact_names()]
    # Batches outermost, as before: a caller streaming results sees each batch's hits together.
    for start in range(0, len(sha256s), _BATCH):
        part = sha256s[start : start + _BATCH]
        for index in indexes:
            for sha, entry_id, set_id in index.matches(session, part):
                yield sha, entry_id, set_id, index.algorithm


def exact_matches_for_set(session: Session, hashset_id: int) -> Iterator[tuple[str, int, int, str]]:
    """Every case media item equal to an entry of one hash set (used after a late import)."""
    for alg in exact_names():
        for sha, entry_id, set_id in ExactIndex(alg).matches_for_set(session, hashset_id):
            yield sha, entry_id, set_id, alg
