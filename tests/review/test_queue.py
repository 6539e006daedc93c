"""The review queue's pages: the total carried by the page's own scan equals a separate count, pages
partition the queue in order, "new" is new material, and a page past the end still knows the total."""

from __future__ import annotations

from sqlalchemy import func, select

from tessera.review.data import queue_filter, review_page
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.queries import new_material_filter
from tests.review.helpers import Built


def test_pages_partition_the_queue_and_carry_its_total(case: CaseHandle, built: Built) -> None:
    with case.session() as s:
        total = s.scalar(select(func.count()).select_from(m.Media).where(queue_filter()))
        new = set(s.scalars(select(m.Media.sha256).where(queue_filter(), new_material_filter())))
        assert total and total >= 3, "the built case must give a queue of several pages"
        seen: list[str] = []
        page = 1
        while True:
            items, got_total = review_page(s, page, 2)
            assert got_total == total
            if not items:
                break
            seen += [i["sha256"] for i in items]
            assert {i["sha256"] for i in items if i["new"]} == new & {i["sha256"] for i in items}
            page += 1
        assert len(seen) == len(set(seen)) == total
        # New material first, then by first sighting.
        flags = [sha not in new for sha in seen]
        assert flags == sorted(flags)
        assert review_page(s, page + 5, 2) == ([], total)
