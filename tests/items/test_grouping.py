"""Items on the hop operation: every copy of a picture in one item, no two pictures in one."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import func, select

from tessera.items.grouping import update_items
from tessera.items.links import Links, spanning_forest
from tessera.store.case import CaseHandle
from tessera.store.models_items import Item, ItemMember
from tests.items.conftest import OP


def test_generator_hops_are_within_1_to_30_bits() -> None:
    hops = [c for c in OP.copies.values() if c.parent is not None]
    assert hops and all(1 <= c.distance <= 30 for c in hops)
    for c in hops:
        parent = OP.copies[c.parent or ""]
        assert bin(int(c.pdq, 16) ^ int(parent.pdq, 16)).count("1") == c.distance
    assert {c.transform for c in hops} == {"recompress", "resize", "reencode"}
    assert len(OP.posts) == len(OP.copies)  # every post carries its own copy
    assert len({c.sha256 for c in OP.copies.values()}) == len(OP.copies)


def test_items_equal_the_pictures(hop_case: CaseHandle) -> None:
    with hop_case.session() as s:
        rows = s.execute(
            select(
                ItemMember.sha256,
                ItemMember.item_id,
                ItemMember.via,
                ItemMember.linked_to,
                ItemMember.distance,
            )
        ).all()
        n_items = s.scalar(select(func.count()).select_from(Item))
    truth = {c.sha256: c.item for c in OP.copies.values()}
    by_item: dict[int, set[str]] = defaultdict(set)
    for sha, item, *_ in rows:
        by_item[item].add(truth[sha])
    # One generated picture per item (no merge) and one item per picture (no split).
    assert all(len(v) == 1 for v in by_item.values()), by_item
    assert n_items == len({c.item for c in OP.copies.values()})
    member = {r[0]: r for r in rows}
    for sha, item, via, linked, dist in rows:
        if via == "self":
            assert linked is None and sha == min(s for s, r in member.items() if r[1] == item)
        else:
            assert via == "pdq" and 0 <= dist <= 31 and member[linked][1] == item


def test_incremental_grouping_merges_and_keeps_ids(hop_case: CaseHandle) -> None:
    with hop_case.session() as s:
        before = dict(s.execute(select(ItemMember.sha256, ItemMember.item_id)).all())
        assert update_items(s).new == 0  # nothing new: nothing searched, nothing written
        # Regroup from scratch with only half the media first: the result must be the same partition.
        s.execute(ItemMember.__table__.delete())
        s.execute(Item.__table__.delete())
        s.flush()
        shas = sorted(before)
        from tessera.store import models as m

        hidden = shas[::2]
        saved = {sha: s.get(m.Media, sha).pdq for sha in hidden}
        for sha in hidden:
            s.get(m.Media, sha).pdq = None  # not hashable yet: singletons
        s.flush()
        update_items(s)
        s.execute(ItemMember.__table__.delete().where(ItemMember.sha256.in_(hidden)))
        s.flush()
        for sha, pdq in saved.items():
            s.get(m.Media, sha).pdq = pdq
        s.flush()
        update_items(s)
        s.commit()
        after = dict(s.execute(select(ItemMember.sha256, ItemMember.item_id)).all())
    part = lambda d: {frozenset(k for k in d if d[k] == v) for v in d.values()}  # noqa: E731
    assert part(after) == part(before)


def test_spanning_forest_orients_towards_the_smallest() -> None:
    links = Links()
    links.add([3, 1, 4], [1, 2, 2], [5, 7, 9], "pdq")
    a, b, d, via = links.arrays()
    f = spanning_forest(6, [], a, b, d, via)
    assert f.root.tolist() == [0, 1, 1, 1, 1, 5]
    assert f.parent.tolist() == [-1, -1, 1, 1, 2, -1]
    assert np.all(f.distance[[2, 3, 4]] == [7, 5, 9])


def test_an_item_inserted_without_an_id_after_grouping_does_not_collide(case: CaseHandle) -> None:
    """Grouping hands out ids itself; on PostgreSQL the id sequence is moved past them."""
    from tessera.synth.hops import load

    with case.session() as s:
        load(s, OP)
        update_items(s)
        s.commit()
        top = s.scalar(select(func.max(Item.id)))
        s.add(Item(key="f" * 64, kind="image", members=0))
        s.commit()
        assert s.scalar(select(func.max(Item.id))) == top + 1
