"""Exact (MD5 / SHA-1 / SHA-256) matching, done by the database on its (algorithm, value) index.

Which algorithms match exactly, and which ``media`` column holds a case item's value, is asked of the
algorithm axis (:mod:`tessera.hashing.algorithms`), whose exact algorithms name :class:`ExactIndex`.

The batch's own values drive every statement: ``hash_entry`` is probed on its (algorithm, value) index
once per value, which costs O(batch) whatever the size of the case or of the hash sets, and whether or
not either table has statistics. The former join of ``media`` and ``hash_entry`` filtered on
``media.sha256`` left the join order to the planner; on PostgreSQL, with a ``media`` table growing
through one long ingest and never analysed, it scanned ``media`` and hashed every entry of the
algorithm, so each batch cost O(case media + entries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Text, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS, exact_names
from tessera.records import MediaRecord
from tessera.store import models as m

#: Values per statement: well under every database's parameter limit.
_BATCH = 500


class ExactIndex:
    """Equality matching of one algorithm's values: the database's (algorithm, value) index is the index."""

    def __init__(self, algorithm: str) -> None:
        alg = ALGORITHMS.get(algorithm)
        if alg.matching != "exact" or alg.media_column is None:
            raise ValueError(f"{algorithm} is not matched exactly against a media column")
        self.algorithm = algorithm
        #: The ``media`` column (and :class:`MediaRecord` field) holding an item's value.
        self.media_column: str = alg.media_column
        self._column: Any = getattr(m.Media, alg.media_column)

    def has_entries(self, session: Session) -> bool:
        """Whether any hash set holds a value of this algorithm (one seek on the (algorithm, value) index)."""
        # Ordered as the index is, so a planner without statistics (PostgreSQL after a bulk import) still
        # takes the index: a scan would have to sort every entry for one row.
        q = (
            select(m.HashEntry.value)
            .where(m.HashEntry.algorithm == self.algorithm)
            .order_by(m.HashEntry.algorithm, m.HashEntry.value)
            .limit(1)
        )
        return session.execute(q).first() is not None

    def lookup(self, session: Session, values: Sequence[str]) -> Iterator[tuple[str, int, int]]:
        """(value, entry id, hash set id) for every entry of this algorithm equal to one of ``values``."""
        postgres = session.get_bind().dialect.name == "postgresql"
        for start in range(0, len(values), _BATCH):
            part = values[start : start + _BATCH]
            q = self._probe(part) if postgres else self._in_list(part)
            for row in session.execute(q):
                yield row[0], row[1], row[2]

    def _in_list(self, values: Sequence[str]) -> Any:
        # SQLite plans this as one search of (algorithm, value) per value, with or without statistics.
        return select(m.HashEntry.value, m.HashEntry.id, m.HashEntry.hashset_id).where(
            m.HashEntry.algorithm == self.algorithm, m.HashEntry.value.in_(values)
        )

    def _probe(self, values: Sequence[str]) -> Any:
        # PostgreSQL, given the IN list on a hash_entry never analysed after an import, estimates a few
        # rows per algorithm and reads every entry of the algorithm (80 ms per batch at 300,000
        # entries). One index probe per value instead: a lateral subquery that OFFSET keeps from being
        # flattened into a join leaves the planner a nested loop over the values, whatever the
        # statistics say.
        v = func.unnest(bindparam("values", list(values), type_=ARRAY(Text))).table_valued("value")
        v = v.render_derived(name="v")
        h = (
            select(m.HashEntry.id, m.HashEntry.hashset_id)
            .where(m.HashEntry.algorithm == self.algorithm, m.HashEntry.value == v.c.value)
            .offset(0)
            .lateral("h")
        )
        return select(v.c.value, h.c.id, h.c.hashset_id).select_from(v).join(h, true())

    def pair(self, session: Session, items: Sequence[tuple[str, str]]) -> Iterator[tuple[str, int, int]]:
        """(sha256, entry id, hash set id) for (sha256, value) pairs: in pair order, entries by id."""
        values = list(dict.fromkeys(v for _, v in items))
        found: dict[str, list[tuple[int, int]]] = {}
        for value, entry_id, set_id in self.lookup(session, values):
            found.setdefault(value, []).append((entry_id, set_id))
        for sha, value in items:
            for entry_id, set_id in sorted(found.get(value, ())):
                yield sha, entry_id, set_id

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


def _media_values(
    session: Session, sha256s: Sequence[str], columns: Sequence[str]
) -> list[tuple[str, tuple[str | None, ...]]]:
    """Stored media of these sha256s (primary key lookups, batch order): (sha256, column values)."""
    q = select(m.Media.sha256, *(getattr(m.Media, c) for c in columns)).where(m.Media.sha256.in_(sha256s))
    stored = {row[0]: tuple(row[1:]) for row in session.execute(q)}
    return [(sha, stored[sha]) for sha in dict.fromkeys(sha256s) if sha in stored]


def _batches_matches(
    session: Session, indexes: Sequence[ExactIndex], batches: Iterable[list[tuple[str, tuple[Any, ...]]]]
) -> Iterator[tuple[str, int, int, str]]:
    """Each batch of (sha256, one value per index), batches outermost, then indexes, then sha256s."""
    # An algorithm no hash set has (a PDQ-only set, no set at all) is not asked about: a probe per
    # value cost an ingest of small files ~7 us per file for nothing. Asked once per call (an index
    # seek), so a set imported during a long ingest is matched from its next flush on.
    present = [k for k, index in enumerate(indexes) if index.has_entries(session)]
    if not present:
        return
    for batch in batches:
        for k in present:
            index = indexes[k]
            items = [(sha, vals[k]) for sha, vals in batch if vals[k] is not None]
            for sha, entry_id, set_id in index.pair(session, items):
                yield sha, entry_id, set_id, index.algorithm


def exact_matches(session: Session, sha256s: Sequence[str]) -> Iterator[tuple[str, int, int, str]]:
    """(media sha256, entry id, hash set id, algorithm) for every entry equal to one of the media.

    The media's values are read from the store by primary key; a caller holding the records matches
    with :func:`exact_matches_records`, which asks nothing of ``media``.
    """
    indexes = [ExactIndex(alg) for alg in exact_names()]
    columns = [index.media_column for index in indexes]
    # Batches outermost, as before: a caller streaming results sees each batch's hits together.
    batches = (
        _media_values(session, sha256s[start : start + _BATCH], columns)
        for start in range(0, len(sha256s), _BATCH)
    )
    yield from _batches_matches(session, indexes, batches)


def exact_matches_records(
    session: Session, records: Sequence[MediaRecord]
) -> Iterator[tuple[str, int, int, str]]:
    """:func:`exact_matches` of stored media, with the digests taken from their records."""
    indexes = [ExactIndex(alg) for alg in exact_names()]
    columns = [index.media_column for index in indexes]

    def batch(part: Sequence[MediaRecord]) -> list[tuple[str, tuple[Any, ...]]]:
        # One item per sha256 (first record wins), as the stored media and the former IN list had.
        first: dict[str, MediaRecord] = {}
        for r in part:
            first.setdefault(r.sha256, r)
        return [(sha, tuple(getattr(r, c) for c in columns)) for sha, r in first.items()]

    batches = (batch(records[start : start + _BATCH]) for start in range(0, len(records), _BATCH))
    yield from _batches_matches(session, indexes, batches)


def exact_matches_for_set(session: Session, hashset_id: int) -> Iterator[tuple[str, int, int, str]]:
    """Every case media item equal to an entry of one hash set (used after a late import)."""
    for alg in exact_names():
        for sha, entry_id, set_id in ExactIndex(alg).matches_for_set(session, hashset_id):
            yield sha, entry_id, set_id, alg
