"""After a hash-set import the database's planner knows the table's new size (PostgreSQL: ANALYZE), so
the matching that follows and later ingests are not planned for an empty table where autovacuum is off
or has not run yet."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.ingest.importer import import_hashset
from tessera.store.case import CaseHandle
from tessera.synth.hashsets import random_entries, vics_media


def test_import_leaves_fresh_planner_statistics(case: CaseHandle, tmp_path: Path) -> None:
    src = tmp_path / "set.json"
    src.write_bytes(vics_media(random_entries(3000, seed=5)))
    with case.session() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite plans the matching by its indexes without statistics")
    result = import_hashset(case, src, name="stats")
    assert result.entries >= 3000
    with case.session() as s:
        # reltuples is -1 ("never analysed") until ANALYZE or autovacuum runs; the server here runs
        # without autovacuum, so only the import's own ANALYZE can have set it.
        tuples = s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'hash_entry'"))
        analysed = s.scalar(
            text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'hash_entry'")
        )
    assert analysed and tuples >= result.entries * 0.9, (tuples, analysed)
