"""Counting the statements a block sends to the database: the proof that a query does not run per row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tessera.store.case import CaseHandle


@contextmanager
def counted(case: CaseHandle) -> Iterator[list[str]]:
    """Every statement sent to the database (an executemany counts once) while the block runs."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(case.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(case.engine, "before_cursor_execute", count)
