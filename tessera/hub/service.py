"""What the hub does, independent of HTTP: push, change, withdraw, pull (changes), query, entry views.

Every writer first locks the ``seq`` counter row and holds it until commit. That serialises writers
(a push is one transaction of up to a few thousand items, so this costs little) and buys two
guarantees: sequence numbers become visible in order, so a pull that has read up to N never later
finds a change numbered below N; and concurrent pushes of the same digests cannot deadlock.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tessera.hub import models as hm
from tessera.hub.auth import Principal
from tessera.hub.index import HubIndex
from tessera.matching.pdq import PdqIndex, hex_to_rows

PDQ_LINK_RADIUS = 31
_IN = 1000  # values per IN (...) list

#: Fields a contribution carries (all a push item may hold besides its digests).
CONTRIBUTION_FIELDS = ("category", "profile", "series", "victim_identified", "first_seen")


class NotFound(LookupError):
    pass


@dataclass
class Policy:
    """What agencies may see and how much they may send. Defaults follow the issue's sharing policy."""

    share_contributors: bool = False
    max_body_bytes: int = 8 * 1024 * 1024
    max_push_items: int = 5000
    max_query_hashes: int = 1000
    max_pull_limit: int = 10_000
    rate: float = 200.0
    burst: int = 400


def _insert(s: Session, table: Any) -> Any:
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(dialect)  # pragma: no cover


def in_chunks(seq: Sequence[Any], size: int = _IN) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def lock_seq(s: Session) -> hm.Counter:
    row = s.scalar(select(hm.Counter).where(hm.Counter.name == "seq").with_for_update())
    if row is None:
        raise RuntimeError("hub database has no seq counter (run: tessera hub init)")
    return row


# --------------------------------------------------------------------------------------- consensus


def consensus(contribs: Sequence[Any]) -> dict[str, Any]:
    """The entry state implied by its contributions (oldest first).

    Categories are compared as (profile, category) pairs: numbers from different category schemes are
    not comparable, so they count as a disagreement too. A disagreement sets ``conflict`` and the
    consensus stays with the majority, ties going to the oldest contribution: a later agency can never
    overwrite an earlier one's category by pushing a different one.
    """
    active = [c for c in contribs if not c.withdrawn]
    if not active:
        return {"withdrawn": True, "conflict": False, "contributions": 0}
    cats = Tally((c.profile, c.category) for c in active if c.category is not None)
    best: tuple[str | None, int | None] = (None, None)
    if cats:
        top = max(cats.values())
        best = next(
            (c.profile, c.category)
            for c in active
            if c.category is not None and cats[(c.profile, c.category)] == top
        )
    series_tally = Tally(c.series for c in active if c.series)
    series = None
    if series_tally:
        top_s = max(series_tally.values())
        series = next(c.series for c in active if c.series and series_tally[c.series] == top_s)
    flags = [c.victim_identified for c in active if c.victim_identified is not None]
    # Identification is a fact once any agency has established it.
    victim = True if any(flags) else (False if flags else None)
    seen = [c.first_seen for c in active if c.first_seen]
    return {
        "withdrawn": False,
        "conflict": len(cats) > 1,
        "profile": best[0],
        "category": best[1],
        "series": series,
        "victim_identified": victim,
        "first_seen": min(seen) if seen else None,
        "contributions": len(active),
    }


_CONTRIB_COLUMNS = ("entry_id", *CONTRIBUTION_FIELDS, "withdrawn")


def _recompute(s: Session, counter: hm.Counter, entry_ids: Iterable[int]) -> int:
    """Refresh the consensus of ``entry_ids`` and give each a new sequence number."""
    ids = sorted(set(entry_ids))
    if not ids:
        return 0
    table = hm.Contribution.__table__
    by_entry: dict[int, list[Any]] = {i: [] for i in ids}
    for part in in_chunks(ids):
        q = (
            select(*(table.c[k] for k in _CONTRIB_COLUMNS))
            .where(table.c.entry_id.in_(part))
            .order_by(table.c.id)
        )
        for c in s.execute(q):
            by_entry[c.entry_id].append(c)
    now = hm.utcnow()
    rows = []
    for eid in ids:
        counter.value += 1
        rows.append({"id": eid, "seq": counter.value, "updated_at": now, **consensus(by_entry[eid])})
    # Rows differ in their keys (withdrawn entries keep their last category), so group by key set.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(r)), []).append(r)
    for group in groups.values():
        s.execute(update(hm.Entry), group)
    return len(rows)


