"""Exact matching: results equal to a naive computation, and a plan that does not scan the case's media.

The writer matches each flush with :func:`exact_matches_records`. On PostgreSQL a ``media`` table that
grows during one ingest is never analysed, and the former join of ``media`` and ``hash_entry`` was
planned as a sequential scan of ``media`` per batch; the plan test runs the statements actually issued
against such a table.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import exact_names
from tessera.matching.exact import _BATCH, exact_matches, exact_matches_records
from tessera.records import MediaRecord
from tessera.store import models as m
from tessera.store.case import CaseHandle

Match4 = tuple[str, int, int, str]
PROBE = "ORDER BY hash_entry.algorithm"  # what marks ExactIndex.has_entries' statement


def _digest(alg: str, key: str) -> str:
    return hashlib.new(alg, key.encode()).hexdigest()


def _record(key: str) -> MediaRecord:
    return MediaRecord(
        sha256=_digest("sha256", key), md5=_digest("md5", key), sha1=_digest("sha1", key), size=1
    )


def _populate(s: Session, n_media: int, n_known: int, seed: int) -> list[MediaRecord]:
    """Stored media (some known by one, two or three digests, in one or two sets) and their records."""
    rng = random.Random(seed)
    records = [_record(f"media-{i}") for i in range(n_media)]
    now = datetime.now(UTC)
    s.execute(
        insert(m.Media),
        [{"sha256": r.sha256, "md5": r.md5, "sha1": r.sha1, "size": 1, "first_seen": now} for r in records],
    )
    sets = [m.HashSet(name=f"set-{k}", format="list") for k in range(2)]
    s.add_all(sets)
    s.flush()
    entries = [
        {"hashset_id": sets[i % 2].id, "algorithm": alg, "value": _digest(alg, f"unknown-{i}")}
        for i in range(n_known)
        for alg in exact_names()
    ]
    for r in rng.sample(records, min(len(records), n_known // 10)):
        for alg in rng.sample(exact_names(), rng.randint(1, 3)):
            for hs in rng.sample(sets, rng.randint(1, 2)):
                entries.append({"hashset_id": hs.id, "algorithm": alg, "value": getattr(r, alg)})
    s.execute(insert(m.HashEntry), entries)
    return records


def _naive(s: Session, records: Sequence[MediaRecord]) -> list[Match4]:
    """Batch by batch, algorithm by algorithm, media in batch order (first occurrence), entries by id."""
    stored = {
        sha: {"md5": md5, "sha1": sha1, "sha256": sha}
        for sha, md5, sha1 in s.execute(text("SELECT sha256, md5, sha1 FROM media"))
    }
    by_value: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for entry_id, set_id, alg, value in s.execute(
        text("SELECT id, hashset_id, algorithm, value FROM hash_entry ORDER BY id")
    ):
        by_value.setdefault((alg, value), []).append((entry_id, set_id))
    out: list[Match4] = []
    for start in range(0, len(records), _BATCH):
        shas = list(dict.fromkeys(r.sha256 for r in records[start : start + _BATCH]))
        for alg in exact_names():
            for sha in shas:
                if sha in stored:
                    for entry_id, set_id in by_value.get((alg, stored[sha][alg]), ()):
                        out.append((sha, entry_id, set_id, alg))
    return out


def test_results_equal_naive_computation(case: CaseHandle) -> None:
    with case.session() as s:
        records = _populate(s, 1300, 600, seed=16)
        s.commit()
        rng = random.Random(7)
        # Repeats inside a batch and across batches, and a record whose media is not stored.
        query = records + rng.sample(records, 200) + [_record("not-stored")]
        rng.shuffle(query)
        expected = _naive(s, query)
        assert len({(sha, e) for sha, e, _, _ in expected}) >= 60  # the data does match
        assert list(exact_matches(s, [r.sha256 for r in query])) == expected
        stored_query = [r for r in query if r.sha256 != _record("not-stored").sha256]
        assert list(exact_matches_records(s, stored_query)) == _naive(s, stored_query)


@contextmanager
def _statements(s: Session) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) sent to the database inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    engine = s.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_writer_statements_use_the_index_on_a_grown_unanalysed_case(case: CaseHandle) -> None:
    """Neither media (20,000, grown in this transaction) nor hash_entry (15,000+) has statistics."""
    with case.session() as s:
        records = _populate(s, 20_000, 5_000, seed=3)
        s.commit()
        analysed = s.execute(
            text(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('media', 'hash_entry')"
                " AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
            )
        ).scalar()
        assert analysed == 0
        batch = records[-_BATCH:]
        with _statements(s) as seen:
            hits = list(exact_matches_records(s, batch))
        assert hits == _naive(s, batch)
        # One "does any set hold this algorithm" probe, then one lookup, per algorithm.
        assert len(seen) == 2 * len(exact_names())
        for statement, parameters in seen:
            plan = "\n".join(
                s.connection().exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
            )
            assert "media" not in plan, plan
            assert "Seq Scan" not in plan and "Hash Join" not in plan, plan
            if (
                "ORDER BY hash_entry.algorithm" in statement
            ):  # the presence probe: the index's first entry of the algorithm
                assert "Index Only Scan using ix_hash_entry_alg_value" in plan, plan
                continue
            # The index is searched for each value, not only for the algorithm (a scan of the whole set).
            probe = re.search(r"Index Scan using ix_hash_entry_alg_value.*\n\s*Index Cond: (.*)", plan)
            assert probe is not None and "algorithm" in probe[1] and "value =" in probe[1], plan


def test_an_algorithm_no_set_holds_is_not_looked_up(case: CaseHandle) -> None:
    # Small-file ingests paid a lookup per value for algorithms no hash set has (issue 16): only
    # the presence probe is sent then, and an entry added later is found by the next call.
    records = [_record(f"media-{i}") for i in range(50)]
    with case.session() as s:
        hs = m.HashSet(name="pdq-only", format="list")
        s.add(hs)
        s.flush()
        s.execute(insert(m.HashEntry), [{"hashset_id": hs.id, "algorithm": "pdq", "value": "f" * 64}])
        s.commit()
        with _statements(s) as seen:
            assert list(exact_matches_records(s, records)) == []
        assert len(seen) == len(exact_names()) and all(
            "ORDER BY hash_entry.algorithm" in st for st, _ in seen
        ), seen
        s.execute(insert(m.HashEntry), [{"hashset_id": hs.id, "algorithm": "sha1", "value": records[7].sha1}])
        s.commit()
        with _statements(s) as seen:
            hits = list(exact_matches_records(s, records))
        assert [(sha, alg) for sha, _, _, alg in hits] == [(records[7].sha256, "sha1")]
        assert len(seen) == len(exact_names()) + 1  # the probes, and one lookup of sha1
