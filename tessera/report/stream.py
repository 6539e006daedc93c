"""A device's hits and problems as rows read while the report is written, never held whole.

A case of millions of hits must not need their size in memory: :class:`Rows` stands in the report
where a list would, and every pass over it reads the rows again, in batches, from the open session
(``tessera.store.queries`` streams them). ``len()`` (the HTML's "Hits (n)") is one COUNT query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.store import models as m
from tessera.store.queries import _match_query, iter_matches, iter_problems


class Rows:
    """Rows read from the database each time they are iterated; counted by one query."""

    def __init__(self, rows: Callable[[], Iterator[dict[str, Any]]], count: Callable[[], int]) -> None:
        self._rows = rows
        self._count = count
        self._n: int | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._rows()

    def __len__(self) -> int:
        if self._n is None:
            self._n = self._count()
        return self._n

    def __bool__(self) -> bool:
        return len(self) > 0


def hit_rows(s: Session, device: str) -> Rows:
    """The device's hits, as ``iter_matches`` gives them."""

    def count() -> int:
        return s.scalar(select(func.count()).select_from(_match_query(device).order_by(None).subquery())) or 0

    return Rows(lambda: iter_matches(s, device), count)


def problem_rows(s: Session, device: str) -> Rows:
    """The device's files that could not be fully processed: ``{"locator", "error"}``."""

    def rows() -> Iterator[dict[str, Any]]:
        for _, loc, err in iter_problems(s, device):
            yield {"locator": loc, "error": err}

    def count() -> int:
        q = (
            select(func.count())
            .select_from(m.File)
            .where(m.File.device_id == device, m.File.error.is_not(None))
        )
        return s.scalar(q) or 0

    return Rows(rows, count)


def materialise(report: dict[str, Any]) -> dict[str, Any]:
    """The same report with every :class:`Rows` read into a list (for callers that keep a dict)."""
    return {
        **report,
        "devices": [
            {k: list(v) if isinstance(v, Rows) else v for k, v in dev.items()} for dev in report["devices"]
        ],
    }
