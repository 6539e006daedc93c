"""What the hub does, independent of HTTP: push, change, withdraw, pull (changes), query, entry views.

Every writer first locks the ``seq`` counter row and holds it until commit. That serialises writers
(a push is one transaction of up to a few thousand items, so this costs little) and buys two
guarantees: sequence numbers become visible in order, so a pull that has read up to N never later
finds a change numbered below N; and concurrent pushes of the same digests cannot deadlock.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tessera.hub import bulk
from tessera.hub import models as hm
from tessera.hub.auth import Principal
from tessera.hub.bulk import in_chunks

log = logging.getLogger(__name__)

#: Fields a contribution carries (all a push item may hold besides its digests).
CONTRIBUTION_FIELDS = ("category", "profile", "series", "victim_identified", "first_seen")


class NotFound(LookupError):
    pass


class BatchConflict(ValueError):
    """A batch id this agency already used, sent again with different items."""


def items_digest(items: Sequence[dict[str, Any]]) -> str:
    text = json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


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
    #: Requests refused for a missing or bad token, per client address (then 429).
    refusal_rate: float = 5.0
    refusal_burst: int = 50


def _insert(s: Session, table: Any) -> Any:
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(dialect)  # pragma: no cover


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
#: The entry fields the changes feed shows (``contributions`` is not one of them).
VISIBLE = ("withdrawn", "conflict", "profile", "category", "series", "victim_identified", "first_seen")


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
    entry = cast(Table, hm.Entry.__table__)
    shown: dict[int, Any] = {}
    for part in in_chunks(ids):
        q = select(entry.c.id, *(entry.c[k] for k in VISIBLE)).where(entry.c.id.in_(part))
        shown.update((r.id, r) for r in s.execute(q))
    now = hm.utcnow()
    rows = []
    for eid in ids:
        state = consensus(by_entry[eid])
        row = {"id": eid, **state}
        was = shown.get(eid)
        # Only what a puller sees earns a new sequence number: another agency agreeing with the
        # consensus must not show up in the changes feed (that would let pullers count contributors).
        if was is None or any(getattr(was, k) != state[k] for k in VISIBLE if k in state):
            counter.value += 1
            row |= {"seq": counter.value, "updated_at": now}
        rows.append(row)
    # Rows differ in their keys (withdrawn entries keep their last category), so group by key set.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(r)), []).append(r)
    for group in groups.values():
        s.execute(update(hm.Entry), group)
    return len(rows)


# -------------------------------------------------------------------------------------------- push

#: Columns of a brand-new entry and of a contribution, in the order the bulk inserts take them.
_ENTRY_COLUMNS = (
    "sha256",
    "md5",
    "sha1",
    "pdq",
    "pdq_quality",
    "category",
    "profile",
    "series",
    "victim_identified",
    "conflict",
    "withdrawn",
    "first_seen",
    "contributions",
    "seq",
    "updated_at",
)
#: The consensus part of an entry row (the keys ``fresh_consensus`` fills).
_STATE_COLUMNS = _ENTRY_COLUMNS[5:13]
_CONTRIB_INSERT = ("entry_id", "agency_id", *CONTRIBUTION_FIELDS, "withdrawn", "updated_at")


def _lower(value: Any) -> Any:
    return value.lower() if value else None


def fresh_consensus(item: dict[str, Any]) -> dict[str, Any]:
    """``consensus`` of an entry whose only contribution is ``item`` (the bulk of a push), without the
    per-item objects and tallies: one contribution agrees with itself."""
    category = item.get("category")
    return {
        "withdrawn": False,
        "conflict": False,
        "profile": item.get("profile") if category is not None else None,
        "category": category,
        "series": item.get("series") or None,
        "victim_identified": item.get("victim_identified"),
        "first_seen": item.get("first_seen") or None,
        "contributions": 1,
    }


@dataclass(frozen=True)
class IndexDelta:
    """What a committed push means for the PDQ index: sequence numbers ``(before, after]`` are its own,
    and of those, ``ids`` are new entries with PDQ hashes ``hexes`` (see HubIndex.advance)."""

    before: int
    after: int
    ids: list[int]
    hexes: list[str]


def push(
    s: Session, who: Principal, batch_id: str, items: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], IndexDelta | None]:
    """Apply one batch of contributions in the caller's transaction (the caller commits, then hands the
    returned delta to the index).

    Digests the hub has never seen (the bulk of a large push) become entries in one bulk insert, with
    their consensus and sequence number already final: one contribution is its own consensus, and the
    seq lock means nobody else can insert the same digest meanwhile. Only digests that already have an
    entry go through the upsert-and-recompute path, and only those whose contribution changed get a
    new sequence number.

    Near-duplicates are not searched here: a radius-31 search of every pushed PDQ against a 10M-entry
    index profiled at about half of a large push's time, for links that only the entry view reads.
    That view asks the index instead (``reads.get_entry``), which is exact and never stale.
    """
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        latest[item["sha256"].lower()] = item  # a digest twice in one batch: the later one counts
    shas = sorted(latest)
    pdq_of = {sha: _lower(latest[sha].get("pdq")) for sha in shas}

    counter = lock_seq(s)
    done = s.scalar(
        select(hm.Batch).where(hm.Batch.agency_id == who.agency_id, hm.Batch.batch_id == batch_id)
    )
    digest = items_digest(items)
    if done is not None:
        if done.items_digest is not None and done.items_digest != digest:
            raise BatchConflict(f"batch id {batch_id!r} was already used with other items; choose a new one")
        # A replay changes nothing now, and says so: a re-run push must not report "4 new" again.
        result = {
            "batch_id": batch_id,
            "items": done.items,
            "new_entries": 0,
            "changed": 0,
            "duplicate_batch": True,
        }
        return result, None
    existing = bulk.entry_ids(s, shas)
    now = hm.utcnow()
    before = counter.value
    fresh = [sha for sha in shas if sha not in existing]
    entry_rows = []
    seq = counter.value
    for sha in fresh:
        it = latest[sha]
        seq += 1
        state = fresh_consensus(it)
        entry_rows.append(
            (
                sha,
                _lower(it.get("md5")),
                _lower(it.get("sha1")),
                pdq_of[sha],
                it.get("pdq_quality"),
                *(state[k] for k in _STATE_COLUMNS),
                seq,
                now,
            )
        )
    counter.value = seq
    new_ids = dict(zip(fresh, bulk.insert_entries(s, _ENTRY_COLUMNS, entry_rows), strict=True))
    agency = who.agency_id
    bulk.insert_rows(
        s,
        hm.Contribution.__table__,
        _CONTRIB_INSERT,
        [
            (new_ids[sha], agency, *(latest[sha].get(f) for f in CONTRIBUTION_FIELDS), False, now)
            for sha in fresh
        ],
    )
    changed = _upsert_known(
        s, counter, who, [(existing[sha], latest[sha]) for sha in shas if sha in existing]
    )
    new = [(new_ids[sha], pdq_of[sha]) for sha in fresh]
    s.add(
        hm.Batch(
            agency_id=who.agency_id,
            batch_id=batch_id,
            items=len(items),
            new_entries=len(new),
            changed=len(changed) + len(new),
            items_digest=digest,
        )
    )
    s.flush()
    result = {
        "batch_id": batch_id,
        "items": len(items),
        "new_entries": len(new),
        "changed": len(changed) + len(new),
        "duplicate_batch": False,
    }
    log.info(
        "push batch %s of agency %s: %d items, %d new entries, %d changed",
        batch_id,
        who.agency_id,
        len(items),
        len(new),
        result["changed"],
        extra={"agency_id": who.agency_id, "items": len(items), "new_entries": len(new)},
    )
    with_pdq = [(eid, pdq) for eid, pdq in new if pdq]
    delta = IndexDelta(before, counter.value, [e for e, _ in with_pdq], [p for _, p in with_pdq])
    return result, delta


def _upsert_known(
    s: Session, counter: hm.Counter, who: Principal, known: Sequence[tuple[int, dict[str, Any]]]
) -> set[int]:
    """Add or update this agency's contribution to entries the hub already has; recompute the changed."""
    if not known:
        return set()
    now = hm.utcnow()
    table = cast(Table, hm.Contribution.__table__)
    rows = [
        {
            "entry_id": eid,
            "agency_id": who.agency_id,
            "withdrawn": False,
            "updated_at": now,
            **{f: it.get(f) for f in CONTRIBUTION_FIELDS},
        }
        for eid, it in known
    ]
    cins = _insert(s, table)
    watched = (*CONTRIBUTION_FIELDS, "withdrawn")
    upsert = cins.on_conflict_do_update(
        index_elements=["entry_id", "agency_id"],
        set_={**{f: cins.excluded[f] for f in watched}, "updated_at": cins.excluded.updated_at},
        # An identical re-push changes nothing and so bumps no sequence number.
        where=_any_distinct(table, cins, watched),
    ).returning(table.c.entry_id)
    changed: set[int] = set()
    for part in in_chunks(rows):
        changed.update(s.scalars(upsert, list(part)).all())
    _recompute(s, counter, changed)
    return changed


def _any_distinct(table: Any, ins: Any, fields: Sequence[str]) -> Any:
    from sqlalchemy import or_

    return or_(*(table.c[f].is_distinct_from(ins.excluded[f]) for f in fields))


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