# -------------------------------------------------------------------------------------------- push


#: Column types for the PostgreSQL array-insert path (one INSERT ... SELECT FROM unnest per call).
_ENTRY_TYPES = {
    "sha256": "varchar",
    "md5": "varchar",
    "sha1": "varchar",
    "pdq": "varchar",
    "pdq_quality": "int",
    "category": "int",
    "profile": "varchar",
    "series": "text",
    "victim_identified": "bool",
    "conflict": "bool",
    "withdrawn": "bool",
    "first_seen": "varchar",
    "contributions": "int",
    "seq": "bigint",
    "updated_at": "timestamptz",
}
_CONTRIB_TYPES = {
    "entry_id": "bigint",
    "agency_id": "int",
    "category": "int",
    "profile": "varchar",
    "series": "text",
    "victim_identified": "bool",
    "first_seen": "varchar",
    "withdrawn": "bool",
    "updated_at": "timestamptz",
}


def _insert_rows(
    s: Session,
    table: Any,
    rows: Sequence[dict[str, Any]],
    types: dict[str, str],
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert ``rows`` (keys: ``types``); on PostgreSQL as one statement over column arrays.

    SQLAlchemy's multi-row VALUES costs a parse of thousands of placeholders per statement; a handful
    of array parameters does not, and keeps the time the seq lock is held short.
    """
    if not rows:
        return []
    cols = list(types)
    if s.get_bind().dialect.name == "postgresql":
        arrays = ", ".join(f"%(c{i})s::{types[c]}[]" for i, c in enumerate(cols))
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT * FROM unnest({arrays})"
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        params = {f"c{i}": [r[c] for r in rows] for i, c in enumerate(cols)}
        result = s.connection().exec_driver_sql(sql, params)
        return list(result.all()) if returning else []
    ins = insert(cast(Table, table))
    if returning:
        ins = ins.returning(*(table.c[c] for c in returning))
    out: list[Any] = []
    for part in in_chunks(rows):
        chunk = [{c: r[c] for c in cols} for r in part]
        if returning:
            out += s.execute(ins, chunk).all()
        else:
            s.execute(ins, chunk)
    return out


def _entry_ids(s: Session, shas: Sequence[str]) -> dict[str, int]:
    """Entry ids of those ``shas`` the hub already has."""
    if s.get_bind().dialect.name == "postgresql":
        sql = "SELECT sha256, id FROM hub_entry WHERE sha256 = ANY(%(v)s::varchar[])"
        return {sha: eid for sha, eid in s.connection().exec_driver_sql(sql, {"v": list(shas)})}
    found: dict[str, int] = {}
    for part in in_chunks(shas):
        q = select(hm.Entry.sha256, hm.Entry.id).where(hm.Entry.sha256.in_(part))
        found.update((sha, eid) for sha, eid in s.execute(q))
    return found


def _lower(value: Any) -> Any:
    return value.lower() if value else None


def push(s: Session, who: Principal, batch_id: str, items: Sequence[dict[str, Any]], index: HubIndex) -> dict:
    """Apply one batch of contributions in the caller's transaction (the caller commits).

    Digests the hub has never seen (the bulk of a large push) become entries in one INSERT each, with
    their consensus and sequence number already final: one contribution is its own consensus, and the
    seq lock means nobody else can insert the same digest meanwhile. Only digests that already have an
    entry go through the upsert-and-recompute path, and only those whose contribution changed get a
    new sequence number. The PDQ near-duplicate search against the index runs before the lock.
    """
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        latest[item["sha256"].lower()] = item  # a digest twice in one batch: the later one counts
    shas = sorted(latest)
    # Near-duplicate candidates among committed entries, searched before taking the lock; entries
    # committed after ``seen`` are compared under the lock (see _link_near_duplicates).
    seen = index.seq
    pdq_of = {sha: _lower(latest[sha].get("pdq")) for sha in shas}
    pre_hits = _search_index(index, pdq_of)

    counter = lock_seq(s)
    done = s.scalar(
        select(hm.Batch).where(hm.Batch.agency_id == who.agency_id, hm.Batch.batch_id == batch_id)
    )
    if done is not None:
        return {
            "batch_id": batch_id,
            "items": done.items,
            "new_entries": done.new_entries,
            "changed": done.changed,
            "duplicate_batch": True,
        }
    existing = _entry_ids(s, shas)
    now = hm.utcnow()
    before = counter.value
    fresh = [sha for sha in shas if sha not in existing]
    entry_rows = []
    for sha in fresh:
        it = latest[sha]
        counter.value += 1
        entry_rows.append(
            {
                "sha256": sha,
                "md5": _lower(it.get("md5")),
                "sha1": _lower(it.get("sha1")),
                "pdq": pdq_of[sha],
                "pdq_quality": it.get("pdq_quality"),
                "seq": counter.value,
                "updated_at": now,
                **consensus([_Contribution(it)]),
            }
        )
    new_ids: dict[str, int] = {
        sha: eid
        for eid, sha in _insert_rows(s, hm.Entry.__table__, entry_rows, _ENTRY_TYPES, ("id", "sha256"))
    }
    new_contribs = [
        {
            "entry_id": new_ids[sha],
            "agency_id": who.agency_id,
            "withdrawn": False,
            "updated_at": now,
            **{f: latest[sha].get(f) for f in CONTRIBUTION_FIELDS},
        }
        for sha in fresh
    ]
    _insert_rows(s, hm.Contribution.__table__, new_contribs, _CONTRIB_TYPES)
    table = cast(Table, hm.Contribution.__table__)
    old_contribs = [
        {
            "entry_id": existing[sha],
            "agency_id": who.agency_id,
            "withdrawn": False,
            "updated_at": now,
            **{f: latest[sha].get(f) for f in CONTRIBUTION_FIELDS},
        }
        for sha in shas
        if sha in existing
    ]
    changed: set[int] = set()
    if old_contribs:
        cins = _insert(s, table)
        watched = (*CONTRIBUTION_FIELDS, "withdrawn")
        upsert = cins.on_conflict_do_update(
            index_elements=["entry_id", "agency_id"],
            set_={**{f: cins.excluded[f] for f in watched}, "updated_at": cins.excluded.updated_at},
            # An identical re-push changes nothing and so bumps no sequence number.
            where=_any_distinct(table, cins, watched),
        ).returning(table.c.entry_id)
        for part in in_chunks(old_contribs):
            changed.update(s.scalars(upsert, list(part)).all())
        _recompute(s, counter, changed)
    new = [(new_ids[sha], pdq_of[sha]) for sha in fresh]
    _link_near_duplicates(s, new, pre_hits, new_ids, seen, before)
    s.add(
        hm.Batch(
            agency_id=who.agency_id,
            batch_id=batch_id,
            items=len(items),
            new_entries=len(new),
            changed=len(changed) + len(new),
        )
    )
    s.flush()
    return {
        "batch_id": batch_id,
        "items": len(items),
        "new_entries": len(new),
        "changed": len(changed) + len(new),
        "duplicate_batch": False,
    }


class _Contribution:
    """A push item seen as a contribution, for :func:`consensus` of a brand-new entry."""

    withdrawn = False

    def __init__(self, item: dict[str, Any]) -> None:
        for f in CONTRIBUTION_FIELDS:
            setattr(self, f, item.get(f))


def _any_distinct(table: Any, ins: Any, fields: Sequence[str]) -> Any:
    from sqlalchemy import or_

    return or_(*(table.c[f].is_distinct_from(ins.excluded[f]) for f in fields))


def _search_index(index: HubIndex, pdq_of: dict[str, str | None]) -> list[tuple[str, int, int]]:
    """(sha256, indexed entry id, distance) for each pushed PDQ's near-duplicates already indexed."""
    with_pdq = [(sha, pdq) for sha, pdq in pdq_of.items() if pdq]
    if not with_pdq:
        return []
    hits = index.search([p for _, p in with_pdq], PDQ_LINK_RADIUS)
    return [(with_pdq[qi][0], other, dist) for qi, other, dist in hits]


def _link_near_duplicates(
    s: Session,
    new: Sequence[tuple[int, str | None]],
    pre_hits: Sequence[tuple[str, int, int]],
    new_ids: dict[str, int],
    seen: int,
    before: int,
) -> None:
    """Link this batch's new entries to every entry within the radius.

    ``pre_hits`` covers the entries indexed when the batch arrived (sequence numbers up to ``seen``);
    entries committed since then (up to ``before``, the counter when this batch took the lock) and the
    batch's own new entries are compared here, under the lock.
    """
    with_pdq = [(eid, pdq) for eid, pdq in new if pdq]
    if not with_pdq:
        return
    pairs: dict[tuple[int, int], int] = {}
    for sha, other, dist in pre_hits:
        eid = new_ids.get(sha)
        if eid is not None and eid != other:
            pairs[(min(eid, other), max(eid, other))] = dist
    local_ids = [eid for eid, _ in with_pdq]
    local_hex = [p for _, p in with_pdq]
    if before > seen:
        late = s.execute(
            select(hm.Entry.id, hm.Entry.pdq).where(
                hm.Entry.seq > seen, hm.Entry.seq <= before, hm.Entry.pdq.is_not(None)
            )
        ).all()
        local_ids += [eid for eid, _ in late]
        local_hex += [str(p) for _, p in late]
    local = PdqIndex()
    local.add(local_ids, hex_to_rows(local_hex))
    hexes = [p for _, p in with_pdq]
    qi_arr, other_arr, dist_arr = local.search(hex_to_rows(hexes), radius=PDQ_LINK_RADIUS)
    for qi, other, dist in zip(qi_arr.tolist(), other_arr.tolist(), dist_arr.tolist(), strict=True):
        a, b = sorted((with_pdq[qi][0], other))
        if a != b:
            pairs[(a, b)] = dist
    rows = [{"entry_a": a, "entry_b": b, "distance": d} for (a, b), d in sorted(pairs.items())]
    ins = _insert(s, hm.PdqLink.__table__).on_conflict_do_nothing(index_elements=["entry_a", "entry_b"])
    for part in in_chunks(rows):
        s.execute(ins, list(part))


# ------------------------------------------------------------------------------ change / withdraw


def _own(s: Session, who: Principal, sha256: str) -> hm.Contribution:
    # Another agency's contribution and no contribution at all look the same from outside.
    c = s.scalar(
        select(hm.Contribution)
        .join(hm.Entry, hm.Entry.id == hm.Contribution.entry_id)
        .where(hm.Entry.sha256 == sha256.lower(), hm.Contribution.agency_id == who.agency_id)
    )
    if c is None or c.withdrawn:
        raise NotFound(f"your agency has no active contribution for {sha256.lower()}")
    return c


def change(s: Session, who: Principal, sha256: str, fields: dict[str, Any]) -> dict[str, Any]:
    counter = lock_seq(s)
    c = _own(s, who, sha256)
    for key, value in fields.items():
        if key in CONTRIBUTION_FIELDS:
            setattr(c, key, value)
    c.updated_at = hm.utcnow()
    s.flush()
    _recompute(s, counter, [c.entry_id])
    return contribution_view(c)


def withdraw(s: Session, who: Principal, sha256: str) -> None:
    counter = lock_seq(s)
    c = _own(s, who, sha256)
    c.withdrawn = True
    c.updated_at = hm.utcnow()
    s.flush()
    _recompute(s, counter, [c.entry_id])


def contribution_view(c: hm.Contribution) -> dict[str, Any]:
    return {f: getattr(c, f) for f in CONTRIBUTION_FIELDS} | {"withdrawn": c.withdrawn}
